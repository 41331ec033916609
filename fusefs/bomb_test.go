package fusefs

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"

	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/internal/testbomb"
)

// putBomb writes a gzip bomb of n zero bytes into st, named by its digest.
func putBomb(t *testing.T, st *blob.Store, n int64) blob.Digest {
	t.Helper()
	f, err := os.CreateTemp(st.Root(), "bomb-*")
	require.NoError(t, err)
	sum, err := testbomb.Write(f, n)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	d := blob.FromHash(sum)
	require.NoError(t, os.MkdirAll(filepath.Dir(st.Path(d)), 0o755))
	require.NoError(t, os.Rename(f.Name(), st.Path(d)))
	return d
}

type reader interface {
	Read(context.Context, []byte, int64) (fuse.ReadResult, syscall.Errno)
}

// TestBombFile: a blob inflating far past its recorded size (100) fails
// with EIO, whole-read or streamed, says why in its status, salvages at most
// the recorded size, and costs little memory.
func TestBombFile(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: no gzip bomb")
	}
	for _, small := range []int64{1 << 20, 10} { // whole, streamed
		f, st := blobFS(t, small)
		d := putBomb(t, st, 256<<20)
		file := &blobFile{digest: d, recorded: 100}
		file.init(f, 1, false, 100, zeroTime)

		var a, b runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&a)
		fh, _, errno := file.Open(context.Background(), syscall.O_RDONLY)
		require.Zero(t, errno)
		_, errno = readAt(t, fh.(reader), 0, 128<<10)
		assert.Equal(t, syscall.EIO, errno, "SmallBlob %d", small)
		if r, ok := fh.(interface {
			Release(context.Context) syscall.Errno
		}); ok {
			r.Release(context.Background())
		}
		err := f.blobs.Health(d, 100)
		assert.ErrorIs(t, err, blob.ErrBroken)
		assert.Contains(t, statusOf(err), "broken: ")
		assert.Contains(t, statusOf(err), "size mismatch: more than 100 bytes inflated (state records 100)")
		assert.Len(t, f.blobs.SalvageLimit(d, 100), 100)
		runtime.ReadMemStats(&b)
		assert.Less(t, b.TotalAlloc-a.TotalAlloc, uint64(64<<20), "allocated")
	}
}

// TestCachedBlobShorterRecord: a small blob cached for a state recording its
// true size is still broken for a state recording less.
func TestCachedBlobShorterRecord(t *testing.T) {
	f, st := blobFS(t, 1<<20)
	data := randomText(5000, 3)
	d, _, err := st.Put(data)
	require.NoError(t, err)
	good := &blobFile{digest: d, recorded: 5000}
	good.init(f, 1, false, 5000, zeroTime)
	fh, _, errno := good.Open(context.Background(), syscall.O_RDONLY)
	require.Zero(t, errno)
	got, errno := readAt(t, fh.(reader), 0, 8192)
	require.Zero(t, errno)
	assert.Equal(t, data, got)

	short := &blobFile{digest: d, recorded: 100}
	short.init(f, 2, false, 100, zeroTime)
	fh, _, errno = short.Open(context.Background(), syscall.O_RDONLY)
	require.Zero(t, errno)
	_, errno = readAt(t, fh.(reader), 0, 8192)
	assert.Equal(t, syscall.EIO, errno)
	assert.ErrorIs(t, f.blobs.Health(d, 100), blob.ErrBroken)
	assert.NoError(t, f.blobs.Health(d, 5000))
}
