package purge

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/coherency"
	"github.com/cbfs/cbfs/mailbox"
	"github.com/cbfs/cbfs/sample"
	"github.com/cbfs/cbfs/statedir"
	"github.com/cbfs/cbfs/toggles"
)

var now = time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)

func day(m time.Month, d int) mailbox.Millis {
	return mailbox.MillisOf(time.Date(2024, m, d, 0, 0, 0, 0, time.UTC))
}

// fixture is a small hand-built Backup Path:
//
//	ann (active):   300 Jan1 D1 / Feb1 flagged / Mar1 moved
//	                301 Jan1 D2 / Apr1 deleted
//	                302 Jan1 D3 / May20 D4 (edited)
//	                303 Jan1 DS / Jan15 deleted      (DS shared with bob)
//	bob (active, COS external): 400 Jan1 DS
//	cid (deleted Mar15):        500 Jan1 D5
//	dan (deleted, no date):     600 Jan1 D6
//	orphan blob DO
type fixture struct {
	bp *backuppath.Path
	d  map[string]blob.Digest
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	bp, err := backuppath.Create(t.TempDir(), backuppath.BackupStat{ServerID: "srv-1", FirstRun: day(1, 1)})
	require.NoError(t, err)
	f := &fixture{bp: bp, d: map[string]blob.Digest{}}
	for _, n := range []string{"D1", "D2", "D3", "D4", "DS", "D5", "D6", "DO"} {
		d, _, err := bp.Blobs.Put([]byte("content of " + n + "\n"))
		require.NoError(t, err)
		f.d[n] = d
	}
	accts := []mailbox.Account{
		{ID: "a-ann", Name: "ann@example.com", Status: "active", COSName: "default"},
		{ID: "a-bob", Name: "bob@example.com", Status: "active", COSName: "external"},
		{ID: "a-cid", Name: "cid@example.com", Status: "deleted", DeletedDate: day(3, 15)},
		{ID: "a-dan", Name: "dan@example.com", Status: "deleted"},
	}
	for i := range accts {
		require.NoError(t, bp.WriteAccount(&accts[i]))
		require.NoError(t, bp.WriteAccountStat(accts[i].ID, &backuppath.AccountStat{LastItemID: 999}))
	}
	msg := func(start mailbox.Millis, d string, mod func(*mailbox.State)) mailbox.State {
		s := mailbox.State{Start: start, Type: mailbox.TypeMessage, FolderID: 2, Digest: f.d[d], Size: 10}
		if mod != nil {
			mod(&s)
		}
		return s
	}
	del := func(s *mailbox.State) { s.Deleted = true }
	items := map[string][]*mailbox.Item{
		"a-ann": {
			{ID: 300, States: []mailbox.State{msg(day(1, 1), "D1", nil), msg(day(2, 1), "D1", func(s *mailbox.State) { s.Flags = "f" }),
				msg(day(3, 1), "D1", func(s *mailbox.State) { s.FolderID = 257 })}},
			{ID: 301, States: []mailbox.State{msg(day(1, 1), "D2", nil), msg(day(4, 1), "D2", del)}},
			{ID: 302, States: []mailbox.State{msg(day(1, 1), "D3", nil), msg(day(5, 20), "D4", func(s *mailbox.State) { s.Size = 20 })}},
			{ID: 303, States: []mailbox.State{msg(day(1, 1), "DS", nil), msg(day(1, 15), "DS", del)}},
		},
		"a-bob": {{ID: 400, States: []mailbox.State{msg(day(1, 1), "DS", nil)}}},
		"a-cid": {{ID: 500, States: []mailbox.State{msg(day(1, 1), "D5", nil)}}},
		"a-dan": {{ID: 600, States: []mailbox.State{msg(day(1, 1), "D6", nil)}}},
	}
	for id, its := range items {
		for _, it := range its {
			require.NoError(t, bp.CreateItem(id, it))
		}
	}
	return f
}

// state describes what is left: account -> item -> number of states.
func (f *fixture) state(t *testing.T) map[string]map[int]int {
	t.Helper()
	out := map[string]map[int]int{}
	ids, err := f.bp.AccountIDs()
	require.NoError(t, err)
	for _, id := range ids {
		out[id] = map[int]int{}
		files, _, err := f.bp.ItemFiles(id)
		require.NoError(t, err)
		for _, fl := range files {
			it, err := f.bp.ReadItemFile(fl.RelPath, fl.ItemID)
			if err != nil {
				out[id][fl.ItemID] = -1
				continue
			}
			out[id][fl.ItemID] = len(it.States)
		}
	}
	return out
}

func (f *fixture) blobs(t *testing.T) []string {
	t.Helper()
	var names []string
	for n, d := range f.d {
		if _, err := os.Stat(f.bp.Blobs.Path(d)); err == nil {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

func TestRetentionTable(t *testing.T) {
	tests := []struct {
		days                                 int
		states, items, accounts, blobsRemove int
		left                                 map[string]map[int]int
		blobs                                []string
	}{
		{days: 0, left: map[string]map[int]int{
			"a-ann": {300: 3, 301: 2, 302: 2, 303: 2}, "a-bob": {400: 1}, "a-cid": {500: 1}, "a-dan": {600: 1}},
			blobs: []string{"D1", "D2", "D3", "D4", "D5", "D6", "DO", "DS"}},
		// cutoff 2023-11-14: nothing expired, only the orphan goes.
		{days: 200, blobsRemove: 1, left: map[string]map[int]int{
			"a-ann": {300: 3, 301: 2, 302: 2, 303: 2}, "a-bob": {400: 1}, "a-cid": {500: 1}, "a-dan": {600: 1}},
			blobs: []string{"D1", "D2", "D3", "D4", "D5", "D6", "DS"}},
		// cutoff 2024-02-22: 300 keeps Feb1 (in force) on; 303 deleted Jan15 goes;
		// DS stays (bob names it).
		{days: 100, states: 1, items: 1, blobsRemove: 1, left: map[string]map[int]int{
			"a-ann": {300: 2, 301: 2, 302: 2}, "a-bob": {400: 1}, "a-cid": {500: 1}, "a-dan": {600: 1}},
			blobs: []string{"D1", "D2", "D3", "D4", "D5", "D6", "DS"}},
		// cutoff 2024-04-02: 301 (deleted Apr1) goes, cid (deleted Mar15) goes.
		{days: 60, states: 2, items: 2, accounts: 1, blobsRemove: 3, left: map[string]map[int]int{
			"a-ann": {300: 1, 302: 2}, "a-bob": {400: 1}, "a-dan": {600: 1}},
			blobs: []string{"D1", "D3", "D4", "D6", "DS"}},
		// cutoff 2024-05-27: 302's first state (D3) is superseded by May20.
		{days: 5, states: 3, items: 2, accounts: 1, blobsRemove: 4, left: map[string]map[int]int{
			"a-ann": {300: 1, 302: 1}, "a-bob": {400: 1}, "a-dan": {600: 1}},
			blobs: []string{"D1", "D4", "D6", "DS"}},
		// cutoff 2024-03-01 exactly: the Mar1 state of 300 is in force at the cutoff.
		{days: 92, states: 2, items: 1, blobsRemove: 1, left: map[string]map[int]int{
			"a-ann": {300: 1, 301: 2, 302: 2}, "a-bob": {400: 1}, "a-cid": {500: 1}, "a-dan": {600: 1}},
			blobs: []string{"D1", "D2", "D3", "D4", "D5", "D6", "DS"}},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%d days", tc.days), func(t *testing.T) {
			f := newFixture(t)
			res, err := Run(context.Background(), f.bp, Options{RetentionDays: tc.days, Now: now})
			require.NoError(t, err)
			assert.Equal(t, tc.states, res.StatesRemoved, "states removed")
			assert.Equal(t, tc.items, res.ItemsRemoved, "items removed")
			assert.Equal(t, tc.accounts, res.AccountsRemoved, "accounts removed")
			assert.Equal(t, tc.blobsRemove, res.BlobsRemoved, "blobs removed")
			assert.Equal(t, tc.left, f.state(t))
			assert.Equal(t, tc.blobs, f.blobs(t))
			assert.Contains(t, res.Report(), fmt.Sprintf("States Removed: %d\n", tc.states))
			if tc.blobsRemove > 0 {
				assert.Positive(t, res.BytesFreed)
			}
			st, err := f.bp.ReadBackupStat()
			require.NoError(t, err)
			if tc.days == 0 {
				assert.Zero(t, st.LastPurge, "retention 0 writes nothing")
				assert.Contains(t, res.Report(), "keep forever")
			} else {
				assert.Equal(t, now, st.LastPurge.Time())
				assert.Contains(t, res.Report(), "dan@example.com: deleted without a deletedDate")
			}
			// Every state left still has its blob.
			chk, err := coherency.Check(context.Background(), f.bp, coherency.Options{})
			require.NoError(t, err)
			assert.Zero(t, chk.Count(coherency.ClassMissing), chk.Report())
			if tc.days > 0 {
				assert.Zero(t, chk.Count(coherency.ClassOrphan), chk.Report())
			}
			// Kept states are the newest ones, in order.
			if tc.days == 5 {
				it, err := f.bp.ReadItem("a-ann", 302)
				require.NoError(t, err)
				assert.Equal(t, day(5, 20), it.States[0].Start)
				as, err := f.bp.ReadAccountStat("a-ann")
				require.NoError(t, err)
				assert.Equal(t, 2, as.ItemCount)
				assert.Equal(t, int64(30), as.BlobBytes)
				assert.Equal(t, 999, as.LastItemID)
			}
			// A second purge at the same moment finds nothing more.
			res2, err := Run(context.Background(), f.bp, Options{RetentionDays: tc.days, Now: now})
			require.NoError(t, err)
			assert.Zero(t, res2.StatesRemoved+res2.ItemsRemoved+res2.AccountsRemoved+res2.BlobsRemoved)
		})
	}
}

func TestSharedBlobNeverRemoved(t *testing.T) {
	f := newFixture(t)
	// ann's 303 and bob's 400 share DS; drop bob: DS must stay while ann's
	// state names it, and go once neither does.
	a, err := f.bp.ReadAccount("a-bob")
	require.NoError(t, err)
	a.Status, a.DeletedDate = mailbox.StatusDeleted, day(1, 2)
	require.NoError(t, f.bp.WriteAccount(a))
	// cutoff Jan 10: bob goes, 303 (deleted Jan15) stays.
	res, err := Run(context.Background(), f.bp, Options{RetentionDays: 143, Now: now})
	require.NoError(t, err)
	assert.Equal(t, []string{"bob@example.com"}, res.RemovedAccounts)
	assert.Contains(t, f.blobs(t), "DS")
	// cutoff later than Jan15: 303 goes, DS with it.
	_, err = Run(context.Background(), f.bp, Options{RetentionDays: 100, Now: now})
	require.NoError(t, err)
	assert.NotContains(t, f.blobs(t), "DS")
}

func TestUnreadableItemBlocksBlobRemoval(t *testing.T) {
	for _, damage := range []string{"malformed", "folder"} {
		t.Run(damage, func(t *testing.T) {
			f := newFixture(t)
			rel, err := f.bp.FindItem("a-bob", 400)
			require.NoError(t, err)
			path := filepath.Join(f.bp.Root, rel)
			require.NoError(t, os.Remove(path))
			if damage == "malformed" {
				require.NoError(t, os.WriteFile(path, []byte(`[{"startDate":1,"digest":`), 0o644))
			} else {
				require.NoError(t, os.Mkdir(path, 0o755))
			}
			res, err := Run(context.Background(), f.bp, Options{RetentionDays: 5, Now: now})
			require.NoError(t, err)
			assert.True(t, res.BlobsSkipped)
			assert.Zero(t, res.BlobsRemoved)
			assert.Equal(t, []string{"D1", "D2", "D3", "D4", "D5", "D6", "DO", "DS"}, f.blobs(t))
			assert.Contains(t, res.Report(), "blobs: none removed")
			// States, items and accounts are still purged.
			assert.Equal(t, 3, res.StatesRemoved)
			assert.Equal(t, 2, res.ItemsRemoved)
			assert.Equal(t, 1, res.AccountsRemoved)
		})
	}
}

func TestQuarantinedItemKeepsItsBlobs(t *testing.T) {
	f := newFixture(t)
	// A coherency fix moved bob's item file to quarantine: DS is still
	// named there, so purge keeps it even once ann no longer names it.
	rel, err := f.bp.FindItem("a-bob", 400)
	require.NoError(t, err)
	q := filepath.Join(f.bp.Root, backuppath.QuarantineDir, "20240101T000000Z", rel)
	require.NoError(t, os.MkdirAll(filepath.Dir(q), 0o755))
	require.NoError(t, os.Rename(filepath.Join(f.bp.Root, rel), q))
	res, err := Run(context.Background(), f.bp, Options{RetentionDays: 5, Now: now})
	require.NoError(t, err)
	assert.False(t, res.BlobsSkipped)
	assert.Contains(t, f.blobs(t), "DS")
	assert.NotContains(t, f.blobs(t), "DO")
}

func TestDisabledAccountPurgedAfterRetention(t *testing.T) {
	f := newFixture(t)
	s, err := toggles.Open(statedir.Dir(t.TempDir()))
	require.NoError(t, err)
	require.NoError(t, s.Set(toggles.ScopeCOS, "external", toggles.Attribute, "false"))
	pol, err := s.Policy()
	require.NoError(t, err)

	// Day 0: bob is found disabled and marked deleted; nothing of his goes.
	res, err := Run(context.Background(), f.bp, Options{RetentionDays: 30, Now: now, Policy: pol})
	require.NoError(t, err)
	require.NotNil(t, res.Toggles)
	assert.Equal(t, []string{"bob@example.com"}, res.Toggles.Disabled)
	assert.NotContains(t, res.RemovedAccounts, "bob@example.com")
	a, err := f.bp.ReadAccount("a-bob")
	require.NoError(t, err)
	assert.Equal(t, now, a.DeletedDate.Time())

	// 29 days on: still within retention.
	res, err = Run(context.Background(), f.bp, Options{RetentionDays: 30, Now: now.Add(29 * 24 * time.Hour), Policy: pol})
	require.NoError(t, err)
	assert.NotContains(t, res.RemovedAccounts, "bob@example.com")
	_, err = f.bp.ReadAccount("a-bob")
	require.NoError(t, err)

	// 31 days on: gone.
	res, err = Run(context.Background(), f.bp, Options{RetentionDays: 30, Now: now.Add(31 * 24 * time.Hour), Policy: pol})
	require.NoError(t, err)
	assert.Contains(t, res.RemovedAccounts, "bob@example.com")
	_, err = os.Stat(f.bp.AccountDir("a-bob"))
	assert.True(t, os.IsNotExist(err))
	ents, err := os.ReadDir(filepath.Join(f.bp.Root, backuppath.AccountsDir))
	require.NoError(t, err)
	for _, e := range ents {
		assert.NotContains(t, e.Name(), ".cbfs-tmp-", "no leftover")
	}
}

func TestReenabledBeforeRetentionIsKept(t *testing.T) {
	f := newFixture(t)
	s, err := toggles.Open(statedir.Dir(t.TempDir()))
	require.NoError(t, err)
	require.NoError(t, s.Set(toggles.ScopeAccount, "bob@example.com", toggles.Attribute, "false"))
	pol, _ := s.Policy()
	_, err = Run(context.Background(), f.bp, Options{RetentionDays: 30, Now: now, Policy: pol})
	require.NoError(t, err)
	require.NoError(t, s.Set(toggles.ScopeAccount, "bob@example.com", toggles.Attribute, "true"))
	pol, _ = s.Policy()
	res, err := Run(context.Background(), f.bp, Options{RetentionDays: 30, Now: now.Add(60 * 24 * time.Hour), Policy: pol})
	require.NoError(t, err)
	assert.Equal(t, []string{"bob@example.com"}, res.Toggles.Reactivated)
	a, err := f.bp.ReadAccount("a-bob")
	require.NoError(t, err)
	assert.Equal(t, mailbox.StatusActive, a.Status)
}

func TestSampleNoBlobRemovedWhileItemMalformed(t *testing.T) {
	dest := filepath.Join(t.TempDir(), "b")
	_, err := sample.Generate(context.Background(), dest, sample.Options{Accounts: 3, Messages: 10, Seed: 3})
	require.NoError(t, err)
	bp, err := backuppath.Open(dest)
	require.NoError(t, err)
	res, err := Run(context.Background(), bp, Options{RetentionDays: 30, Now: time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)})
	require.NoError(t, err)
	// The sample plants a malformed item file: no blob may go.
	assert.True(t, res.BlobsSkipped)
	assert.Zero(t, res.BlobsRemoved)
	assert.Positive(t, res.StatesRemoved)
}

func TestCancelAndBadInput(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := Run(ctx, f.bp, Options{RetentionDays: 5, Now: now})
	require.ErrorIs(t, err, context.Canceled)
	assert.True(t, res.Stopped)
	assert.Equal(t, []string{"D1", "D2", "D3", "D4", "D5", "D6", "DO", "DS"}, f.blobs(t), "no blob removed when stopped")
	_, err = Run(context.Background(), f.bp, Options{RetentionDays: -1})
	require.ErrorContains(t, err, "must not be negative")
}

// TestLeftoversRemoved: temporary files of interrupted writes older than
// an hour are removed by a purge; a fresh one is left alone.
func TestLeftoversRemoved(t *testing.T) {
	f := newFixture(t)
	root := f.bp.Root
	ago := time.Now().Add(-2 * time.Hour)
	var old []string
	for _, rel := range []string{".cbfs-tmp-1", "items/.cbfs-tmp-2", "accounts/a-ann/items/00/.cbfs-tmp-3"} {
		p := filepath.Join(root, rel)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte("half"), 0o600))
		require.NoError(t, os.Chtimes(p, ago, ago))
		old = append(old, p)
	}
	fresh := filepath.Join(root, "accounts", "a-ann", ".cbfs-tmp-4")
	require.NoError(t, os.WriteFile(fresh, []byte("writing"), 0o600))
	res, err := Run(context.Background(), f.bp, Options{RetentionDays: 143, Now: now})
	require.NoError(t, err)
	assert.Equal(t, 3, res.LeftoversRemoved)
	assert.Contains(t, res.Report(), "Leftover Temporary Files Removed: 3\n")
	for _, p := range old {
		assert.NoFileExists(t, p)
	}
	assert.FileExists(t, fresh)
}
