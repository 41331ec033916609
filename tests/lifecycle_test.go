package tests

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/cbfs/cbfs/sample"
)

// lifecycleFixture makes a small sample and an empty mountpoint.
func lifecycleFixture(t *testing.T) (bin, root, mp, dir string) {
	t.Helper()
	mountSkipUnlessFUSE(t)
	dir = t.TempDir()
	bin = mountBinary(t, dir)
	root = filepath.Join(dir, "bp")
	_, err := sample.Generate(context.Background(), root, sample.Options{Accounts: 3, Messages: 4, Seed: 9})
	require.NoError(t, err)
	mp = filepath.Join(dir, "mnt")
	require.NoError(t, os.Mkdir(mp, 0o755))
	t.Cleanup(func() { mountForceUnmount(mp) })
	return bin, root, mp, dir
}

// The terminal of a mount goes away (an SSH session ends): SIGHUP unmounts
// cleanly, as SIGTERM does.
func TestMountSIGHUP(t *testing.T) {
	bin, root, mp, dir := lifecycleFixture(t)
	p := mountStart(t, bin, root, mp, filepath.Join(dir, "index.db"))
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGHUP))
	select {
	case <-p.waited:
	case <-time.After(30 * time.Second):
		t.Fatal("cbfs mount did not exit on SIGHUP")
	}
	require.NoError(t, p.err, p.stderr.String())
	assert.False(t, mountIsMounted(mp), "still mounted after SIGHUP")
	assert.Contains(t, p.stderr.String(), "cbfs: SIGHUP: unmounting "+mp, "a signal-driven stop is logged")
}

// --daemon returns once the mount is up (exit 0, the "mounted" line), and
// with a clear error and a non-zero status when it cannot mount.
func TestMountDaemon(t *testing.T) {
	bin, root, mp, dir := lifecycleFixture(t)
	code, out, errOut := runBin(t, bin, "mount", root, mp, "--index", filepath.Join(dir, "index.db"), "--daemon",
		"--log-file", filepath.Join(dir, "mount.log"))
	require.Zero(t, code, errOut)
	assert.True(t, strings.HasPrefix(out, "mounted "), out)
	require.True(t, mountIsMounted(mp))
	_, err := os.Stat(filepath.Join(mp, "accounts"))
	require.NoError(t, err)
	fi, err := os.Stat(filepath.Join(mp, "accounts"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o500), fi.Mode().Perm(), "the default umask 077: only the owner reads")

	// A second mount of the same index: refused at once, naming the holder
	// and --index, and the daemon's parent says so with its exit status.
	mp2 := filepath.Join(dir, "mnt2")
	require.NoError(t, os.Mkdir(mp2, 0o755))
	t.Cleanup(func() { mountForceUnmount(mp2) })
	code, _, errOut = runBin(t, bin, "mount", root, mp2, "--index", filepath.Join(dir, "index.db"), "--daemon")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "pid ")
	assert.Contains(t, errOut, "--index")
	assert.Equal(t, 1, strings.Count(strings.TrimSpace(errOut), "\n")+1, "one error line: %q", errOut)

	require.NoError(t, exec.Command("umount", mp).Run())
	assert.Eventually(t, func() bool { return !mountIsMounted(mp) }, 10*time.Second, 50*time.Millisecond)
}

// /etc/fstab and `mount -t fuse...` run cbfs through mount.fuse3 as
// `cbfs BACKUP_PATH MOUNTPOINT -o OPTIONS`.
func TestMountThroughMountFuse3(t *testing.T) {
	bin, root, mp, dir := lifecycleFixture(t)
	if _, err := exec.LookPath("mount.fuse3"); err != nil {
		t.Skip("mount.fuse3 (package fuse3) is not installed")
	}
	// "prog#source" names the program by its path, so the test needs no
	// cbfs on mount's PATH; an fstab line would say fuse.cbfs.
	src := bin + "#" + root
	out, err := exec.Command("mount", "-t", "fuse", src, mp, "-o",
		"ro,nosuid,nodev,allow_other,umask=027,gid=4,refresh=5m,index="+filepath.Join(dir, "index.db")).CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.True(t, mountIsMounted(mp))
	every := make([]byte, 64)
	n, err := unix.Getxattr(mp, "user.cbfs.refresh_every", every)
	require.NoError(t, err)
	assert.Equal(t, "5m0s", string(every[:n]), "refresh=5m")
	fi, err := os.Stat(filepath.Join(mp, "accounts"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o550), fi.Mode().Perm(), "umask=027")
	assert.Equal(t, uint32(4), fi.Sys().(*syscall.Stat_t).Gid, "gid=4")
	require.NoError(t, exec.Command("umount", mp).Run())
	assert.Eventually(t, func() bool { return !mountIsMounted(mp) }, 10*time.Second, 50*time.Millisecond)

	out, err = exec.Command("mount", "-t", "fuse", src, mp, "-o", "ro,frobnicate").CombinedOutput()
	assert.Error(t, err)
	assert.Contains(t, string(out), `mount option "frobnicate"`)
	assert.False(t, mountIsMounted(mp))
}

// Usage errors: one line, exit status 2, as cbctl's.
func TestCbfsUsageErrors(t *testing.T) {
	dir := t.TempDir()
	bin := mountBinary(t, dir)
	for _, args := range [][]string{{"frobnicate"}, {"mount"}, {"mount", "a", "b", "--umask", "9x"}} {
		code, _, errOut := runBin(t, bin, args...)
		assert.Equal(t, 2, code, "%q: %s", args, errOut)
		assert.Equal(t, 1, strings.Count(errOut, "\n"), "%q: one line: %q", args, errOut)
		assert.True(t, strings.HasPrefix(errOut, "cbfs: error: "), errOut)
	}
}

// runBin runs a binary and returns its exit status, stdout and stderr.
func runBin(t *testing.T, bin string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	require.NoError(t, ctx.Err(), "%s %q hung", bin, args)
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return code, out.String(), errb.String()
}
