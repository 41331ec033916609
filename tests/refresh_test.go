package tests

// A running mount shows new backups without unmounting (issue 22, item 5):
// a real mount of a Backup Path, real scans (cbctl doSmartScan of a
// Maildir source, or cbfs serve's) that add accounts and messages, and
// each way a mount learns of them: cbfs refresh, its own poll, SIGHUP to a
// --daemon mount, and cbfs serve telling the mount that holds its index.
// A deleted account disappears. Also cbfs mounts, cbfs umount and cbfs
// cache prune.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/index"
	"github.com/cbfs/cbfs/internal/pathlock"
	"github.com/cbfs/cbfs/search"
)

// refreshScan runs a foreground doSmartScan of the Maildir source mail.
func refreshScan(t *testing.T, root, mail, st string) {
	t.Helper()
	ok(t, "backup", "doSmartScan", "--backup-path", root, "--source", "maildir:"+mail, "--state-dir", st)
}

// refreshAccounts lists accounts/ of the mount.
func refreshAccounts(t *testing.T, mp string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(mp, "accounts"))
	require.NoError(t, err)
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// refreshInbox counts the messages of an account's Inbox in the mount.
func refreshInbox(mp, acct string) int {
	emls, _ := filepath.Glob(filepath.Join(mp, "accounts", acct, "folders", "Inbox", "*.eml"))
	return len(emls)
}

// refreshAccountID is the id (folder under accounts/) of the account name.
func refreshAccountID(t *testing.T, root, name string) string {
	t.Helper()
	bp, err := backuppath.Open(root)
	require.NoError(t, err)
	ents, err := bp.Accounts()
	require.NoError(t, err)
	for _, e := range ents {
		if e.Account != nil && e.Account.Name == name {
			return e.ID
		}
	}
	t.Fatalf("no account %s in %s", name, root)
	return ""
}

func TestMountRefresh(t *testing.T) {
	mountSkipUnlessFUSE(t)
	dir := t.TempDir()
	bin := mountBinary(t, dir)
	mail, root, st := filepath.Join(dir, "mail"), filepath.Join(dir, "bp"), filepath.Join(dir, "st")
	maildirSource(t, mail, "ann", 2)
	refreshScan(t, root, mail, st)

	mp := filepath.Join(dir, "mnt")
	require.NoError(t, os.Mkdir(mp, 0o755))
	idx := filepath.Join(dir, "cache", "manual.db")
	p := mountStart(t, bin, root, mp, idx, "--refresh-every", "0")
	require.Equal(t, []string{"ann@example.test"}, refreshAccounts(t, mp))
	require.Equal(t, 2, refreshInbox(mp, "ann@example.test"))

	// A scan adds an account and a message: the mount, told nothing and
	// not polling, still shows the tree it mounted.
	maildirSourceIn(t, mail, "example.test", "bob", 1)
	maildirSourceIn(t, mail, "example.test", "ann", 3)
	refreshScan(t, root, mail, st)
	assert.Equal(t, []string{"ann@example.test"}, refreshAccounts(t, mp), "no refresh yet")
	assert.Equal(t, 2, refreshInbox(mp, "ann@example.test"), "no refresh yet")

	t.Run("cbfs refresh", func(t *testing.T) {
		out, err := exec.Command(bin, "refresh", mp).CombinedOutput()
		require.NoError(t, err, "%s", out)
		// The account list is refreshed now; ann's new message is read
		// when her account is next used (the lazy index), as the
		// listing below shows.
		assert.Contains(t, string(out), "refreshed: 2 accounts (1 new, 0 gone, ")
		assert.Contains(t, string(out), "new: bob@example.test")
		assert.Equal(t, []string{"ann@example.test", "bob@example.test"}, refreshAccounts(t, mp))
		assert.Equal(t, 3, refreshInbox(mp, "ann@example.test"))
		assert.Equal(t, 1, refreshInbox(mp, "bob@example.test"))
		assert.Contains(t, p.stderr.String(), "refreshed (cbfs refresh): 2 accounts")
	})

	t.Run("a deleted account disappears", func(t *testing.T) {
		// A shell sitting in the account's folder keeps what it had.
		f, err := os.Open(filepath.Join(mp, "accounts", "bob@example.test", "folders", "Inbox"))
		require.NoError(t, err)
		defer f.Close()
		require.NoError(t, os.RemoveAll(filepath.Join(root, "accounts", refreshAccountID(t, root, "bob@example.test"))))
		out, err := exec.Command(bin, "refresh", mp).CombinedOutput()
		require.NoError(t, err, "%s", out)
		assert.Contains(t, string(out), "gone: bob@example.test")
		assert.Equal(t, []string{"ann@example.test"}, refreshAccounts(t, mp))
		_, err = os.Stat(filepath.Join(mp, "accounts", "bob@example.test"))
		assert.ErrorIs(t, err, os.ErrNotExist)
		names, err := f.Readdirnames(-1)
		assert.NoError(t, err, "an open folder of a vanished account still reads")
		assert.Len(t, names, 1)
	})

	t.Run("refused to others", func(t *testing.T) {
		out, err := exec.Command(bin, "refresh", dir).CombinedOutput()
		require.Error(t, err)
		assert.Contains(t, string(out), "is not mounted")
	})

	t.Run("cbfs mounts", func(t *testing.T) {
		out, err := exec.Command(bin, "mounts").CombinedOutput()
		require.NoError(t, err, "%s", out)
		var line string
		for _, l := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(l, mp+" ") {
				line = l
			}
		}
		require.NotEmpty(t, line, "the mount is listed:\n%s", out)
		f := strings.Fields(line)
		require.Len(t, f, 6, line)
		assert.Equal(t, root, f[1])
		assert.Equal(t, idx, f[2])
		since, err := time.Parse(time.RFC3339, f[3])
		require.NoError(t, err)
		assert.WithinDuration(t, time.Now(), since, time.Hour)
		assert.Equal(t, strconv.Itoa(p.cmd.Process.Pid), f[4])
		assert.Equal(t, "0s", f[5])
	})

	t.Run("cbfs umount", func(t *testing.T) {
		out, err := exec.Command(bin, "umount", dir).CombinedOutput()
		require.Error(t, err)
		assert.Contains(t, string(out), "is not mounted")
		// Busy: a process has its working folder inside.
		sh := exec.Command("sleep", "60")
		sh.Dir = filepath.Join(mp, "accounts")
		require.NoError(t, sh.Start())
		out, err = exec.Command(bin, "umount", mp).CombinedOutput()
		require.Error(t, err)
		assert.Contains(t, string(out), "in use")
		assert.Contains(t, string(out), "--lazy")
		require.NoError(t, sh.Process.Kill())
		sh.Wait()
		out, err = exec.Command(bin, "umount", mp).CombinedOutput()
		require.NoError(t, err, "%s", out)
		assert.Contains(t, string(out), "unmounted "+mp)
		select {
		case <-p.waited:
		case <-time.After(30 * time.Second):
			t.Fatal("the mount's process did not exit after cbfs umount")
		}
		assert.NoError(t, p.err, "%s", p.stderr)
		assert.False(t, mountIsMounted(mp))
	})
}

// TestMountRefreshPoll: a mount left alone notices a scan by itself.
func TestMountRefreshPoll(t *testing.T) {
	mountSkipUnlessFUSE(t)
	dir := t.TempDir()
	bin := mountBinary(t, dir)
	mail, root, st := filepath.Join(dir, "mail"), filepath.Join(dir, "bp"), filepath.Join(dir, "st")
	maildirSource(t, mail, "ann", 1)
	refreshScan(t, root, mail, st)
	mp := filepath.Join(dir, "mnt")
	require.NoError(t, os.Mkdir(mp, 0o755))
	p := mountStart(t, bin, root, mp, filepath.Join(dir, "cache", "poll.db"), "--refresh-every", "200ms")
	require.Equal(t, []string{"ann@example.test"}, refreshAccounts(t, mp))
	require.Equal(t, 1, refreshInbox(mp, "ann@example.test"))

	maildirSourceIn(t, mail, "example.test", "carl", 2)
	maildirSourceIn(t, mail, "example.test", "ann", 2)
	refreshScan(t, root, mail, st)
	require.Eventually(t, func() bool {
		return refreshInbox(mp, "carl@example.test") == 2 && refreshInbox(mp, "ann@example.test") == 2
	}, time.Minute, 50*time.Millisecond, "the poll shows the scan:\n%s", p.stderr)
	// Logged once the new tree is in place: poll the log too.
	require.Eventually(t, func() bool {
		return strings.Contains(p.stderr.String(), "refreshed (Backup Path changed): 2 accounts (1 new")
	}, time.Minute, 50*time.Millisecond, "the refresh is logged:\n%s", p.stderr)

	// An account removed from the Backup Path goes too.
	require.NoError(t, os.RemoveAll(filepath.Join(root, "accounts", refreshAccountID(t, root, "carl@example.test"))))
	require.Eventually(t, func() bool {
		ents, err := os.ReadDir(filepath.Join(mp, "accounts"))
		return err == nil && len(ents) == 1
	}, time.Minute, 50*time.Millisecond, "the poll drops the account:\n%s", p.stderr)
	p.stop(t)
}

// TestMountRefreshSIGHUP: SIGHUP to a --daemon mount reopens its log and
// refreshes; it stays mounted.
func TestMountRefreshSIGHUP(t *testing.T) {
	mountSkipUnlessFUSE(t)
	dir := t.TempDir()
	bin := mountBinary(t, dir)
	mail, root, st := filepath.Join(dir, "mail"), filepath.Join(dir, "bp"), filepath.Join(dir, "st")
	maildirSource(t, mail, "ann", 1)
	refreshScan(t, root, mail, st)
	mp := filepath.Join(dir, "mnt")
	require.NoError(t, os.Mkdir(mp, 0o755))
	logf := filepath.Join(dir, "mount.log")
	t.Cleanup(func() { mountForceUnmount(mp) })
	out, err := exec.Command(bin, "mount", root, mp, "--daemon", "--log-file", logf, "--refresh-every", "0",
		"--index", filepath.Join(dir, "cache", "hup.db")).CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.True(t, mountIsMounted(mp))
	pidText, err := unix.Getxattr(mp, "user.cbfs.pid", make([]byte, 0))
	require.NoError(t, err)
	buf := make([]byte, pidText)
	n, err := unix.Getxattr(mp, "user.cbfs.pid", buf)
	require.NoError(t, err)
	pid, err := strconv.Atoi(string(buf[:n]))
	require.NoError(t, err)
	proc, err := os.FindProcess(pid)
	require.NoError(t, err)
	t.Cleanup(func() { proc.Signal(syscall.SIGTERM) })
	require.Equal(t, []string{"ann@example.test"}, refreshAccounts(t, mp))

	maildirSourceIn(t, mail, "example.test", "dora", 1)
	refreshScan(t, root, mail, st)
	assert.Equal(t, []string{"ann@example.test"}, refreshAccounts(t, mp), "no refresh yet")
	require.NoError(t, proc.Signal(syscall.SIGHUP))
	require.Eventually(t, func() bool {
		b, _ := os.ReadFile(logf)
		return strings.Contains(string(b), "refreshed (SIGHUP)")
	}, time.Minute, 20*time.Millisecond, "the SIGHUP refresh is logged")
	assert.Equal(t, []string{"ann@example.test", "dora@example.test"}, refreshAccounts(t, mp))
	assert.True(t, mountIsMounted(mp), "SIGHUP does not unmount a --daemon mount")
	b, _ := os.ReadFile(logf)
	assert.Contains(t, string(b), "new: dora@example.test")

	out, err = exec.Command(bin, "umount", mp).CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.False(t, mountIsMounted(mp))
}

// refreshDefaultIndex is cbfs's default index file of the Backup Path root
// under the cache folder $XDG_CACHE_HOME/cbfs.
func refreshDefaultIndex(cache, root string) string {
	sum := sha256.Sum256([]byte(root))
	return filepath.Join(cache, "cbfs", filepath.Base(root)+"-"+hex.EncodeToString(sum[:8])+".db")
}

// TestMountRefreshByService: cbfs serve, finding its index held by a
// mount after a scan, tells the mount to refresh, and logs it.
func TestMountRefreshByService(t *testing.T) {
	mountSkipUnlessFUSE(t)
	dir := t.TempDir()
	bin := mountBinary(t, dir)
	cache := filepath.Join(dir, "xdg")
	t.Setenv("XDG_CACHE_HOME", cache) // the service's and the mount's
	mail, root, st := filepath.Join(dir, "mail"), filepath.Join(dir, "bp"), filepath.Join(dir, "st")
	maildirSource(t, mail, "ann", 1)
	refreshScan(t, root, mail, filepath.Join(dir, "st0"))
	mp := filepath.Join(dir, "mnt")
	require.NoError(t, os.Mkdir(mp, 0o755))
	idx := refreshDefaultIndex(cache, root)
	p := mountStart(t, bin, root, mp, idx, "--refresh-every", "0")
	require.Equal(t, []string{"ann@example.test"}, refreshAccounts(t, mp))

	accounts := filepath.Join(dir, "accounts")
	require.NoError(t, os.WriteFile(accounts, []byte("ann@example.test\nemma@example.test\n"), 0o644))
	srv := serveStart(t, bin, st, "--backup-path", root, "--source", "maildir:"+mail, "--accounts-file", accounts)
	maildirSourceIn(t, mail, "example.test", "emma", 2)
	ok(t, "backup", "doSmartScan", "--wait", "--state-dir", st)
	// The service tells the mount before the operation ends.
	assert.Equal(t, []string{"ann@example.test", "emma@example.test"}, refreshAccounts(t, mp), "service log:\n%s", srv.stderr.String())
	assert.Equal(t, 2, refreshInbox(mp, "emma@example.test"))
	log := srv.stderr.String()
	assert.Contains(t, log, "index in use by a mount: telling it to refresh")
	assert.Contains(t, log, "mount refreshed")
	assert.Contains(t, log, "mountpoint="+mp)
	assert.NotContains(t, log, "not refreshed")
	assert.Contains(t, p.stderr.String(), "refreshed (cbfs refresh): 2 accounts (1 new")
}

// TestCachePrune: indexes (a mount's *.db, a search index's *.search) of
// vanished Backup Paths go, with their lock and shard folder; one in use,
// and one of a Backup Path that exists, stay.
func TestCachePrune(t *testing.T) {
	dir := t.TempDir()
	bin := mountBinary(t, dir)
	cache := filepath.Join(dir, "cache")
	require.NoError(t, os.Mkdir(cache, 0o700))
	build := func(name string) (string, *index.Index) {
		root := filepath.Join(dir, name)
		mail := filepath.Join(dir, name+"-mail")
		maildirSource(t, mail, "ann", 1)
		refreshScan(t, root, mail, filepath.Join(dir, name+"-st"))
		bp, err := backuppath.Open(root)
		require.NoError(t, err)
		ix, err := index.Open(bp, filepath.Join(cache, name+".db"))
		require.NoError(t, err)
		_, err = ix.Refresh(context.Background(), nil)
		require.NoError(t, err)
		// and its search index beside it (doIndexMessages)
		_, err = search.Build(context.Background(), bp, filepath.Join(cache, name+".search"), search.Options{})
		require.NoError(t, err)
		return root, ix
	}
	_, kept := build("kept")
	require.NoError(t, kept.Close())
	goneRoot, gone := build("gone")
	require.NoError(t, gone.Close())
	require.NoError(t, os.MkdirAll(filepath.Join(cache, "gone.db.d"), 0o700)) // the index's shards are there already
	require.NoError(t, os.WriteFile(filepath.Join(cache, "gone.db.d", "shard"), []byte("x"), 0o600))
	require.NoError(t, os.RemoveAll(goneRoot))
	busyRoot, busy := build("busy")
	defer busy.Close()
	building, err := pathlock.Take(filepath.Join(cache, "busy.search.lock"), "search index build") // a build under way
	require.NoError(t, err)
	defer building.Release()
	require.NoError(t, os.RemoveAll(busyRoot))
	require.NoError(t, os.WriteFile(filepath.Join(cache, "other.db"), []byte("not an index\n"), 0o600))

	out, err := exec.Command(bin, "cache", "prune", "--dir", cache, "--dry-run").CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "would remove "+filepath.Join(cache, "gone.db"))
	assert.Contains(t, string(out), "would remove "+filepath.Join(cache, "gone.search"))
	_, err = os.Stat(filepath.Join(cache, "gone.db"))
	require.NoError(t, err, "a dry run removes nothing")
	_, err = os.Stat(filepath.Join(cache, "gone.search"))
	require.NoError(t, err, "a dry run removes nothing")

	out, err = exec.Command(bin, "cache", "prune", "--dir", cache).CombinedOutput()
	require.NoError(t, err, "%s", out)
	t.Logf("%s", out)
	for _, f := range []string{"gone.db", "gone.db.lock", "gone.db.d", "gone.search", "gone.search.lock"} {
		_, err := os.Stat(filepath.Join(cache, f))
		assert.ErrorIs(t, err, os.ErrNotExist, "%s removed", f)
	}
	for _, f := range []string{"kept.db", "kept.search", "busy.db", "busy.db.lock", "busy.search", "busy.search.lock", "other.db"} {
		_, err := os.Stat(filepath.Join(cache, f))
		assert.NoError(t, err, "%s kept", f)
	}
	assert.Contains(t, string(out), "kept "+filepath.Join(cache, "busy.db")+": in use")
	assert.Contains(t, string(out), "kept "+filepath.Join(cache, "busy.search")+": in use")
	assert.Contains(t, string(out), "kept "+filepath.Join(cache, "kept.search")+": Backup Path "+filepath.Join(dir, "kept")+" exists")
	assert.Contains(t, string(out), "removed 2 index(es), kept 5")
}
