package fusefs

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/index"
	"github.com/cbfs/cbfs/mailbox"
)

// TestChangesLazy: an account's changes/ (its days, each day's files and
// folders) is served while another account's indexing is held up, and
// leaves a third account unindexed: it uses its own account's shard only.
// Each day's changes.txt is the report of mailbox.NewChangeReport over the
// account's item files (getChanges's way).
func TestChangesLazy(t *testing.T) {
	sampleFS(t) // makes the sample
	bp, err := backuppath.Open(sampleRoot)
	require.NoError(t, err)
	accts, err := bp.Accounts()
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(accts), 3)
	held, other := accts[1].ID, accts[2].ID
	entered, release := make(chan struct{}), make(chan struct{})
	ix, err := index.OpenWith(bp, ":memory:", index.Options{Prepare: func(ctx context.Context, id string) error {
		if id == held {
			close(entered)
			<-release
		}
		return nil
	}})
	require.NoError(t, err)
	t.Cleanup(func() { ix.Close() })
	_, err = ix.RefreshAccounts(context.Background())
	require.NoError(t, err)
	f := New(ix, Options{})

	done := make(chan error, 1)
	go func() { _, err := ix.FolderItems(held, mailbox.FolderInbox); done <- err }()
	<-entered // the held account's indexing has started and waits

	a, err := ix.Account(accts[0].ID)
	require.NoError(t, err)
	cd := &changesDir{acct: a}
	cd.init(f, 1, true, 0, zeroTime)
	byName, days, err := cd.days()
	require.NoError(t, err)
	require.NotEmpty(t, days)
	files, _, err := bp.ItemFiles(a.ID)
	require.NoError(t, err)
	var all []*mailbox.Item
	for i, fl := range files {
		if i > 0 && files[i-1].ItemID == fl.ItemID {
			continue // the first copy counts (backuppath.ItemFiles)
		}
		it, err := bp.ReadItemFile(fl.RelPath, fl.ItemID)
		if err != nil {
			it = &mailbox.Item{ID: fl.ItemID, Err: err.Error()}
		}
		all = append(all, it)
	}
	nfiles := 0
	for _, n := range days {
		day := byName[n]
		d := &changesDay{acct: a, key: cd.key(n), from: day.Add(-time.Millisecond), to: day.Add(24*time.Hour - time.Millisecond)}
		d.init(f, 1, true, 0, zeroTime)
		require.NoError(t, d.load(), n)
		rep, err := mailbox.NewChangeReport(a.Name, a.ID, all, d.from, d.to)
		require.NoError(t, err)
		var want bytes.Buffer
		require.NoError(t, rep.Text(&want))
		assert.Equal(t, want.String(), string(d.text), n)
		for _, k := range changeKinds {
			nfiles += len(d.files[k])
		}
	}
	assert.NotZero(t, nfiles)

	st, err := ix.Status(other)
	require.NoError(t, err)
	assert.Equal(t, "waiting", st.State, "another account is not indexed by changes/")
	close(release)
	require.NoError(t, <-done)
}
