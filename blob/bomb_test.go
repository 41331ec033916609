package blob

import (
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/internal/testbomb"
)

// bombSize is what the test bomb inflates to: 1 GiB of zeros, about 1 MiB
// of gzip.
const bombSize = 1 << 30

// writeBomb writes a gzip bomb into s: n zero bytes, gzipped at best
// compression, named by the SHA-256 of those n bytes, so that the blob is
// valid in every respect but size. Neither the content nor the compressed
// file is held in memory.
func writeBomb(tb testing.TB, s *Store, n int64) Digest {
	tb.Helper()
	items := filepath.Join(s.Root(), "items")
	require.NoError(tb, os.MkdirAll(items, 0o755))
	tmp, err := os.CreateTemp(items, "bomb-*")
	require.NoError(tb, err)
	sum, err := testbomb.Write(tmp, n)
	require.NoError(tb, err)
	require.NoError(tb, tmp.Close())
	d := FromHash(sum)
	require.NoError(tb, os.MkdirAll(filepath.Dir(s.Path(d)), 0o755))
	require.NoError(tb, os.Rename(tmp.Name(), s.Path(d)))
	return d
}

var bombOnce struct {
	sync.Once
	s *Store
	d Digest
}

// bomb is one store holding one bomb, made once per test binary.
func bomb(t *testing.T) (*Store, Digest) {
	if testing.Short() {
		t.Skip("-short: no gzip bomb")
	}
	bombOnce.Do(func() {
		dir, err := os.MkdirTemp("", "cbfs-bomb-")
		require.NoError(t, err)
		bombOnce.s = NewStore(dir)
		bombOnce.d = writeBomb(t, bombOnce.s, bombSize)
	})
	require.NotNil(t, bombOnce.s)
	return bombOnce.s, bombOnce.d
}

func TestMain(m *testing.M) {
	code := m.Run()
	if bombOnce.s != nil {
		os.RemoveAll(bombOnce.s.Root())
	}
	os.Exit(code)
}

// allocated is how many bytes fn allocates.
func allocated(fn func()) uint64 {
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	fn()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

// maxBombAlloc is what reading a bomb may allocate, at most.
const maxBombAlloc = 64 << 20

// TestBomb: a blob valid but for its size (1 GiB inflated, state records
// 100) is broken for every reader that knows the size, which allocates
// little to find out.
func TestBomb(t *testing.T) {
	s, d := bomb(t)
	lim := Limit{Size: 100}
	const reason = "size mismatch: more than 100 bytes inflated (state records 100)"
	for _, path := range decoderPaths {
		t.Run(path.name, func(t *testing.T) {
			withSmallMax(t, path.smallMax)
			t.Run("ReadLimit", func(t *testing.T) {
				var got []byte
				var err error
				n := allocated(func() { got, err = s.ReadLimit(d, lim) })
				checkErr(t, d, err, ErrBroken, reason)
				assert.Nil(t, got)
				assert.Less(t, n, uint64(maxBombAlloc), "allocated %d bytes", n)
			})
			t.Run("SalvageLimit", func(t *testing.T) {
				var got []byte
				var err error
				n := allocated(func() { got, err = s.SalvageLimit(d, lim) })
				checkErr(t, d, err, ErrBroken, reason)
				assert.Len(t, got, 100)
				assert.Less(t, n, uint64(maxBombAlloc), "allocated %d bytes", n)
			})
			t.Run("OpenLimit", func(t *testing.T) {
				var got int64
				var err error
				n := allocated(func() {
					rc, oerr := s.OpenLimit(d, lim)
					require.NoError(t, oerr)
					got, err = io.Copy(io.Discard, rc)
					rc.Close()
				})
				checkErr(t, d, err, ErrBroken, reason)
				assert.Equal(t, int64(100), got, "served bytes")
				assert.Less(t, n, uint64(maxBombAlloc), "allocated %d bytes", n)
			})
			t.Run("CheckLimit", func(t *testing.T) {
				var err error
				n := allocated(func() { err = s.CheckLimit(d, lim) })
				checkErr(t, d, err, ErrBroken, reason)
				assert.Less(t, n, uint64(maxBombAlloc), "allocated %d bytes", n)
			})
			// Without a recorded size, a whole read stops at MaxUnsized
			// and a salvage at SalvageMax.
			t.Run("Read", func(t *testing.T) {
				var got []byte
				var err error
				n := allocated(func() { got, err = s.Read(d) })
				checkErr(t, d, err, ErrTooLarge, "no size recorded")
				assert.Equal(t, "too large", Class(err))
				assert.Nil(t, got)
				assert.Less(t, n, uint64(4*MaxUnsized), "allocated %d bytes", n)
			})
			t.Run("Salvage", func(t *testing.T) {
				var got []byte
				var err error
				n := allocated(func() { got, err = s.Salvage(d) })
				checkErr(t, d, err, ErrTooLarge, "salvage stops")
				assert.Len(t, got, SalvageMax)
				assert.Less(t, n, uint64(4*SalvageMax), "allocated %d bytes", n)
			})
			// A caller's own Max (a restore's max_file_size).
			t.Run("Max", func(t *testing.T) {
				_, err := s.ReadLimit(d, Limit{Max: 1 << 20})
				checkErr(t, d, err, ErrTooLarge, "limit 1048576")
			})
		})
	}
}

// TestBombTrueSize: with its true size recorded, the bomb is sound and
// streams.
func TestBombTrueSize(t *testing.T) {
	s, d := bomb(t)
	rc, err := s.OpenLimit(d, Limit{Size: bombSize})
	require.NoError(t, err)
	defer rc.Close()
	n, err := io.Copy(io.Discard, rc)
	require.NoError(t, err)
	assert.Equal(t, int64(bombSize), n)
}

// TestLimitEdges: content one byte over the recorded size is broken, for
// both layers of a double gzip; shorter content is the caller's to judge.
func TestLimitEdges(t *testing.T) {
	c := mailText(5<<10, 7)
	for _, double := range []bool{false, true} {
		s := NewStore(t.TempDir())
		d := Sum(c)
		raw := gz(t, c)
		if double {
			raw = gz(t, raw)
		}
		writeRaw(t, s, d, raw)
		n := int64(len(c))
		_, err := s.ReadLimit(d, Limit{Size: n - 1})
		checkErr(t, d, err, ErrBroken, "size mismatch")
		checkErr(t, d, s.CheckLimit(d, Limit{Size: n - 1}), ErrBroken, "size mismatch")
		rc, err := s.OpenLimit(d, Limit{Size: n - 1})
		require.NoError(t, err)
		got, err := io.ReadAll(rc)
		rc.Close()
		checkErr(t, d, err, ErrBroken, "size mismatch")
		assert.Len(t, got, int(n-1))
		got, err = s.ReadLimit(d, Limit{Size: n + 10})
		require.NoError(t, err)
		assert.Len(t, got, int(n))
		require.NoError(t, s.CheckLimit(d, Limit{Size: n + 10}))
	}
}
