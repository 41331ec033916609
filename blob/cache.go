package blob

import (
	"container/list"
	"errors"
	"strconv"
	"sync"
)

// Cache is a cached, verifying view of a Store for a reader that asks for
// the same blobs again and again (the mount): whole reads of small blobs
// kept in a byte-bounded LRU, one read per blob and limit at a time
// (a second reader joins the first, as restic's bloblru GetOrCompute), each
// blob's health remembered, read-ahead of the blobs a reader will want
// next (prefetch.go), and a window over a large blob's stream (window.go).
//
// Blobs are immutable, so nothing it holds ever goes stale. Its locks are
// held only around map and list updates, never during I/O. It is safe for
// concurrent use.
type Cache struct {
	store *Store
	opt   CacheOptions

	lru    *lru
	health healthMemo
	flight flights
	pf     prefetcher
}

// CacheOptions tune a Cache. Zero values take the defaults.
type CacheOptions struct {
	// MaxBytes bounds the decoded blobs (and salvages) kept in memory
	// (default DefaultMemoryBytes). A blob over a quarter of it is never
	// kept; half of it is the read-ahead's window.
	MaxBytes int64
	// SmallBlob: the read-ahead reads blobs up to this many decoded bytes
	// whole into the cache, and only advises the kernel of bigger ones
	// (default DefaultSmallBlob).
	SmallBlob int64
	// Unavailable, if set, is the answer to every read and check: the
	// blobs are not kept where the store looks (a Backup Path without
	// items/). Nothing is then read ahead.
	Unavailable error
	// NoPrefetch turns Prefetch off.
	NoPrefetch bool
	// Prefetched, if set, is called after each blob the read-ahead handled,
	// with whether it was read whole and how (tests, tracing).
	Prefetched func(w Want, whole bool, err error)
}

// Cache defaults.
const (
	DefaultMemoryBytes = 16 << 20
	DefaultSmallBlob   = 1 << 20
)

// NewCache returns a Cache over s.
func NewCache(s *Store, opt CacheOptions) *Cache {
	if opt.MaxBytes <= 0 {
		opt.MaxBytes = DefaultMemoryBytes
	}
	if opt.SmallBlob <= 0 {
		opt.SmallBlob = DefaultSmallBlob
	}
	c := &Cache{store: s, opt: opt, lru: newLRU(opt.MaxBytes)}
	c.pf.c = c
	return c
}

// Store is the store the cache reads.
func (c *Cache) Store() *Store { return c.store }

// Cached reports whether blob d's decoded content is in memory.
func (c *Cache) Cached(d Digest) bool {
	_, ok := c.lru.get(string(d))
	return ok
}

// CachedBytes is how many decoded bytes are held in memory.
func (c *Cache) CachedBytes() int64 {
	c.lru.mu.Lock()
	defer c.lru.mu.Unlock()
	return c.lru.used
}

// ReadLimit returns blob d decompressed and verified within l (Store's
// ReadLimit), from memory when it is there. A blob longer than the
// state's recorded size is broken, and is found so after inflating at most
// that size (plus a margin). A reader of a blob another reader (or the
// read-ahead) is reading with the same limit waits for that read instead
// of repeating it. The verdict is remembered for Health.
func (c *Cache) ReadLimit(d Digest, l Limit) ([]byte, error) {
	if c.opt.Unavailable != nil {
		return nil, c.opt.Unavailable
	}
	if b, ok := c.lru.get(string(d)); ok {
		if (l.Size <= 0 || int64(len(b)) <= l.Size) && (l.Max <= 0 || int64(len(b)) <= l.Max) {
			return b, nil
		}
		// Cached for a state that records more: this one is wrong about
		// it. Reading again stops just past the bound and says why.
	}
	return c.flight.do(flightKey{d, l}, func() ([]byte, error) {
		b, err := c.store.ReadLimit(d, l)
		if !errors.Is(err, ErrTooLarge) {
			c.health.put(d, l.Size, err)
		}
		if err != nil {
			return nil, err
		}
		c.lru.add(string(d), b)
		return b, nil
	})
}

// Health is nil for a sound blob d, else its *Error (missing, unreadable,
// or broken with its reason), for a state recording size (0: none; see
// Limit): the same blob is sound for a state recording its true size and
// broken for one recording less. It decompresses the blob once, with
// bounded buffers, then remembers.
func (c *Cache) Health(d Digest, size int64) error {
	if c.opt.Unavailable != nil {
		return c.opt.Unavailable
	}
	if err, ok := c.health.get(d, size); ok {
		return err
	}
	if b, ok := c.lru.get(string(d)); ok && (size <= 0 || int64(len(b)) <= size) {
		return nil
	}
	err := c.store.CheckLimit(d, Limit{Size: max(size, 0)})
	c.health.put(d, size, err)
	return err
}

// Known is the remembered health of blob d for a state recording size, if
// Health, ReadLimit, a Window or the read-ahead found it already.
func (c *Cache) Known(d Digest, size int64) (error, bool) {
	return c.health.get(d, size)
}

// SalvageLimit is what can be salvaged of blob d for a state recording
// size (0: none): at most min(size, SalvageMax) bytes, never nil. It is
// kept in memory like a whole read.
func (c *Cache) SalvageLimit(d Digest, size int64) []byte {
	key := "partial:" + string(d) + ":" + strconv.FormatInt(size, 10)
	if b, ok := c.lru.get(key); ok {
		return b
	}
	var b []byte
	if c.opt.Unavailable == nil {
		b, _ = c.store.SalvageLimit(d, Limit{Size: max(size, 0)})
	}
	if b == nil {
		b = []byte{}
	}
	c.lru.add(key, b)
	return b
}

// ---- the byte-bounded LRU ----

// lru holds decoded blobs, bounded by bytes.
type lru struct {
	mu   sync.Mutex
	max  int64
	used int64
	ll   *list.List
	m    map[string]*list.Element
}

type lruEntry struct {
	key  string
	data []byte
}

func newLRU(max int64) *lru {
	return &lru{max: max, ll: list.New(), m: map[string]*list.Element{}}
}

func (c *lru) get(key string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[key]; ok {
		c.ll.MoveToFront(e)
		return e.Value.(*lruEntry).data, true
	}
	return nil, false
}

func (c *lru) add(key string, data []byte) {
	if int64(len(data)) > c.max/4 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[key]; ok {
		return
	}
	c.m[key] = c.ll.PushFront(&lruEntry{key, data})
	c.used += int64(len(data))
	for c.used > c.max {
		e := c.ll.Back()
		ent := e.Value.(*lruEntry)
		c.ll.Remove(e)
		delete(c.m, ent.key)
		c.used -= int64(len(ent.data))
	}
}

// ---- the health memo ----

// healthMemo remembers each checked blob's class (nil, or its *Error),
// bounded by dropping it whole when full. The key is the digest with the
// size the state records (0: none).
type healthMemo struct {
	mu sync.Mutex
	m  map[healthKey]error
}

type healthKey struct {
	d    Digest
	size int64
}

const healthMax = 1 << 16

func (h *healthMemo) get(d Digest, size int64) (error, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	err, ok := h.m[healthKey{d, max(size, 0)}]
	return err, ok
}

func (h *healthMemo) put(d Digest, size int64, err error) {
	if Transient(err) {
		return // the store may answer next time: not the blob's health
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.m == nil || len(h.m) >= healthMax {
		h.m = map[healthKey]error{}
	}
	h.m[healthKey{d, max(size, 0)}] = err
}

// ---- one read of a blob at a time ----

// flight is a whole read under way, which a second reader of the same blob
// with the same limit joins instead of reading again.
type flight struct {
	done chan struct{}
	data []byte
	err  error
}

type flightKey struct {
	d   Digest
	lim Limit
}

type flights struct {
	mu sync.Mutex
	m  map[flightKey]*flight
}

// do runs read once for key among concurrent callers.
func (fl *flights) do(key flightKey, read func() ([]byte, error)) ([]byte, error) {
	fl.mu.Lock()
	if c, ok := fl.m[key]; ok {
		fl.mu.Unlock()
		<-c.done
		return c.data, c.err
	}
	if fl.m == nil {
		fl.m = map[flightKey]*flight{}
	}
	c := &flight{done: make(chan struct{})}
	fl.m[key] = c
	fl.mu.Unlock()
	defer func() {
		fl.mu.Lock()
		delete(fl.m, key)
		fl.mu.Unlock()
		close(c.done)
	}()
	c.data, c.err = read()
	return c.data, c.err
}
