package tests

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// logrotate renames a --daemon mount's log and sends SIGHUP: the mount
// stays up and writes a new file of the old name.
func TestSignalDaemonMountSIGHUP(t *testing.T) {
	bin, root, mp, dir := lifecycleFixture(t)
	logFile := filepath.Join(dir, "mount.log")
	code, out, errOut := runBin(t, bin, "mount", root, mp, "--index", filepath.Join(dir, "index.db"), "--daemon", "--log-file", logFile)
	require.Zero(t, code, errOut)
	require.True(t, strings.HasPrefix(out, "mounted "), out)
	pid := pidServing(t, mp)
	require.NoError(t, os.Rename(logFile, logFile+".1"))
	require.NoError(t, syscall.Kill(pid, syscall.SIGHUP))
	require.Eventually(t, func() bool {
		b, _ := os.ReadFile(logFile)
		return bytes.Contains(b, []byte("SIGHUP: log file "+logFile+" reopened; still mounted"))
	}, 10*time.Second, 20*time.Millisecond, "a new log file, saying so")
	old, err := os.ReadFile(logFile + ".1")
	require.NoError(t, err)
	assert.Contains(t, string(old), "sampled item files", "the old file keeps what was written before")
	assert.NotContains(t, string(old), "cbfs: SIGHUP")
	time.Sleep(200 * time.Millisecond)
	assert.True(t, mountIsMounted(mp), "SIGHUP unmounted a --daemon mount")
	_, err = os.ReadDir(filepath.Join(mp, "accounts"))
	require.NoError(t, err, "the mount still serves")

	// SIGTERM stops it, and the log says which signal did.
	require.NoError(t, syscall.Kill(pid, syscall.SIGTERM))
	require.Eventually(t, func() bool { return !mountIsMounted(mp) }, 10*time.Second, 20*time.Millisecond)
	require.Eventually(t, func() bool {
		b, _ := os.ReadFile(logFile)
		return bytes.Contains(b, []byte("cbfs: SIGTERM: unmounting "+mp))
	}, 10*time.Second, 20*time.Millisecond)
}

// SIGHUP to cbfs serve reloads (the account list, the index) and the
// service stays; SIGTERM stops it, and both are logged.
func TestSignalServeSIGHUP(t *testing.T) {
	dir := t.TempDir()
	bin := mountBinary(t, dir)
	src := filepath.Join(dir, "maildirs")
	require.NoError(t, os.Mkdir(src, 0o700))
	accounts := filepath.Join(dir, "accounts")
	require.NoError(t, os.WriteFile(accounts, []byte("a@example.test\n"), 0o600))
	st := filepath.Join(dir, "st")
	srv := serveStart(t, bin, st, "--backup-path", filepath.Join(dir, "bp"), "--source", "maildir:"+src,
		"--accounts-file", accounts, "--check-at-start", "warn")
	require.NoError(t, os.WriteFile(accounts, []byte("a@example.test\nb@example.test\n"), 0o600))
	require.NoError(t, srv.cmd.Process.Signal(syscall.SIGHUP))
	require.Eventually(t, func() bool { return strings.Contains(srv.stderr.String(), "account list reloaded") },
		10*time.Second, 20*time.Millisecond, srv.stderr.String())
	assert.Contains(t, srv.stderr.String(), "SIGHUP: reloading")
	assert.Contains(t, srv.stderr.String(), "accounts=2")
	// A broken list is logged and the old one kept; the service stays.
	require.NoError(t, os.Remove(accounts))
	require.NoError(t, srv.cmd.Process.Signal(syscall.SIGHUP))
	require.Eventually(t, func() bool { return strings.Contains(srv.stderr.String(), "account list not reloaded") },
		10*time.Second, 20*time.Millisecond, srv.stderr.String())
	select {
	case <-srv.done:
		t.Fatalf("cbfs serve ended on SIGHUP:\n%s", srv.stderr.String())
	case <-time.After(200 * time.Millisecond):
	}
	srv.term(t)
	assert.Contains(t, srv.stderr.String(), "signal=SIGTERM")
}

// pidServing is the pid of the cbfs process whose command line names mp.
func pidServing(t *testing.T, mp string) int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	require.NoError(t, err)
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if len(args) > 3 && filepath.Base(args[0]) == "cbfs" && args[1] == "mount" && args[3] == mp {
			return pid
		}
	}
	t.Fatalf("no cbfs process serves %s", mp)
	return 0
}
