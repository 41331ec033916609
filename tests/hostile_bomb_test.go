package tests

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/internal/testbomb"
)

// A gzip bomb in a Backup Path: a blob of 1 GiB of zeros (about 1 MiB of
// gzip), named by its content's digest (so sound in every respect but
// size), which its item state records as 100 bytes. Every reader must call
// it broken after inflating about what the state records, and none may
// grow past a few hundred MiB doing so.
const (
	bombInflated  = 1 << 30
	bombRecorded  = 100
	itemBomb      = 301
	bombRSSLimit  = 300 << 20 // peak RSS allowed to any process reading the bomb
	bombMismatch  = "size mismatch: more than 100 bytes inflated (state records 100)"
	bombAccountID = johnID
)

var bombFix struct {
	sync.Once
	root string
	err  error
}

// bombPath is a tiny Backup Path with one account: item 300 (a sound
// message, its size recorded) and item 301 (the bomb). It is made once per
// test binary, next to the cbctl binary (removed by TestMain).
func bombPath(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: no gzip bomb")
	}
	bombFix.Do(func() {
		root := filepath.Join(filepath.Dir(cbctlBin), "bomb")
		bombFix.root, bombFix.err = root, makeBombPath(t, root)
	})
	require.NoError(t, bombFix.err)
	return bombFix.root
}

func makeBombPath(t *testing.T, root string) error {
	writeJSONFile(t, filepath.Join(root, "backupstat"), map[string]any{
		"serverId": fixSrv, "hostname": "mail.example.com",
		"firstRunDate": day("01/07/2013 00:00:00"), "lastScanDate": day("16/07/2013 03:00:00"),
	})
	writeJSONFile(t, filepath.Join(root, "accounts", bombAccountID, "account_info"), map[string]any{
		"id": bombAccountID, "name": "john@example.com", "status": "active", "cosName": "default", "cosId": "cos-1",
		"createdDate": day("01/07/2013 09:00:00"),
	})
	writeJSONFile(t, filepath.Join(root, "server", "config_29_12_22#14_14_29.json"), map[string]any{
		"date": day("29/12/2022 14:14:29"), "serverId": fixSrv, "hostname": "mail.example.com",
		"domains": []any{map[string]any{"id": "dom-1", "name": "example.com"}},
		"cos":     []any{map[string]any{"id": "cos-1", "name": "default"}},
	})
	good := msgState("12/07/2013 16:35:44", 2, "", false, putBlob(t, root, goodBody, gz(t, goodBody)), "Service mailboxd started")
	good["size"] = len(goodBody)
	writeItem(t, root, bombAccountID, itemGood, good)

	items := filepath.Join(root, "items")
	if err := os.MkdirAll(items, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(items, "bomb-*")
	if err != nil {
		return err
	}
	sum, err := testbomb.Write(f, bombInflated)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	d := blob.FromHash(sum)
	if err := os.MkdirAll(filepath.Join(items, d.Dir()), 0o755); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), filepath.Join(items, d.Dir(), string(d))); err != nil {
		return err
	}
	bomb := msgState("13/07/2013 10:00:00", 2, "", false, d, "Bomb")
	bomb["size"] = bombRecorded
	writeItem(t, root, bombAccountID, itemBomb, bomb)
	return nil
}

// cbctlRSS runs cbctl like cbctl() and also returns its peak RSS: the
// largest VmHWM of /proc/<pid>/status seen while it runs (polled). Not
// wait4's ru_maxrss: on Linux a child's counts the parent's resident set at
// the fork (exec folds the old mm's high-water mark in), so a test process
// grown large by earlier tests would be charged to cbctl.
func cbctlRSS(t *testing.T, args ...string) (result, int64) {
	t.Helper()
	return cbctlRSSWithin(t, 0, nil, args...)
}

// rssKillAt is the peak RSS at which cbctlRSSWithin kills cbctl.
const rssKillAt = 1 << 30

// cbctlRSSWithin is cbctlRSS with env added to cbctl's environment and a
// deadline (0: none), after which cbctl is killed and t fails: a hang on
// something planted. cbctl is killed, and t fails, past rssKillAt too.
func cbctlRSSWithin(t *testing.T, deadline time.Duration, env []string, args ...string) (result, int64) {
	t.Helper()
	ctx, cancel := context.Background(), context.CancelFunc(func() {})
	if deadline > 0 {
		ctx, cancel = context.WithTimeout(ctx, deadline)
	}
	defer cancel()
	cmd := exec.CommandContext(ctx, cbctlBin, args...)
	cmd.Env = append(append(os.Environ(), "COLUMNS=100"), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	require.NoError(t, cmd.Start())
	var peak atomic.Int64
	var grew atomic.Bool
	stop := make(chan struct{})
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		for {
			if b, err := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/status"); err == nil {
				if v := hwmOf(string(b)); v > peak.Load() {
					peak.Store(v)
				}
			}
			if peak.Load() > rssKillAt {
				// The test has failed by then; the machine is spared.
				grew.Store(true)
				cmd.Process.Kill()
				return
			}
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	err := cmd.Wait()
	close(stop)
	<-polled
	if grew.Load() {
		t.Fatalf("cbctl %q grew past %d MiB (killed)\nstderr:\n%s", args, rssKillAt>>20, errb.String())
	}
	if ctx.Err() != nil {
		t.Fatalf("cbctl %q has not ended after %v (killed): it blocks on something the user planted\nstderr:\n%s", args, deadline, errb.String())
	}
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run cbctl %q: %v", args, err)
	}
	require.NotContains(t, r.stderr, "panic:")
	return r, peak.Load()
}

// hwmOf reads VmHWM (bytes) from a /proc/<pid>/status text, 0 if absent.
func hwmOf(status string) int64 {
	for _, l := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return 0
}

// vmHWM is a running process's peak RSS (/proc/<pid>/status), in bytes.
func vmHWM(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	require.NoError(t, err)
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			require.NoError(t, err, l)
			return kb << 10
		}
	}
	t.Fatalf("no VmHWM in /proc/%d/status", pid)
	return 0
}

func TestBombGetItem(t *testing.T) {
	root := bombPath(t)
	t.Run("status says size mismatch", func(t *testing.T) {
		r := ok(t, "backup", "getItem", "john@example.com", strconv.Itoa(itemBomb), "backup_path", root)
		assert.Contains(t, r.stdout, "broken: "+bombMismatch)
	})
	t.Run("dump_blob fails with the reason, in little memory", func(t *testing.T) {
		start := time.Now()
		r, rss := cbctlRSS(t, "backup", "getItem", "john@example.com", strconv.Itoa(itemBomb), "backup_path", root, "dump_blob", "true")
		assert.Equal(t, 1, r.code, "stderr:\n%s", r.stderr)
		assert.Contains(t, r.stderr, bombMismatch)
		assert.LessOrEqual(t, len(r.stdout), 4096, "stdout holds the state and at most the recorded size")
		assert.Less(t, rss, int64(bombRSSLimit), "peak RSS %d MiB", rss>>20)
		t.Logf("getItem dump_blob: peak RSS %d MiB, %v", rss>>20, time.Since(start).Round(time.Millisecond))
	})
	t.Run("the sound item dumps", func(t *testing.T) {
		r := ok(t, "backup", "getItem", "john@example.com", strconv.Itoa(itemGood), "backup_path", root, "dump_blob", "true")
		assert.Contains(t, r.stdout, string(goodBody))
	})
}

func TestBombRestore(t *testing.T) {
	root := bombPath(t)
	dir := t.TempDir()
	tgt := filepath.Join(dir, "maildir")
	r, rss := cbctlRSS(t, "backup", "doExternalRestore", root, "target", "maildir:"+tgt, "--state-dir", filepath.Join(dir, "st"))
	require.Equal(t, 3, r.code, "a partial restore; stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Equal(t, 1, statLine(t, r.stdout, "Restored Items"), r.stdout)
	assert.Equal(t, 1, statLine(t, r.stdout, "Unrestored Items"), r.stdout)
	ids, classes := unrestored(t, r.stdout)
	assert.Equal(t, map[string][]int{"john@example.com": {itemBomb}}, ids)
	assert.Equal(t, "broken", classes["john@example.com/"+strconv.Itoa(itemBomb)], r.stdout)
	got := readMaildirTree(t, filepath.Join(tgt, "john@example.com", "Maildir"))
	assert.Equal(t, folders{"Inbox": {string(blob.Sum(goodBody))}}, got)
	assert.Less(t, rss, int64(bombRSSLimit), "peak RSS %d MiB", rss>>20)
	t.Logf("external restore: peak RSS %d MiB", rss>>20)
}

func TestBombMount(t *testing.T) {
	mountSkipUnlessFUSE(t)
	root := bombPath(t)
	dir := t.TempDir()
	bin := mountBinary(t, dir)
	mp := filepath.Join(dir, "mnt")
	require.NoError(t, os.Mkdir(mp, 0o755))
	p := mountStart(t, bin, root, mp, filepath.Join(dir, "index"))

	item := filepath.Join(mp, "accounts", "john@example.com", "items", strconv.Itoa(itemBomb))
	eml := filepath.Join(mp, "accounts", "john@example.com", "folders", "Inbox", strconv.Itoa(itemBomb)+".eml")
	fi, err := os.Stat(eml)
	require.NoError(t, err)
	assert.Equal(t, int64(bombRecorded), fi.Size(), "ls shows the recorded size")

	t.Run("cat fails with EIO, having served at most the recorded size", func(t *testing.T) {
		f, err := os.Open(eml)
		require.NoError(t, err)
		defer f.Close()
		var total int
		buf := make([]byte, 1<<20)
		for {
			n, err := f.Read(buf)
			total += n
			if err != nil {
				assert.ErrorIs(t, err, syscall.EIO)
				break
			}
			require.LessOrEqual(t, total, bombRecorded, "served past the recorded size")
			if n == 0 {
				t.Fatal("clean end of a broken blob")
			}
		}
		assert.LessOrEqual(t, total, bombRecorded)
	})
	t.Run("status xattr says why", func(t *testing.T) {
		st, err := unixGetxattr(eml, "user.cbfs.status")
		require.NoError(t, err)
		assert.True(t, strings.HasPrefix(st, "broken: "), st)
		assert.Contains(t, st, bombMismatch)
	})
	t.Run("the partial holds at most the recorded size", func(t *testing.T) {
		states, err := os.ReadDir(item)
		require.NoError(t, err)
		var partial string
		for _, s := range states {
			if s.IsDir() {
				partial = filepath.Join(item, s.Name(), "message.partial.eml")
			}
		}
		require.NotEmpty(t, partial)
		b, err := os.ReadFile(partial)
		require.NoError(t, err)
		assert.Equal(t, make([]byte, bombRecorded), b)
	})
	t.Run("the sound item reads", func(t *testing.T) {
		b, err := os.ReadFile(filepath.Join(mp, "accounts", "john@example.com", "folders", "Inbox", strconv.Itoa(itemGood)+".eml"))
		require.NoError(t, err)
		assert.Equal(t, goodBody, b)
	})
	rss := vmHWM(t, p.cmd.Process.Pid)
	assert.Less(t, rss, int64(bombRSSLimit), "mount peak RSS %d MiB", rss>>20)
	t.Logf("mount: peak RSS %d MiB", rss>>20)
	p.stop(t)
}
