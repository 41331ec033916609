package blob

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/internal/confined"
)

// Writes are confined beneath the store's root: items/ swapped for a
// symbolic link while blobs are stored, again and again, never makes a
// blob (or a temporary file) land where the link points. Each store either
// lands in the real items/ or fails.
func TestWritesConfinedWhileSwapped(t *testing.T) {
	s := NewStore(t.TempDir())
	s.Write.NoSync = true
	outside := t.TempDir()
	items := filepath.Join(s.Root(), "items")
	require.NoError(t, os.MkdirAll(items, 0o755))
	stop := swapLoop(t, items, outside)
	small := mailText(2000, 7)
	large := mailText(smallPutMax+4096, 8) // PutReader's own temp file in items/
	var refused int
	deadline := time.Now().Add(20 * time.Second)
	for i := uint64(0); i < 600 && time.Now().Before(deadline); i++ {
		binary.LittleEndian.PutUint64(small, i)
		var err error
		if i%10 == 0 {
			binary.LittleEndian.PutUint64(large, i)
			_, _, _, err = s.PutReader(bytes.NewReader(large))
		} else {
			_, _, err = s.Put(small)
		}
		if err != nil {
			refused++
			assert.True(t, errors.Is(err, confined.ErrSymlink) || errors.Is(err, os.ErrNotExist) || errors.Is(err, os.ErrExist), "%v", err)
		}
	}
	swaps := stop()
	t.Logf("%d stores refused, %d swaps", refused, swaps)
	require.Positive(t, swaps)
	ents, _ := os.ReadDir(outside)
	assert.Empty(t, ents, "written through the link")
}

// items/ a symbolic link from the start: PutReader's temporary file is not
// made where it points (it used to be made there, then removed).
func TestPutReaderTempNotThroughLink(t *testing.T) {
	s := NewStore(t.TempDir())
	outside := t.TempDir()
	require.NoError(t, os.Symlink(outside, filepath.Join(s.Root(), "items")))
	seen := make(chan string, 1)
	r := &watchReader{r: bytes.NewReader(mailText(smallPutMax+4096, 9)), dir: outside, seen: seen}
	_, _, _, err := s.PutReader(r)
	assert.ErrorIs(t, err, confined.ErrSymlink)
	select {
	case n := <-seen:
		t.Errorf("a file was made through the link: %s", n)
	default:
	}
}

// watchReader reports, while it is read (that is, while the temporary
// file is open), anything in dir.
type watchReader struct {
	r    *bytes.Reader
	dir  string
	seen chan string
}

func (w *watchReader) Read(p []byte) (int, error) {
	if ents, _ := os.ReadDir(w.dir); len(ents) > 0 {
		select {
		case w.seen <- ents[0].Name():
		default:
		}
	}
	return w.r.Read(p)
}

// swapLoop exchanges the folder dir with a symbolic link to target, and
// back, again and again (renameat2 RENAME_EXCHANGE: dir is at every moment
// either the folder or the link), until the returned stop is called; stop
// leaves the folder in place and returns how many swaps were made.
func swapLoop(t *testing.T, dir, target string) (stop func() int) {
	t.Helper()
	link := dir + ".link"
	require.NoError(t, os.Symlink(target, link))
	var done atomic.Bool
	var wg sync.WaitGroup
	swaps := 0
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !done.Load() {
			if err := unix.Renameat2(unix.AT_FDCWD, dir, unix.AT_FDCWD, link, unix.RENAME_EXCHANGE); err != nil {
				t.Errorf("swap: %v", err)
				return
			}
			runtime.Gosched()
			if err := unix.Renameat2(unix.AT_FDCWD, dir, unix.AT_FDCWD, link, unix.RENAME_EXCHANGE); err != nil {
				t.Errorf("swap back: %v", err)
				return
			}
			swaps++
			runtime.Gosched()
		}
	}()
	return func() int {
		done.Store(true)
		wg.Wait()
		os.Remove(link)
		return swaps
	}
}
