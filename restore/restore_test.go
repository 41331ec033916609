package restore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/mailbox"
	"github.com/cbfs/cbfs/sample"
)

func TestExternalRestoreMaildir(t *testing.T) {
	f := sampleFixture(t)
	root := filepath.Join(t.TempDir(), "target")
	tgt, err := ParseTarget("maildir:" + root)
	require.NoError(t, err)
	ledger := openLedger(t)

	var phase string
	opt := DefaultOptions()
	opt.ConcurrentAccounts = 2
	opt.PhaseReport = func(s string) { phase = s }
	rep, err := ExternalRestore(context.Background(), f.p, tgt, ledger, opt)
	require.NoError(t, err)
	t.Logf("\n%s", rep)

	t.Run("every restorable message in its folder with flags, date and bytes", func(t *testing.T) {
		total := 0
		for _, a := range f.activeAccounts() {
			w := f.wantAt(t, a, time.Time{})
			require.NotEmpty(t, w)
			got := readMaildir(t, filepath.Join(root, a.Name, "Maildir"))
			assert.Equal(t, w, got, "account %s", a.Name)
			total += len(w)
		}
		assert.Equal(t, total, rep.Restored)
		assert.Equal(t, 0, rep.Skipped)
	})

	t.Run("damaged items reported with their class", func(t *testing.T) {
		want := f.damagedClasses()
		require.NotEmpty(t, want)
		got := map[string]string{}
		for _, a := range rep.Accounts {
			for _, u := range a.Unrestored {
				got[fmt.Sprintf("%s/%d", a.AccountID, u.ID)] = u.Class
			}
		}
		assert.Equal(t, want, got)
		assert.Equal(t, len(want), rep.Unrestored)
	})

	t.Run("report in the seed's shape", func(t *testing.T) {
		s := rep.String()
		re := regexp.MustCompile(`(?s)^- stats -\nRestored Items: \d+\nSkipped Items:  \d+\nUnrestored Items: \d+\n\n- unrestored items -\n(account: \S+\nunrestored items: \d+(,\d+)*\n)+\n`)
		assert.Regexp(t, re, s)
		assert.Contains(t, s, fmt.Sprintf("Restored Items: %d\n", rep.Restored))
		for _, class := range []string{"read error: ", "broken: "} {
			assert.Contains(t, s, class)
		}
		b, err := json.Marshal(rep)
		require.NoError(t, err)
		assert.Contains(t, string(b), `"unrestoredItems":`)
	})

	t.Run("provisioning phase reported and recorded", func(t *testing.T) {
		assert.Contains(t, phase, "- provisioning -")
		require.NotNil(t, rep.Provisioning)
		assert.Equal(t, len(f.activeAccounts()), rep.Provisioning.Accounts)
		assert.Positive(t, rep.Provisioning.Domains)
		var doc struct {
			Sources map[string]Provisioning `json:"sources"`
		}
		b, err := os.ReadFile(filepath.Join(root, ProvisioningFile))
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(b, &doc))
		p := doc.Sources[SourceID(f.p)]
		assert.Len(t, p.Accounts, len(f.activeAccounts()))
		assert.Equal(t, rep.Provisioning.Domains, len(p.Domains))
		// Folders exist even when empty (the tree of phase 1).
		a := f.activeAccounts()[0]
		for _, d := range []string{".INBOX.Projects.2024", ".Archive.2023", ".Trash", ".Sent"} {
			assert.DirExists(t, filepath.Join(root, a.Name, "Maildir", d, "cur"))
		}
	})

	t.Run("second run restores nothing and skips everything", func(t *testing.T) {
		rep2, err := ExternalRestore(context.Background(), f.p, tgt, ledger, opt)
		require.NoError(t, err)
		assert.Equal(t, 0, rep2.Restored)
		assert.Equal(t, rep.Restored, rep2.Skipped)
		assert.Equal(t, rep.Unrestored, rep2.Unrestored)
		for _, a := range f.activeAccounts() {
			assert.Equal(t, f.wantAt(t, a, time.Time{}), readMaildir(t, filepath.Join(root, a.Name, "Maildir")))
		}
	})

	t.Run("ledger map lists every restored item", func(t *testing.T) {
		m, err := ledger.Map()
		require.NoError(t, err)
		assert.Len(t, m, rep.Restored)
		for _, e := range m {
			assert.Equal(t, tgt.ID(), e.Target)
			assert.FileExists(t, filepath.Join(root, e.Account, "Maildir", maildirFolderOf(strings.Replace(e.Folder, "INBOX", "Inbox", 1)), e.RestoredID))
		}
	})

	t.Run("source untouched", func(t *testing.T) {
		h, err := treeHash(f.p.Root)
		require.NoError(t, err)
		assert.Equal(t, f.hash, h)
	})
}

func TestStopMidwayThenResume(t *testing.T) {
	f := sampleFixture(t)
	root := filepath.Join(t.TempDir(), "target")
	md := NewMaildir(root)
	ledger := openLedger(t)
	ctx, cancel := context.WithCancel(context.Background())
	var n atomic.Int64
	tgt := &countingTarget{Target: md, onAppend: func() error {
		if n.Add(1) == 45 { // in the second account
			cancel()
		}
		return nil
	}}
	rep, err := ExternalRestore(ctx, f.p, tgt, ledger, DefaultOptions())
	require.ErrorIs(t, err, context.Canceled)
	assert.NotEmpty(t, rep.Stopped)
	assert.Contains(t, rep.String(), "- stopped -")
	assert.Contains(t, rep.String(), "run the restore again to resume it", "stopped: a rerun resumes")
	first := rep.Restored
	assert.Positive(t, first)

	rep2, err := ExternalRestore(context.Background(), f.p, md, ledger, DefaultOptions())
	require.NoError(t, err)
	total := 0
	for _, a := range f.activeAccounts() {
		w := f.wantAt(t, a, time.Time{})
		total += len(w)
		assert.Equal(t, w, readMaildir(t, filepath.Join(root, a.Name, "Maildir")), "account %s: every item exactly once", a.Name)
	}
	assert.Equal(t, total, first+rep2.Restored)
	assert.Equal(t, first, rep2.Skipped)
}

func TestCrashBetweenWriteAndLedger(t *testing.T) {
	f := sampleFixture(t)
	root := filepath.Join(t.TempDir(), "target")
	md := NewMaildir(root)
	ledger := openLedger(t)
	a := f.activeAccounts()[0]
	opt := DefaultOptions()
	opt.Accounts = []string{a.Name}
	rep, err := ExternalRestore(context.Background(), f.p, md, ledger, opt)
	require.NoError(t, err)
	// A crash after the rename, before the record: the entry is missing.
	m, err := ledger.Map()
	require.NoError(t, err)
	require.NotEmpty(t, m)
	for _, e := range m[:3] {
		ok, err := ledger.Forget(e.ServerID, e.Target, e.Account, e.SourceAccountID, e.ItemID, e.Digest)
		require.NoError(t, err)
		require.True(t, ok)
	}
	rep2, err := ExternalRestore(context.Background(), f.p, md, ledger, opt)
	require.NoError(t, err)
	assert.Equal(t, 0, rep2.Restored)
	assert.Equal(t, rep.Restored, rep2.Skipped)
	assert.Equal(t, f.wantAt(t, a, time.Time{}), readMaildir(t, filepath.Join(root, a.Name, "Maildir")))
	m2, err := ledger.Map()
	require.NoError(t, err)
	assert.Len(t, m2, len(m))
	found := 0
	for _, e := range m2 {
		if e.Found {
			found++
		}
	}
	assert.Equal(t, 3, found)
}

func TestRestoreOnNewAccountAtDate(t *testing.T) {
	f := sampleFixture(t)
	a := f.activeAccounts()[1]
	for _, tc := range []struct {
		name string
		at   time.Time
	}{
		{"mid 2023", time.Date(2023, 7, 1, 12, 0, 0, 0, time.UTC)},
		{"early 2024", time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)},
		{"last", time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "target")
			rep, err := RestoreOnNewAccount(context.Background(), f.p, a.Name, "restored@example.test", tc.at, false,
				NewMaildir(root), openLedger(t), DefaultOptions())
			require.NoError(t, err)
			w := f.wantAt(t, a, tc.at)
			require.NotEmpty(t, w)
			assert.Equal(t, w, readMaildir(t, filepath.Join(root, "restored@example.test", "Maildir")))
			assert.Equal(t, len(w), rep.Restored)
			_, err = os.Stat(filepath.Join(root, a.Name))
			assert.True(t, os.IsNotExist(err), "nothing restored into the source account's name")
		})
	}
	t.Run("folder renamed later has its old name", func(t *testing.T) {
		// Receipts was renamed Invoices in the middle of the history.
		root := filepath.Join(t.TempDir(), "target")
		_, err := RestoreOnNewAccount(context.Background(), f.p, a.Name, "old@example.test", a.Created.Time().Add(time.Hour),
			false, NewMaildir(root), openLedger(t), DefaultOptions())
		require.NoError(t, err)
		assert.DirExists(t, filepath.Join(root, "old@example.test", "Maildir", ".INBOX.Receipts"))
		assert.NoDirExists(t, filepath.Join(root, "old@example.test", "Maildir", ".INBOX.Invoices"))
	})
	t.Run("unknown account", func(t *testing.T) {
		_, err := RestoreOnNewAccount(context.Background(), f.p, "nobody@example.test", "x@example.test", time.Time{}, false,
			NewMaildir(t.TempDir()), openLedger(t), DefaultOptions())
		require.ErrorIs(t, err, ErrNotFound)
	})
}

// deletedIn lists the items of a whose state turned from live to deleted
// in [start, end], with the digest of the state before.
func deletedIn(f *fixture, a *mailbox.Account, start, end time.Time) map[int]string {
	out := map[int]string{}
	for _, it := range f.items[a.ID] {
		for i := len(it.States) - 1; i >= 1; i-- {
			s, prev := it.States[i], it.States[i-1]
			at := s.Start.Time()
			if s.Deleted && !prev.Deleted && !at.Before(start) && !at.After(end) &&
				(prev.Type == mailbox.TypeMessage || prev.Type == mailbox.TypeChat) {
				out[it.ID] = string(prev.Digest)
				break
			}
		}
	}
	return out
}

func TestUndelete(t *testing.T) {
	f := sampleFixture(t)
	start, end := time.Date(2023, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	now := time.Date(2024, 8, 15, 10, 0, 0, 0, time.UTC)
	var a *mailbox.Account
	var want map[int]string
	for _, acct := range f.activeAccounts() {
		if w := deletedIn(f, acct, start, end); len(w) >= 2 {
			a, want = acct, w
			break
		}
	}
	require.NotNil(t, a, "the sample has an account with deleted messages")
	root := filepath.Join(t.TempDir(), "target")
	ledger := openLedger(t)
	opt := DefaultOptions()
	opt.Now = func() time.Time { return now }
	rep, err := Undelete(context.Background(), f.p, a.Name, start, end, NewMaildir(root), ledger, opt)
	require.NoError(t, err)
	m, err := ledger.Map()
	require.NoError(t, err)
	got := map[int]string{}
	for _, e := range m {
		got[e.ItemID] = e.Digest
		assert.NotEqual(t, "Trash", e.Folder, "item %d: restored into the folder it had before the Trash", e.ItemID)
	}
	// Unrestored: damaged blobs of items in the window, and item files
	// that cannot be read (they may have been deleted in the window).
	malformed := map[int]bool{}
	for _, d := range f.rep.Damaged {
		if d.AccountID == a.ID && d.Kind == sample.DamageMalformedJSON {
			malformed[d.ItemID] = true
		}
	}
	for _, u := range rep.Accounts[0].Unrestored {
		if malformed[u.ID] {
			assert.Equal(t, ClassBroken, u.Class)
			continue
		}
		got[u.ID] = want[u.ID]
	}
	assert.Equal(t, want, got)
	// Every undeleted message carries the tag.
	msgs := readMaildir(t, filepath.Join(root, a.Name, "Maildir"))
	assert.Len(t, msgs, rep.Restored)
	kw, err := os.ReadFile(filepath.Join(root, a.Name, "Maildir", maildirFolderOf(strings.Replace(m[0].Folder, "INBOX", "Inbox", 1)), "dovecot-keywords"))
	require.NoError(t, err)
	assert.Contains(t, string(kw), "undelete_15_08_24")

	t.Run("dedicated folder", func(t *testing.T) {
		root := filepath.Join(t.TempDir(), "target")
		opt := opt
		opt.DedicatedFolder = true
		rep2, err := Undelete(context.Background(), f.p, a.Name, start, end, NewMaildir(root), openLedger(t), opt)
		require.NoError(t, err)
		assert.Equal(t, rep.Restored, rep2.Restored)
		for _, w := range readMaildir(t, filepath.Join(root, a.Name, "Maildir")) {
			assert.True(t, strings.HasPrefix(w.Folder, ".undelete_15_08_24"), w.Folder)
		}
	})
	t.Run("end before start", func(t *testing.T) {
		_, err := Undelete(context.Background(), f.p, a.Name, end, start, NewMaildir(root), ledger, opt)
		require.Error(t, err)
	})
}

func TestItemRestore(t *testing.T) {
	f := sampleFixture(t)
	var a *mailbox.Account
	var id int
	var digest string
	for _, acct := range f.activeAccounts() {
		for k, d := range deletedIn(f, acct, time.Time{}.Add(1), time.Now()) {
			a, id, digest = acct, k, d
			break
		}
		if a != nil {
			break
		}
	}
	require.NotNil(t, a)
	root := filepath.Join(t.TempDir(), "target")
	rep, err := ItemRestore(context.Background(), f.p, a.Name, id, time.Time{}, NewMaildir(root), openLedger(t), DefaultOptions())
	require.NoError(t, err)
	require.Equal(t, 1, rep.Restored)
	got := readMaildir(t, filepath.Join(root, a.Name, "Maildir"))
	require.Len(t, got, 1)
	assert.Equal(t, digest, got[0].Digest)

	_, err = ItemRestore(context.Background(), f.p, a.Name, 999999, time.Time{}, NewMaildir(root), openLedger(t), DefaultOptions())
	require.ErrorIs(t, err, ErrNotFound)
}

func TestFilters(t *testing.T) {
	f := sampleFixture(t)
	active := f.activeAccounts()
	var deleted *mailbox.Account
	for _, a := range f.accts {
		if a.Status == mailbox.StatusDeleted {
			deleted = a
		}
	}
	require.NotNil(t, deleted)
	dirs := func(root string) []string {
		ents, _ := os.ReadDir(root)
		var out []string
		for _, e := range ents {
			if e.IsDir() {
				out = append(out, e.Name())
			}
		}
		return out
	}
	names := func(as ...*mailbox.Account) []string {
		var out []string
		for _, a := range as {
			out = append(out, a.Name)
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		opt   func(o *Options)
		check func(t *testing.T, root string, rep *Report)
	}{
		{"accounts", func(o *Options) { o.Accounts = []string{strings.ToUpper(active[1].Name)} },
			func(t *testing.T, root string, rep *Report) {
				assert.Equal(t, []string{active[1].Name}, dirs(root))
			}},
		{"accounts not in the backup", func(o *Options) { o.Accounts = []string{active[0].Name, "ghost@example.test"} },
			func(t *testing.T, root string, rep *Report) {
				assert.Equal(t, []string{active[0].Name}, dirs(root))
				require.Len(t, rep.FailedAccounts, 1)
				assert.Equal(t, "ghost@example.test", rep.FailedAccounts[0].Account)
				assert.Equal(t, ClassNotFound, rep.FailedAccounts[0].Class)
			}},
		{"a deleted account named: left out, and said so", func(o *Options) { o.Accounts = []string{active[0].Name, deleted.Name} },
			func(t *testing.T, root string, rep *Report) {
				assert.Equal(t, []string{active[0].Name}, dirs(root))
				require.Len(t, rep.LeftOut, 1)
				assert.Equal(t, deleted.Name, rep.LeftOut[0].Account)
				assert.Contains(t, rep.LeftOut[0].Reason, "left out by filter_deleted (filter_deleted false includes it)")
				if !deleted.DeletedDate.IsZero() {
					assert.Contains(t, rep.LeftOut[0].Reason, "deleted on "+deleted.DeletedDate.Time().UTC().Format("2006-01-02"))
				}
				assert.Contains(t, rep.String(), "\n- accounts asked for but left out -\naccount: "+deleted.Name+"\n")
			}},
		{"a named account of another domain: left out, and said so", func(o *Options) {
			o.Accounts = []string{active[0].Name}
			o.Domains = []string{"elsewhere.test"}
		}, func(t *testing.T, root string, rep *Report) {
			assert.Empty(t, dirs(root))
			require.Len(t, rep.LeftOut, 1)
			assert.Contains(t, rep.LeftOut[0].Reason, "left out by domains elsewhere.test")
		}},
		{"a deleted account not named: left out in silence", func(o *Options) {},
			func(t *testing.T, root string, rep *Report) {
				assert.NotContains(t, dirs(root), deleted.Name)
				assert.Empty(t, rep.LeftOut, "filter_deleted's ordinary work is not news")
			}},
		{"domains", func(o *Options) { o.Domains = []string{active[0].Domain()} },
			func(t *testing.T, root string, rep *Report) {
				var want []string
				for _, a := range active {
					if a.Domain() == active[0].Domain() {
						want = append(want, a.Name)
					}
				}
				assert.ElementsMatch(t, want, dirs(root))
				assert.Equal(t, 1, rep.Provisioning.Domains)
			}},
		{"filter_deleted false", func(o *Options) { o.FilterDeleted = false },
			func(t *testing.T, root string, rep *Report) {
				assert.ElementsMatch(t, names(f.accts...), dirs(root))
				want := 0
				for _, a := range f.accts {
					for _, it := range f.items[a.ID] {
						if ty := it.Latest().Type; ty == mailbox.TypeMessage || ty == mailbox.TypeChat {
							want++
						}
					}
				}
				assert.Equal(t, want, rep.Restored+rep.Unrestored-1, "every message, deleted or not (the malformed one counted once)")
			}},
		{"max_file_size", func(o *Options) { o.MaxFileSize = 8 << 10; o.Accounts = []string{active[0].Name} },
			func(t *testing.T, root string, rep *Report) {
				n := 0
				for _, u := range rep.Accounts[0].Unrestored {
					if u.Class == ClassInvalid {
						n++
					}
				}
				assert.Positive(t, n)
				assert.Positive(t, rep.Restored)
				assert.Len(t, readMaildir(t, filepath.Join(root, active[0].Name, "Maildir")), rep.Restored)
			}},
		{"provisioning only", func(o *Options) { o.ProvisioningOnly = true },
			func(t *testing.T, root string, rep *Report) {
				assert.Equal(t, 0, rep.Restored)
				assert.ElementsMatch(t, names(active...), dirs(root))
				assert.FileExists(t, filepath.Join(root, ProvisioningFile))
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "target")
			opt := DefaultOptions()
			tc.opt(&opt)
			rep, err := ExternalRestore(context.Background(), f.p, NewMaildir(root), openLedger(t), opt)
			require.NoError(t, err)
			tc.check(t, root, rep)
		})
	}
	t.Run("only accounts not in the backup: a clear error", func(t *testing.T) {
		opt := DefaultOptions()
		opt.Accounts = []string{"ghost@example.test"}
		_, err := ExternalRestore(context.Background(), f.p, NewMaildir(t.TempDir()), openLedger(t), opt)
		require.ErrorIs(t, err, ErrNotFound)
		assert.Contains(t, err.Error(), "account ghost@example.test: not found in the backup (backup getAvailableAccounts lists")
	})
}

// smallPath builds a hand-made Backup Path: one account with a message in
// a folder deleted since, a message in a folder the backup never saw, a
// message state without a blob, a system account, and no backupstat.
func smallPath(t *testing.T) (*backuppath.Path, map[string]int) {
	root := t.TempDir()
	p, err := backuppath.Create(root, backuppath.BackupStat{ServerID: "srv-1"})
	require.NoError(t, err)
	require.NoError(t, os.Remove(filepath.Join(root, backuppath.BackupStatFile)))
	ms := func(s string) mailbox.Millis {
		tm, err := time.Parse(time.RFC3339, s)
		require.NoError(t, err)
		return mailbox.MillisOf(tm)
	}
	put := func(body string) blob.Digest {
		d, _, err := p.Blobs.Put([]byte(body))
		require.NoError(t, err)
		return d
	}
	acct := &mailbox.Account{ID: "acct-1", Name: "ann@example.test", Status: mailbox.StatusActive}
	require.NoError(t, p.WriteAccount(acct))
	sys := &mailbox.Account{ID: "acct-2", Name: "spam.abc@example.test", Status: mailbox.StatusActive}
	require.NoError(t, p.WriteAccount(sys))
	items := []*mailbox.Item{
		{ID: 300, States: []mailbox.State{
			{Start: ms("2024-01-01T00:00:00Z"), Type: mailbox.TypeFolder, FolderID: 1, ParentID: 1, Name: "Old.Stuff"},
			{Start: ms("2024-03-01T00:00:00Z"), Type: mailbox.TypeFolder, FolderID: 1, ParentID: 1, Name: "Old.Stuff", Deleted: true},
		}},
		{ID: 301, States: []mailbox.State{{Start: ms("2024-01-02T00:00:00Z"), Type: mailbox.TypeMessage, FolderID: 300,
			Flags: "fr", Digest: put("Subject: a\r\n\r\nin a deleted folder\r\n"), Date: ms("2024-01-02T00:00:00Z")}}},
		{ID: 302, States: []mailbox.State{{Start: ms("2024-01-03T00:00:00Z"), Type: mailbox.TypeMessage, FolderID: 777,
			Flags: "u", Tags: []string{"My Tag"}, Digest: put("Subject: b\r\n\r\nunknown folder\r\n"), Date: ms("2024-01-03T00:00:00Z")}}},
		{ID: 303, States: []mailbox.State{{Start: ms("2024-01-04T00:00:00Z"), Type: mailbox.TypeMessage, FolderID: 2}}},
		{ID: 304, States: []mailbox.State{{Start: ms("2024-01-05T00:00:00Z"), Type: mailbox.TypeContact, FolderID: 7,
			Digest: put("BEGIN:VCARD\r\nEND:VCARD\r\n")}}},
	}
	for _, it := range items {
		require.NoError(t, p.WriteItem(acct.ID, it))
	}
	require.NoError(t, p.WriteItem(sys.ID, &mailbox.Item{ID: 400, States: []mailbox.State{{Start: ms("2024-01-02T00:00:00Z"),
		Type: mailbox.TypeMessage, FolderID: 2, Digest: put("Subject: spam\r\n\r\nx\r\n")}}}))
	return p, map[string]int{"deleted folder": 301, "unknown folder": 302, "no blob": 303}
}

func TestSmallPath(t *testing.T) {
	p, ids := smallPath(t)
	root := filepath.Join(t.TempDir(), "target")
	opt := DefaultOptions()
	opt.SkipSystemAccounts = true
	ledger := openLedger(t)
	rep, err := ExternalRestore(context.Background(), p, NewMaildir(root), ledger, opt)
	require.NoError(t, err)
	t.Logf("\n%s", rep)
	assert.NoDirExists(t, filepath.Join(root, "spam.abc@example.test"), "system account skipped")
	assert.Equal(t, 2, rep.Restored)
	require.Len(t, rep.Accounts, 1)
	require.Len(t, rep.Accounts[0].Unrestored, 1)
	assert.Equal(t, UnrestoredItem{ID: ids["no blob"], Class: ClassBroken, Reason: "the state names no blob"}, rep.Accounts[0].Unrestored[0])
	assert.Equal(t, map[string]int{"contact": 1}, rep.Other)
	md := filepath.Join(root, "ann@example.test", "Maildir")
	// The deleted folder is named by its last state ("." becomes "_");
	// the unknown one as Carbonio's undelete does.
	got := readMaildir(t, md)
	require.Len(t, got, 2)
	assert.Equal(t, ".Old_Stuff", got[0].Folder)
	assert.Equal(t, "FRS", got[0].Flags)
	assert.Equal(t, ".unknown_777", got[1].Folder)
	assert.Equal(t, "", got[1].Flags)
	kw, err := os.ReadFile(filepath.Join(md, ".unknown_777", "dovecot-keywords"))
	require.NoError(t, err)
	assert.Equal(t, "0 My_Tag\n", string(kw))
	assert.True(t, strings.HasPrefix(SourceID(p), "path-"), "no backupstat: the source is known by its folder")
	m, err := ledger.Map()
	require.NoError(t, err)
	assert.Len(t, m, 2)

	t.Run("system accounts kept unless skipped", func(t *testing.T) {
		root := filepath.Join(t.TempDir(), "target")
		rep, err := ExternalRestore(context.Background(), p, NewMaildir(root), openLedger(t), DefaultOptions())
		require.NoError(t, err)
		assert.Equal(t, 3, rep.Restored)
	})
}

func TestParseTarget(t *testing.T) {
	for _, tc := range []struct {
		in, id, err string
	}{
		{"maildir:/srv/restore", "maildir:/srv/restore", ""},
		{"maildir:///srv/restore", "maildir:/srv/restore", ""},
		{"imap://admin:pw@127.0.0.1:1143", "imap://admin@127.0.0.1:1143", ""},
		{"imaps://admin:pw@mail.example.com", "imaps://admin@mail.example.com:993", ""},
		{"imap://admin:pw@h?separator=%25&window=4", "imap://admin@h:143", ""},
		{"maildir:", "", "needs a folder"},
		{"imap://h:143", "", "admin login"},
		{"imap://admin:pw@h?windw=4", "", "unknown parameter"},
		{"imap://admin:pw@h?timeout=soon", "", "timeout"},
		{"ftp://admin:secret@h", "", "unknown kind"},
		{"", "", "empty"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			tg, err := ParseTarget(tc.in)
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				assert.NotContains(t, err.Error(), "secret")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.id, tg.ID())
		})
	}
	tg, err := ParseTarget("imap://admin:pw@h?separator=%25&window=4")
	require.NoError(t, err)
	assert.Equal(t, "%", tg.(*IMAPTarget).Sep)
	assert.Equal(t, 4, tg.(*IMAPTarget).Window)
}

func TestMaildirRefusesBadAccountNames(t *testing.T) {
	md := NewMaildir(t.TempDir())
	for _, n := range []string{"", "..", "a/b", "_provisioning.json"} {
		_, err := md.Open(context.Background(), n)
		require.ErrorIs(t, err, ErrRefused, n)
	}
}

func TestTargetGoneStops(t *testing.T) {
	f := sampleFixture(t)
	md := NewMaildir(filepath.Join(t.TempDir(), "target"))
	var n atomic.Int64
	gone := errors.New("disk vanished")
	tgt := &countingTarget{Target: md, onAppend: func() error {
		if n.Add(1) > 10 {
			return gone
		}
		return nil
	}}
	ledger := openLedger(t)
	rep, err := ExternalRestore(context.Background(), f.p, tgt, ledger, DefaultOptions())
	require.ErrorIs(t, err, gone)
	assert.Contains(t, rep.Stopped, "disk vanished")
	// Maildir reports in groups after an fsync: the 10 files written are
	// not recorded yet.
	assert.LessOrEqual(t, rep.Restored, 10)
	assert.LessOrEqual(t, rep.Unrestored, len(f.damagedClasses()), "later items are not counted as unrestored")

	rep2, err := ExternalRestore(context.Background(), f.p, md, ledger, DefaultOptions())
	require.NoError(t, err)
	total := 0
	for _, a := range f.activeAccounts() {
		w := f.wantAt(t, a, time.Time{})
		total += len(w)
		assert.Equal(t, w, readMaildir(t, md.AccountDir(a.Name)))
	}
	assert.Equal(t, total, rep2.Restored+rep2.Skipped)
	// The stopped group was never made durable nor renamed into cur/: its
	// files stayed in tmp/, so the rerun writes them (once) instead of
	// finding them; nothing is left in tmp/ afterwards. (Files that did
	// reach cur/ before a crash are found again: TestCrashBetweenWriteAndLedger.)
	assert.Equal(t, 0, rep2.Skipped, "no file of an unconfirmed group is in cur/")
	leftovers, _ := filepath.Glob(filepath.Join(md.Root, "*", "Maildir", "tmp", "*"))
	more, _ := filepath.Glob(filepath.Join(md.Root, "*", "Maildir", ".*", "tmp", "*"))
	assert.Empty(t, append(leftovers, more...), "tmp/ files left after the rerun")
}

func TestReportString(t *testing.T) {
	r := &Report{Restored: 15233, Skipped: 125, Unrestored: 3, Accounts: []AccountReport{
		{Account: "john@example.com", Unrestored: []UnrestoredItem{{ID: 1255, Class: ClassReadError}, {ID: 1369, Class: ClassBroken}}},
		{Account: "ann@example.com", Unrestored: []UnrestoredItem{{ID: 49965, Class: ClassInvalid}}},
		{Account: "bob@example.com", Restored: 3},
	}}
	want := `- stats -
Restored Items: 15233
Skipped Items:  125
Unrestored Items: 3

- unrestored items -
account: john@example.com
unrestored items: 1255,1369
account: ann@example.com
unrestored items: 49965

- unrestored items by class -
account: john@example.com
read error: 1255
broken: 1369
account: ann@example.com
invalid: 49965
`
	assert.Equal(t, want, r.String())
	assert.Equal(t, "- stats -\nRestored Items: 0\nSkipped Items:  0\nUnrestored Items: 0\n", (&Report{}).String())

	t.Run("long lists wrap, and past 50 ids say how many more", func(t *testing.T) {
		var many []UnrestoredItem
		for i := range 1209 {
			many = append(many, UnrestoredItem{ID: 100000 + i, Class: ClassInvalid})
		}
		r := &Report{Unrestored: 1209, Accounts: []AccountReport{{Account: "john@example.com", Unrestored: many}}}
		got := r.String()
		want := `account: john@example.com
unrestored items: 100000,100001,100002,100003,100004,100005,100006,100007,
  100008,100009,100010,100011,100012,100013,100014,100015,100016,100017,
  100018,100019,100020,100021,100022,100023,100024,100025,100026,100027,
  100028,100029,100030,100031,100032,100033,100034,100035,100036,100037,
  100038,100039,100040,100041,100042,100043,100044,100045,100046,100047,
  100048,100049
  and 1159 more
`
		assert.Contains(t, got, "- unrestored items -\n"+want, got)
		assert.Contains(t, got, "- unrestored items by class -\naccount: john@example.com\ninvalid: 100000,", got)
		assert.Equal(t, 2, strings.Count(got, "  and 1159 more\n"), "both lists stop at 50")
		for _, l := range strings.Split(got, "\n") {
			assert.LessOrEqual(t, len(l), 78, l)
		}
	})
}

func TestEncodeMUTF7(t *testing.T) {
	for in, want := range map[string]string{
		"Inbox": "Inbox", "Entwürfe": "Entw&APw-rfe", "a&b": "a&-b", "日本語": "&ZeVnLIqe-",
	} {
		assert.Equal(t, want, mailbox.EncodeMUTF7(in), in)
	}
}

// TestMaildirLongAndBadFolders: a folder whose Maildir++ name would pass
// 255 bytes is restored under a shortened name, a folder the target cannot
// make leaves only its own messages unrestored, and a rerun restores
// nothing twice.
func TestMaildirLongAndBadFolders(t *testing.T) {
	root := t.TempDir()
	p, err := backuppath.Create(root, backuppath.BackupStat{ServerID: "srv-1"})
	require.NoError(t, err)
	at := mailbox.MillisOf(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))
	put := func(body string) blob.Digest {
		d, _, err := p.Blobs.Put([]byte(body))
		require.NoError(t, err)
		return d
	}
	folder := func(id, parent int, name string) *mailbox.Item {
		return &mailbox.Item{ID: id, States: []mailbox.State{{Start: at, Type: mailbox.TypeFolder, FolderID: parent, ParentID: parent, Name: name}}}
	}
	msg := func(id, folder int) *mailbox.Item {
		return &mailbox.Item{ID: id, States: []mailbox.State{{Start: at, Type: mailbox.TypeMessage, FolderID: folder,
			Digest: put(fmt.Sprintf("Subject: %d\r\n\r\nbody %d\r\n", id, id)), Date: at}}}
	}
	long := strings.Repeat("x", 300)
	parent := strings.Repeat("p", 200)
	ann := &mailbox.Account{ID: "acct-1", Name: "ann@example.test", Status: mailbox.StatusActive}
	bob := &mailbox.Account{ID: "acct-2", Name: "bob@example.test", Status: mailbox.StatusActive}
	for _, a := range []*mailbox.Account{ann, bob} {
		require.NoError(t, p.WriteAccount(a))
		for _, it := range []*mailbox.Item{
			folder(300, 1, parent), folder(301, 300, long), folder(302, 1, "Blocked"), folder(303, 1, "Ok"),
			folder(304, 1, strings.Repeat("é", 200)),
			msg(310, 301), msg(311, 2), msg(312, 302), msg(313, 303), msg(314, 300), msg(315, 304),
		} {
			require.NoError(t, p.WriteItem(a.ID, it))
		}
	}
	target := filepath.Join(t.TempDir(), "target")
	// ann's "Blocked" cannot be made: a file stands where it goes.
	blocked := filepath.Join(target, ann.Name, "Maildir", ".Blocked")
	require.NoError(t, os.MkdirAll(filepath.Dir(blocked), 0o755))
	require.NoError(t, os.WriteFile(blocked, []byte("in the way"), 0o644))

	ledger := openLedger(t)
	rep, err := ExternalRestore(context.Background(), p, NewMaildir(target), ledger, DefaultOptions())
	require.NoError(t, err)
	t.Logf("\n%s", rep)
	assert.Equal(t, 11, rep.Restored, "everything but ann's blocked message")
	require.Len(t, rep.Accounts, 2)
	for _, ar := range rep.Accounts {
		if ar.AccountID == ann.ID {
			require.Len(t, ar.Unrestored, 1)
			assert.Equal(t, 312, ar.Unrestored[0].ID)
			assert.Equal(t, ClassInvalid, ar.Unrestored[0].Class)
			assert.Contains(t, ar.Unrestored[0].Reason, ".Blocked")
		} else {
			assert.Empty(t, ar.Unrestored)
		}
	}
	longName := mailbox.MaildirFolderName([]string{parent, long})
	assert.LessOrEqual(t, len(longName), MaxMaildirName)
	assert.True(t, strings.HasPrefix(longName, "."+parent+"."+"xxx"), longName)
	assert.Regexp(t, `~[0-9a-f]{16}$`, longName)
	for _, a := range []*mailbox.Account{ann, bob} {
		md := filepath.Join(target, a.Name, "Maildir")
		got := map[string]int{}
		for _, w := range readMaildir(t, md) {
			got[w.Folder]++
		}
		want := map[string]int{"": 1, longName: 1, "." + parent: 1, ".Ok": 1,
			mailbox.MaildirFolderName([]string{strings.Repeat("é", 200)}): 1}
		if a == bob {
			want[".Blocked"] = 1
		}
		assert.Equal(t, want, got, a.Name)
	}

	rep2, err := ExternalRestore(context.Background(), p, NewMaildir(target), ledger, DefaultOptions())
	require.NoError(t, err)
	assert.Equal(t, 0, rep2.Restored)
	assert.Equal(t, 11, rep2.Skipped)
	assert.Equal(t, 1, rep2.Unrestored)
	n := 0
	for _, a := range []*mailbox.Account{ann, bob} {
		n += len(readMaildir(t, filepath.Join(target, a.Name, "Maildir")))
	}
	assert.Equal(t, 11, n, "nothing written twice")
}

func TestMaildirFolderName(t *testing.T) {
	assert.Equal(t, ".A.B_c", mailbox.MaildirFolderName([]string{"A", "B.c"}))
	assert.Equal(t, ".Caf&AOk-", mailbox.MaildirFolderName([]string{"Café"}))
	for _, p := range [][]string{
		{strings.Repeat("x", 300)},
		{strings.Repeat("p", 254), "x"},
		{strings.Repeat("é", 100)},
		{"a", strings.Repeat("日本", 200)},
		{strings.Repeat("x", 230) + strings.Repeat("é", 100)},
	} {
		n := mailbox.MaildirFolderName(p)
		assert.LessOrEqual(t, len(n), MaxMaildirName, p)
		assert.Greater(t, len(n), MaxMaildirName-12, "as much of the name as fits: %s", n)
		assert.Equal(t, n, mailbox.MaildirFolderName(p), "deterministic")
		other := append(append([]string(nil), p...), "y")
		assert.NotEqual(t, n, mailbox.MaildirFolderName(other), "unique")
		// The prefix is whole modified UTF-7: no open "&" run.
		pre := strings.TrimPrefix(n[:strings.LastIndexByte(n, '~')], ".")
		assert.Equal(t, strings.Count(pre, "&"), strings.Count(pre, "-"), n)
	}
}
