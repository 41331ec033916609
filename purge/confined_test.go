package purge

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRemovalsStayInside: while a purge removes unreferenced blobs, the
// Backup Path's items/ folder is swapped again and again for a symbolic
// link to a copy elsewhere holding files of the same names. Every removal
// is resolved beneath the Backup Path without following links, so not one
// file of the copy goes (a plain os.Remove of the path string removes
// them whenever the link is in place).
func TestRemovalsStayInside(t *testing.T) {
	f := newFixture(t)
	root := f.bp.Root
	const orphans = 3000
	for i := range orphans {
		_, _, err := f.bp.Blobs.Put(fmt.Appendf(nil, "orphan %d\n", i))
		require.NoError(t, err)
	}
	items := filepath.Join(root, "items")
	// The copy: the same tree of names, elsewhere.
	elsewhere := filepath.Join(t.TempDir(), "items")
	var victims []string
	require.NoError(t, filepath.WalkDir(items, func(p string, d os.DirEntry, err error) error {
		require.NoError(t, err)
		rel, _ := filepath.Rel(items, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(elsewhere, rel), 0o755)
		}
		victims = append(victims, filepath.Join(elsewhere, rel))
		return os.WriteFile(filepath.Join(elsewhere, rel), []byte("not the Backup Path's"), 0o600)
	}))

	var swaps atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var once sync.Once
	swap := func() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			real := items + ".real"
			for {
				select {
				case <-stop:
					return
				default:
				}
				if os.Rename(items, real) != nil || os.Symlink(elsewhere, items) != nil {
					t.Error("swap failed")
					return
				}
				swaps.Add(1)
				for range 200 { // keep the link in place a moment
				}
				if os.Remove(items) != nil || os.Rename(real, items) != nil {
					t.Error("swap back failed")
					return
				}
			}
		}()
	}
	_, err := Run(context.Background(), f.bp, Options{RetentionDays: 143, Now: now,
		Progress: func(done, total int, phase string) {
			if phase == "blobs" {
				once.Do(swap) // the listing is done: swap during the removals
			}
		}})
	close(stop)
	wg.Wait()
	require.NoError(t, err)
	require.Positive(t, swaps.Load(), "the folder was never swapped")
	gone := 0
	for _, v := range victims {
		if _, err := os.Stat(v); err != nil {
			gone++
		}
	}
	assert.Zero(t, gone, "files removed outside the Backup Path (%d swaps)", swaps.Load())
	t.Logf("%d swaps during the removal of %d blobs", swaps.Load(), orphans)
}
