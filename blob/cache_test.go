package blob

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLRUBound(t *testing.T) {
	c := newLRU(100)
	for i := 0; i < 20; i++ {
		c.add(strconv.Itoa(i), make([]byte, 20))
	}
	assert.LessOrEqual(t, c.used, int64(100))
	_, ok := c.get("19")
	assert.True(t, ok, "newest kept")
	_, ok = c.get("0")
	assert.False(t, ok, "oldest dropped")
	c.add("big", make([]byte, 60)) // > max/4: not cached
	_, ok = c.get("big")
	assert.False(t, ok)
}

// truncate cuts blob d's compressed file to half: a broken blob.
func truncate(t *testing.T, s *Store, d Digest) {
	t.Helper()
	p := s.Path(d)
	comp, err := os.ReadFile(p)
	require.NoError(t, err)
	require.NoError(t, os.Chmod(p, 0o644))
	require.NoError(t, os.WriteFile(p, comp[:len(comp)/2], 0o644))
}

func TestCacheHealth(t *testing.T) {
	s := NewStore(t.TempDir())
	data := mailText(20000, 1)
	d, _, err := s.Put(data)
	require.NoError(t, err)
	c := NewCache(s, CacheOptions{})

	// The same blob is sound for a state recording its size, broken for
	// one recording less; each verdict is remembered under its size.
	assert.NoError(t, c.Health(d, int64(len(data))))
	assert.ErrorIs(t, c.Health(d, 100), ErrBroken)
	err, ok := c.Known(d, 100)
	assert.True(t, ok)
	assert.ErrorIs(t, err, ErrBroken)
	_, ok = c.Known(d, 5)
	assert.False(t, ok, "not checked for that size")

	// A whole read is cached and says the blob is sound.
	got, err := c.ReadLimit(d, Limit{Size: int64(len(data))})
	require.NoError(t, err)
	assert.True(t, bytes.Equal(data, got))
	assert.True(t, c.Cached(d))

	// A missing blob.
	missing := Sum([]byte("nowhere"))
	assert.ErrorIs(t, c.Health(missing, 0), ErrMissing)

	// Unavailable answers everything.
	u := NewCache(s, CacheOptions{Unavailable: ErrUnreadable})
	assert.ErrorIs(t, u.Health(d, 0), ErrUnreadable)
	_, err = u.ReadLimit(d, Limit{})
	assert.ErrorIs(t, err, ErrUnreadable)
	assert.Empty(t, u.SalvageLimit(d, 0))
}

func TestCacheSingleflight(t *testing.T) {
	var fl flights
	var calls atomic.Int32
	release := make(chan struct{})
	key := flightKey{d: Sum([]byte("x"))}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, err := fl.do(key, func() ([]byte, error) {
				calls.Add(1)
				<-release
				return []byte("x"), nil
			})
			assert.NoError(t, err)
			assert.Equal(t, "x", string(b))
		}()
	}
	// While the first read is under way, the others join it: no second
	// read starts.
	require.Eventually(t, func() bool { return calls.Load() == 1 }, time.Second, time.Millisecond)
	time.Sleep(20 * time.Millisecond)
	assert.Equal(t, int32(1), calls.Load())
	fl.mu.Lock()
	assert.Len(t, fl.m, 1)
	fl.mu.Unlock()
	close(release)
	wg.Wait()
}

func TestWindowRead(t *testing.T) {
	s := NewStore(t.TempDir())
	data := mailText(3<<20+12345, 3)
	d, _, err := s.Put(data)
	require.NoError(t, err)
	c := NewCache(s, CacheOptions{})
	w := c.Window(d, Limit{Size: int64(len(data))})
	defer w.Close()
	ctx := context.Background()
	// Out of order, as concurrent readahead does, then a restart.
	chunk := 128 << 10
	var offs []int64
	for off := int64(0); off < int64(len(data)); off += int64(chunk) {
		offs = append(offs, off)
	}
	for i := 0; i+1 < len(offs); i += 2 {
		offs[i], offs[i+1] = offs[i+1], offs[i]
	}
	offs = append(offs, 0, int64(len(data))-10)
	for _, off := range offs {
		buf := make([]byte, chunk)
		n, err := w.ReadAt(ctx, buf, off, int64(len(data)))
		require.NoError(t, err, "offset %d", off)
		end := min(off+int64(chunk), int64(len(data)))
		require.True(t, bytes.Equal(data[off:end], buf[:n]), "offset %d", off)
	}
	err, ok := c.Known(d, int64(len(data)))
	assert.True(t, ok, "the stream's end is remembered")
	assert.NoError(t, err)

	// A broken blob: the read that reaches the end fails, and the verdict
	// is remembered.
	truncate(t, s, d)
	c = NewCache(s, CacheOptions{})
	w2 := c.Window(d, Limit{Size: int64(len(data))})
	defer w2.Close()
	_, err = w2.ReadAt(ctx, make([]byte, chunk), int64(len(data))-100, int64(len(data)))
	assert.ErrorIs(t, err, ErrBroken)
	err, ok = c.Known(d, int64(len(data)))
	assert.True(t, ok)
	assert.ErrorIs(t, err, ErrBroken)

	// A cancelled reader gets its context's error.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	w3 := c.Window(d, Limit{Size: int64(len(data))})
	defer w3.Close()
	_, err = w3.ReadAt(cctx, make([]byte, chunk), 0, int64(len(data)))
	assert.ErrorIs(t, err, context.Canceled)
}

// prefetchSetup stores n blobs of various sizes and returns their Wants in
// order, and a cache recording the read-ahead's jobs.
func prefetchSetup(t *testing.T, n int, opt CacheOptions) (*Store, []Want, *Cache, func() []job) {
	t.Helper()
	s := NewStore(t.TempDir())
	var wants []Want
	for i := 0; i < n; i++ {
		data := mailText(4000+i*1500, uint64(i))
		d, _, err := s.Put(data)
		require.NoError(t, err)
		wants = append(wants, Want{Key: 100 + i, Digest: d, Limit: Limit{Size: int64(len(data))}, Size: int64(len(data))})
	}
	var mu sync.Mutex
	var jobs []job
	opt.Prefetched = func(w Want, whole bool, err error) {
		mu.Lock()
		jobs = append(jobs, job{w, whole})
		mu.Unlock()
	}
	c := NewCache(s, opt)
	return s, wants, c, func() []job {
		mu.Lock()
		defer mu.Unlock()
		return append([]job(nil), jobs...)
	}
}

func waitPrefetch(t *testing.T, c *Cache) {
	t.Helper()
	require.Eventually(t, c.PrefetchIdle, 10*time.Second, time.Millisecond)
}

func TestPrefetchWindow(t *testing.T) {
	const cacheBytes = 256 << 10
	_, wants, c, jobs := prefetchSetup(t, 60, CacheOptions{MaxBytes: cacheBytes})
	loads := 0
	seq := NewSequence(func() ([]Want, error) { loads++; return wants, nil })

	// From the start: the first blobs, in order, within the window, read
	// whole into memory.
	c.Prefetch(seq, -1)
	waitPrefetch(t, c)
	got := jobs()
	require.NotEmpty(t, got)
	var ahead int64
	for i, j := range got {
		assert.Equal(t, wants[i].Digest, j.Digest, "job %d out of order", i)
		assert.Equal(t, wants[i].Limit, j.Limit, "the reader's limit")
		assert.True(t, j.whole)
		assert.True(t, c.Cached(j.Digest), "job %d not in memory", i)
		if i > 0 {
			ahead += j.Size
		}
	}
	assert.LessOrEqual(t, ahead, c.PrefetchBytes(), "fetched past the window")
	assert.LessOrEqual(t, len(got), prefetchFiles)
	if len(got) < len(wants) && len(got) < prefetchFiles {
		var next int64
		for _, w := range wants[:len(got)+1] {
			next += w.Size
		}
		assert.Greater(t, next, c.PrefetchBytes(), "stopped before the window was full")
	}
	assert.LessOrEqual(t, c.CachedBytes(), int64(cacheBytes))

	// After a blob further on: those after it, none twice.
	k := len(got) + 1
	c.Prefetch(seq, wants[k].Key)
	waitPrefetch(t, c)
	after := jobs()[len(got):]
	require.NotEmpty(t, after)
	assert.Equal(t, wants[k+1].Digest, after[0].Digest, "read-ahead starts after the blob named")
	c.Prefetch(seq, wants[k+1].Key)
	waitPrefetch(t, c)
	seen := map[Digest]int{}
	for _, j := range jobs()[len(got):] {
		seen[j.Digest]++
	}
	for d, n := range seen {
		assert.Equal(t, 1, n, "%s fetched %d times", d, n)
	}
	assert.LessOrEqual(t, c.CachedBytes(), int64(cacheBytes))
	assert.Equal(t, 1, loads, "the list is loaded once")

	// An unknown key plans nothing.
	n := len(jobs())
	c.Prefetch(seq, 99999)
	waitPrefetch(t, c)
	assert.Len(t, jobs(), n)
}

func TestPrefetchBrokenBlob(t *testing.T) {
	s, wants, c, jobs := prefetchSetup(t, 8, CacheOptions{})
	bad := wants[2].Digest
	truncate(t, s, bad)
	c.Prefetch(NewSequence(func() ([]Want, error) { return wants, nil }), -1)
	waitPrefetch(t, c)
	require.Len(t, jobs(), len(wants))

	// Every blob reads as it would without read-ahead, and the remembered
	// verdicts are a fresh check's.
	fresh := NewCache(s, CacheOptions{})
	for i, w := range wants {
		got, err := c.ReadLimit(w.Digest, w.Limit)
		want, werr := s.ReadLimit(w.Digest, w.Limit)
		if w.Digest == bad {
			assert.ErrorIs(t, err, ErrBroken, "blob %d", i)
			assert.ErrorIs(t, werr, ErrBroken)
		} else {
			require.NoError(t, err, "blob %d", i)
			assert.True(t, bytes.Equal(want, got), "blob %d", i)
		}
		known, ok := c.Known(w.Digest, w.Limit.Size)
		require.True(t, ok, "blob %d: no verdict", i)
		assert.Equal(t, Class(fresh.Health(w.Digest, w.Limit.Size)), Class(known), "blob %d", i)
	}
}

func TestPrefetchOff(t *testing.T) {
	for _, opt := range []CacheOptions{{NoPrefetch: true}, {Unavailable: ErrUnreadable}} {
		_, wants, c, jobs := prefetchSetup(t, 4, opt)
		c.Prefetch(NewSequence(func() ([]Want, error) { return wants, nil }), -1)
		waitPrefetch(t, c)
		assert.Empty(t, jobs())
	}
}
