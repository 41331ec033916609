package index

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/mailbox"
)

// TestBuildRefusesSymlinksAndFIFOs: an item file that is a symbolic link (to
// a valid item file outside) or a FIFO is that one item's failure,
// unreadable, and the build neither follows nor waits for it.
func TestBuildRefusesSymlinksAndFIFOs(t *testing.T) {
	f := newFixture(t)
	f.account(idA, "alice@example.com", mailbox.StatusActive)
	f.item(idA, 100, msgState(day(1), mailbox.FolderInbox, "hello"))

	outside := filepath.Join(t.TempDir(), "item")
	b, err := (&mailbox.Item{ID: 101, States: []mailbox.State{msgState(day(1), mailbox.FolderInbox, "SECRET")}}).Encode()
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(outside, b, 0o600))
	link := filepath.Join(f.bp.Root, backuppath.ItemRelPath(idA, 101))
	require.NoError(t, os.MkdirAll(filepath.Dir(link), 0o755))
	require.NoError(t, os.Symlink(outside, link))
	fifo := filepath.Join(f.bp.Root, backuppath.ItemRelPath(idA, 102))
	require.NoError(t, os.MkdirAll(filepath.Dir(fifo), 0o755))
	require.NoError(t, syscall.Mkfifo(fifo, 0o644))
	f.stamp(backuppath.ItemRelPath(idA, 100))

	ix := openMem(t, f.bp)
	done := make(chan error)
	go func() { _, err := ix.Refresh(context.Background(), nil); done <- err }()
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the build blocked")
	}
	require.NoError(t, err)

	it, err := ix.Item(idA, 100)
	require.NoError(t, err)
	assert.Empty(t, it.ErrClass)
	for id, why := range map[int]string{101: "symbolic link", 102: "not a regular file"} {
		it, err := ix.Item(idA, id)
		require.NoError(t, err)
		assert.Equal(t, "unreadable", it.ErrClass, "item %d", id)
		assert.Contains(t, it.Err, why)
		assert.Empty(t, it.States)
		assert.False(t, strings.Contains(it.Err, "SECRET"))
	}
}
