package index

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/mailbox"
)

// openFile opens an index in a file (shards in files) of f with options.
func openFile(t *testing.T, f *fixture, o Options) (*Index, string) {
	t.Helper()
	dbPath := filepath.Join(t.TempDir(), "index.db")
	ix, err := OpenWith(f.bp, dbPath, o)
	require.NoError(t, err)
	t.Cleanup(func() { ix.Close() })
	return ix, dbPath
}

func status(t *testing.T, ix *Index, id string) AccountStatus {
	t.Helper()
	st, err := ix.Status(id)
	require.NoError(t, err)
	return st
}

// TestRefreshAccountsReadsNoItem: the lazy refresh lists the accounts from
// account_info alone; an account's items are indexed when it is first used,
// that account only.
func TestRefreshAccountsReadsNoItem(t *testing.T) {
	f := standard(t)
	ix, dbPath := openFile(t, f, Options{})
	st, err := ix.RefreshAccounts(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 3, st.Accounts)
	assert.Zero(t, st.ItemsRead)
	assert.Zero(t, st.Items, "nothing indexed yet")
	accts, err := ix.Accounts()
	require.NoError(t, err)
	require.Len(t, accts, 3)
	for _, id := range []string{idA, idB, idC} {
		assert.Equal(t, "waiting", status(t, ix, id).State, id)
	}
	shards, _ := filepath.Glob(dbPath + shardsDirSuffix + "/*")
	assert.Empty(t, shards, "no shard before an account is used")

	got, err := ix.FolderItems(idA, mailbox.FolderInbox)
	require.NoError(t, err)
	assert.Equal(t, []int{102}, got)
	a := status(t, ix, idA)
	assert.Equal(t, "indexed", a.State)
	assert.Equal(t, 7, a.Items)
	assert.Equal(t, 7, a.Read)
	assert.Equal(t, "waiting", status(t, ix, idB).State, "another account is not indexed by A's use")
	shards, _ = filepath.Glob(dbPath + shardsDirSuffix + "/*")
	assert.Len(t, shards, 1)

	require.NoError(t, ix.IndexAll(context.Background(), nil))
	for _, id := range []string{idA, idB, idC} {
		assert.Equal(t, "indexed", status(t, ix, id).State, id)
	}
	checkAgainstDisk(t, ix)
}

// TestLazyPicksUpChanges: after RefreshAccounts, the next use of an
// account reads what changed in it and nothing else.
func TestLazyPicksUpChanges(t *testing.T) {
	f := standard(t)
	ix, dbPath := openFile(t, f, Options{})
	refresh(t, ix)

	f.item(idA, 105, msgState(day(7), mailbox.FolderInbox, "new"))
	_, err := ix.RefreshAccounts(context.Background())
	require.NoError(t, err)
	got, err := ix.FolderItems(idA, mailbox.FolderInbox)
	require.NoError(t, err)
	assert.Equal(t, []int{102, 105}, got)
	assert.Equal(t, 1, status(t, ix, idA).Read, "only the new item file is read")

	// Reopened: the shards are kept; the account list refresh then the
	// first use read nothing.
	require.NoError(t, ix.Close())
	ix, err = OpenWith(f.bp, dbPath, Options{})
	require.NoError(t, err)
	defer ix.Close()
	_, err = ix.RefreshAccounts(context.Background())
	require.NoError(t, err)
	n, err := ix.ItemCount(idA)
	require.NoError(t, err)
	assert.Equal(t, 8, n)
	assert.Zero(t, status(t, ix, idA).Read)

	// An account gone takes its shard file with it.
	a, err := ix.Account(idB)
	require.NoError(t, err)
	_, err = ix.ItemCount(idB)
	require.NoError(t, err)
	require.FileExists(t, ix.shardPath(a.Seq))
	require.NoError(t, os.RemoveAll(filepath.Join(f.bp.Root, "accounts", idB)))
	_, err = ix.RefreshAccounts(context.Background())
	require.NoError(t, err)
	_, err = ix.Account(idB)
	assert.ErrorIs(t, err, ErrNotFound)
	assert.NoFileExists(t, ix.shardPath(a.Seq))
}

// TestShardEviction: past the budget, shards nobody uses are closed, and
// read again from their files (not from the Backup Path) when next used.
func TestShardEviction(t *testing.T) {
	f := standard(t)
	ix, _ := openFile(t, f, Options{MaxLoadedItems: 1})
	_, err := ix.RefreshAccounts(context.Background())
	require.NoError(t, err)
	want, err := ix.FolderItems(idA, mailbox.FolderInbox)
	require.NoError(t, err)
	_, err = ix.FolderItems(idB, mailbox.FolderInbox)
	require.NoError(t, err)

	a, err := ix.Account(idA)
	require.NoError(t, err)
	ix.shardsMu.Lock()
	evicted := ix.shards[a.Seq].db == nil
	loaded := ix.loaded
	ix.shardsMu.Unlock()
	assert.True(t, evicted, "A's shard closed once B's was used")
	assert.LessOrEqual(t, loaded, 5, "at most one shard loaded")

	got, err := ix.FolderItems(idA, mailbox.FolderInbox)
	require.NoError(t, err)
	assert.Equal(t, want, got)
	assert.Equal(t, "indexed", status(t, ix, idA).State)
	require.NoError(t, ix.IndexAll(context.Background(), nil))
	checkAgainstDisk(t, ix)
}

// TestPrepare: the hook runs before an account's items are indexed, once
// per account list refresh; a failure leaves the account as indexed
// before, with the error in its status.
func TestPrepare(t *testing.T) {
	f := standard(t)
	var mu sync.Mutex
	calls := map[string]int{}
	fail := atomic.Bool{}
	ix, _ := openFile(t, f, Options{Prepare: func(_ context.Context, id string) error {
		mu.Lock()
		calls[id]++
		mu.Unlock()
		if fail.Load() {
			return errors.New("store unreachable")
		}
		return nil
	}})
	_, err := ix.RefreshAccounts(context.Background())
	require.NoError(t, err)
	for range 3 {
		_, err := ix.ItemCount(idA)
		require.NoError(t, err)
	}
	assert.Equal(t, map[string]int{idA: 1}, calls)

	fail.Store(true)
	f.item(idA, 105, msgState(day(7), mailbox.FolderInbox, "new"))
	_, err = ix.RefreshAccounts(context.Background())
	require.NoError(t, err)
	n, err := ix.ItemCount(idA)
	require.NoError(t, err)
	assert.Equal(t, 7, n, "what the index had")
	assert.Contains(t, status(t, ix, idA).Err, "store unreachable")
}

// TestConcurrentLazyReaders: readers of every account while the
// background indexer runs see exactly what the Backup Path holds (run
// with -race).
func TestConcurrentLazyReaders(t *testing.T) {
	f := standard(t)
	ix, _ := openFile(t, f, Options{MaxLoadedItems: 3, Workers: 3})
	_, err := ix.RefreshAccounts(context.Background())
	require.NoError(t, err)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		assert.NoError(t, ix.IndexAll(context.Background(), nil))
	}()
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				for _, id := range []string{idA, idB, idC} {
					n := 0
					assert.NoError(t, ix.Items(id, func(*Item) bool { n++; return true }))
					c, err := ix.ItemCount(id)
					assert.NoError(t, err)
					assert.Equal(t, c, n)
				}
			}
		}()
	}
	wg.Wait()
	checkAgainstDisk(t, ix)
}

// TestBackgroundYieldsButNeverStarves: the background indexer pauses while
// readers are busy with another account, but a reader waiting for the
// account it is indexing is served, however busy the others are.
func TestBackgroundYieldsButNeverStarves(t *testing.T) {
	f := standard(t)
	ix, _ := openFile(t, f, Options{Workers: 1})
	_, err := ix.RefreshAccounts(context.Background())
	require.NoError(t, err)
	// B and C indexed on demand: only A is left for the background.
	for _, id := range []string{idB, idC} {
		_, err := ix.ItemCount(id)
		require.NoError(t, err)
	}
	stop := make(chan struct{})
	var busy sync.WaitGroup
	busy.Add(1)
	go func() { // a reader browsing B without pause
		defer busy.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			ix.ItemCount(idB)
		}
	}()
	defer func() { close(stop); busy.Wait() }()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go ix.IndexAll(ctx, nil)
	require.Eventually(t, func() bool { return status(t, ix, idA).State == "indexing" }, 10*time.Second, time.Millisecond,
		"the background took A")
	time.Sleep(100 * time.Millisecond)
	assert.Equal(t, "indexing", status(t, ix, idA).State, "the background pauses while B is browsed")

	done := make(chan error, 1)
	go func() { _, err := ix.FolderItems(idA, mailbox.FolderInbox); done <- err }()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("a reader of A starved while the background held A and B was browsed")
	}
	assert.Equal(t, "indexed", status(t, ix, idA).State)
}
