package index

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/mailbox"
	"github.com/stretchr/testify/require"
)

// Account ids of the fixtures (UUIDs, in sorted order).
const (
	idA = "11111111-aaaa-4aaa-8aaa-000000000001"
	idB = "22222222-bbbb-4bbb-8bbb-000000000002"
	idC = "33333333-cccc-4ccc-8ccc-000000000003"
)

// base is the fixtures' start of time (states start days after it).
var base = time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)

func day(n int) time.Time { return base.Add(time.Duration(n) * 24 * time.Hour) }

// fixture is a small Backup Path whose file times it sets itself: every
// change gets a distinct, old-enough mtime on the file and its folder, as a
// writer renaming files into place would give them, so tests do not depend
// on the file system's timestamp granularity.
type fixture struct {
	t     *testing.T
	bp    *backuppath.Path
	clock time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	bp, err := backuppath.Create(filepath.Join(t.TempDir(), "backup"), backuppath.BackupStat{ServerID: "srv-1", FirstRun: mailbox.MillisOf(base)})
	require.NoError(t, err)
	return &fixture{t: t, bp: bp, clock: time.Now().Add(-time.Hour)}
}

// stamp gives path (and its folder) the next mtime.
func (f *fixture) stamp(rel string) {
	f.t.Helper()
	f.clock = f.clock.Add(time.Second)
	p := filepath.Join(f.bp.Root, rel)
	require.NoError(f.t, os.Chtimes(p, f.clock, f.clock))
	require.NoError(f.t, os.Chtimes(filepath.Dir(p), f.clock, f.clock))
}

func (f *fixture) account(id, name, status string) {
	f.t.Helper()
	require.NoError(f.t, f.bp.WriteAccount(&mailbox.Account{ID: id, Name: name, Status: status,
		DisplayName: "User " + name, COSID: "cos-1", COSName: "default", Created: mailbox.MillisOf(base)}))
	f.stamp(filepath.Join(backuppath.AccountsDir, id, backuppath.AccountInfoFile))
}

func (f *fixture) item(acct string, id int, states ...mailbox.State) {
	f.t.Helper()
	require.NoError(f.t, f.bp.WriteItem(acct, &mailbox.Item{ID: id, States: states}))
	f.stamp(backuppath.ItemRelPath(acct, id))
}

// raw writes any content at rel (a damaged file).
func (f *fixture) raw(rel, content string) {
	f.t.Helper()
	p := filepath.Join(f.bp.Root, rel)
	require.NoError(f.t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(f.t, os.WriteFile(p, []byte(content), 0o644))
	f.stamp(rel)
}

// removeItem deletes an item file.
func (f *fixture) removeItem(acct string, id int) {
	f.t.Helper()
	rel := backuppath.ItemRelPath(acct, id)
	require.NoError(f.t, os.Remove(filepath.Join(f.bp.Root, rel)))
	f.clock = f.clock.Add(time.Second)
	require.NoError(f.t, os.Chtimes(filepath.Join(f.bp.Root, filepath.Dir(rel)), f.clock, f.clock))
}

func msgState(start time.Time, folder int, body string) mailbox.State {
	return mailbox.State{Start: mailbox.MillisOf(start), Type: mailbox.TypeMessage, FolderID: folder,
		Digest: blob.Sum([]byte(body)), Size: int64(len(body)), Date: mailbox.MillisOf(start.Add(-time.Minute)),
		Subject: "about " + body, From: "x@example.com"}
}

func folderState(start time.Time, name string, parent int) mailbox.State {
	return mailbox.State{Start: mailbox.MillisOf(start), Type: mailbox.TypeFolder, FolderID: parent, Name: name, ParentID: parent}
}

func deleted(s mailbox.State, at time.Time) mailbox.State {
	s.Start = mailbox.MillisOf(at)
	s.Deleted = true
	return s
}

func moved(s mailbox.State, at time.Time, folder int) mailbox.State {
	s.Start = mailbox.MillisOf(at)
	s.FolderID = folder
	return s
}

// openMem opens an in-memory index of f.
func openMem(t *testing.T, bp *backuppath.Path) *Index {
	t.Helper()
	ix, err := Open(bp, ":memory:")
	require.NoError(t, err)
	t.Cleanup(func() { ix.Close() })
	return ix
}

func refresh(t *testing.T, ix *Index) RefreshStats {
	t.Helper()
	st, err := ix.Refresh(context.Background(), nil)
	require.NoError(t, err)
	return st
}

// checkAgainstDisk compares every account and item of the index with what
// backuppath reads from the Backup Path.
func checkAgainstDisk(t *testing.T, ix *Index) {
	t.Helper()
	bp := ix.BackupPath()
	ids, err := bp.AccountIDs()
	require.NoError(t, err)
	accts, err := ix.Accounts()
	require.NoError(t, err)
	require.Len(t, accts, len(ids))
	for _, id := range ids {
		a, err := ix.Account(id)
		require.NoError(t, err, id)
		info, ierr := bp.ReadAccount(id)
		if ierr != nil {
			require.Equal(t, id, a.Name)
			require.Equal(t, blob.Class(ierr), a.ErrClass)
		} else {
			require.Equal(t, info.Name, a.Name)
			require.Equal(t, info.Status, a.Status)
			require.Empty(t, a.Err)
		}
		files, _, err := bp.ItemFiles(id)
		require.NoError(t, err)
		require.Equal(t, len(files), a.Items, "items of %s", id)
		var indexed []int
		require.NoError(t, ix.Items(id, func(it *Item) bool { indexed = append(indexed, it.ID); return true }))
		require.Len(t, indexed, len(files))
		var deleted []int
		live := map[int][]int{}
		for i, f := range files {
			require.Equal(t, f.ItemID, indexed[i])
			got, err := ix.Item(id, f.ItemID)
			require.NoError(t, err)
			require.Equal(t, f.RelPath, got.RelPath)
			want, rerr := bp.ReadItemFile(f.RelPath, f.ItemID)
			if rerr != nil {
				require.Equal(t, blob.Class(rerr), got.ErrClass, "item %d", f.ItemID)
				require.NotEmpty(t, got.Err)
				require.Empty(t, got.States)
				continue
			}
			require.Empty(t, got.Err)
			require.Len(t, got.States, len(want.States))
			for i := range want.States {
				require.Equal(t, stateOf(&want.States[i]), normal(got.States[i]), "item %d state %d", f.ItemID, i)
			}
			l := want.Latest()
			switch {
			case l.Deleted:
				deleted = append(deleted, f.ItemID)
			case l.Type != mailbox.TypeFolder && l.Type != mailbox.TypeSearchFolder:
				live[l.FolderID] = append(live[l.FolderID], f.ItemID)
			}
		}
		gotDel, err := ix.DeletedItems(id)
		require.NoError(t, err)
		require.Equal(t, deleted, gotDel)
		for folder, want := range live {
			got, err := ix.FolderItems(id, folder)
			require.NoError(t, err)
			require.Equal(t, want, got, "folder %d of %s", folder, id)
		}
	}
}

// normal makes a decoded state comparable with stateOf's (nil vs empty).
func normal(s State) State {
	if len(s.Tags) == 0 {
		s.Tags = nil
	}
	return s
}

// stateOf is what the index keeps of a state read from the item file: not
// the summaries, the unknown keys or what the reader noted.
// Nor the end date (the reader made it a deleted state of its own, which
// the index keeps) and the reader's marks (a state it made).
func stateOf(s *mailbox.State) State {
	c := State{Start: s.Start, Type: s.Type, FolderID: s.FolderID, Flags: s.Flags, Tags: s.Tags,
		Deleted: s.Deleted, Digest: s.Digest, Size: s.Size, Date: s.Date, Name: s.Name, ParentID: s.ParentID}
	return normal(c)
}
