package restore

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/internal/dovecot"
	"github.com/cbfs/cbfs/internal/testuser"
	"github.com/cbfs/cbfs/mailbox"
)

// The Maildir target writes, as root, into Maildirs their users control:
// these tests have a real local user plant links, FIFOs and read-only
// folders at every name the restore uses, and check that root's files
// and the user's other folders are untouched, that only the planted
// folders' messages are lost (with the reason), that nothing hangs, and
// that what is restored belongs to the Maildir's owner, so a Dovecot
// running as that user reads it.

const hostileSrv = "srv-hostile"

// hostileMsg is one message of the hostile source.
type hostileMsg struct {
	id, folder int
	tags       []string
}

// hostileSource writes a Backup Path with the accounts' folders (id ->
// name, all under the root folder 1) and messages (folder 2 is the Inbox),
// and returns it with each message's state by account id and item id.
func hostileSource(t *testing.T, accts map[string]string, folders map[int]string, msgs []hostileMsg) (*backuppath.Path, map[string]map[int]*mailbox.State) {
	t.Helper()
	p, err := backuppath.Create(t.TempDir(), backuppath.BackupStat{ServerID: hostileSrv})
	require.NoError(t, err)
	at := mailbox.MillisOf(time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC))
	states := map[string]map[int]*mailbox.State{}
	for id, name := range accts {
		require.NoError(t, p.WriteAccount(&mailbox.Account{ID: id, Name: name, Status: mailbox.StatusActive}))
		states[id] = map[int]*mailbox.State{}
		for fid, fname := range folders {
			require.NoError(t, p.WriteItem(id, &mailbox.Item{ID: fid, States: []mailbox.State{{Start: at, Type: mailbox.TypeFolder,
				FolderID: 1, ParentID: 1, Name: fname}}}))
		}
		for _, m := range msgs {
			body := fmt.Sprintf("Subject: message %d of %s\r\nFrom: a@example.test\r\n\r\nbody %d\r\n", m.id, name, m.id)
			d, _, err := p.Blobs.Put([]byte(body))
			require.NoError(t, err)
			date := mailbox.MillisOf(time.Date(2024, 2, 1, 0, 0, m.id, 0, time.UTC))
			st := mailbox.State{Start: at, Type: mailbox.TypeMessage, FolderID: m.folder, Digest: d,
				Size: int64(len(body)), Date: date, Tags: m.tags}
			require.NoError(t, p.WriteItem(id, &mailbox.Item{ID: m.id, States: []mailbox.State{st}}))
			states[id][m.id] = &st
		}
	}
	return p, states
}

// oldTmpName is the tmp/ name a restore used before issue 18: predictable
// from the Backup Path alone, so a user could plant a link at it.
func oldTmpName(acctID string, id int, st *mailbox.State) string {
	return fmt.Sprintf("%d.cbfs-%s.restore,S=%d", internalDate(st).Unix(),
		uniqueName(hostileSrv, acctID, id, string(st.Digest)), st.Size)
}

// hostileBase is a folder every user may traverse (the test's temporary
// folders are 0700), removed at the end.
func hostileBase(t *testing.T) string {
	base, err := os.MkdirTemp("", "cbfs-hostile-md-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(base) })
	require.NoError(t, os.Chmod(base, 0o755))
	return base
}

// restoreWithin runs ExternalRestore, failing the test if it does not end
// within a deadline (a FIFO blocked on would hang it).
func restoreWithin(t *testing.T, p *backuppath.Path, tgt Target) (*Report, error) {
	t.Helper()
	type result struct {
		rep *Report
		err error
	}
	ch := make(chan result, 1)
	go func() {
		rep, err := ExternalRestore(context.Background(), p, tgt, openLedger(t), DefaultOptions())
		ch <- result{rep, err}
	}()
	select {
	case r := <-ch:
		return r.rep, r.err
	case <-time.After(2 * time.Minute):
		t.Fatal("the restore hangs (a FIFO opened or read?)")
		return nil, nil
	}
}

// ownedBy lists what beneath dir (dir included, links not followed) does
// not belong to uid:gid.
func ownedBy(t *testing.T, dir string, uid, gid uint32) []string {
	t.Helper()
	var bad []string
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		require.NoError(t, err)
		fi, err := os.Lstat(p)
		require.NoError(t, err)
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != uid || st.Gid != gid {
			bad = append(bad, fmt.Sprintf("%s (%d:%d)", p, st.Uid, st.Gid))
		}
		return nil
	}))
	return bad
}

// unrestoredByID is an account's unrestored items by id.
func unrestoredByID(rep *Report, acctID string) map[int]UnrestoredItem {
	out := map[int]UnrestoredItem{}
	for _, a := range rep.Accounts {
		if a.AccountID == acctID {
			for _, u := range a.Unrestored {
				out[u.ID] = u
			}
		}
	}
	return out
}

// dovecotAs starts a Dovecot whose user account runs as uid:gid with the
// given home (its Maildir at ~/Maildir), as a mail system with the mail
// user's own uid does. (internal/dovecot gives every user of Start one
// uid; a passwd-file line with uid, gid and home overrides it.)
func dovecotAs(t *testing.T, account string, uid, gid uint32, home string) *dovecot.Server {
	t.Helper()
	s := dovecot.Start(t, nil)
	f, err := os.OpenFile(filepath.Join(s.Dir, "users"), os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = fmt.Fprintf(f, "%s:{PLAIN}pw:%d:%d::%s::\n", account, uid, gid, home)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	// passwd-file is read again when its mtime changes, checked at most
	// once per wall-clock second.
	now := time.Now()
	time.Sleep(now.Truncate(time.Second).Add(time.Second + 20*time.Millisecond).Sub(now))
	return s
}

func TestMaildirHostileUser(t *testing.T) {
	u := testuser.New(t)
	base := hostileBase(t)
	// A root-owned file outside, that a followed link would overwrite.
	victim := filepath.Join(base, "victim")
	require.NoError(t, os.WriteFile(victim, []byte("root's own file\n"), 0o644))
	victimFi, err := os.Stat(victim)
	require.NoError(t, err)
	// A folder elsewhere the user owns: a followed link would make root
	// write there.
	elsewhere := filepath.Join(base, "elsewhere")
	require.NoError(t, os.Mkdir(elsewhere, 0o755))
	u.Own(t, elsewhere)
	// The Root is root's (as /home is); the accounts' folders are the
	// user's (as their homes are).
	root := filepath.Join(base, "target")
	require.NoError(t, os.Mkdir(root, 0o755))

	const ann, bob = "acct-ann", "acct-bob"
	const annName, bobName = "ann@example.test", "bob@example.test"
	folders := map[int]string{
		310: "Linked", 311: "Dangling", 312: "Kwfifo", 313: "Kwzero", 314: "TmpLinked",
		315: "Ok", 316: "FolderLink", 317: "ReadOnly",
	}
	msgs := []hostileMsg{
		{400, 2, []string{"Work"}}, {401, 2, nil},
		{410, 310, nil},
		{411, 311, nil},
		{412, 312, []string{"Work"}}, {413, 312, nil},
		{414, 313, []string{"Work"}}, {415, 313, nil},
		{416, 314, nil},
		{417, 315, []string{"Work", "Home"}},
		{418, 316, nil},
		{419, 317, nil},
	}
	p, states := hostileSource(t, map[string]string{ann: annName, bob: bobName}, folders, msgs)

	// ann's Maildir, as ann made it: every folder there already, a link at
	// every tmp/ name the restore used to write, and the traps.
	annHome := filepath.Join(root, annName)
	require.NoError(t, os.Mkdir(annHome, 0o755))
	u.Own(t, annHome)
	var plant strings.Builder
	plant.WriteString("mkdir -p Maildir/cur Maildir/new Maildir/tmp\n")
	for _, name := range []string{"Linked", "Dangling", "Kwfifo", "Kwzero", "TmpLinked", "Ok", "ReadOnly"} {
		fmt.Fprintf(&plant, "mkdir -p Maildir/.%[1]s/cur Maildir/.%[1]s/new Maildir/.%[1]s/tmp\n", name)
	}
	for _, m := range msgs {
		if m.folder == 316 {
			continue // .FolderLink is itself a link, below
		}
		// The inbox's links point at root's file (which only a write as
		// root could change), the others' at names in elsewhere (which a
		// write as the user could create).
		dir, to := "Maildir", victim
		if m.folder != 2 {
			dir += "/." + folders[m.folder]
			to = filepath.Join(elsewhere, fmt.Sprintf("tmp-%d", m.id))
		}
		fmt.Fprintf(&plant, "ln -s %s '%s/tmp/%s'\n", to, dir, oldTmpName(ann, m.id, states[ann][m.id]))
	}
	fmt.Fprintf(&plant, `
rmdir Maildir/.Linked/cur && ln -s %[1]s Maildir/.Linked/cur
ln -s %[1]s/created Maildir/.Dangling/maildirfolder
mkfifo Maildir/.Kwfifo/dovecot-keywords
ln -s /dev/zero Maildir/.Kwzero/dovecot-keywords
rm -rf Maildir/.TmpLinked/tmp && ln -s %[1]s Maildir/.TmpLinked/tmp
ln -s %[1]s Maildir/.FolderLink
chmod 555 Maildir/.ReadOnly/tmp Maildir/.ReadOnly/cur
`, elsewhere)
	u.Sh(t, annHome, plant.String())
	// bob's Maildir is a link to elsewhere.
	bobHome := filepath.Join(root, bobName)
	require.NoError(t, os.Mkdir(bobHome, 0o755))
	u.Own(t, bobHome)
	u.Sh(t, bobHome, "ln -s "+elsewhere+" Maildir")

	rep, err := restoreWithin(t, p, NewMaildir(root))
	require.NoError(t, err)
	t.Logf("\n%s", rep)

	t.Run("root's file is untouched", func(t *testing.T) {
		b, err := os.ReadFile(victim)
		require.NoError(t, err)
		assert.Equal(t, "root's own file\n", string(b))
		fi, err := os.Stat(victim)
		require.NoError(t, err)
		assert.Equal(t, victimFi.ModTime(), fi.ModTime())
		assert.Equal(t, victimFi.Sys().(*syscall.Stat_t).Ino, fi.Sys().(*syscall.Stat_t).Ino)
	})
	t.Run("nothing is written elsewhere", func(t *testing.T) {
		ents, err := os.ReadDir(elsewhere)
		require.NoError(t, err)
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		assert.Empty(t, names)
	})
	t.Run("the planted links are still links", func(t *testing.T) {
		for _, rel := range []string{".Linked/cur", ".Dangling/maildirfolder", ".Kwzero/dovecot-keywords", ".TmpLinked/tmp", ".FolderLink"} {
			fi, err := os.Lstat(filepath.Join(annHome, "Maildir", rel))
			require.NoError(t, err, rel)
			assert.Equal(t, fs.ModeSymlink, fi.Mode().Type(), rel)
		}
		fi, err := os.Lstat(filepath.Join(annHome, "Maildir", ".Kwfifo", "dovecot-keywords"))
		require.NoError(t, err)
		assert.Equal(t, fs.ModeNamedPipe, fi.Mode().Type())
	})
	t.Run("only the trapped folders' messages are unrestored, with the reason", func(t *testing.T) {
		got := unrestoredByID(rep, ann)
		want := map[int][]string{
			410: {".Linked", "cur", "symbolic link"},
			411: {".Dangling", "maildirfolder", "symbolic link"},
			412: {".Kwfifo", "dovecot-keywords", "FIFO"},
			414: {".Kwzero", "dovecot-keywords", "symbolic link"},
			416: {".TmpLinked", "tmp", "symbolic link"},
			418: {".FolderLink", "symbolic link"},
			419: {".ReadOnly", "permission denied"},
		}
		var ids []int
		for id := range got {
			ids = append(ids, id)
		}
		sort.Ints(ids)
		assert.Equal(t, []int{410, 411, 412, 414, 416, 418, 419}, ids)
		for _, id := range ids {
			t.Logf("%d: %s", id, got[id].Reason)
		}
		for id, words := range want {
			assert.Equal(t, ClassInvalid, got[id].Class, "item %d", id)
			for _, w := range words {
				assert.Contains(t, got[id].Reason, w, "item %d", id)
			}
			assert.NotContains(t, got[id].Reason, "\n", "item %d: one line", id)
		}
		require.Len(t, rep.FailedAccounts, 1)
		assert.Equal(t, bobName, rep.FailedAccounts[0].Account)
		assert.Equal(t, ClassInvalid, rep.FailedAccounts[0].Class)
		assert.Contains(t, rep.FailedAccounts[0].Reason, "Maildir is a symbolic link")
		assert.Equal(t, 5, rep.Restored, "ann's other messages")
	})
	annMaildir := filepath.Join(annHome, "Maildir")
	wantMsgs := func() []want {
		var out []want
		for _, id := range []int{400, 401, 413, 415, 417} {
			st := states[ann][id]
			fo := ""
			if st.FolderID != 2 {
				fo = "." + folders[st.FolderID]
			}
			out = append(out, want{Folder: fo, Digest: string(st.Digest), Flags: "S", Date: st.Date.Time().Unix()})
		}
		sortWants(out)
		return out
	}()
	t.Run("the rest is restored, keywords included", func(t *testing.T) {
		assert.Equal(t, wantMsgs, readMaildir(t, annMaildir))
		kw, err := os.ReadFile(filepath.Join(annMaildir, ".Ok", "dovecot-keywords"))
		require.NoError(t, err)
		assert.Equal(t, "0 Work\n1 Home\n", string(kw))
		cur, err := os.ReadDir(filepath.Join(annMaildir, ".Ok", "cur"))
		require.NoError(t, err)
		require.Len(t, cur, 1)
		assert.True(t, strings.HasSuffix(cur[0].Name(), ":2,Sab"), cur[0].Name())
	})
	t.Run("what is restored is the user's", func(t *testing.T) {
		assert.Empty(t, ownedBy(t, annHome, u.UID, u.GID))
		// The links at the old names were neither followed nor removed:
		// new names were used.
		ents, err := os.ReadDir(filepath.Join(annMaildir, "tmp"))
		require.NoError(t, err)
		var links int
		for _, e := range ents {
			if e.Type() == fs.ModeSymlink {
				links++
			}
		}
		assert.Equal(t, 2, links)
		assert.Len(t, ents, 2, "the two planted links, nothing more")
	})
	if t.Failed() {
		return
	}

	// A Dovecot running as the user reads every restored message. (A short
	// name: Dovecot's sockets live in the test's temporary folder.)
	t.Run("dovecot", func(t *testing.T) {
		// The traps would trap Dovecot too (it follows links, and blocks
		// on a FIFO): the user clears them first.
		u.Sh(t, annMaildir, "rm -rf .Linked .Dangling .TmpLinked .FolderLink .Kwfifo/dovecot-keywords .Kwzero/dovecot-keywords; chmod -R u+w .ReadOnly")
		s := dovecotAs(t, annName, u.UID, u.GID, annHome)
		got, _ := readIMAP(t, s, annName)
		assert.Equal(t, wantMsgs, got)
	})
}

// TestMaildirRestoreAsVmail: a Root that belongs to the mail system's user
// (as /var/vmail belongs to vmail) gets everything made by that user:
// account folders, Maildirs, messages, keywords, provisioning.
func TestMaildirRestoreAsVmail(t *testing.T) {
	v := testuser.New(t)
	base := hostileBase(t)
	root := filepath.Join(base, "vmail")
	require.NoError(t, os.Mkdir(root, 0o755))
	v.Own(t, root)
	p, _ := hostileSource(t, map[string]string{"acct-1": "one@example.test", "acct-2": "two@example.test"},
		map[int]string{300: "Projects"}, []hostileMsg{{400, 2, []string{"x"}}, {401, 300, nil}})
	rep, err := restoreWithin(t, p, NewMaildir(root))
	require.NoError(t, err)
	assert.Equal(t, 4, rep.Restored)
	assert.Zero(t, rep.Unrestored)
	assert.Empty(t, ownedBy(t, root, v.UID, v.GID))
	assert.FileExists(t, filepath.Join(root, ProvisioningFile))
}

// TestMaildirTmpNamesUnpredictable: a message's tmp/ name is new on every
// write (16 random hex digits after a prefix naming the message), and a
// file a stopped run left in tmp/ is removed when the message is written
// again.
func TestMaildirTmpNamesUnpredictable(t *testing.T) {
	md := NewMaildir(t.TempDir())
	ctx := context.Background()
	msg := &Message{Body: []byte("Subject: x\r\n\r\nx\r\n"), Date: time.Unix(1700000000, 0), Unique: "0123abcd"}
	tmpDir := filepath.Join(md.AccountDir("a@example.test"), "tmp")
	pattern := regexp.MustCompile(`^1700000000\.cbfs-0123abcd\.[0-9a-f]{16}$`)
	var names []string
	for run := 0; run < 3; run++ {
		b, err := md.Open(ctx, "a@example.test")
		require.NoError(t, err)
		require.NoError(t, b.Append(ctx, []string{InboxName}, msg, func(Appended, error) {}))
		ents, err := os.ReadDir(tmpDir)
		require.NoError(t, err)
		require.Len(t, ents, 1, "run %d: the earlier run's file is removed", run)
		assert.Regexp(t, pattern, ents[0].Name())
		names = append(names, ents[0].Name())
		require.NoError(t, b.Close()) // stopped before the flush
	}
	assert.NotEqual(t, names[0], names[1])
	assert.NotEqual(t, names[1], names[2])

	b, err := md.Open(ctx, "a@example.test")
	require.NoError(t, err)
	var got Appended
	require.NoError(t, b.Append(ctx, []string{InboxName}, msg, func(a Appended, err error) { require.NoError(t, err); got = a }))
	require.NoError(t, b.Flush(ctx))
	require.NoError(t, b.Close())
	assert.Equal(t, "cur/1700000000.cbfs-0123abcd.restore,S=17:2,S", got.ID)
	ents, err := os.ReadDir(tmpDir)
	require.NoError(t, err)
	assert.Empty(t, ents)
	assert.FileExists(t, filepath.Join(md.AccountDir("a@example.test"), got.ID))
}

// TestMaildirProvisioningLink: a _provisioning.json that is a link (the
// Root's owner planted it) is neither followed nor replaced.
func TestMaildirProvisioningLink(t *testing.T) {
	v := testuser.New(t)
	base := hostileBase(t)
	victim := filepath.Join(base, "victim")
	require.NoError(t, os.WriteFile(victim, []byte(`{"sources":{}}`), 0o644))
	root := filepath.Join(base, "vmail")
	require.NoError(t, os.Mkdir(root, 0o755))
	v.Own(t, root)
	v.Sh(t, root, "ln -s "+victim+" "+ProvisioningFile)
	err := NewMaildir(root).Provision(context.Background(), &Provisioning{ServerID: "s"})
	require.ErrorContains(t, err, "symbolic link")
	b, err := os.ReadFile(victim)
	require.NoError(t, err)
	assert.Equal(t, `{"sources":{}}`, string(b))
	fi, err := os.Lstat(filepath.Join(root, ProvisioningFile))
	require.NoError(t, err)
	assert.Equal(t, fs.ModeSymlink, fi.Mode().Type())
}

// TestMaildirFewDescriptors: an account with many folders holds the
// descriptors of the folders being written, not of every folder.
func TestMaildirFewDescriptors(t *testing.T) {
	fds := func() int {
		ents, err := os.ReadDir("/proc/self/fd")
		require.NoError(t, err)
		return len(ents)
	}
	md := NewMaildir(t.TempDir())
	ctx := context.Background()
	b, err := md.Open(ctx, "many@example.test")
	require.NoError(t, err)
	var folders [][]string
	for i := range 600 {
		folders = append(folders, []string{fmt.Sprintf("F%03d", i)})
	}
	require.NoError(t, b.CreateFolders(ctx, folders))
	base, peak := fds(), 0
	for i, f := range folders {
		msg := &Message{Body: []byte("Subject: x\r\n\r\nx\r\n"), Date: time.Unix(1700000000, 0), Unique: fmt.Sprintf("%08x", i)}
		require.NoError(t, b.Append(ctx, f, msg, func(_ Appended, err error) { require.NoError(t, err) }))
		peak = max(peak, fds())
	}
	require.NoError(t, b.Flush(ctx))
	require.NoError(t, b.Close())
	// A group of 256 messages in 256 folders holds 3 per folder until its
	// flush: the bound is the group's, not the account's.
	assert.LessOrEqual(t, peak-base, 3*maildirGroup+4)
	assert.LessOrEqual(t, fds(), base, "all released at Close")
	t.Logf("descriptors: %d before the appends, at most %d more during", base, peak-base)
}
