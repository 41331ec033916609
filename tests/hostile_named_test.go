package tests

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// namedDeadline is how long a run that reads an administrator's file may
// take: they all fail before any work, in well under a second.
const namedDeadline = 30 * time.Second

// namedRun runs bin with args and extra environment, killed with SIGKILL
// (the binaries catch SIGTERM, which a thread blocked opening a FIFO never
// gets to handle) at namedDeadline, which fails the test. It runs under a 2 GiB
// data limit (prlimit, when installed) so that a regression reading
// /dev/zero whole fails this test instead of taking the machine's memory.
func namedRun(t *testing.T, bin string, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), namedDeadline)
	defer cancel()
	name, argv := bin, args
	if pl, err := exec.LookPath("prlimit"); err == nil {
		name, argv = pl, append([]string{"--data=2147483648", "--", bin}, args...)
	}
	cmd := exec.CommandContext(ctx, name, argv...)
	cmd.Env = append(append(os.Environ(), "COLUMNS=100"), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s %q: still running after %s (blocked on the file?)\n%s", filepath.Base(bin), args, namedDeadline, errb.String())
	}
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %s %q: %v", bin, args, err)
	}
	return r
}

// TestNamedFilesRefused: every file an administrator names on the command
// line, in the environment or in a restore's parameters (--keymap,
// --config, $CBFS_CONFIG, --imap-password-file, a restore's password_file,
// $CREDENTIALS_DIRECTORY/imap-password, --smtp-password-file,
// --accounts-file, a restore's input_file, --s3-credentials,
// $AWS_SHARED_CREDENTIALS_FILE), pointing at /dev/zero, a FIFO nobody
// writes to, or a 100 MB file: the real binary exits non-zero at once with
// one error line naming the file and what is wrong with it; nothing hangs,
// nothing is read whole.
func TestNamedFilesRefused(t *testing.T) {
	dir := t.TempDir()
	cbfsBin := mountBinary(t, dir)
	fifo := filepath.Join(dir, "fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	big := filepath.Join(dir, "big")
	f, err := os.Create(big)
	require.NoError(t, err)
	require.NoError(t, f.Truncate(100<<20)) // sparse: 100 MB of zeros, no newline
	require.NoError(t, f.Close())
	mail := filepath.Join(dir, "mail")
	require.NoError(t, os.MkdirAll(mail, 0o755))
	mp := filepath.Join(dir, "mnt")
	require.NoError(t, os.MkdirAll(mp, 0o755))
	noAWS := []string{"AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY=", "AWS_ACCESS_KEY=", "AWS_SECRET_KEY="}

	type runCase struct {
		name string
		bin  string
		// env and args for the file at path (st: a fresh folder)
		run func(path, st string) (env []string, args []string)
		// named is the path the error must name ("": the file's own)
		named func(st string) string
	}
	cases := []runCase{
		{"cbctl --keymap", cbctlBin, func(p, st string) ([]string, []string) {
			return nil, []string{"backup", "getAvailableAccounts", "--backup-path", bp(), "--keymap", p}
		}, nil},
		{"cbfs mount --keymap", cbfsBin, func(p, st string) ([]string, []string) {
			return nil, []string{"mount", bp(), mp, "--index", filepath.Join(st, "index.db"), "--keymap", p}
		}, nil},
		{"cbctl --config", cbctlBin, func(p, st string) ([]string, []string) {
			return nil, []string{"backup", "doSmartScan", "--config", p, "--state-dir", st}
		}, nil},
		{"cbfs serve --config", cbfsBin, func(p, st string) ([]string, []string) {
			return nil, []string{"serve", "--config", p, "--state-dir", st}
		}, nil},
		{"$CBFS_CONFIG", cbctlBin, func(p, st string) ([]string, []string) {
			return []string{"CBFS_CONFIG=" + p}, []string{"backup", "getAvailableAccounts", "--backup-path", bp()}
		}, nil},
		{"--imap-password-file", cbctlBin, func(p, st string) ([]string, []string) {
			return nil, []string{"backup", "doSmartScan", "--backup-path", filepath.Join(st, "bp"), "--source", "imap://admin@127.0.0.1:1",
				"--imap-password-file", p, "--state-dir", st}
		}, nil},
		{"restore password_file", cbctlBin, func(p, st string) ([]string, []string) {
			return nil, []string{"backup", "doExternalRestore", bp(), "target", "imap://admin@127.0.0.1:1", "password_file", p, "--state-dir", st}
		}, nil},
		{"$CREDENTIALS_DIRECTORY/imap-password", cbctlBin, func(p, st string) ([]string, []string) {
			creds := filepath.Join(st, "creds")
			require.NoError(t, os.MkdirAll(creds, 0o700))
			require.NoError(t, os.Symlink(p, filepath.Join(creds, "imap-password")))
			return []string{"CREDENTIALS_DIRECTORY=" + creds, "CBFS_IMAP_PASSWORD="},
				[]string{"backup", "doSmartScan", "--backup-path", filepath.Join(st, "bp"), "--source", "imap://admin@127.0.0.1:1", "--state-dir", st}
		}, func(st string) string { return filepath.Join(st, "creds", "imap-password") }},
		{"--smtp-password-file", cbctlBin, func(p, st string) ([]string, []string) {
			return nil, []string{"backup", "doSmartScan", "--backup-path", filepath.Join(st, "bp"), "--source", "maildir:" + mail,
				"--smtp", "127.0.0.1:25", "--smtp-user", "reports", "--smtp-password-file", p, "--state-dir", st}
		}, nil},
		{"--accounts-file", cbctlBin, func(p, st string) ([]string, []string) {
			return nil, []string{"backup", "doSmartScan", "--backup-path", filepath.Join(st, "bp"), "--source", "maildir:" + mail,
				"--accounts-file", p, "--state-dir", st}
		}, nil},
		{"restore input_file", cbctlBin, func(p, st string) ([]string, []string) {
			return nil, []string{"backup", "doExternalRestore", bp(), "target", "maildir:" + filepath.Join(st, "out"), "input_file", p, "--state-dir", st}
		}, nil},
		{"--s3-credentials", cbctlBin, func(p, st string) ([]string, []string) {
			return noAWS, []string{"backup", "retrieveMetadataFromArchive", "S3", filepath.Join(st, "dest"), "bucket_name", "b",
				"url", "http://127.0.0.1:1", "--s3-credentials", p}
		}, nil},
		{"$AWS_SHARED_CREDENTIALS_FILE", cbctlBin, func(p, st string) ([]string, []string) {
			return append(noAWS, "AWS_SHARED_CREDENTIALS_FILE="+p), []string{"backup", "retrieveMetadataFromArchive", "S3",
				filepath.Join(st, "dest"), "bucket_name", "b", "url", "http://127.0.0.1:1"}
		}, nil},
	}
	files := []struct{ name, path, want string }{
		{"/dev/zero", "/dev/zero", "not a regular file: character device"},
		{"FIFO", fifo, "not a regular file: FIFO"},
		{"100 MB", big, "file too large: 104857600 bytes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, fl := range files {
				t.Run(fl.name, func(t *testing.T) {
					st := t.TempDir()
					env, args := c.run(fl.path, st)
					named := fl.path
					if c.named != nil {
						named = c.named(st) // a link to the file
					}
					r := namedRun(t, c.bin, env, args...)
					assert.NotZero(t, r.code, "exit status; stderr:\n%s", r.stderr)
					lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
					assert.Len(t, lines, 1, "one error line:\n%s", r.stderr)
					assert.Contains(t, r.stderr, named+": "+fl.want)
					assert.NotContains(t, r.stderr, "panic")
				})
			}
		})
	}
	assert.False(t, mountIsMounted(mp), "nothing mounted")
}
