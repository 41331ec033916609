package blob

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cbfs/cbfs/internal/confined"
	"github.com/cbfs/cbfs/objstore"
)

// Remote is a Store's remote tier: blobs kept in an object store (the
// items/ of a Backup Path on S3, see objstore/s3), fetched on demand into
// a bounded on-disk cache.
//
// A blob missing from the Store's own folder is looked up in the cache
// (Cache/items/<d[0:2]>/<d>), else fetched with one GET of the object of
// the same name, written to a temporary file in the cache and renamed into
// place only once every byte the store announced has arrived (a transfer
// cut short never becomes a cache entry). From there it is read like a
// local blob: confined, decompressed within the recorded size and its
// digest verified before the last byte is served. Concurrent opens of one
// blob share one GET.
//
// The cache holds at most MaxBytes compressed bytes: the least recently
// used files go first (an open file stays readable: it is only unlinked).
// Faults: the fetch has Timeout in all (the object store client retries
// network errors and 5xx answers with backoff within it); past it the blob
// is ErrUnreadable, so a reader gets EIO, never a hang and never a partial
// file.
type Remote struct {
	Objects  objstore.Store
	Cache    string        // the cache root (holding items/)
	MaxBytes int64         // bound of the cache (compressed bytes)
	Timeout  time.Duration // per blob fetch, retries included
	Prefetch int           // background fetches at most (default DefaultPrefetch)
	// RangeMin, RangeSize, RangeParallel: objects over RangeMin bytes are
	// fetched in ranges of RangeSize, RangeParallel at a time (NewRemote
	// sets the defaults; RangeMin 0: always whole).
	RangeMin, RangeSize int64
	RangeParallel       int

	// Gets counts the GET requests sent (for benchmarks and tests).
	Gets atomic.Int64

	prefetching atomic.Int32 // background fetches under way

	mu     sync.Mutex
	lru    *list.List // of *cacheEntry, most recent first
	byName map[Digest]*list.Element
	bytes  int64
	flight map[Digest]*fetch
}

type cacheEntry struct {
	d    Digest
	size int64
}

type fetch struct {
	done chan struct{}
	err  error
}

// DefaultFetchTimeout bounds one blob's fetch, retries included: past it
// the reader gets EIO rather than waiting on a store that does not answer.
const DefaultFetchTimeout = time.Minute

// DefaultCacheBytes bounds a Remote's cache unless told otherwise.
const DefaultCacheBytes = 2 << 30

// NewRemote returns the remote tier reading objects into the cache folder
// cache (created if needed). Files already there are the cache's, oldest
// first in line for eviction.
func NewRemote(objects objstore.Store, cache string, maxBytes int64) (*Remote, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultCacheBytes
	}
	r := &Remote{Objects: objects, Cache: cache, MaxBytes: maxBytes, Timeout: DefaultFetchTimeout, Prefetch: DefaultPrefetch,
		RangeMin: DefaultRangeMin, RangeSize: DefaultRangeSize, RangeParallel: DefaultRangeParallel,
		lru: list.New(), byName: map[Digest]*list.Element{}, flight: map[Digest]*fetch{}}
	items := filepath.Join(cache, "items")
	if err := os.MkdirAll(items, 0o700); err != nil {
		return nil, fmt.Errorf("cache %s: %w", cache, err)
	}
	type old struct {
		d     Digest
		size  int64
		mtime time.Time
	}
	var found []old
	err := filepath.WalkDir(items, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !e.Type().IsRegular() {
			return nil
		}
		if strings.HasPrefix(e.Name(), ".") { // a fill cut short
			os.Remove(p)
			return nil
		}
		if fi, err := e.Info(); err == nil {
			found = append(found, old{Digest(e.Name()), fi.Size(), fi.ModTime()})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cache %s: %w", cache, err)
	}
	// Oldest at the back.
	sort.Slice(found, func(i, j int) bool { return found[i].mtime.After(found[j].mtime) })
	for _, o := range found {
		r.byName[o.d] = r.lru.PushBack(&cacheEntry{o.d, o.size})
		r.bytes += o.size
	}
	r.mu.Lock()
	r.evict()
	r.mu.Unlock()
	return r, nil
}

// SetRemote gives the store a remote tier (nil: none). Call it before use.
func (s *Store) SetRemote(r *Remote) { s.remote = r }

// Remote is the store's remote tier, or nil.
func (s *Store) Remote() *Remote { return s.remote }

// CachedBytes is the cache's size.
func (r *Remote) CachedBytes() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.bytes
}

// openRemote opens blob d from the cache, fetching it first if needed.
func (s *Store) openRemote(d Digest) (*os.File, error) {
	r := s.remote
	for attempt := 0; ; attempt++ {
		f, err := confined.Open(r.Cache, d.RelPath())
		if err == nil {
			r.touch(d)
			return f, nil
		}
		if !errors.Is(err, fs.ErrNotExist) || attempt == 2 {
			return nil, s.openErr(d, err)
		}
		if err := r.fetch(d); err != nil {
			if errors.Is(err, objstore.ErrNotExist) {
				return nil, s.fail(d, ErrMissing, "not in "+r.Objects.String(), nil)
			}
			return nil, s.fail(d, ErrUnreadable, "external storage", err)
		}
	}
}

func (r *Remote) touch(d Digest) {
	r.mu.Lock()
	if e, ok := r.byName[d]; ok {
		r.lru.MoveToFront(e)
	}
	r.mu.Unlock()
}

// fetch GETs blob d into the cache (joining a fetch under way).
func (r *Remote) fetch(d Digest) error {
	r.mu.Lock()
	if f, ok := r.flight[d]; ok {
		r.mu.Unlock()
		<-f.done
		return f.err
	}
	f := &fetch{done: make(chan struct{})}
	r.flight[d] = f
	r.mu.Unlock()

	size, err := r.fill(d)

	r.mu.Lock()
	delete(r.flight, d)
	if err == nil {
		if e, ok := r.byName[d]; ok {
			r.bytes -= e.Value.(*cacheEntry).size
			r.lru.Remove(e)
		}
		r.byName[d] = r.lru.PushFront(&cacheEntry{d, size})
		r.bytes += size
		r.evict()
	}
	r.mu.Unlock()
	f.err = err
	close(f.done)
	return err
}

// fill writes the object of blob d to its cache file: temp name, every
// announced byte, rename. A large object (over RangeMin) is fetched in
// ranges of RangeSize, RangeParallel at a time: the first from the GET
// that announced the size, the others with ranged GETs, each written at
// its offset; one range short or failed fails the whole fetch.
func (r *Remote) fill(d Digest) (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), r.Timeout)
	defer cancel()
	dst := filepath.Join(r.Cache, filepath.FromSlash(d.RelPath()))
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return 0, err
	}
	r.Gets.Add(1)
	rc, size, err := r.Objects.Get(ctx, d.RelPath())
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+string(d)+".*")
	if err != nil {
		return 0, err
	}
	if r.RangeMin > 0 && size > r.RangeMin {
		err = r.fillRanges(ctx, d, rc, size, tmp)
	} else {
		var n int64
		n, err = io.Copy(tmp, rc)
		if err == nil && n != size {
			err = fmt.Errorf("got %d of %d bytes", n, size)
		}
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), dst)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return 0, err
	}
	return size, nil
}

// fillRanges writes an object of size bytes into tmp range by range: the
// first range from rc (the GET that announced the size, closed after it),
// the others with ranged GETs, r.RangeParallel at a time.
func (r *Remote) fillRanges(ctx context.Context, d Digest, rc io.ReadCloser, size int64, tmp *os.File) error {
	chunk := r.RangeSize
	if chunk <= 0 {
		chunk = DefaultRangeSize
	}
	par := max(r.RangeParallel, 1)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	copyRange := func(src io.Reader, off, n int64) error {
		got, err := io.Copy(io.NewOffsetWriter(tmp, off), io.LimitReader(src, n))
		if err == nil && got != n {
			err = fmt.Errorf("range at %d: got %d of %d bytes", off, got, n)
		}
		return err
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		sem   = make(chan struct{}, par)
	)
	fail := func(err error) {
		mu.Lock()
		if first == nil {
			first = err
			cancel()
		}
		mu.Unlock()
	}
	// The first range, from the GET already open, alongside the others
	// (read at once: an idle response body may be closed by the server).
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := copyRange(rc, 0, min(chunk, size)); err != nil {
			fail(err)
		}
		rc.Close()
	}()
	for off := chunk; off < size; off += chunk {
		n := min(chunk, size-off)
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			r.Gets.Add(1)
			body, err := r.Objects.GetRange(ctx, d.RelPath(), off, n)
			if err == nil {
				err = copyRange(body, off, n)
				body.Close()
			}
			if err != nil {
				fail(err)
			}
		}()
	}
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		first = ctx.Err()
	}
	return first
}

// DefaultRangeMin, DefaultRangeSize and DefaultRangeParallel: objects over
// 16 MiB are fetched in 8 MiB ranges, 4 at a time (one S3 connection is
// often limited well below the link: large attachments arrive sooner).
const (
	DefaultRangeMin      = 16 << 20
	DefaultRangeSize     = 8 << 20
	DefaultRangeParallel = 4
)

// DefaultPrefetch bounds the background fetches of a Remote (8 gave 0.35x
// the local mount's cold cat throughput on loopback, 24 gave 0.45x:
// docs/PERFORMANCE.md).
const DefaultPrefetch = 24

// prefetch starts fetching blob d into the cache unless it is there, being
// fetched, or r.Prefetch fetches are under way (a hint, never waited for).
func (r *Remote) prefetch(d Digest) {
	if _, err := confined.Stat(r.Cache, d.RelPath()); err == nil {
		return
	}
	r.mu.Lock()
	_, busy := r.flight[d]
	r.mu.Unlock()
	if busy || r.prefetching.Add(1) > int32(r.Prefetch) {
		r.prefetching.Add(-1)
		return
	}
	go func() {
		defer r.prefetching.Add(-1)
		r.fetch(d) // an error is the open's to report, when it comes
	}()
}

// evict removes least recently used files until the cache fits (r.mu held).
func (r *Remote) evict() {
	for r.bytes > r.MaxBytes && r.lru.Len() > 1 {
		e := r.lru.Back()
		ce := e.Value.(*cacheEntry)
		r.lru.Remove(e)
		delete(r.byName, ce.d)
		r.bytes -= ce.size
		os.Remove(filepath.Join(r.Cache, filepath.FromSlash(ce.d.RelPath())))
	}
}
