package blob

import "sync"

// ---- read-ahead of the blobs a reader will want next ----
//
// A cold cat of a folder of the mount reads one blob at a time, and the
// blobs of a folder are scattered over items/<2ch>/: without help, the
// disk waits for the decoder and the decoder for the disk. A Sequence is
// blobs in the order a reader is likely to read them (a folder's files in
// listing order); Prefetch fetches those after a position, in the
// background:
//
//   - every blob of the window gets posix_fadvise(WILLNEED) on its
//     compressed file as soon as it enters the window, so the disk has
//     them all queued while earlier ones decode (nothing is held in the
//     process for that: the pages are the kernel's);
//   - small blobs (<= CacheOptions.SmallBlob, size known) are then read
//     whole, in order, through ReadLimit, with the limit the Want gives
//     (the reader's own), into memory, where the reader finds them (a read
//     already under way is joined, not repeated). Large blobs are left to
//     the reader's stream.
//
// It is bounded: prefetchWorkers goroutines (started on demand, gone when
// idle), a window of at most prefetchFiles blobs and PrefetchBytes decoded
// bytes ahead of the reader (half the cache, so prefetched blobs are not
// evicted before they are read), and a queue of one sequence: a hint for
// another sequence, or a jump within the sequence, drops what was queued.
// Prefetch never waits for the queue: a hint only records and wakes (a
// reader whose blob a worker is reading at that moment joins that read).
// Its verdicts are the reader's own (same reads, same limits; a read is
// never cancelled half-way), so the health memo holds nothing a reader
// would not have put there.

const (
	prefetchWorkers = 2
	prefetchFiles   = 32
	prefetchQueue   = 64
)

// A Want is one blob of a Sequence.
type Want struct {
	Key    int    // the caller's name for it (an item id), which Prefetch's after refers to
	Digest Digest // the blob
	Limit  Limit  // what the reader will read it with
	Size   int64  // its decoded size as the caller knows it (<= 0: unknown; then only advised)
}

// A Sequence is blobs in the order a reader is likely to read them, and
// how far ahead of the reader Prefetch went. Its list is computed by load
// on first use (by a read-ahead worker, never by Prefetch's caller).
type Sequence struct {
	load func() ([]Want, error)

	lmu    sync.Mutex // the list: loaded once, until Forget
	loaded bool
	wants  []Want
	pos    map[int]int // Key -> position in wants
	err    error

	mu   sync.Mutex
	next int // first position not yet handed out
}

// NewSequence returns the Sequence that load lists.
func NewSequence(load func() ([]Want, error)) *Sequence {
	return &Sequence{load: load}
}

// list returns the Sequence's list, loading it on first use (and on the
// first use after Forget). The slices returned are never changed.
func (s *Sequence) list() ([]Want, map[int]int, error) {
	s.lmu.Lock()
	defer s.lmu.Unlock()
	if !s.loaded {
		s.wants, s.err = s.load()
		s.pos = make(map[int]int, len(s.wants))
		for k, w := range s.wants {
			s.pos[w.Key] = k
		}
		s.loaded = true
	}
	return s.wants, s.pos, s.err
}

// Forget drops the list (its memory: a folder of 100,000 files lists
// 100,000 Wants); the next use loads it again. How far read-ahead went is
// kept. For a caller whose own listing was dropped.
func (s *Sequence) Forget() {
	s.lmu.Lock()
	defer s.lmu.Unlock()
	s.loaded, s.wants, s.pos, s.err = false, nil, nil, nil
}

// job is one blob to fetch ahead.
type job struct {
	Want
	whole bool // read whole into memory (all are advised when planned)
}

// hint asks for read-ahead after the Want named after (-1: from the start).
type hint struct {
	seq   *Sequence
	after int
}

type prefetcher struct {
	c *Cache

	mu      sync.Mutex
	hint    *hint // latest unplanned hint
	seq     *Sequence
	queue   []job
	running int
}

// PrefetchBytes is how many decoded bytes of small blobs may be fetched
// ahead of a reader.
func (c *Cache) PrefetchBytes() int64 { return min(c.opt.MaxBytes/2, 16<<20) }

// Prefetch asks for the blobs of seq after the one whose Key is after (a
// reader opened it), or from the first one if after < 0 (a reader listed
// them), to be fetched in the background. It records a hint and wakes a
// worker; it never blocks on I/O. Blobs on a remote tier are fetched
// ahead only for a reader that opened one: a listing must not fetch them.
func (c *Cache) Prefetch(seq *Sequence, after int) {
	if c.opt.Unavailable != nil || c.opt.NoPrefetch {
		return
	}
	if after < 0 && c.store.Remote() != nil {
		return
	}
	p := &c.pf
	p.mu.Lock()
	p.hint = &hint{seq: seq, after: after}
	if p.running < prefetchWorkers {
		p.running++
		go p.work()
	}
	p.mu.Unlock()
}

// PrefetchIdle reports whether no read-ahead worker is running.
func (c *Cache) PrefetchIdle() bool {
	c.pf.mu.Lock()
	defer c.pf.mu.Unlock()
	return c.pf.running == 0
}

func (p *prefetcher) work() {
	for {
		p.mu.Lock()
		if h := p.hint; h != nil {
			p.hint = nil
			p.mu.Unlock()
			jobs, jump := p.c.plan(h) // may load the list: outside the lock
			// Ask the kernel for every blob of the window at once, so the
			// disk has them all queued while the workers decode in order.
			for _, j := range jobs {
				p.c.store.WillNeedLimit(j.Digest, j.Limit)
			}
			p.mu.Lock()
			// Queued even if a newer hint came meanwhile: the sequence's
			// cursor has moved past these blobs. The newer hint, if for
			// another sequence, drops them when it is planned.
			if p.seq != h.seq || jump {
				p.queue = p.queue[:0]
				p.seq = h.seq
			}
			p.queue = append(p.queue, jobs...)
			if len(p.queue) > prefetchQueue {
				p.queue = p.queue[len(p.queue)-prefetchQueue:]
			}
		}
		if len(p.queue) == 0 && p.hint == nil {
			p.running--
			p.mu.Unlock()
			return
		}
		if len(p.queue) == 0 {
			p.mu.Unlock()
			continue
		}
		j := p.queue[0]
		p.queue = p.queue[1:]
		p.mu.Unlock()
		err := p.c.fetch(j)
		if p.c.opt.Prefetched != nil {
			p.c.opt.Prefetched(j.Want, j.whole, err)
		}
	}
}

// fetch does one job.
func (c *Cache) fetch(j job) error {
	if !j.whole {
		return nil // advised when planned
	}
	if _, ok := c.lru.get(string(j.Digest)); ok {
		return nil
	}
	if _, ok := c.health.get(j.Digest, j.Limit.Size); ok {
		return nil // known: sound ones were read already, broken ones fail anyway
	}
	_, err := c.ReadLimit(j.Digest, j.Limit)
	return err
}

// plan returns the jobs for the blobs after h's position in listing
// order, within the window, leaving out those already handed out unless
// the reader jumped (then jump is true: what was queued for this sequence
// is not wanted any more).
func (c *Cache) plan(h *hint) (jobs []job, jump bool) {
	s := h.seq
	wants, pos, err := s.list()
	if err != nil {
		return nil, false
	}
	start := 0
	if h.after >= 0 {
		k, ok := pos[h.after]
		if !ok {
			return nil, false
		}
		start = k + 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	from := s.next
	if from < start || from > start+prefetchFiles {
		from, jump = start, true // a jump (or the first hint): start over here
	}
	small, window := c.opt.SmallBlob, c.PrefetchBytes()
	var ahead int64
	k := start
	for ; k < len(wants) && k < start+prefetchFiles; k++ {
		w := wants[k]
		if w.Size > 0 {
			ahead += min(w.Size, small)
		}
		if ahead > window && k > start {
			break
		}
		if k < from {
			continue
		}
		jobs = append(jobs, job{Want: w, whole: w.Size > 0 && w.Size <= small})
	}
	if jump {
		s.next = k
	} else {
		s.next = max(s.next, k)
	}
	return jobs, jump
}
