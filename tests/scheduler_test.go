package tests

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/operations"
)

// waitLog waits until the service's log matches re.
func waitLog(t *testing.T, p *serveProc, re string) {
	t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(10 * time.Second)
	for !rx.MatchString(p.stderr.String()) {
		if time.Now().After(deadline) {
			t.Fatalf("the service never logged %q:\n%s", re, p.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestScheduler runs Carbonio's "backup scheduler" lines against a running
// cbfs serve: a set is applied at once and kept across a restart; without
// a service the same lines read and write the state directory.
func TestScheduler(t *testing.T) {
	dir := t.TempDir()
	bin := mountBinary(t, dir)
	st := filepath.Join(dir, "st")
	root := filepath.Join(dir, "bp")
	get := func(name string) operations.ScheduleSetting {
		var s operations.ScheduleSetting
		decode(t, ok(t, "--json", "backup", "scheduler", name, "get", "global", "--state-dir", st).stdout, &s)
		return s
	}

	// No service: defaults, then a set kept in schedules.json.
	assert.Equal(t, operations.ScheduleSetting{Name: "SmartScan", Kind: "doSmartScan", Enabled: true, Pattern: "0 4 * * *", Source: "default"}, get("SmartScan"))
	assert.Equal(t, operations.ScheduleSetting{Name: "coherencyCheck", Kind: "doCoherencyCheck", Pattern: "0 5 * * 0", Source: "default"}, get("coherencyCheck"))
	ok(t, "backup", "scheduler", "coherencyCheck", "set", "global", "enabled", "true", "--state-dir", st)
	_, err := os.Stat(filepath.Join(st, "schedules.json"))
	require.NoError(t, err)

	// The service starts with it (serveStart passes --scan-schedule off:
	// the flag is a default, a schedule set with cbctl wins over it).
	srv := serveStart(t, bin, st, "--backup-path", root)
	waitLog(t, srv, `msg=schedule name=coherencyCheck spec="0 5 \* \* 0" kind=doCoherencyCheck`)
	assert.NotContains(t, srv.stderr.String(), "name=SmartScan", "--scan-schedule off")
	s := get("SmartScan")
	assert.False(t, s.Enabled)
	assert.Equal(t, "serve", s.Source)

	// Carbonio's documented line, verbatim: applied by the running service.
	r := ok(t, "backup", "scheduler", "SmartScan", "set", "global", "enabled", "true", "pattern", "30 2 * * *", "--state-dir", st)
	assert.Contains(t, r.stdout, "30 2 * * *")
	waitLog(t, srv, `msg=schedule name=SmartScan spec="30 2 \* \* \*" kind=doSmartScan`)
	s = get("SmartScan")
	assert.Equal(t, operations.ScheduleSetting{Name: "SmartScan", Kind: "doSmartScan", Enabled: true, Pattern: "30 2 * * *", Source: "set"}, s)

	// The server form: one server, any target_server means it (a note says so).
	r = ok(t, "backup", "scheduler", "purge", "set", "server", "enabled", "false", "target_server", "mail.example.com", "--state-dir", st)
	assert.Contains(t, r.stderr, "target_server mail.example.com is taken to mean it")
	assert.False(t, get("purge").Enabled)

	// Bad lines: one error line, exit 2, nothing changed.
	fails(t, 2, "out of range", "backup", "scheduler", "SmartScan", "set", "global", "pattern", "61 * * * *", "--state-dir", st)
	fails(t, 2, `no scheduler "backup"`, "backup", "scheduler", "backup", "get", "global", "--state-dir", st)
	fails(t, 2, "give enabled", "backup", "scheduler", "purge", "set", "global", "--state-dir", st)
	fails(t, 2, "did you mean set", "backup", "scheduler", "purge", "get", "global", "enabled", "true", "--state-dir", st)
	assert.Equal(t, "30 2 * * *", get("SmartScan").Pattern)

	// Kept across a restart.
	srv.term(t)
	srv = serveStart(t, bin, st, "--backup-path", root)
	waitLog(t, srv, `msg=schedule name=SmartScan spec="30 2 \* \* \*"`)
	assert.NotContains(t, strings.ReplaceAll(srv.stderr.String(), "name=SmartScan", ""), "name=purge", "purge stays off")
}
