package blob

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
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
// The store is a peer: the size it announces and the bytes it sends are
// claims. A fetch takes at most what the reader's Limit allows the blob's
// file to be (fetchBound: the recorded size plus two gzip layers'
// overhead; with no size recorded, a whole read's MaxUnsized, else the
// cache's size): a larger announced size is refused before any byte is
// read, and the body is read through that limit (an object of a recorded
// size that announces more is broken, "size mismatch", as a blob inflating
// past it is; one past a reader's Max, MaxUnsized or the cache is
// ErrTooLarge).
//
// The cache holds at most MaxBytes compressed bytes, in-flight fetches
// included: a fetch reserves the announced size (its bound when none is
// announced) before writing, evicting the least recently used files (an
// open file stays readable: it is only unlinked), and waits for room
// while other fetches hold it. Faults: the fetch has Timeout in all (the
// object store client retries network errors and 5xx answers with backoff
// within it); past it the blob is ErrUnreadable, so a reader gets EIO,
// never a hang and never a partial file.
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

	// Backoff is how long blob reads fail at once after the store gave no
	// answer (DefaultBackoff): a frozen store costs one wait, then every
	// uncached read says "unreachable" at once until the store is tried
	// again, instead of each read waiting the full timeout.
	Backoff time.Duration
	down    atomic.Pointer[outage]

	prefetching atomic.Int32 // background fetches under way

	mu     sync.Mutex
	lru    *list.List // of *cacheEntry, most recent first
	byName map[Digest]*list.Element
	bytes  int64 // cached files and reservations of fetches under way
	flight map[Digest]*fetch
	freed  chan struct{} // closed (and replaced) when a reservation ends
}

type cacheEntry struct {
	d    Digest
	size int64
}

type fetch struct {
	done  chan struct{}
	err   error
	bound int64 // most bytes it takes (-1: the cache's size)
}

// tooLarge is a fetch refused for its size: the store announced (or sent)
// more than bound bytes; cache says the bound was the cache's size.
type tooLarge struct {
	size  int64 // announced (-1: not announced, more than bound sent)
	bound int64
	cache bool
}

func (e *tooLarge) Error() string {
	what := "the blob's file can take (at most %d bytes)"
	if e.cache {
		what = "the cache holds (%d bytes)"
	}
	if e.size < 0 {
		return fmt.Sprintf("the store sends more than "+what+", announcing no size", e.bound)
	}
	return fmt.Sprintf("the store announces %d bytes, more than "+what, e.size, e.bound)
}

// fetchBound is the most compressed bytes the file of a blob whose content
// is at most content bytes can take (content < 0: no bound, -1): gzip adds
// to incompressible data 5 bytes per 64 KiB stored block and a header, and
// an old double-gzipped blob does so twice, so two margins of outerBound
// (the one a reader allows the once-gunzipped bytes) cover every sound
// blob. For 150 bytes it is 8346.
func fetchBound(content int64) int64 {
	if content < 0 {
		return -1
	}
	return outerBound(outerBound(content))
}

// outage is a store found unreachable: until when reads fail at once, and
// why.
type outage struct {
	until time.Time
	err   error
}

// DefaultBackoff is Remote.Backoff's default.
const DefaultBackoff = 30 * time.Second

// unreachable reports whether a fetch failed for want of an answer (not
// for an answer that said no).
func unreachable(err error) bool {
	return errors.Is(err, objstore.ErrUnreachable) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH)
}

// reasonUnreachable is the Reason of a blob read that failed because the
// external storage did not answer.
const reasonUnreachable = "external storage unreachable"

// Transient reports whether err says nothing about the blob itself: the
// external storage did not answer (a later read may work). Health is not
// remembered for such an error.
func Transient(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Reason == reasonUnreachable
}

// Unreachable says whether the store is taken for unreachable now, and
// why (the mount's user.cbfs.status of blobs it cannot fetch says so).
func (r *Remote) Unreachable() (bool, error) {
	o := r.down.Load()
	if o == nil || time.Now().After(o.until) {
		return false, nil
	}
	return true, o.err
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
		lru: list.New(), byName: map[Digest]*list.Element{}, flight: map[Digest]*fetch{}, freed: make(chan struct{})}
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
	r.evict(0)
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

// openRemote opens blob d from the cache, fetching it first if needed,
// for a reader within l whose content is at most bound bytes (-1: no
// bound but the cache's).
func (s *Store) openRemote(d Digest, l Limit, bound int64) (*os.File, error) {
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
		if down, why := r.Unreachable(); down {
			return nil, s.fail(d, ErrUnreadable, reasonUnreachable, why)
		}
		if err := r.fetch(d, fetchBound(bound)); err != nil {
			var big *tooLarge
			switch {
			case unreachable(err):
				o := &outage{until: time.Now().Add(r.backoff()), err: err}
				if old := r.down.Swap(o); old == nil || time.Now().After(old.until) {
					slog.Warn("external storage unreachable: uncached blob reads fail at once until it is tried again",
						"store", r.Objects.String(), "retry-after", r.backoff(), "err", err)
				}
				return nil, s.fail(d, ErrUnreadable, reasonUnreachable, err)
			case errors.Is(err, objstore.ErrNotExist):
				return nil, s.fail(d, ErrMissing, "not in "+r.Objects.String(), nil)
			case errors.As(err, &big) && !big.cache && l.Size > 0 && bound >= l.Size:
				return nil, s.fail(d, ErrBroken, fmt.Sprintf("size mismatch: %s (state records %d)", big, l.Size), nil)
			case errors.As(err, &big):
				return nil, s.fail(d, ErrTooLarge, big.Error(), nil)
			}
			return nil, s.fail(d, ErrUnreadable, "external storage", err)
		}
	}
}

func (r *Remote) backoff() time.Duration {
	if r.Backoff > 0 {
		return r.Backoff
	}
	return DefaultBackoff
}

func (r *Remote) touch(d Digest) {
	r.mu.Lock()
	if e, ok := r.byName[d]; ok {
		r.lru.MoveToFront(e)
	}
	r.mu.Unlock()
}

// fetch GETs blob d into the cache, taking at most bound bytes (-1: the
// cache's size), or joins a fetch of d under way (unless that one was
// refused for a smaller bound than this one).
func (r *Remote) fetch(d Digest, bound int64) error {
	r.mu.Lock()
	for {
		f, ok := r.flight[d]
		if !ok {
			break
		}
		r.mu.Unlock()
		<-f.done
		var big *tooLarge
		if !errors.As(f.err, &big) || !wider(bound, f.bound) {
			return f.err
		}
		r.mu.Lock()
	}
	f := &fetch{done: make(chan struct{}), bound: bound}
	r.flight[d] = f
	r.mu.Unlock()

	size, reserved, err := r.fill(d, bound)

	r.mu.Lock()
	delete(r.flight, d)
	r.bytes -= reserved
	if err == nil {
		if e, ok := r.byName[d]; ok {
			r.bytes -= e.Value.(*cacheEntry).size
			r.lru.Remove(e)
		}
		r.byName[d] = r.lru.PushFront(&cacheEntry{d, size})
		r.bytes += size
		r.evict(0)
	}
	if reserved > 0 {
		close(r.freed)
		r.freed = make(chan struct{})
	}
	r.mu.Unlock()
	f.err = err
	close(f.done)
	return err
}

// wider reports whether bound a allows more than bound b (-1: the cache's
// size, the widest).
func wider(a, b int64) bool { return b >= 0 && (a < 0 || a > b) }

// reserve takes n bytes of the cache for a fetch under way, evicting the
// least recently used files, and waits (within ctx) while the fetches
// under way hold the room.
func (r *Remote) reserve(ctx context.Context, n int64) error {
	for {
		r.mu.Lock()
		r.evict(n)
		if r.bytes+n <= r.MaxBytes {
			r.bytes += n
			r.mu.Unlock()
			return nil
		}
		freed := r.freed
		r.mu.Unlock()
		select {
		case <-freed:
		case <-ctx.Done():
			return fmt.Errorf("no room in the cache for %d bytes: %w", n, ctx.Err())
		}
	}
}

// fill writes the object of blob d to its cache file: temp name, every
// announced byte, rename; it returns the file's size and the bytes it
// reserved (the caller gives them back). It takes at most bound bytes (-1:
// the cache's size): a larger announced size is refused before reading, a
// body is read through the bound. A large object (over RangeMin) is
// fetched in ranges of RangeSize, RangeParallel at a time: the first from
// the GET that announced the size, the others with ranged GETs, each
// written at its offset; one range short or failed fails the whole fetch.
func (r *Remote) fill(d Digest, bound int64) (size, reserved int64, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), r.Timeout)
	defer cancel()
	limit, cache := bound, false
	if limit < 0 || limit >= r.MaxBytes {
		limit, cache = r.MaxBytes, true
	}
	dst := filepath.Join(r.Cache, filepath.FromSlash(d.RelPath()))
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return 0, 0, err
	}
	r.Gets.Add(1)
	rc, size, err := r.Objects.Get(ctx, d.RelPath())
	if err != nil {
		return 0, 0, err
	}
	defer rc.Close()
	if size > limit {
		// Refused on the announcement: not a byte of the body is read.
		return 0, 0, &tooLarge{size: size, bound: limit, cache: cache}
	}
	want := size
	if want < 0 {
		want = limit // not announced: room for the most it may be
	}
	if err := r.reserve(ctx, want); err != nil {
		return 0, 0, err
	}
	reserved = want
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+string(d)+".*")
	if err != nil {
		return 0, reserved, err
	}
	var n int64
	if size >= 0 && r.RangeMin > 0 && size > r.RangeMin {
		err = r.fillRanges(ctx, d, rc, size, tmp)
		n = size
	} else {
		// One byte more than expected tells "more" from "all".
		n, err = io.Copy(tmp, io.LimitReader(rc, want+1))
		switch {
		case err != nil:
		case size < 0 && n > limit:
			err = &tooLarge{size: -1, bound: limit, cache: cache}
		case size >= 0 && n > size:
			err = fmt.Errorf("more than the %d bytes announced", size)
		case size >= 0 && n != size:
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
		return 0, reserved, err
	}
	return n, reserved, nil
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

// prefetch starts fetching blob d (within bound bytes, see fetch) into
// the cache unless it is there, being fetched, or r.Prefetch fetches are
// under way (a hint, never waited for).
func (r *Remote) prefetch(d Digest, bound int64) {
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
		r.fetch(d, bound) // an error is the open's to report, when it comes
	}()
}

// evict removes least recently used files until the cache has room for
// n more bytes, or holds no file (r.mu held).
func (r *Remote) evict(n int64) {
	for r.bytes+n > r.MaxBytes && r.lru.Len() > 0 {
		e := r.lru.Back()
		ce := e.Value.(*cacheEntry)
		r.lru.Remove(e)
		delete(r.byName, ce.d)
		r.bytes -= ce.size
		os.Remove(filepath.Join(r.Cache, filepath.FromSlash(ce.d.RelPath())))
	}
}
