package blob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/objstore"
)

// TestRemoteTier reads blobs kept in another folder (objstore.Dir, the
// seam's local implementation) through a store that holds none: one GET
// per blob, cached, verified like a local blob, the cache bounded by bytes
// with the least recently used file evicted first.
func TestRemoteTier(t *testing.T) {
	src := NewStore(t.TempDir())
	src.Write.NoSync = true
	var ds []Digest
	var contents [][]byte
	for i := range 6 {
		c := bytes.Repeat([]byte(fmt.Sprintf("message %d ", i)), 2000+i*500)
		d, _, err := src.Put(c)
		require.NoError(t, err)
		ds, contents = append(ds, d), append(contents, c)
	}
	one, err := src.Stat(ds[0])
	require.NoError(t, err)

	cache := t.TempDir()
	r, err := NewRemote(&objstore.Dir{Root: src.Root()}, cache, 3*one+one/2) // room for about three
	require.NoError(t, err)
	st := NewStore(t.TempDir())
	st.SetRemote(r)

	for i, d := range ds {
		got, err := st.ReadLimit(d, Limit{Size: int64(len(contents[i]))})
		require.NoError(t, err, i)
		assert.Equal(t, contents[i], got, i)
	}
	assert.Equal(t, int64(len(ds)), r.Gets.Load(), "one GET per blob")
	assert.LessOrEqual(t, r.CachedBytes(), r.MaxBytes)
	_, err = os.Stat(filepath.Join(cache, ds[0].RelPath()))
	assert.True(t, errors.Is(err, os.ErrNotExist), "the least recently used blob was evicted")

	// A cached blob is read again without a GET; an evicted one with one.
	_, err = st.Read(ds[5])
	require.NoError(t, err)
	assert.Equal(t, int64(len(ds)), r.Gets.Load())
	_, err = st.Read(ds[0])
	require.NoError(t, err)
	assert.Equal(t, int64(len(ds)+1), r.Gets.Load())

	// A blob the remote store lacks is missing, not broken.
	_, err = st.Read(Sum([]byte("nowhere")))
	assert.ErrorIs(t, err, ErrMissing)

	// A damaged object is broken when read, like a local damaged blob.
	bad := Sum([]byte("the real content"))
	require.NoError(t, os.MkdirAll(filepath.Dir(src.Path(bad)), 0o755))
	require.NoError(t, os.WriteFile(src.Path(bad), gz(t, []byte("other content")), 0o644))
	_, err = st.Read(bad)
	assert.ErrorIs(t, err, ErrBroken)

	// The cache survives a restart: a new Remote finds its files.
	r2, err := NewRemote(&objstore.Dir{Root: src.Root()}, cache, r.MaxBytes)
	require.NoError(t, err)
	assert.Equal(t, r.CachedBytes(), r2.CachedBytes())
}

// shortRanges is an object store whose ranged GETs return one byte less
// than asked (a transfer cut short).
type shortRanges struct{ objstore.Store }

func (s shortRanges) GetRange(ctx context.Context, name string, off, n int64) (io.ReadCloser, error) {
	rc, err := s.Store.GetRange(ctx, name, off, n)
	if err != nil {
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{io.LimitReader(rc, n-1), rc}, nil
}

// A large object is fetched in ranges (the GET that announced its size
// gives the first), written at their offsets: the blob is whole and
// verified; a range cut short fails the fetch and leaves no cache file.
func TestRemoteRanges(t *testing.T) {
	src := NewStore(t.TempDir())
	src.Write.NoSync = true
	content := make([]byte, 3<<20)
	rand.New(rand.NewSource(1)).Read(content) // incompressible: the object is about as large
	d, _, err := src.Put(content)
	require.NoError(t, err)
	objSize, err := src.Stat(d)
	require.NoError(t, err)

	for _, tc := range []struct {
		name  string
		store objstore.Store
	}{{"whole", &objstore.Dir{Root: src.Root()}}, {"short", shortRanges{&objstore.Dir{Root: src.Root()}}}} {
		t.Run(tc.name, func(t *testing.T) {
			cache := t.TempDir()
			r, err := NewRemote(tc.store, cache, 0)
			require.NoError(t, err)
			r.RangeMin, r.RangeSize, r.RangeParallel = 1<<20, 512<<10, 3
			st := NewStore(t.TempDir())
			st.SetRemote(r)
			got, err := st.ReadLimit(d, Limit{Size: int64(len(content))})
			wantGets := (objSize + r.RangeSize - 1) / r.RangeSize
			if tc.name == "whole" {
				require.NoError(t, err)
				assert.Equal(t, content, got)
				assert.Equal(t, wantGets, r.Gets.Load(), "one GET, then a ranged GET for each other range")
				return
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrUnreadable)
			left, _ := filepath.Glob(filepath.Join(cache, "items", "*", "*"))
			left2, _ := filepath.Glob(filepath.Join(cache, "items", "*", ".*"))
			assert.Empty(t, append(left, left2...), "nothing cached, no temporary file left")
		})
	}
}
