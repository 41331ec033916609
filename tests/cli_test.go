// Package tests runs the cbctl binary as a user would.
package tests

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/ctl"
	"github.com/cbfs/cbfs/internal/helpgolden"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// cbctlBin is the binary TestMain builds.
var cbctlBin string

// fixtureRoot is the hand-made Backup Path shared (read-only) by the tests.
var fixtureRoot string

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	// Hermetic: the machine's /etc/cbfs/cbfs.json is not read (a test that
	// wants a site configuration sets CBFS_CONFIG in its command's env).
	os.Setenv("CBFS_CONFIG", "none")
	dir, err := os.MkdirTemp("", "cbctl-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	// The default index of cbfs mount, which cbfs serve keeps current,
	// goes here rather than in /var/cache/cbfs.
	os.Setenv("XDG_CACHE_HOME", filepath.Join(dir, "cache"))
	cbctlBin = filepath.Join(dir, "cbctl")
	build := exec.Command("go", "build", "-o", cbctlBin, "github.com/cbfs/cbfs/cmd/cbctl")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build cbctl:", err)
		return 1
	}
	fixtureRoot = filepath.Join(dir, "fixture")
	if !buildFixture(fixtureRoot) {
		return 1
	}
	return m.Run()
}

func buildFixture(root string) (ok bool) {
	defer func() {
		if r := recover(); r != nil {
			ok = false
		}
	}()
	makeFixture(&fixtureTB{}, root)
	return true
}

// fixtureTB lets makeFixture run outside a test.
type fixtureTB struct {
	testing.TB
	failed bool
}

func (f *fixtureTB) Helper() {}
func (f *fixtureTB) Fatal(args ...any) {
	fmt.Fprintln(os.Stderr, append([]any{"fixture:"}, args...)...)
	f.failed = true
	panic("fixture failed")
}

// result is one run of cbctl.
type result struct {
	stdout, stderr string
	code           int
}

// cbctl runs the binary with args.
func cbctl(t *testing.T, args ...string) result {
	t.Helper()
	cmd := exec.Command(cbctlBin, args...)
	cmd.Env = append(os.Environ(), "COLUMNS=100")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run cbctl %q: %v", args, err)
	}
	if strings.Contains(r.stderr, "goroutine ") || strings.Contains(r.stderr, "panic:") {
		t.Fatalf("cbctl %q crashed:\n%s", args, r.stderr)
	}
	return r
}

// ok runs cbctl and requires exit status 0.
func ok(t *testing.T, args ...string) result {
	t.Helper()
	r := cbctl(t, args...)
	if r.code != 0 {
		t.Fatalf("cbctl %q: exit %d\nstdout:\n%s\nstderr:\n%s", args, r.code, r.stdout, r.stderr)
	}
	return r
}

// partial runs cbctl and requires exit status 3 (a partial success: the
// report on stdout, one error line naming what failed).
func partial(t *testing.T, args ...string) result {
	t.Helper()
	return fails(t, 3, "partial", args...)
}

// restoredSome runs a restore and requires exit status 0 when its report
// says nothing failed, 3 (partial) when it lists unrestored items.
func restoredSome(t *testing.T, args ...string) result {
	t.Helper()
	r := cbctl(t, args...)
	if strings.Contains(r.stdout, "Unrestored Items: 0\n") && !strings.Contains(r.stdout, "- accounts not restored -") {
		require.Equal(t, 0, r.code, "nothing failed: exit 0; stderr:\n%s", r.stderr)
	} else {
		require.Equal(t, 3, r.code, "some failed: partial, exit 3; stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}
	return r
}

// fails runs cbctl and requires exit status code and one "cbctl: error:"
// line on stderr containing msg.
func fails(t *testing.T, code int, msg string, args ...string) result {
	t.Helper()
	r := cbctl(t, args...)
	if r.code != code {
		t.Fatalf("cbctl %q: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", args, r.code, code, r.stdout, r.stderr)
	}
	lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
	errLines := 0
	for _, l := range lines {
		if strings.HasPrefix(l, "cbctl: error: ") {
			errLines++
		}
		// With --json, the error is an object: {"error": ..., "exitStatus": N}.
		var je struct {
			Error      string `json:"error"`
			ExitStatus int    `json:"exitStatus"`
		}
		if slices.Contains(args, "--json") && json.Unmarshal([]byte(l), &je) == nil && je.Error != "" {
			if je.ExitStatus != code {
				t.Fatalf("cbctl %q: JSON error says exitStatus %d, want %d", args, je.ExitStatus, code)
			}
			errLines++
		}
	}
	if errLines != 1 || !strings.Contains(r.stderr, msg) {
		t.Fatalf("cbctl %q: want one error line containing %q, got stderr:\n%s", args, msg, r.stderr)
	}
	return r
}

func decode(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, s)
	}
}

// wantLines checks that every line in want occurs in out.
func wantLines(t *testing.T, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

// row is an aligned "label value" line as cbctl prints it.
func row(indent, label string, value any) string {
	return fmt.Sprintf("%s%-60s%v\n", indent, label, value)
}

const ind = "             " // getItem's indent (13)

func bp() string { return fixtureRoot }

// TestHelpGolden holds the --help of every cbctl command (found by walking
// its kong model; hidden aliases aside) to
// testdata/help/cbctl_<words>.golden: a command without one fails, so does
// a golden of no command (go test ./tests -run HelpGolden -update rewrites
// them; read the diff). cbfs's are cmd/cbfs's TestHelpGolden.
func TestHelpGolden(t *testing.T) {
	k, err := ctl.New(&ctl.CLI{})
	require.NoError(t, err)
	helpgolden.Check(t, filepath.Join("testdata", "help"), "cbctl", k.Model.Node, *update, func(t *testing.T, words []string) string {
		return ok(t, append(words, "--help")...).stdout
	})
}

func TestHelpTouchesNothing(t *testing.T) {
	// A Backup Path that does not exist: --help and version must not care.
	for _, args := range [][]string{
		{"--backup-path", "/nonexistent/x", "backup", "getItem", "--help"},
		{"backup", "getBackupInfo", "backup_path", "/nonexistent/x", "--help"},
		{"version", "--backup-path", "/nonexistent/x"},
	} {
		r := ok(t, args...)
		if r.stdout == "" || r.stderr != "" {
			t.Errorf("cbctl %q: stdout %q stderr %q", args, r.stdout, r.stderr)
		}
	}
	r := ok(t, "version", "--json")
	var v map[string]string
	decode(t, r.stdout, &v)
	if v["version"] == "" {
		t.Errorf("version --json: %s", r.stdout)
	}
}
