package index

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/mailbox"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/buntdb"
)

// standard builds the fixture most tests use:
//
//	A alice: Inbox 100 (moved to Projects on day 3), 101 (deleted day 4),
//	  102 in Inbox; folder 257 "Projects" (renamed "Work" day 5) under the
//	  root; folder 258 "2024" under 257; a broken item 103 and an unreadable
//	  one 104 (a folder where the file should be).
//	B: account_info broken; item 200 in Sent.
//	C carol (deleted account): item 300 in Inbox.
func standard(t *testing.T) *fixture {
	f := newFixture(t)
	f.account(idA, "alice@example.com", mailbox.StatusActive)
	f.raw(filepath.Join(backuppath.AccountsDir, idB, backuppath.AccountInfoFile), "{not json")
	f.account(idC, "carol@example.com", mailbox.StatusDeleted)

	m100 := msgState(day(1), mailbox.FolderInbox, "hello")
	f.item(idA, 100, m100, moved(m100, day(3), 257))
	m101 := msgState(day(1), mailbox.FolderInbox, "bye")
	f.item(idA, 101, m101, deleted(m101, day(4)))
	f.item(idA, 102, msgState(day(2), mailbox.FolderInbox, "third"))
	f.item(idA, 257, folderState(day(0), "Projects", mailbox.FolderRoot), folderState(day(5), "Work", mailbox.FolderRoot))
	f.item(idA, 258, folderState(day(0), "2024", 257))
	f.raw(backuppath.ItemRelPath(idA, 103), "[{\"startDate\": 1,")
	require.NoError(t, os.MkdirAll(filepath.Join(f.bp.Root, backuppath.ItemRelPath(idA, 104)), 0o755))
	f.stamp(backuppath.ItemRelPath(idA, 104))
	f.item(idB, 200, msgState(day(1), mailbox.FolderSent, "sent"))
	f.item(idC, 300, msgState(day(2), mailbox.FolderInbox, "carol"))
	return f
}

func TestBuild(t *testing.T) {
	f := standard(t)
	ix := openMem(t, f.bp)
	var last Progress
	st, err := ix.Refresh(context.Background(), func(p Progress) { last = p })
	require.NoError(t, err)
	assert.Equal(t, 3, st.Accounts)
	assert.Equal(t, 9, st.Items)
	assert.Equal(t, 9, st.ItemsRead)
	assert.Equal(t, 3, st.Unreadable) // two items, one account
	assert.Equal(t, Progress{Accounts: 3, AccountsDone: 3, ItemsDone: 9}, last)
	checkAgainstDisk(t, ix)

	accts, err := ix.Accounts()
	require.NoError(t, err)
	var names []string
	for _, a := range accts {
		names = append(names, a.Name)
	}
	assert.Equal(t, []string{idB, "alice@example.com", "carol@example.com"}, names)

	t.Run("accounts", func(t *testing.T) {
		for _, tc := range []struct {
			key, id, status, class string
			seq                    uint32
			items                  int
		}{
			{"alice@example.com", idA, mailbox.StatusActive, "", 1, 7},
			{"ALICE@Example.com", idA, mailbox.StatusActive, "", 1, 7},
			{idA, idA, mailbox.StatusActive, "", 1, 7},
			{idB, idB, mailbox.StatusActive, "broken", 2, 1},
			{"carol@example.com", idC, mailbox.StatusDeleted, "", 3, 1},
		} {
			t.Run(tc.key, func(t *testing.T) {
				a, err := ix.Account(tc.key)
				require.NoError(t, err)
				assert.Equal(t, tc.id, a.ID)
				assert.Equal(t, tc.seq, a.Seq)
				assert.Equal(t, tc.status, a.Status)
				assert.Equal(t, tc.class, a.ErrClass)
				assert.Equal(t, tc.class != "", a.Err != "")
				assert.Equal(t, tc.items, a.Items)
			})
		}
		_, err := ix.Account("nobody@example.com")
		assert.ErrorIs(t, err, ErrNotFound)
	})

	t.Run("damaged items", func(t *testing.T) {
		for _, tc := range []struct {
			id    int
			class string
		}{{103, "broken"}, {104, "unreadable"}} {
			it, err := ix.Item(idA, tc.id)
			require.NoError(t, err)
			assert.Equal(t, tc.class, it.ErrClass)
			assert.NotEmpty(t, it.Err)
			assert.Nil(t, it.Latest())
		}
		_, err := ix.Item(idA, 999)
		assert.ErrorIs(t, err, ErrNotFound)
	})

	t.Run("listings", func(t *testing.T) {
		for _, tc := range []struct {
			acct   string
			folder int
			want   []int
		}{
			{idA, mailbox.FolderInbox, []int{102}},
			{idA, 257, []int{100}},
			{idA, mailbox.FolderRoot, nil}, // folders are not listed
			{idB, mailbox.FolderSent, []int{200}},
			{"carol@example.com", mailbox.FolderInbox, []int{300}},
		} {
			got, err := ix.FolderItems(tc.acct, tc.folder)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got, "%s folder %d", tc.acct, tc.folder)
		}
		del, err := ix.DeletedItems(idA)
		require.NoError(t, err)
		assert.Equal(t, []int{101}, del)
		days, err := ix.ChangeDays(idA)
		require.NoError(t, err)
		assert.Equal(t, []time.Time{day(0).Truncate(24 * time.Hour), day(1).Truncate(24 * time.Hour),
			day(2).Truncate(24 * time.Hour), day(3).Truncate(24 * time.Hour), day(4).Truncate(24 * time.Hour),
			day(5).Truncate(24 * time.Hour)}, days)
	})

	t.Run("items stop and reenter", func(t *testing.T) {
		var seen []int
		require.NoError(t, ix.Items(idA, func(it *Item) bool {
			seen = append(seen, it.ID)
			_, err := ix.Item(idA, it.ID) // the callback may use the index
			require.NoError(t, err)
			return len(seen) < 3
		}))
		assert.Equal(t, []int{100, 101, 102}, seen)
	})
}

func TestFolders(t *testing.T) {
	f := standard(t)
	ix := openMem(t, f.bp)
	refresh(t, ix)
	paths := func(at time.Time) map[int]string {
		fs, err := ix.Folders(idA, at)
		require.NoError(t, err)
		m := map[int]string{}
		for i, fo := range fs {
			m[fo.ID] = fo.Path
			if i > 0 {
				require.Less(t, fs[i-1].Path, fo.Path, "sorted by path")
			}
		}
		return m
	}
	for _, tc := range []struct {
		name string
		at   time.Time
		want map[int]string
	}{
		{"before the folders existed", day(0).Add(-time.Hour), map[int]string{257: "", 258: ""}},
		{"day 1", day(1), map[int]string{1: "", 2: "Inbox", 257: "Projects", 258: "Projects/2024"}},
		{"after the rename", day(6), map[int]string{257: "Work", 258: "Work/2024", 3: "Trash", 5: "Sent"}},
		{"latest", time.Time{}, map[int]string{257: "Work", 258: "Work/2024"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := paths(tc.at)
			for id, p := range tc.want {
				if p == "" && id != 1 {
					assert.NotContains(t, got, id)
					continue
				}
				assert.Equal(t, p, got[id], "folder %d", id)
			}
		})
	}
	t.Run("moved message", func(t *testing.T) {
		it, err := ix.Item(idA, 100)
		require.NoError(t, err)
		assert.Equal(t, mailbox.FolderInbox, it.StateAt(day(2)).FolderID)
		assert.Equal(t, 257, it.StateAt(day(3)).FolderID)
	})
	t.Run("account without folder items", func(t *testing.T) {
		fs, err := ix.Folders(idB, time.Time{})
		require.NoError(t, err)
		require.Len(t, fs, len(mailbox.SystemFolderNames))
		assert.Equal(t, Folder{ID: 1}, fs[0])
	})
}

func TestBuildTree(t *testing.T) {
	for _, tc := range []struct {
		name  string
		found []Folder
		want  map[int]string // id -> Path
	}{
		{"nested", []Folder{{ID: 300, ParentID: 301, Name: "c"}, {ID: 301, ParentID: 2, Name: "b"}},
			map[int]string{300: "Inbox/b/c", 301: "Inbox/b"}},
		{"missing parent", []Folder{{ID: 300, ParentID: 999, Name: "lost"}, {ID: 301, ParentID: 300, Name: "kid"}},
			map[int]string{300: "lost (300)", 301: "lost (300)/kid"}},
		{"cycle", []Folder{{ID: 300, ParentID: 301, Name: "x"}, {ID: 301, ParentID: 300, Name: "y"}},
			map[int]string{300: "x (300)", 301: "x (300)/y"}},
		{"self parent", []Folder{{ID: 300, ParentID: 300, Name: "me"}}, map[int]string{300: "me (300)"}},
		{"no parent recorded", []Folder{{ID: 300, Name: "top"}}, map[int]string{300: "top"}},
		{"duplicate names", []Folder{{ID: 301, ParentID: 1, Name: "dup"}, {ID: 300, ParentID: 1, Name: "dup"}},
			map[int]string{300: "dup", 301: "dup (301)"}},
		{"unsafe names", []Folder{{ID: 300, ParentID: 1, Name: "a/b"}, {ID: 301, ParentID: 1, Name: ".."}, {ID: 302, ParentID: 1}},
			map[int]string{300: "a_b", 301: "301", 302: "302"}},
		{"system folder renamed", []Folder{{ID: 2, ParentID: 1, Name: "Posteingang"}}, map[int]string{2: "Posteingang", 3: "Trash"}},
		{"root item ignored", []Folder{{ID: 1, ParentID: 0, Name: "USER_ROOT"}}, map[int]string{1: ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := mailbox.FolderTree(tc.found)
			got := map[int]string{}
			seen := map[string]bool{}
			for _, f := range out {
				got[f.ID] = f.Path
				require.False(t, seen[f.Path], "path %q twice", f.Path)
				seen[f.Path] = true
			}
			for id, p := range tc.want {
				assert.Equal(t, p, got[id], "folder %d", id)
			}
			assert.Equal(t, "", out[0].Path)
			assert.Equal(t, 1, out[0].ID)
		})
	}
}

func TestRefresh(t *testing.T) {
	f := standard(t)
	ix := openMem(t, f.bp)
	refresh(t, ix)
	m := msgState(day(7), mailbox.FolderInbox, "new")
	for _, step := range []struct {
		name          string
		change        func()
		read, removed int
		items         int
		check         func(t *testing.T)
	}{
		{"nothing changed", func() {}, 0, 0, 9, nil},
		{"item added", func() { f.item(idA, 105, m) }, 1, 0, 10, func(t *testing.T) {
			got, err := ix.FolderItems(idA, mailbox.FolderInbox)
			require.NoError(t, err)
			assert.Equal(t, []int{102, 105}, got)
		}},
		{"item changed", func() { f.item(idA, 105, m, moved(m, day(8), mailbox.FolderTrash)) }, 1, 0, 10, func(t *testing.T) {
			got, err := ix.FolderItems(idA, mailbox.FolderInbox)
			require.NoError(t, err)
			assert.Equal(t, []int{102}, got)
			got, err = ix.FolderItems(idA, mailbox.FolderTrash)
			require.NoError(t, err)
			assert.Equal(t, []int{105}, got)
			days, err := ix.ChangeDays(idA)
			require.NoError(t, err)
			assert.Contains(t, days, day(8).Truncate(24*time.Hour))
		}},
		{"item deleted", func() { f.item(idA, 105, m, deleted(m, day(9))) }, 1, 0, 10, func(t *testing.T) {
			got, err := ix.DeletedItems(idA)
			require.NoError(t, err)
			assert.Equal(t, []int{101, 105}, got)
		}},
		{"item file removed", func() { f.removeItem(idA, 105) }, 0, 1, 9, func(t *testing.T) {
			_, err := ix.Item(idA, 105)
			assert.ErrorIs(t, err, ErrNotFound)
			got, err := ix.DeletedItems(idA)
			require.NoError(t, err)
			assert.Equal(t, []int{101}, got)
			days, err := ix.ChangeDays(idA)
			require.NoError(t, err)
			assert.NotContains(t, days, day(9).Truncate(24*time.Hour))
		}},
		{"broken item fixed", func() { f.item(idA, 103, msgState(day(2), mailbox.FolderInbox, "fixed")) }, 1, 0, 9, func(t *testing.T) {
			it, err := ix.Item(idA, 103)
			require.NoError(t, err)
			assert.Empty(t, it.ErrClass)
		}},
		{"account renamed", func() { f.account(idC, "carol2@example.com", mailbox.StatusDeleted) }, 0, 0, 9, func(t *testing.T) {
			_, err := ix.Account("carol@example.com")
			assert.ErrorIs(t, err, ErrNotFound)
			a, err := ix.Account("carol2@example.com")
			require.NoError(t, err)
			assert.Equal(t, uint32(3), a.Seq)
		}},
		{"account added", func() {
			f.account("00000000-0000-4000-8000-000000000000", "zed@example.com", mailbox.StatusActive)
			f.item("00000000-0000-4000-8000-000000000000", 7, m)
		}, 1, 0, 10, func(t *testing.T) {
			a, err := ix.Account("zed@example.com")
			require.NoError(t, err)
			assert.Equal(t, uint32(4), a.Seq, "a new account gets the next Seq, whatever its id")
		}},
		{"account removed", func() {
			require.NoError(t, os.RemoveAll(f.bp.AccountDir(idC)))
		}, 0, 1, 9, func(t *testing.T) {
			_, err := ix.Account(idC)
			assert.ErrorIs(t, err, ErrNotFound)
			_, err = ix.FolderItems(idC, mailbox.FolderInbox)
			assert.ErrorIs(t, err, ErrNotFound)
			var left []string
			require.NoError(t, ix.db.View(func(tx *buntdb.Tx) error {
				return tx.Ascend("", func(k, _ string) bool {
					if strings.Contains(k, ":3:") || strings.HasSuffix(k, ":3") || strings.Contains(k, idC) {
						left = append(left, k)
					}
					return true
				})
			}))
			assert.Empty(t, left, "keys of the removed account")
		}},
		{"account re-added gets a new Seq", func() {
			f.account(idC, "carol@example.com", mailbox.StatusActive)
		}, 0, 0, 9, func(t *testing.T) {
			a, err := ix.Account(idC)
			require.NoError(t, err)
			assert.Equal(t, uint32(5), a.Seq)
		}},
	} {
		t.Run(step.name, func(t *testing.T) {
			step.change()
			st := refresh(t, ix)
			assert.Equal(t, step.read, st.ItemsRead, "items read")
			assert.Equal(t, step.removed, st.ItemsRemoved, "items removed")
			assert.Equal(t, step.items, st.Items, "items")
			if step.check != nil {
				step.check(t)
			}
			checkAgainstDisk(t, ix)
		})
	}
}

// A file written moments ago may change again within the file system's
// timestamp granularity: it is read again by the next Refresh.
func TestRefreshRacyFiles(t *testing.T) {
	f := newFixture(t)
	f.account(idA, "alice@example.com", mailbox.StatusActive)
	require.NoError(t, f.bp.WriteItem(idA, &mailbox.Item{ID: 1, States: []mailbox.State{msgState(day(1), 2, "x")}}))
	ix := openMem(t, f.bp)
	assert.Equal(t, 1, refresh(t, ix).ItemsRead)
	assert.Equal(t, 1, refresh(t, ix).ItemsRead, "too recent to trust")
	ix.racy = 0
	refresh(t, ix)
	assert.Equal(t, 0, refresh(t, ix).ItemsRead)
}

func TestRebuildSameSeqs(t *testing.T) {
	f := newFixture(t)
	ix := openMem(t, f.bp)
	f.account(idC, "carol@example.com", mailbox.StatusActive)
	refresh(t, ix)
	f.account(idA, "alice@example.com", mailbox.StatusActive)
	f.item(idA, 1, msgState(day(1), 2, "x"))
	refresh(t, ix)
	seqs := func() map[string]uint32 {
		accts, err := ix.Accounts()
		require.NoError(t, err)
		m := map[string]uint32{}
		for _, a := range accts {
			m[a.ID] = a.Seq
		}
		return m
	}
	assert.Equal(t, map[string]uint32{idC: 1, idA: 2}, seqs(), "in order of discovery")
	for range 2 {
		st, err := ix.Rebuild(context.Background(), nil)
		require.NoError(t, err)
		assert.Equal(t, 1, st.ItemsRead)
		assert.Equal(t, map[string]uint32{idA: 1, idC: 2}, seqs(), "in account id order")
		checkAgainstDisk(t, ix)
	}
}

func TestReopen(t *testing.T) {
	f := standard(t)
	dbPath := filepath.Join(t.TempDir(), "index.db")
	ix, err := Open(f.bp, dbPath)
	require.NoError(t, err)
	refresh(t, ix)
	before, err := ix.Accounts()
	require.NoError(t, err)
	require.NoError(t, ix.Close())

	ix, err = Open(f.bp, dbPath)
	require.NoError(t, err)
	defer ix.Close()
	after, err := ix.Accounts()
	require.NoError(t, err)
	assert.Equal(t, before, after)
	checkAgainstDisk(t, ix)
	st := refresh(t, ix)
	assert.Equal(t, 0, st.ItemsRead, "nothing changed since the index was written")
	assert.Equal(t, 9, st.Items)
}

func TestCancel(t *testing.T) {
	f := standard(t)
	ix := openMem(t, f.bp)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := ix.Refresh(ctx, nil)
	require.ErrorIs(t, err, context.Canceled)
	refresh(t, ix)
	checkAgainstDisk(t, ix)
}

func TestLock(t *testing.T) {
	f := newFixture(t)
	dbPath := filepath.Join(t.TempDir(), "index.db")
	ix, err := Open(f.bp, dbPath)
	require.NoError(t, err)
	_, err = Open(f.bp, dbPath)
	require.ErrorIs(t, err, ErrLocked)
	assert.Contains(t, err.Error(), dbPath)
	assert.Contains(t, err.Error(), "another cbfs process")
	require.NoError(t, ix.Close())
	ix, err = Open(f.bp, dbPath)
	require.NoError(t, err, "the lock is released by Close")
	require.NoError(t, ix.Close())
}

func TestOpenInsideBackupPath(t *testing.T) {
	f := newFixture(t)
	_, err := Open(f.bp, filepath.Join(f.bp.Root, "index.db"))
	require.ErrorContains(t, err, "outside the Backup Path")
}

func TestSchema(t *testing.T) {
	for _, m := range migrations {
		require.Less(t, m.from, schemaVersion)
	}
	for _, tc := range []struct {
		name    string
		tamper  func(tx *buntdb.Tx) error
		rebuilt bool
	}{
		{"current", func(tx *buntdb.Tx) error { return nil }, false},
		{"older", func(tx *buntdb.Tx) error { _, _, err := tx.Set(keySchema, "0", nil); return err }, true},
		{"v2, one file", func(tx *buntdb.Tx) error { _, _, err := tx.Set(keySchema, "2", nil); return err }, true},
		{"newer", func(tx *buntdb.Tx) error { _, _, err := tx.Set(keySchema, "99", nil); return err }, true},
		{"garbage", func(tx *buntdb.Tx) error { _, _, err := tx.Set(keySchema, "v1", nil); return err }, true},
		{"no schema key", func(tx *buntdb.Tx) error { _, err := tx.Delete(keySchema); return err }, true},
		{"other Backup Path", func(tx *buntdb.Tx) error { _, _, err := tx.Set(keyRoot, "/elsewhere", nil); return err }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := standard(t)
			dbPath := filepath.Join(t.TempDir(), "index.db")
			ix, err := Open(f.bp, dbPath)
			require.NoError(t, err)
			refresh(t, ix)
			require.NoError(t, ix.db.Update(tc.tamper))
			require.NoError(t, ix.Close())

			ix, err = Open(f.bp, dbPath)
			require.NoError(t, err)
			defer ix.Close()
			accts, err := ix.Accounts()
			require.NoError(t, err)
			assert.Equal(t, tc.rebuilt, len(accts) == 0, "emptied")
			st := refresh(t, ix)
			if tc.rebuilt {
				assert.Equal(t, 9, st.ItemsRead)
			} else {
				assert.Equal(t, 0, st.ItemsRead)
			}
			checkAgainstDisk(t, ix)
		})
	}
}

func TestDamagedIndexFile(t *testing.T) {
	f := standard(t)
	dbPath := filepath.Join(t.TempDir(), "index.db")
	require.NoError(t, os.WriteFile(dbPath, []byte("this is not a buntdb file\n"), 0o644))
	ix, err := Open(f.bp, dbPath)
	require.NoError(t, err)
	defer ix.Close()
	refresh(t, ix)
	checkAgainstDisk(t, ix)
}

func TestClosed(t *testing.T) {
	f := standard(t)
	ix, err := Open(f.bp, ":memory:")
	require.NoError(t, err)
	require.NoError(t, ix.Close())
	_, err = ix.Accounts()
	assert.True(t, errors.Is(err, errClosed), "%v", err)
	_, err = ix.Refresh(context.Background(), nil)
	assert.ErrorIs(t, err, errClosed)
}

// Readers may run while the index is rebuilt and refreshed.
func TestConcurrentReaders(t *testing.T) {
	f := standard(t)
	ix := openMem(t, f.bp)
	refresh(t, ix)
	stop := make(chan struct{})
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			for {
				select {
				case <-stop:
					errs <- nil
					return
				default:
				}
				if _, err := ix.Accounts(); err != nil {
					errs <- err
					return
				}
				if _, err := ix.FolderItems(idA, mailbox.FolderInbox); err != nil && !errors.Is(err, ErrNotFound) {
					errs <- err
					return
				}
			}
		}()
	}
	for range 5 {
		_, err := ix.Rebuild(context.Background(), nil)
		require.NoError(t, err)
		refresh(t, ix)
	}
	close(stop)
	for range 2 {
		require.NoError(t, <-errs)
	}
	checkAgainstDisk(t, ix)
}
