package tests

// End-to-end tests of the backup service: a real Dovecot (internal/dovecot)
// fed through LMTP and changed through IMAP, `cbfs serve` as a subprocess,
// and the cbctl binary (built by TestMain) talking to it over its socket, or
// running operations in the foreground when no service runs. Every
// subprocess and Dovecot is stopped in t.Cleanup.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/index"
	"github.com/cbfs/cbfs/internal/dovecot"
	"github.com/cbfs/cbfs/mailbox"
	"github.com/cbfs/cbfs/opqueue"
	"github.com/cbfs/cbfs/sample"
	"github.com/cbfs/cbfs/service"
	"github.com/cbfs/cbfs/statedir"
)

// serveBuf is a goroutine-safe buffer for a subprocess's stderr.
type serveBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *serveBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *serveBuf) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// serveProc is a running `cbfs serve`.
type serveProc struct {
	cmd    *exec.Cmd
	stderr *serveBuf
	done   chan struct{}
}

// serveStart starts `cbfs serve args...` and waits until it answers on the
// socket of stateDir.
func serveStart(t *testing.T, bin, stateDir string, args ...string) *serveProc {
	t.Helper()
	args = append([]string{"serve", "--state-dir", stateDir, "--scan-schedule", "off", "--purge-schedule", "off"}, args...)
	p := &serveProc{cmd: exec.Command(bin, args...), stderr: &serveBuf{}, done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p.stderr, p.stderr
	require.NoError(t, p.cmd.Start())
	go func() { p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	sock := statedir.Dir(stateDir).Socket()
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case <-p.done:
			t.Fatalf("cbfs serve exited at start:\n%s", p.stderr.String())
		default:
		}
		if _, err := service.Dial(sock); err == nil {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("cbfs serve did not answer on %s:\n%s", sock, p.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// term stops the service with SIGTERM and waits for it.
func (p *serveProc) term(t *testing.T) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		t.Fatalf("cbfs serve did not stop on SIGTERM:\n%s", p.stderr.String())
	}
	assert.Equal(t, 0, p.cmd.ProcessState.ExitCode(), "exit status after SIGTERM:\n%s", p.stderr.String())
}

// kill9 kills the service at once.
func (p *serveProc) kill9(t *testing.T) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Kill())
	<-p.done
}

// serveMsg is a small message with a unique subject.
func serveMsg(subject, body string) []byte {
	return []byte("From: Ann <ann@example.com>\nTo: someone@example.test\nSubject: " + subject +
		"\nMessage-ID: <" + subject + "@example.com>\nDate: Wed, 01 May 2024 08:59:58 +0000\n\n" + body + "\n")
}

// serveAccount is one account of a Backup Path as read back from disk.
type serveAccount struct {
	info  *mailbox.Account
	items map[int]*mailbox.Item
}

// serveRead reads every account of the Backup Path at root, by name.
func serveRead(t *testing.T, root string) map[string]*serveAccount {
	t.Helper()
	bp, err := backuppath.Open(root)
	require.NoError(t, err)
	ids, err := bp.AccountIDs()
	require.NoError(t, err)
	out := map[string]*serveAccount{}
	for _, id := range ids {
		a, err := bp.ReadAccount(id)
		require.NoError(t, err)
		files, _, err := bp.ItemFiles(id)
		require.NoError(t, err)
		sa := &serveAccount{info: a, items: map[int]*mailbox.Item{}}
		for _, f := range files {
			it, err := bp.ReadItemFile(f.RelPath, f.ItemID)
			require.NoError(t, err)
			sa.items[f.ItemID] = it
		}
		out[a.Name] = sa
	}
	return out
}

// messages returns subject -> item of the account's message items (type
// 5), failing on two items with one subject (a duplicate).
func (a *serveAccount) messages(t *testing.T) map[string]*mailbox.Item {
	t.Helper()
	out := map[string]*mailbox.Item{}
	for _, it := range a.items {
		l := it.States[len(it.States)-1]
		if l.Type != 5 {
			continue
		}
		if prev, ok := out[l.Subject]; ok {
			t.Fatalf("account %s: items %d and %d are the same message %q", a.info.Name, prev.ID, it.ID, l.Subject)
		}
		out[l.Subject] = it
	}
	return out
}

// live is messages without the deleted ones: subject -> latest state.
func (a *serveAccount) live(t *testing.T) map[string]mailbox.State {
	out := map[string]mailbox.State{}
	for s, it := range a.messages(t) {
		if l := it.States[len(it.States)-1]; !l.Deleted {
			out[s] = l
		}
	}
	return out
}

func serveSubjects(m map[string]mailbox.State) []string {
	var out []string
	for s := range m {
		out = append(out, s)
	}
	return out
}

// serveOps decodes getAllOperations --json.
func serveOps(t *testing.T, st string) []opqueue.Op {
	t.Helper()
	var ops []opqueue.Op
	decode(t, ok(t, "backup", "getAllOperations", "--json", "--state-dir", st).stdout, &ops)
	return ops
}

// statLine reads "Title: N" from a report.
func statLine(t *testing.T, report, title string) int {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(title) + `: (\d+)$`).FindStringSubmatch(report)
	require.NotNil(t, m, "report lacks %q:\n%s", title, report)
	n, _ := strconv.Atoi(m[1])
	return n
}

func TestServe(t *testing.T) {
	users := map[string]string{"alice@example.test": "pw", "bob@example.test": "pw"}
	dv := dovecot.Start(t, users)
	for i := range 3 {
		require.NoError(t, dv.Deliver("ann@example.com", []string{"alice@example.test"}, serveMsg(fmt.Sprintf("alice-%d", i), "body "+strconv.Itoa(i))))
	}
	require.NoError(t, dv.Deliver("ann@example.com", []string{"bob@example.test"}, serveMsg("bob-0", "bob")))
	require.NoError(t, dv.Deliver("ann@example.com", []string{"alice@example.test", "bob@example.test"}, serveMsg("shared", "to both")))

	dir := t.TempDir()
	bin := mountBinary(t, dir)
	root, st := filepath.Join(dir, "bp"), filepath.Join(dir, "st")
	accounts := filepath.Join(dir, "accounts")
	require.NoError(t, os.WriteFile(accounts, []byte("# name cos\nalice@example.test default\nbob@example.test external\n"), 0o644))
	// Settings from a --config file whose keys are the flag names.
	conf := filepath.Join(dir, "cbfs.json")
	confJSON, _ := json.Marshal(map[string]any{"backup-path": root, "source": dv.SourceURL(), "accounts-file": accounts, "retention-days": 7})
	require.NoError(t, os.WriteFile(conf, confJSON, 0o600))
	srv := serveStart(t, bin, st, "--config", conf)

	fi, err := os.Stat(statedir.Dir(st).Socket())
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "socket mode")

	scanWait := func(t *testing.T) string {
		t.Helper()
		return ok(t, "backup", "doSmartScan", "--wait", "--state-dir", st).stdout
	}

	t.Run("smart scan captures exactly the source", func(t *testing.T) {
		rep := scanWait(t)
		assert.Equal(t, 2, statLine(t, rep, "Accounts Scanned"), rep)
		assert.Equal(t, 6, statLine(t, rep, "Items New"), rep)
		assert.Equal(t, 5, statLine(t, rep, "Blobs New"), "the shared message is one blob")
		got := serveRead(t, root)
		require.Len(t, got, 2)
		alice, bob := got["alice@example.test"].live(t), got["bob@example.test"].live(t)
		assert.ElementsMatch(t, []string{"alice-0", "alice-1", "alice-2", "shared"}, serveSubjects(alice))
		assert.ElementsMatch(t, []string{"bob-0", "shared"}, serveSubjects(bob))
		assert.Equal(t, alice["shared"].Digest, bob["shared"].Digest, "one blob for the same content")
		bp, err := backuppath.Open(root)
		require.NoError(t, err)
		for s, st := range alice {
			content, err := bp.Blobs.Read(st.Digest)
			require.NoError(t, err, s)
			assert.Contains(t, string(content), "Subject: "+s)
		}
		assert.Equal(t, "default", got["alice@example.test"].info.COSName)
		// doItemSearch reads the written path like any other.
		r := ok(t, "backup", "doItemSearch", "alice@example.test", "--backup-path", root, "--json", "search_filter", "all")
		assert.Contains(t, r.stdout, "alice-2")
	})

	t.Run("the index cbfs mount uses by default is current after the scan", func(t *testing.T) {
		// cbfs mount's default index of root (defaultIndexPath, under
		// XDG_CACHE_HOME as TestMain sets it): serve refreshed it after
		// the scan, so a mount finds every item there before refreshing.
		sum := sha256.Sum256([]byte(root))
		db := filepath.Join(os.Getenv("XDG_CACHE_HOME"), "cbfs", "bp-"+hex.EncodeToString(sum[:8])+".db")
		bp, err := backuppath.Open(root)
		require.NoError(t, err)
		ix, err := index.Open(bp, db)
		require.NoError(t, err)
		defer ix.Close()
		accts, err := ix.Accounts()
		require.NoError(t, err)
		require.Len(t, accts, 2)
		before := 0
		for _, a := range accts {
			before += a.Items
		}
		st, err := ix.Refresh(context.Background(), nil)
		require.NoError(t, err)
		assert.Equal(t, st.Items, before, "items indexed by serve vs after a refresh")
		assert.GreaterOrEqual(t, before, 6)
	})

	t.Run("re-scan of an unchanged server writes nothing", func(t *testing.T) {
		before := snapshot(t, root)
		rep := scanWait(t)
		assert.Equal(t, 0, statLine(t, rep, "Files Written"), rep)
		assert.Equal(t, before, snapshot(t, root))
	})

	t.Run("IMAP changes become states and deleted states", func(t *testing.T) {
		c, err := dv.Login("alice@example.test")
		require.NoError(t, err)
		defer c.Close()
		_, err = c.Select("INBOX", nil).Wait()
		require.NoError(t, err)
		uid := func(subject string) imap.UIDSet {
			uids, err := c.UIDSearch(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: subject}}}, nil).Wait()
			require.NoError(t, err)
			require.Len(t, uids.AllUIDs(), 1, subject)
			return imap.UIDSetNum(uids.AllUIDs()...)
		}
		require.NoError(t, c.Store(uid("alice-0"), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagFlagged}}, nil).Close())
		u := uid("alice-1")
		require.NoError(t, c.Store(u, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close())
		require.NoError(t, c.UIDExpunge(u).Close())
		before := serveRead(t, root)["alice@example.test"].messages(t)

		rep := scanWait(t)
		assert.Equal(t, 0, statLine(t, rep, "Items New"), rep)
		assert.Equal(t, 1, statLine(t, rep, "Items Changed"), rep)
		assert.Equal(t, 1, statLine(t, rep, "Items Deleted"), rep)
		after := serveRead(t, root)["alice@example.test"].messages(t)
		require.Len(t, after, 4, "no new item for a changed or deleted message")
		for s, it := range before {
			assert.Equal(t, it.ID, after[s].ID, s)
			assert.Equal(t, it.States, after[s].States[:len(it.States)], "%s: earlier states kept", s)
		}
		a0 := after["alice-0"].States
		require.Len(t, a0, 2)
		assert.Contains(t, a0[1].Flags, "f")
		a1 := after["alice-1"].States
		require.Len(t, a1, 2)
		assert.True(t, a1[1].Deleted)
		assert.Len(t, after["alice-2"].States, 1)
	})

	t.Run("the queue is FIFO and stops a queued operation", func(t *testing.T) {
		// Freeze Dovecot so the first scan blocks while running.
		require.NoError(t, syscall.Kill(-dv.PID, syscall.SIGSTOP))
		thawed := false
		thaw := func() {
			if !thawed {
				syscall.Kill(-dv.PID, syscall.SIGCONT)
				thawed = true
			}
		}
		defer thaw()
		n0 := len(serveOps(t, st))
		first := strings.TrimSpace(ok(t, "backup", "doSmartScan", "--state-dir", st).stdout)
		second := strings.TrimSpace(ok(t, "backup", "doCoherencyCheck", "--state-dir", st).stdout)
		third := strings.TrimSpace(ok(t, "backup", "doPurge", "purgeDays", "0", "--state-dir", st).stdout)
		for _, id := range []string{first, second, third} {
			require.Regexp(t, `^[0-9a-f-]{36}$`, id)
		}
		require.Eventually(t, func() bool {
			ops := serveOps(t, st)
			return len(ops) == n0+3 && ops[n0].State == opqueue.Running
		}, 10*time.Second, 20*time.Millisecond, "the first operation runs")
		r := ok(t, "backup", "doStopOperation", third, "--state-dir", st)
		assert.Contains(t, r.stdout, "stopped")

		ops := serveOps(t, st)[n0:]
		require.Len(t, ops, 3)
		assert.Equal(t, []string{first, second, third}, []string{ops[0].ID, ops[1].ID, ops[2].ID}, "FIFO order")
		assert.Equal(t, []string{"doSmartScan", "doCoherencyCheck", "doPurge"}, []string{ops[0].Kind, ops[1].Kind, ops[2].Kind})
		assert.Equal(t, []opqueue.State{opqueue.Running, opqueue.Queued, opqueue.Stopped}, []opqueue.State{ops[0].State, ops[1].State, ops[2].State})
		assert.Equal(t, map[string]string{"purgeDays": "0"}, ops[2].Params)
		text := ok(t, "backup", "getAllOperations", "--state-dir", st).stdout
		assert.Less(t, strings.Index(text, first), strings.Index(text, second))
		assert.Less(t, strings.Index(text, second), strings.Index(text, third))

		// monitor without an id follows the running operation: the scan,
		// held up by the frozen Dovecot (or, if it ended between the start
		// of monitor and its listing, the check that runs next).
		// Dovecot is thawed only once monitor has chosen the operation
		// (its "following" line): before, on a loaded machine, the scan and
		// the check could both end before monitor listed the queue.
		mon := make(chan result, 1)
		following := make(chan struct{})
		go func() {
			cmd := exec.Command(cbctlBin, "backup", "monitor", "--state-dir", st)
			var out bytes.Buffer
			errb := &watchWriter{want: "following operation", seen: following}
			cmd.Stdout, cmd.Stderr = &out, errb
			err := cmd.Run()
			errb.close()
			r := result{stdout: out.String(), stderr: errb.String()}
			if ee, ok := err.(*exec.ExitError); ok {
				r.code = ee.ExitCode()
			}
			mon <- r
		}()
		select {
		case <-following:
		case <-time.After(30 * time.Second):
		}
		thaw()
		mr := <-mon
		require.Equal(t, 0, mr.code, mr.stderr)
		assert.Contains(t, mr.stderr, "cbctl: following operation "+first+" (doSmartScan)")
		assert.True(t, strings.Contains(mr.stdout, first) || strings.Contains(mr.stdout, second), mr.stdout)
		r = ok(t, "backup", "monitor", second, "--state-dir", st)
		assert.Contains(t, r.stdout, "done")
		assert.Contains(t, r.stdout, "Blobs Checked")
		ops = serveOps(t, st)[n0:]
		assert.Equal(t, opqueue.Done, ops[0].State, "the scan resumed once Dovecot answered")
		assert.Equal(t, opqueue.Stopped, ops[2].State, "a stopped operation never runs")
		assert.False(t, ops[1].Started.Before(ops[0].Ended), "one at a time")
		fails(t, 1, "has already ended", "backup", "doStopOperation", third, "--state-dir", st)
		fails(t, 1, "no operation", "backup", "doStopOperation", "00000000-0000-0000-0000-000000000000", "--state-dir", st)
	})

	t.Run("account toggle: scans and exports leave the account out", func(t *testing.T) {
		assert.Equal(t, "false\n", ok(t, "config", "set", "account", "bob@example.test", "backupEnabled", "false", "--state-dir", st).stdout)
		assert.Equal(t, "false\n", ok(t, "config", "get", "account", "bob@example.test", "backupEnabled", "--state-dir", st).stdout)
		require.NoError(t, dv.Deliver("ann@example.com", []string{"bob@example.test"}, serveMsg("bob-1", "while disabled")))
		got := serveRead(t, root)
		assert.Equal(t, mailbox.StatusDeleted, got["bob@example.test"].info.Status, "applied at once: marked deleted")
		rep := scanWait(t)
		assert.Equal(t, 0, statLine(t, rep, "Items New"), rep)
		assert.NotContains(t, serveSubjects(serveRead(t, root)["bob@example.test"].live(t)), "bob-1")

		dest := filepath.Join(dir, "export1")
		ok(t, "backup", "doExport", dest, "--wait", "--state-dir", st)
		exp := serveRead(t, dest)
		assert.Contains(t, exp, "alice@example.test")
		assert.NotContains(t, exp, "bob@example.test")

		assert.Equal(t, "true (not set: default)\n", ok(t, "config", "unset", "account", "bob@example.test", "backupEnabled", "--state-dir", st).stdout)
		assert.Equal(t, mailbox.StatusActive, serveRead(t, root)["bob@example.test"].info.Status, "re-enabled: active again")
		scanWait(t)
		assert.Contains(t, serveSubjects(serveRead(t, root)["bob@example.test"].live(t)), "bob-1")
	})

	t.Run("COS toggle, with Carbonio's spellings", func(t *testing.T) {
		ok(t, "set", "cos", "external", "backupEnabled", "false", "--state-dir", st)
		assert.Equal(t, "false\n", ok(t, "config", "get", "cos", "external", "backupEnabled", "--state-dir", st).stdout)
		require.NoError(t, dv.Deliver("ann@example.com", []string{"bob@example.test"}, serveMsg("bob-2", "cos disabled")))
		rep := scanWait(t)
		assert.Contains(t, rep, "bob@example.test: skipped")
		assert.NotContains(t, serveSubjects(serveRead(t, root)["bob@example.test"].live(t)), "bob-2")
		// An account setting wins over its COS.
		ok(t, "config", "set", "account", "bob@example.test", "backupEnabled", "true", "--state-dir", st)
		scanWait(t)
		assert.Contains(t, serveSubjects(serveRead(t, root)["bob@example.test"].live(t)), "bob-2")
		ok(t, "config", "unset", "account", "bob@example.test", "backupEnabled", "--state-dir", st)
		ok(t, "unset", "cos", "external", "backupEnabled", "--state-dir", st)
		assert.Equal(t, "true (not set: default)\n", ok(t, "config", "get", "cos", "external", "backupEnabled", "--state-dir", st).stdout)
		fails(t, 2, "backupEnabled must be true or false", "config", "set", "cos", "external", "backupEnabled", "maybe", "--state-dir", st)
	})

	t.Run("purge with purgeDays 0 keeps everything", func(t *testing.T) {
		before := serveRead(t, root)
		blobsBefore := snapshotBlobs(t, root)
		rep := ok(t, "backup", "doPurge", "purgeDays", "0", "--wait", "--state-dir", st).stdout
		assert.Equal(t, 0, statLine(t, rep, "Blobs Removed"), rep)
		after := serveRead(t, root)
		for name, a := range before {
			for id, it := range a.items {
				assert.Equal(t, it.States, after[name].items[id].States, "%s item %d", name, id)
			}
		}
		assert.Equal(t, blobsBefore, snapshotBlobs(t, root))
		fails(t, 2, "purgeDays must be a number", "backup", "doPurge", "purgeDays", "soon", "--state-dir", st)
	})

	t.Run("the queue survives a restart", func(t *testing.T) {
		ops := serveOps(t, st)
		srv.term(t)
		_, err := service.Dial(statedir.Dir(st).Socket())
		require.ErrorIs(t, err, service.ErrNoService, "socket removed")
		// No service: the list comes from the queue file, under the lock.
		assert.Equal(t, ops, serveOps(t, st))
		srv = serveStart(t, bin, st, "--config", conf)
		assert.Equal(t, ops, serveOps(t, st))
		// Two services cannot share a state directory.
		out, err := exec.Command(bin, "serve", "--state-dir", st, "--config", conf).CombinedOutput()
		require.Error(t, err)
		assert.Contains(t, string(out), "in use")
	})
}

// snapshotBlobs lists items/ with sizes.
func snapshotBlobs(t *testing.T, root string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	require.NoError(t, filepath.Walk(filepath.Join(root, backuppath.ItemsDir), func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			out[p] = fi.Size()
		}
		return err
	}))
	return out
}

// TestServeKill9 kills the service in the middle of a scan: the Backup Path
// stays valid, the interrupted operation is recorded stopped, and a second
// scan completes it without duplicates.
func TestServeKill9(t *testing.T) {
	const n = 60
	dv := dovecot.Start(t, map[string]string{"dave@example.test": "pw"})
	for i := range n {
		require.NoError(t, dv.Deliver("ann@example.com", []string{"dave@example.test"}, serveMsg(fmt.Sprintf("dave-%02d", i), strings.Repeat("text ", 2000))))
	}
	dir := t.TempDir()
	bin := mountBinary(t, dir)
	root, st := filepath.Join(dir, "bp"), filepath.Join(dir, "st")
	accounts := filepath.Join(dir, "accounts")
	require.NoError(t, os.WriteFile(accounts, []byte("dave@example.test\n"), 0o644))
	args := []string{"--backup-path", root, "--source", dv.SourceURL(), "--accounts-file", accounts}
	srv := serveStart(t, bin, st, args...)

	id := strings.TrimSpace(ok(t, "backup", "doSmartScan", "--state-dir", st).stdout)
	// Kill once some items are written, before the scan ends.
	blobs := filepath.Join(root, backuppath.ItemsDir)
	deadline := time.Now().Add(20 * time.Second)
	for {
		m, _ := filepath.Glob(filepath.Join(blobs, "*", "*"))
		if len(m) >= 3 {
			break
		}
		require.True(t, time.Now().Before(deadline), "no blob written:\n%s", srv.stderr.String())
		time.Sleep(2 * time.Millisecond)
	}
	srv.kill9(t)
	m, _ := filepath.Glob(filepath.Join(blobs, "*", "*"))
	t.Logf("killed after %d blobs", len(m))

	srv = serveStart(t, bin, st, args...)
	var ops []opqueue.Op
	decode(t, ok(t, "backup", "getAllOperations", "--json", "--state-dir", st).stdout, &ops)
	require.Len(t, ops, 1)
	assert.Equal(t, id, ops[0].ID)
	if ops[0].State != opqueue.Done { // the kill may have come after the last write
		assert.Equal(t, opqueue.Stopped, ops[0].State)
		assert.Equal(t, opqueue.NoteRestart, ops[0].Error)
	}

	ok(t, "backup", "doSmartScan", "--wait", "--state-dir", st)
	got := serveRead(t, root)["dave@example.test"]
	require.NotNil(t, got)
	live := got.live(t) // fails on a duplicate
	assert.Len(t, live, n)
	srv.term(t)

	bp, err := backuppath.Open(root)
	require.NoError(t, err)
	ix, err := index.Open(bp, ":memory:")
	require.NoError(t, err)
	defer ix.Close()
	stats, err := ix.Refresh(context.Background(), nil)
	require.NoError(t, err)
	assert.Equal(t, 1, stats.Accounts)
	r := ok(t, "backup", "doCoherencyCheck", "--backup-path", root, "--state-dir", st)
	for _, title := range []string{"Broken Blobs", "Unreadable Blobs", "Missing Blobs", "Broken Item Files"} {
		assert.Equal(t, 0, statLine(t, r.stdout, title), r.stdout)
	}
}

// TestServeForeground runs operations with no service: cbctl takes the
// state lock and runs them itself.
func TestServeForeground(t *testing.T) {
	dir := t.TempDir()
	st := filepath.Join(dir, "st")

	t.Run("doSmartScan of a maildir source", func(t *testing.T) {
		mail := filepath.Join(dir, "mail")
		for i, user := range []string{"erin", "fred"} {
			cur := filepath.Join(mail, "example.test", user, "Maildir", "cur")
			require.NoError(t, os.MkdirAll(cur, 0o755))
			for _, d := range []string{"new", "tmp"} {
				require.NoError(t, os.MkdirAll(filepath.Join(filepath.Dir(cur), d), 0o755))
			}
			for j := range i + 2 {
				body := serveMsg(fmt.Sprintf("%s-%d", user, j), "x")
				name := fmt.Sprintf("17000000%02d.M%dP1.host,S=%d:2,S", j, j, len(body))
				require.NoError(t, os.WriteFile(filepath.Join(cur, name), body, 0o644))
			}
		}
		root := filepath.Join(dir, "bp")
		r := ok(t, "backup", "doSmartScan", "--backup-path", root, "--source", "maildir:"+mail, "--state-dir", st)
		assert.Equal(t, 2, statLine(t, r.stdout, "Accounts Scanned"), r.stdout)
		assert.Equal(t, 5, statLine(t, r.stdout, "Items New"), r.stdout)
		got := serveRead(t, root)
		assert.Len(t, got["erin@example.test"].live(t), 2)
		assert.Len(t, got["fred@example.test"].live(t), 3)

		var out struct {
			opqueue.Op
			Foreground bool `json:"foreground"`
		}
		decode(t, ok(t, "backup", "doAccountScan", "fred@example.test", "--backup-path", root, "--source", "maildir:"+mail, "--state-dir", st, "--json").stdout, &out)
		assert.True(t, out.Foreground)
		assert.Equal(t, opqueue.Done, out.State)
		assert.Contains(t, out.Result, "Accounts Scanned: 1")

		// The state lock is taken: a held lock refuses a foreground run.
		lock, err := statedir.Dir(st).Lock()
		require.NoError(t, err)
		fails(t, 1, "in use", "backup", "doSmartScan", "--backup-path", root, "--source", "maildir:"+mail, "--state-dir", st)
		require.NoError(t, lock.Release())
	})

	t.Run("doCoherencyCheck finds every damaged kind", func(t *testing.T) {
		root := filepath.Join(dir, "sample")
		rep, err := sample.Generate(context.Background(), root, sample.Options{Accounts: 3, Messages: 8, Seed: 3})
		require.NoError(t, err)
		want := map[string]int{}
		titles := map[string]string{
			sample.DamageTruncated: "Broken Blobs", sample.DamageMismatch: "Broken Blobs",
			sample.DamageUnreadable: "Unreadable Blobs", sample.DamageMissing: "Missing Blobs",
			sample.DamageDoubleGzip: "Double-gzipped Blobs", sample.DamageMalformedJSON: "Broken Item Files",
		}
		kinds := map[string]bool{}
		for _, d := range rep.Damaged {
			want[titles[d.Kind]]++
			kinds[d.Kind] = true
		}
		for _, k := range sample.DamageKinds {
			require.True(t, kinds[k], "the sample plants %s", k)
		}
		r := cbctl(t, "backup", "doCoherencyCheck", "--backup-path", root, "--state-dir", st)
		require.Equal(t, 0, r.code, r.stderr)
		for title, n := range want {
			assert.Equal(t, n, statLine(t, r.stdout, title), "%s\n%s", title, r.stdout)
		}
		fails(t, 2, "fix-double-gzip", "backup", "doCoherencyCheck", "fixDoubleGzip", "maybe", "--backup-path", root, "--state-dir", st)
	})

	t.Run("queue commands without a service", func(t *testing.T) {
		var ops []opqueue.Op
		decode(t, ok(t, "backup", "getAllOperations", "--json", "--state-dir", st).stdout, &ops)
		assert.Empty(t, ops, "foreground operations are not queued")
		fails(t, 1, "no operation", "backup", "monitor", "00000000-0000-0000-0000-000000000000", "--state-dir", st)
		assert.Equal(t, "stopped 0 operations\n", ok(t, "backup", "doStopAllOperations", "--state-dir", st).stdout)
	})

	t.Run("a bad setting is one error line", func(t *testing.T) {
		fails(t, 1, "IMAP source needs the account list", "backup", "doSmartScan", "--backup-path", filepath.Join(dir, "bp2"), "--source", "imap://admin:pw@127.0.0.1:1", "--state-dir", st)
		bad := filepath.Join(dir, "accounts")
		require.NoError(t, os.WriteFile(bad, []byte("not-an-address\n"), 0o644))
		fails(t, 1, "not an address", "backup", "doSmartScan", "--backup-path", filepath.Join(dir, "bp2"), "--source", "maildir:"+dir, "--accounts-file", bad, "--state-dir", st)
	})
}

// watchWriter collects what is written and closes seen once want has been
// written (or at close, so that a waiter never hangs).
type watchWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	want string
	seen chan struct{}
	done bool
}

func (w *watchWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if !w.done && strings.Contains(w.buf.String(), w.want) {
		w.done = true
		close(w.seen)
	}
	return len(p), nil
}

func (w *watchWriter) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.done = true
		close(w.seen)
	}
}

func (w *watchWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}
