package scan

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/mailbox"
)

// fixture: two accounts in both discovered layouts, folders, flags, and
// one message identical in both accounts.
type fixture struct {
	tree       *mailTree
	alice, bob string // Maildir folders
	files      map[string]string
}

func newFixture(t *testing.T) *fixture {
	m := newMailTree(t)
	f := &fixture{tree: m, alice: m.box("alice@example.com"), files: map[string]string{}}
	f.bob = filepath.Join(m.root, "bob@example.org") // <root>/<user@domain> layout, Maildir directly
	add := func(box, folder, flags, subject string) {
		f.files[subject] = m.add(box, folder, flags, msg(subject, "body of "+subject))
	}
	add(f.alice, "INBOX", "", "a-unread")
	add(f.alice, "INBOX", "S", "a-read")
	add(f.alice, "INBOX", "FRS", "a-flagged-replied")
	add(f.alice, "Sent", "S", "a-sent")
	add(f.alice, "Work", "S", "a-work")
	add(f.alice, "Work/Projects", "SP", "a-project")
	add(f.alice, "INBOX", "S", "shared")
	add(f.bob, "INBOX", "S", "shared") // same content: one blob
	add(f.bob, "INBOX", "D", "b-draft")
	return f
}

func TestMaildirFirstScan(t *testing.T) {
	f := newFixture(t)
	bp := newBP(t)
	rep := run(t, bp, NewMaildir(f.tree.root), Options{Accounts: []AccountSpec{{Name: "alice@example.com", COS: "gold"}}})

	assert.Equal(t, 2, rep.Accounts)
	assert.Equal(t, 2, rep.AccountsNew)
	assert.Equal(t, 9, rep.Messages)
	assert.Equal(t, 9+2, rep.Items.New, "9 messages and the folders Work, Work/Projects")
	assert.Equal(t, 8, rep.BlobsNew, "the shared message is stored once")
	assert.Equal(t, 8, blobCount(t, bp))

	var bytes int64
	for _, subj := range []string{"a-unread", "a-read", "a-flagged-replied", "a-sent", "a-work", "a-project", "shared", "shared", "b-draft"} {
		bytes += int64(len(msg(subj, "body of "+subj)))
	}
	assert.Equal(t, bytes, rep.Bytes)

	alice := accountID(t, bp, "alice@example.com")
	info, err := bp.ReadAccount(alice)
	require.NoError(t, err)
	assert.Equal(t, "gold", info.COSName)
	its := items(t, bp, alice)
	workID, work := folderByName(its, "Work")
	require.NotNil(t, work)
	assert.Equal(t, mailbox.FolderRoot, work.ParentID)
	projID, proj := folderByName(its, "Projects")
	require.NotNil(t, proj)
	assert.Equal(t, workID, proj.ParentID)
	assert.GreaterOrEqual(t, workID, 257)

	lv := live(t, its)
	require.Len(t, lv, 7)
	cases := []struct {
		subject, flags string
		folder         int
	}{
		{"a-unread", "u", mailbox.FolderInbox},
		{"a-read", "", mailbox.FolderInbox},
		{"a-flagged-replied", "fr", mailbox.FolderInbox},
		{"a-sent", "", mailbox.FolderSent},
		{"a-work", "", workID},
		{"a-project", "w", projID},
	}
	for _, c := range cases {
		t.Run(c.subject, func(t *testing.T) {
			s := lv[c.subject]
			require.NotNil(t, s)
			assert.Equal(t, c.flags, s.Flags)
			assert.Equal(t, c.folder, s.FolderID)
			data, err := bp.Blobs.Read(s.Digest)
			require.NoError(t, err)
			src, err := os.ReadFile(f.tree.find(f.alice, f.files[c.subject]))
			require.NoError(t, err)
			assert.Equal(t, src, data, "blob content is the file")
			assert.Equal(t, int64(len(src)), s.Size)
			fi, _ := os.Stat(f.tree.find(f.alice, f.files[c.subject]))
			assert.Equal(t, mailbox.MillisOf(fi.ModTime()), s.Date, "internal date = mtime")
			assert.Equal(t, "Ann <ann@example.com>", s.From)
		})
	}
	stat, err := bp.ReadAccountStat(alice)
	require.NoError(t, err)
	assert.Equal(t, len(its), stat.ItemCount)
	maxID := 0
	for id := range its {
		maxID = max(maxID, id)
	}
	assert.Equal(t, maxID, stat.LastItemID)

	bob := accountID(t, bp, "bob@example.org")
	blv := live(t, items(t, bp, bob))
	assert.Equal(t, "ud", blv["b-draft"].Flags)
	assert.Equal(t, lv["shared"].Digest, blv["shared"].Digest)
	bs, err := bp.ReadBackupStat()
	require.NoError(t, err)
	assert.NotZero(t, bs.LastScan)
	assert.NotEmpty(t, rep.ServerConfig)
}

func TestMaildirRescanWritesNothing(t *testing.T) {
	for _, tc := range []struct {
		name  string
		racy  time.Duration
		aged  bool
		lists bool
	}{
		{"unchanged folders are not listed", 2 * time.Second, true, false},
		{"every folder listed (no usable token)", 1000 * time.Hour, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			if tc.aged {
				age(t, f.tree.root)
			}
			src := NewMaildir(f.tree.root)
			src.RacyWindow = tc.racy
			bp := newBP(t)
			first := run(t, bp, src, Options{})
			require.Positive(t, first.Written)
			before := snapshot(t, bp.Root)
			for i := 0; i < 2; i++ {
				rep := run(t, bp, src, Options{})
				assert.Zero(t, rep.Written)
				assert.Zero(t, rep.Items.New+rep.Items.Changed+rep.Items.Deleted)
				assert.Zero(t, rep.Bytes, "no message read")
				assert.Equal(t, 9, rep.Messages)
				assert.Equal(t, before, snapshot(t, bp.Root), "no file written or touched")
			}
		})
	}
}

func TestMaildirChanges(t *testing.T) {
	f := newFixture(t)
	src := NewMaildir(f.tree.root)
	bp := newBP(t)
	run(t, bp, src, Options{})
	alice := accountID(t, bp, "alice@example.com")
	its0 := items(t, bp, alice)
	lv0 := live(t, its0)
	workID, _ := folderByName(its0, "Work")

	// flags: a-unread read and flagged
	p := f.tree.find(f.alice, f.files["a-unread"])
	require.NoError(t, os.Rename(p, strings.TrimSuffix(p, ":2,")+":2,FS"))
	// move: a-read from INBOX to Sent, same base name
	p = f.tree.find(f.alice, f.files["a-read"])
	require.NoError(t, os.Rename(p, filepath.Join(folderDir(f.alice, "Sent"), "cur", filepath.Base(p))))
	// delete: a-sent
	require.NoError(t, os.Remove(f.tree.find(f.alice, f.files["a-sent"])))
	// rename folder: Work -> Job (and so Work/Projects -> Job/Projects)
	require.NoError(t, os.Rename(folderDir(f.alice, "Work"), folderDir(f.alice, "Job")))
	require.NoError(t, os.Rename(folderDir(f.alice, "Work/Projects"), folderDir(f.alice, "Job/Projects")))
	// move with a new file name (content match): a-flagged-replied to Job
	p = f.tree.find(f.alice, f.files["a-flagged-replied"])
	data, err := os.ReadFile(p)
	require.NoError(t, err)
	require.NoError(t, os.Remove(p))
	require.NoError(t, os.WriteFile(filepath.Join(folderDir(f.alice, "Job"), "cur", "renamed.M1.host:2,FRS"), data, 0o644))
	// new
	f.tree.add(f.alice, "INBOX", "", msg("a-new", "new"))

	rep := run(t, bp, src, Options{})
	assert.Equal(t, 1, rep.Items.New, "only a-new")
	assert.Equal(t, 1, rep.Items.Deleted, "only a-sent")
	assert.Equal(t, 2, rep.Items.Moved)
	assert.Equal(t, 1+2+1, rep.Items.Changed, "flags, two moves, the folder rename")
	assert.Equal(t, int64(len(msg("a-new", "new"))+len(data)), rep.Bytes, "read: the new message and the renamed file")

	its := items(t, bp, alice)
	lv := live(t, its)
	id := func(subj string) int {
		for id, it := range its {
			if it.Latest().Subject == subj {
				return id
			}
		}
		return 0
	}
	for _, subj := range []string{"a-unread", "a-read", "a-flagged-replied", "a-work", "a-project"} {
		assert.Equal(t, lv0[subj].Digest, lv[subj].Digest, subj)
	}
	assert.Equal(t, "f", lv["a-unread"].Flags)
	assert.Len(t, its[id("a-unread")].States, 2)
	assert.Equal(t, mailbox.FolderSent, lv["a-read"].FolderID)
	assert.Len(t, its[id("a-read")].States, 2)
	assert.Equal(t, workID, lv["a-flagged-replied"].FolderID)
	assert.Equal(t, workID, lv["a-work"].FolderID, "unchanged: the folder kept its id")
	assert.Len(t, its[id("a-work")].States, 1)
	sent := its[id("a-sent")]
	require.Len(t, sent.States, 2)
	assert.True(t, sent.Latest().Deleted)
	assert.Equal(t, sent.States[0].Digest, sent.Latest().Digest, "the deleted state keeps the blob")
	assert.Equal(t, "a-sent", sent.Latest().Subject, "states are self-contained")
	job := its[workID]
	require.Len(t, job.States, 2)
	assert.Equal(t, "Work", job.States[0].Name)
	assert.Equal(t, "Job", job.Latest().Name)
	assert.NotNil(t, lv["a-new"])

	// The earlier states are untouched.
	for id, it := range its0 {
		assert.Equal(t, it.States, its[id].States[:len(it.States)], "item %d", id)
	}

	// And the next scan is a no-op again.
	before := snapshot(t, bp.Root)
	rep = run(t, bp, src, Options{})
	assert.Zero(t, rep.Written)
	assert.Equal(t, before, snapshot(t, bp.Root))
}

// errSource makes some messages unreadable.
type errSource struct {
	Source
	bad map[string]bool
}

type errBox struct {
	Mailbox
	bad map[string]bool
}

func (s errSource) Open(ctx context.Context, a string) (Mailbox, error) {
	mb, err := s.Source.Open(ctx, a)
	return errBox{mb, s.bad}, err
}

func (b errBox) Fetch(ctx context.Context, f *Folder, msgs []*Message, fn func(*Message, []byte, error) error) error {
	return b.Mailbox.Fetch(ctx, f, msgs, func(m *Message, c []byte, err error) error {
		if b.bad[m.Key] {
			return fn(m, nil, errors.New("injected read error"))
		}
		return fn(m, c, err)
	})
}

func TestReadErrors(t *testing.T) {
	for _, tc := range []struct {
		name      string
		threshold int
		stopped   bool
	}{
		{"no threshold: the rest is backed up", 0, false},
		{"threshold reached: the account stops", 2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			bad := map[string]bool{f.files["a-unread"]: true, f.files["a-read"]: true, f.files["a-flagged-replied"]: true}
			bp := newBP(t)
			rep, err := Run(context.Background(), bp, errSource{NewMaildir(f.tree.root), bad}, Options{ReadErrorThreshold: tc.threshold})
			require.NoError(t, err)
			var ar *AccountReport
			for _, a := range rep.PerAccount {
				if a.Name == "alice@example.com" {
					ar = a
				}
			}
			require.NotNil(t, ar)
			assert.Equal(t, tc.stopped, ar.Stopped)
			if tc.stopped {
				assert.Equal(t, 2, ar.ReadErrors)
				assert.NotEmpty(t, rep.Errors)
			} else {
				assert.Equal(t, 3, ar.ReadErrors)
				assert.Len(t, live(t, items(t, bp, ar.ID)), 4)
			}
			// Fixed source: the next scan completes, no duplicates.
			rep = run(t, bp, NewMaildir(f.tree.root), Options{})
			assert.Zero(t, rep.Items.Deleted)
			assert.Len(t, live(t, items(t, bp, ar.ID)), 7)
		})
	}
}

func TestCancelAndResume(t *testing.T) {
	for _, tc := range []struct {
		name string
		kill func(t *testing.T, bp *backuppath.Path, id string)
	}{
		{"cancelled", func(*testing.T, *backuppath.Path, string) {}},
		{"killed before the scan state was saved", func(t *testing.T, bp *backuppath.Path, id string) {
			require.NoError(t, os.Remove(filepath.Join(bp.AccountDir(id), StateFile)))
			require.NoError(t, os.Remove(filepath.Join(bp.AccountDir(id), backuppath.AccountStatFile)))
		}},
		{"killed with a stale scan state", func(t *testing.T, bp *backuppath.Path, id string) {
			// the state of an earlier checkpoint: some items are newer
			p := filepath.Join(bp.AccountDir(id), StateFile)
			b, err := os.ReadFile(p)
			require.NoError(t, err)
			i := strings.Index(string(b), "\"messages\":[")
			require.NoError(t, os.WriteFile(p, []byte(string(b[:i])+"\"messages\":[]}"), 0o644))
			old := time.Now().Add(-time.Hour)
			require.NoError(t, os.Chtimes(p, old, old))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newMailTree(t)
			box := m.box("carol@example.com")
			const n = 60
			for i := 0; i < n; i++ {
				m.add(box, []string{"INBOX", "Archive"}[i%2], "S", msg("m"+string(rune('A'+i/26))+string(rune('a'+i%26)), strings.Repeat("x", i)))
			}
			bp := newBP(t)
			ctx, cancel := context.WithCancel(context.Background())
			seen := 0
			rep, err := Run(ctx, bp, NewMaildir(m.root), Options{CheckpointEvery: 7, Progress: func(p Progress) {
				if p.Messages > seen {
					seen = p.Messages
				}
				if p.Messages >= 25 {
					cancel()
				}
			}})
			require.ErrorIs(t, err, context.Canceled)
			require.Less(t, rep.Items.New, n)
			id := accountID(t, bp, "carol@example.com")
			partial := len(live(t, items(t, bp, id)))
			require.Greater(t, partial, 0)
			tc.kill(t, bp, id)

			rep = run(t, bp, NewMaildir(m.root), Options{})
			its := items(t, bp, id)
			assert.Len(t, live(t, its), n, "every message once")
			msgs := 0
			for _, it := range its {
				if it.Latest().Type == mailbox.TypeMessage {
					msgs++
					assert.Len(t, it.States, 1, "no extra state for item %d", it.ID)
				}
			}
			assert.Equal(t, n, msgs, "no duplicate item")
			assert.Equal(t, n-partial, rep.Items.New-boolInt(rep.Items.New > n-partial))
			stat, err := bp.ReadAccountStat(id)
			require.NoError(t, err)
			assert.Equal(t, len(its), stat.ItemCount)
			rep = run(t, bp, NewMaildir(m.root), Options{})
			assert.Zero(t, rep.Items.New+rep.Items.Changed+rep.Items.Deleted)
		})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestAccountSelection(t *testing.T) {
	f := newFixture(t)
	bp := newBP(t)
	src := NewMaildir(f.tree.root)

	t.Run("only one account", func(t *testing.T) {
		rep := run(t, bp, src, Options{Only: []string{"bob@example.org"}})
		assert.Equal(t, 1, rep.Accounts)
		ids, _ := bp.AccountIDs()
		assert.Len(t, ids, 1)
	})
	t.Run("unknown account is an error in the report", func(t *testing.T) {
		rep, err := Run(context.Background(), bp, src, Options{Only: []string{"zed@example.org"}})
		require.NoError(t, err)
		require.Len(t, rep.Errors, 1)
		assert.Contains(t, rep.Errors[0], "zed@example.org")
	})
	t.Run("disabled accounts are skipped", func(t *testing.T) {
		rep := run(t, bp, src, Options{Accounts: []AccountSpec{{"alice@example.com", "nobackup"}},
			Disabled: func(name, cos string) bool { return cos == "nobackup" }})
		assert.Equal(t, 1, rep.AccountsSkipped)
		ids, _ := bp.AccountIDs()
		assert.Len(t, ids, 1, "alice not created")
	})
	t.Run("account-level backupEnabled false is skipped", func(t *testing.T) {
		id := accountID(t, bp, "bob@example.org")
		a, _ := bp.ReadAccount(id)
		off := false
		a.BackupEnabled = &off
		require.NoError(t, bp.WriteAccount(a))
		rep := run(t, bp, src, Options{})
		assert.Equal(t, 1, rep.AccountsSkipped)
		assert.Equal(t, 1, rep.Accounts)
		a.BackupEnabled = nil
		require.NoError(t, bp.WriteAccount(a))
	})
	t.Run("an account gone from the source is marked deleted", func(t *testing.T) {
		require.NoError(t, os.RemoveAll(f.bob))
		rep := run(t, bp, src, Options{})
		assert.Equal(t, 1, rep.AccountsDeleted)
		a, err := bp.ReadAccount(accountID(t, bp, "bob@example.org"))
		require.NoError(t, err)
		assert.Equal(t, mailbox.StatusDeleted, a.Status)
		assert.NotZero(t, a.DeletedDate)
		rep = run(t, bp, src, Options{})
		assert.Zero(t, rep.Written)
	})
}

func TestServerConfigOncePerDay(t *testing.T) {
	f := newFixture(t)
	age(t, f.tree.root)
	bp := newBP(t)
	cfg := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(cfg, "conf.d"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(cfg, "conf.d", "10-mail.conf"), []byte("mail_location = maildir:~/Maildir\n"), 0o644))
	day := time.Date(2024, 5, 3, 4, 0, 0, 0, time.UTC)
	clock := day
	opt := Options{ConfigPaths: []string{cfg}, Now: func() time.Time { return clock }}
	src := NewMaildir(f.tree.root)

	rep := run(t, bp, src, opt)
	require.Equal(t, "server/customizations_03_05_24#04_00_00.tar.gz", rep.Customizations)
	require.Equal(t, "server/config_03_05_24#04_00_00.json", rep.ServerConfig)
	c, err := bp.ReadServerConfig(rep.ServerConfig)
	require.NoError(t, err)
	assert.Len(t, c.Domains, 2)

	clock = day.Add(5 * time.Hour)
	rep = run(t, bp, src, opt)
	assert.Empty(t, rep.Customizations)
	assert.Empty(t, rep.ServerConfig)
	assert.Zero(t, rep.Written)

	clock = day.Add(24 * time.Hour)
	rep = run(t, bp, src, opt)
	assert.NotEmpty(t, rep.Customizations)
	files, err := bp.ServerFiles()
	require.NoError(t, err)
	assert.Len(t, files, 4)
}

func TestParseSource(t *testing.T) {
	for _, tc := range []struct {
		in, want, err string
	}{
		{in: "maildir:/srv/mail", want: "maildir:/srv/mail"},
		{in: "maildir:///srv/mail", want: "maildir:/srv/mail"},
		{in: "imap://admin:secret@127.0.0.1:1143", want: "imap://admin@127.0.0.1:1143"},
		{in: "imaps://admin:secret@mail.example.com", want: "imaps://admin@mail.example.com:993"},
		{in: "imap://mail.example.com", err: "admin login"},
		{in: "pop3://x", err: "unknown scheme"},
		{in: "maildir:", err: "needs a folder"},
		{in: "/srv/mail", err: "want maildir"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			s, err := ParseSource(tc.in)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, s.String())
			assert.NotContains(t, s.String(), "secret")
		})
	}
}

func TestMaildirFlagsAndNames(t *testing.T) {
	kw := map[byte]string{'a': "$Label1", 'b': "work"}
	for _, tc := range []struct {
		info, flags string
		tags        []string
	}{
		{"", "u", nil},
		{"2,", "u", nil},
		{"2,S", "", nil},
		{"2,DFPRST", "frwdx", nil},
		{"2,Sab", "", []string{"$Label1", "work"}},
		{"2,Sz", "", nil},
	} {
		fl, tags := maildirFlags(tc.info, kw)
		assert.Equal(t, tc.flags, fl, tc.info)
		assert.Equal(t, tc.tags, tags, tc.info)
	}
	assert.EqualValues(t, 157, sizeFromName("1714553998.M1P2.host,S=157,W=160"))
	assert.EqualValues(t, -1, sizeFromName("1714553998.M1P2.host"))
}
