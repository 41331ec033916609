package fusefs

import (
	"sort"
	"sync"

	"github.com/cbfs/cbfs/blob"
)

// ---- read-ahead of a folder's next files ----
//
// A cold cat of a folder reads one blob at a time, and the blobs of a
// folder are scattered over items/<2ch>/: without help, the disk waits for
// the decoder and the decoder for the disk. When a folder of folders/ or
// at/ is listed, or one of its files is opened, the prefetcher fetches the
// files that follow in listing order, in the background:
//
//   - every file of the window gets posix_fadvise(WILLNEED) on its
//     compressed file as soon as it enters the window, so the disk has
//     them all queued while earlier files decode (nothing is held in the
//     process for that: the pages are the kernel's);
//   - small blobs (<= Options.SmallBlob, size recorded) are then read whole,
//     in order, through readWhole, with the same blob.Limit the open would
//     use, into the byte-bounded cache, where the open finds them (a read
//     already under way is joined, not repeated). Large blobs are left to
//     the stream handle.
//
// It is bounded: raWorkers goroutines (started on demand, gone when idle),
// a window of at most raFiles files and raBytes() decoded bytes ahead of the
// reader (half the cache, so prefetched blobs are not evicted before they
// are read), and a queue of one folder: a hint for another folder, or a
// jump within the folder, drops what was queued. No FUSE call ever waits
// for the queue: hints only record and wake (an open whose blob a worker
// is reading at that moment joins that read). Its verdicts are the open's
// own (same reads, same limits; a read is never cancelled half-way), so the
// health cache holds nothing an open would not have put there.

const (
	raWorkers = 2
	raFiles   = 32
	raQueue   = 64
)

// raBytes is how many decoded bytes of small files may be fetched ahead.
func (f *FS) raBytes() int64 { return min(f.opt.CacheBytes/2, 16<<20) }

// raJob is one file to fetch ahead.
type raJob struct {
	d      blob.Digest
	lim    blob.Limit
	size   int64 // decoded size as the file says (-1: unknown)
	whole  bool  // read whole into the cache (all are advised when planned)
	folder *folderDir
}

// raHint asks for read-ahead after position pos (-1: from the start) of
// folder d's listing.
type raHint struct {
	d  *folderDir
	id int // item id opened (-1: the folder was listed)
}

type prefetcher struct {
	f *FS

	mu      sync.Mutex
	hint    *raHint // latest unplanned hint
	folder  *folderDir
	queue   []raJob
	running int

	// tests
	done func(raJob, error)
}

// readAhead records a hint and wakes a worker; it never blocks on I/O.
func (f *FS) readAhead(d *folderDir, id int) {
	if f.blobless || f.opt.NoReadAhead {
		return
	}
	if id < 0 && f.store.Remote() != nil {
		return // blobs on an object store: a listing must not fetch them (opens do)
	}
	p := &f.ra
	p.mu.Lock()
	p.hint = &raHint{d: d, id: id}
	if p.running < raWorkers {
		p.running++
		go p.work()
	}
	p.mu.Unlock()
}

func (p *prefetcher) work() {
	for {
		p.mu.Lock()
		if h := p.hint; h != nil {
			p.hint = nil
			p.mu.Unlock()
			jobs, jump := h.d.plan(h.id) // may load the listing: outside the lock
			// Ask the kernel for every file of the window at once, so the
			// disk has them all queued while the workers decode in order.
			for _, j := range jobs {
				p.f.store.WillNeedLimit(j.d, j.lim)
			}
			p.mu.Lock()
			// Queued even if a newer hint came meanwhile: the folder's
			// cursor has moved past these files. The newer hint, if for
			// another folder, drops them when it is planned.
			if p.folder != h.d || jump {
				p.queue = p.queue[:0]
				p.folder = h.d
			}
			p.queue = append(p.queue, jobs...)
			if len(p.queue) > raQueue {
				p.queue = p.queue[len(p.queue)-raQueue:]
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
		err := p.f.fetch(j)
		if p.done != nil {
			p.done(j, err)
		}
	}
}

// fetch does one job.
func (f *FS) fetch(j raJob) error {
	if !j.whole {
		return nil // advised when planned
	}
	if _, ok := f.cache.get(string(j.d)); ok {
		return nil
	}
	if _, ok := f.health.get(j.d, j.lim.Size); ok {
		return nil // known: sound ones were read already, broken ones fail anyway
	}
	_, err := f.readWhole(j.d, j.lim)
	return err
}

// raState is a folder's read-ahead cursor: the listing order of its files
// and how far ahead jobs were handed out.
type raState struct {
	mu    sync.Mutex
	once  sync.Once
	order []int       // indices into files, by file name
	pos   map[int]int // item id -> position in order
	next  int         // first position not yet handed out
}

// plan returns the jobs for the files after item id (-1: from the first)
// in listing order, within the window, leaving out those already handed
// out unless the reader jumped (then jump is true: what was queued for
// this folder is not wanted any more).
func (d *folderDir) plan(id int) (jobs []raJob, jump bool) {
	if d.loadFiles() != nil {
		return nil, false
	}
	ra := &d.ra
	ra.once.Do(func() {
		names := make([]string, 0, len(d.byName))
		for name := range d.byName {
			names = append(names, name)
		}
		sort.Strings(names)
		ra.order = make([]int, len(names))
		ra.pos = make(map[int]int, len(names))
		for k, name := range names {
			i := d.byName[name]
			ra.order[k] = i
			ra.pos[d.files[i].id] = k
		}
	})
	start := 0
	if id >= 0 {
		k, ok := ra.pos[id]
		if !ok {
			return nil, false
		}
		start = k + 1
	}
	ra.mu.Lock()
	defer ra.mu.Unlock()
	from := ra.next
	if from < start || from > start+raFiles {
		from, jump = start, true // a jump (or the first hint): start over here
	}
	f := d.fsys
	var ahead int64
	k := start
	for ; k < len(ra.order) && k < start+raFiles; k++ {
		r := d.files[ra.order[k]]
		size := r.cs.Size
		whole := size > 0 && size <= f.opt.SmallBlob
		if size > 0 {
			ahead += min(size, f.opt.SmallBlob)
		}
		if ahead > f.raBytes() && k > start {
			break
		}
		if k < from {
			continue
		}
		jobs = append(jobs, raJob{d: r.cs.Digest, lim: blob.Limit{Size: max(r.cs.Size, 0)}, size: size, whole: whole, folder: d})
	}
	if jump {
		ra.next = k
	} else {
		ra.next = max(ra.next, k)
	}
	return jobs, jump
}

// ---- one read of a blob at a time ----

// flight is a readWhole under way, which a second reader of the same blob
// with the same limit joins instead of reading again.
type flight struct {
	done chan struct{}
	data []byte
	err  error
}

type flightKey struct {
	d   blob.Digest
	lim blob.Limit
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
