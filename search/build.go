package search

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/internal/pathlock"
	"github.com/cbfs/cbfs/mailbox"
)

// Options of Build.
type Options struct {
	// Workers read and parse messages at once (0: GOMAXPROCS).
	Workers int
	// Rebuild ignores the index file there is and indexes every message
	// again.
	Rebuild bool
	// Progress, if set, is called now and then from one goroutine.
	Progress func(Progress)
}

// Progress is how far a Build is.
type Progress struct {
	Phase        string // "items" (reading item files), "messages" (indexing new blobs), "writing"
	Accounts     int    // accounts of the path
	AccountsDone int
	Messages     int // new blobs to index
	MessagesDone int
	Bytes        int64 // decompressed bytes read so far
}

// Report is what a Build did.
type Report struct {
	Accounts        int    `json:"accounts"`
	AccountErrors   int    `json:"accountErrors"` // account_info or item listing unreadable: left out
	Items           int    `json:"items"`         // message items indexed
	ItemErrors      int    `json:"itemErrors"`    // item files unreadable: left out
	States          int    `json:"states"`        // their message states
	Messages        int    `json:"messages"`      // distinct blobs (documents)
	Indexed         int    `json:"indexed"`       // of which read in this build
	Reused          int    `json:"reused"`        // of which taken from the index there was
	Dropped         int    `json:"dropped"`       // documents of the index there was that no state names any more
	Truncated       int    `json:"truncated"`     // documents indexed in part (bounds)
	Broken          int    `json:"broken"`        // blobs unreadable or broken: only what came before the fault is indexed (retried next build)
	BytesRead       int64  `json:"bytesRead"`     // decompressed bytes read
	Terms           int    `json:"terms"`
	IndexBytes      int64  `json:"indexBytes"` // size of the index file
	ElapsedMillis   int64  `json:"elapsedMs"`
	PreviousIgnored string `json:"previousIgnored,omitempty"` // why the index there was could not be reused
}

// stateRec is one message state as Build collects it.
type stateRec struct {
	account  uint32
	folder   uint32 // index in Meta.Folders
	folderID int
	item     int
	digest   blob.Digest
	size     int64
	start    int64
	flags    uint32
	dirName  string
	doc      uint32
}

// State flags.
const (
	stDeleted = 1 << iota
	stUnread
	stFlagged
)

const noDoc = ^uint32(0)

// Build writes (or refreshes) the search index of p at file: every
// message state of every account, every distinct blob parsed once. Blobs
// indexed by the file there was are not read again (a blob never
// changes: it is named by its digest); states are always read afresh.
// The file is replaced atomically, so readers of the old one are never
// disturbed; a lock beside it (file + ".lock") keeps two builds apart.
func Build(ctx context.Context, p *backuppath.Path, file string, opt Options) (*Report, error) {
	began := time.Now()
	if opt.Workers <= 0 {
		opt.Workers = runtime.GOMAXPROCS(0)
	}
	progress := opt.Progress
	if progress == nil {
		progress = func(Progress) {}
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return nil, fmt.Errorf("search index folder: %w", err)
	}
	lock, err := pathlock.Take(file+".lock", "search index build")
	if err != nil {
		return nil, err
	}
	defer lock.Release()

	rep := &Report{}
	var old *Index
	if !opt.Rebuild {
		switch o, err := Open(file); {
		case err == nil:
			if o.meta.Root != p.Root {
				rep.PreviousIgnored = fmt.Sprintf("it indexes %s", o.meta.Root)
				o.Close()
			} else {
				old = o
				defer old.Close()
			}
		case !errors.Is(err, os.ErrNotExist):
			rep.PreviousIgnored = err.Error()
		}
	}

	// 1. Every message state.
	entries, err := p.Accounts()
	if err != nil {
		return nil, err
	}
	var accts []mailbox.Account
	for _, e := range entries {
		if e.Err != nil || e.Account == nil {
			rep.AccountErrors++
			continue
		}
		accts = append(accts, *e.Account)
	}
	names := mailbox.ListingNames(accts)
	meta := Meta{Version: FormatVersion, Root: p.Root}
	folderIdx := map[string]uint32{}
	var states []stateRec
	prog := Progress{Phase: "items", Accounts: len(accts)}
	progress(prog)
	for ai, a := range accts {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		meta.Accounts = append(meta.Accounts, AccountInfo{ID: a.ID, Name: a.Name, Listing: names[ai]})
		st, items, bad, err := accountStates(ctx, p, a.ID, uint32(ai), folderIdx)
		if err != nil {
			rep.AccountErrors++
		}
		rep.Items += items
		rep.ItemErrors += bad
		states = append(states, st...)
		prog.AccountsDone++
		progress(prog)
	}
	rep.Accounts = len(accts)
	rep.States = len(states)

	// 2. The documents: one per distinct digest, those of the old index
	// first (in its order), then the new ones.
	sizes := map[blob.Digest]int64{}
	for _, s := range states {
		if s.digest != "" {
			sizes[s.digest] = max(sizes[s.digest], s.size)
		}
	}
	b := newBuilder()
	docOf := map[blob.Digest]uint32{}
	if old != nil && !b.reuse(old, sizes, docOf, rep) {
		b, docOf = newBuilder(), map[blob.Digest]uint32{}
	}
	var todo []blob.Digest
	for d := range sizes {
		if _, ok := docOf[d]; !ok {
			todo = append(todo, d)
		}
	}
	slices.Sort(todo)
	prog = Progress{Phase: "messages", Accounts: len(accts), AccountsDone: len(accts), Messages: len(todo)}
	progress(prog)
	if err := b.index(ctx, p.Blobs, todo, sizes, opt.Workers, docOf, rep, func(done int, bytes int64) {
		prog.MessagesDone, prog.Bytes = done, bytes
		progress(prog)
	}); err != nil {
		return nil, err
	}
	rep.Indexed = len(todo)
	rep.Messages = len(b.docs)
	for _, d := range b.docs {
		if d.flags&docTruncated != 0 {
			rep.Truncated++
		}
		if d.flags&docBroken != 0 {
			rep.Broken++
		}
	}

	// 3. Write.
	prog.Phase = "writing"
	progress(prog)
	for i := range states {
		states[i].doc = noDoc
		if id, ok := docOf[states[i].digest]; ok {
			states[i].doc = id
		}
	}
	sort.SliceStable(states, func(i, j int) bool { return states[i].doc < states[j].doc })
	meta.Folders = make([]string, len(folderIdx))
	for f, i := range folderIdx {
		meta.Folders[i] = f
	}
	meta.Built = time.Now().UTC()
	n, terms, err := b.write(file, &meta, states)
	if err != nil {
		return nil, err
	}
	rep.Terms = terms
	rep.IndexBytes = n
	rep.ElapsedMillis = time.Since(began).Milliseconds()
	return rep, nil
}

// reuse takes the documents of the old index that a state still names
// (and that were read whole); false if the old index turns out damaged
// (rep says why: everything is read again).
func (b *builder) reuse(old *Index, sizes map[blob.Digest]int64, docOf map[blob.Digest]uint32, rep *Report) (ok bool) {
	defer func() {
		if r := recover(); r != nil { // a table that lies about its lengths
			rep.PreviousIgnored, ok = fmt.Sprintf("%v: %v", ErrCorrupt, r), false
		}
		if !ok {
			rep.Reused, rep.Dropped = 0, 0
		}
	}()
	keep := make([]uint32, old.nDocs) // old doc -> new doc + 1 (0: dropped)
	for i := 0; i < old.nDocs; i++ {
		dr := old.docRec(uint32(i))
		d := blob.Digest(dr.digest)
		if _, used := sizes[d]; !used || dr.flags&docBroken != 0 {
			rep.Dropped++
			continue
		}
		if _, dup := docOf[d]; dup {
			return false
		}
		id := b.addDocInfo(dr.info)
		docOf[d] = id
		keep[i] = id + 1
		rep.Reused++
	}
	if err := b.copyPostings(old, keep); err != nil {
		rep.PreviousIgnored = err.Error()
		return false
	}
	return true
}

// accountStates reads the account's item files: the states of its
// messages, and its folders (to name them). items is the number of
// message items, bad the item files that could not be read.
func accountStates(ctx context.Context, p *backuppath.Path, id string, acct uint32, folderIdx map[string]uint32) (out []stateRec, items, bad int, err error) {
	files, _, err := p.ItemFiles(id)
	if err != nil {
		return nil, 0, 0, err
	}
	its := make([]*mailbox.Item, len(files))
	errs := make([]bool, len(files))
	backuppath.Parallel(len(files), func(i int) {
		if ctx.Err() != nil || (i > 0 && files[i-1].ItemID == files[i].ItemID) {
			return // a duplicate: the first is the copy that counts
		}
		it, err := p.ReadItemFile(files[i].RelPath, files[i].ItemID)
		if err != nil {
			errs[i] = true
			return
		}
		its[i] = it
	})
	if err := ctx.Err(); err != nil {
		return nil, 0, 0, err
	}
	var found []mailbox.Folder
	for i, it := range its {
		if errs[i] {
			bad++
		}
		if it == nil {
			continue
		}
		if s := mailbox.FolderAt(it, time.Time{}); s != nil {
			found = append(found, mailbox.Folder{ID: it.ID, ParentID: s.ParentID, Name: s.Name})
		}
	}
	paths := map[int]string{}
	for _, f := range mailbox.FolderTree(found) {
		paths[f.ID] = "/" + f.Path
	}
	for _, it := range its {
		if it == nil {
			continue
		}
		dirs := mailbox.StateDirNames(it.States)
		message := false
		for i, s := range it.States {
			if s.Type != mailbox.TypeMessage {
				continue
			}
			message = true
			fp, ok := paths[s.FolderID]
			if !ok {
				fp = "/" + strconv.Itoa(s.FolderID)
			}
			fi, ok := folderIdx[fp]
			if !ok {
				fi = uint32(len(folderIdx))
				folderIdx[fp] = fi
			}
			var fl uint32
			if s.Deleted {
				fl |= stDeleted
			}
			if strings.ContainsRune(s.Flags, 'u') {
				fl |= stUnread
			}
			if strings.ContainsRune(s.Flags, 'f') {
				fl |= stFlagged
			}
			out = append(out, stateRec{account: acct, folder: fi, folderID: s.FolderID, item: it.ID,
				digest: s.Digest, size: s.Size, start: s.Start.Time().UnixMilli(), flags: fl, dirName: dirs[i]})
		}
		if message {
			items++
		}
	}
	return out, items, bad, nil
}

// docInfo is what a document keeps besides its words.
type docInfo struct {
	digest  string
	subject string
	from    string
	words   uint32
	flags   uint32
	date    int64
}

// plist is one term's postings while building: (doc delta, frequency,
// position deltas) as uvarints.
type plist struct {
	buf  []byte
	last uint32
	df   uint32
}

type builder struct {
	docs  []docInfo
	terms map[string]*plist
}

func newBuilder() *builder { return &builder{terms: make(map[string]*plist, 1<<16)} }

func (b *builder) addDocInfo(d docInfo) uint32 {
	b.docs = append(b.docs, d)
	return uint32(len(b.docs) - 1)
}

func (b *builder) post(term string, doc uint32, pos []uint32) {
	pl := b.terms[term]
	if pl == nil {
		pl = &plist{}
		b.terms[term] = pl
	}
	pl.buf = binary.AppendUvarint(pl.buf, uint64(doc-pl.last))
	pl.last = doc
	pl.df++
	pl.buf = binary.AppendUvarint(pl.buf, uint64(len(pos)))
	var prev uint32
	for _, p := range pos {
		pl.buf = binary.AppendUvarint(pl.buf, uint64(p-prev))
		prev = p
	}
}

// copyPostings takes the postings of the old index's kept documents.
func (b *builder) copyPostings(old *Index, keep []uint32) error {
	var pos []uint32
	for t := 0; t < old.nTerms; t++ {
		term, pr, err := old.termAt(t)
		if err != nil {
			return err
		}
		for pr.next() {
			nd := uint32(0)
			if int(pr.doc) < len(keep) {
				nd = keep[pr.doc]
			}
			if nd == 0 {
				continue
			}
			pos = pr.positions(pos[:0])
			b.post(term, nd-1, pos)
		}
		if pr.err != nil {
			return pr.err
		}
	}
	return nil
}

// index reads and parses the blobs todo, workers at a time, and adds them
// in todo's order (postings stay sorted by document). The adding runs
// beside the workers, never between them: a worker takes the next blob
// as soon as it is done with one, and at most window parsed messages wait
// to be added (their memory is bounded).
func (b *builder) index(ctx context.Context, store *blob.Store, todo []blob.Digest, sizes map[blob.Digest]int64, workers int, docOf map[blob.Digest]uint32, rep *Report, progress func(int, int64)) error {
	if len(todo) == 0 {
		return nil
	}
	type result struct {
		d     *docTerms
		err   error
		bytes int64
	}
	window := 8 * workers
	// Message i's result goes to ring[i%window]: message i+window is
	// handed out only once message i is added (slots), so a slot holds
	// one result at a time and a worker never waits to put it.
	ring := make([]chan result, window)
	for i := range ring {
		ring[i] = make(chan result, 1)
	}
	slots := make(chan struct{}, window)
	jobs := make(chan int)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	go func() {
		defer close(jobs)
		for i := range todo {
			select {
			case slots <- struct{}{}:
			case <-stop:
				return
			}
			select {
			case jobs <- i:
			case <-stop:
				return
			}
		}
	}()
	for w := 0; w < min(workers, len(todo)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				d := todo[i]
				var r result
				r.d, r.bytes, r.err = readDoc(store, d, sizes[d])
				ring[i%window] <- r
			}
		}()
	}
	defer func() {
		close(stop)
		wg.Wait()
	}()
	var bytes int64
	for i, d := range todo {
		var r result
		select {
		case r = <-ring[i%window]:
		case <-ctx.Done():
			return ctx.Err()
		}
		<-slots
		info := docInfo{digest: string(d), subject: r.d.subject, from: clip(r.d.from, 200), words: r.d.words, flags: r.d.flags, date: r.d.date}
		if r.err != nil {
			info.flags |= docBroken
		}
		id := b.addDocInfo(info)
		docOf[d] = id
		for k := range r.d.n {
			b.post(r.d.names[k], id, r.d.lists[k])
		}
		bytes += r.bytes
		r.d.release()
		if (i+1)%256 == 0 || i+1 == len(todo) {
			rep.BytesRead = bytes
			progress(i+1, bytes)
		}
	}
	return ctx.Err()
}

// readDoc parses blob d, read within its recorded size and MaxRead.
func readDoc(store *blob.Store, d blob.Digest, size int64) (*docTerms, int64, error) {
	rc, err := store.OpenLimit(d, blob.Limit{Size: size})
	if err != nil {
		return newDocTerms(), 0, err
	}
	defer rc.Close()
	cr := &countReader{r: rc}
	dt, err := extract(cr)
	if err == nil && dt.flags&docTruncated == 0 {
		// Read to the end, so that the stream checks the digest (a
		// mismatch is a broken blob, indexed as far as it went).
		_, err = io.Copy(io.Discard, io.LimitReader(cr, MaxRead-cr.n+1))
		if cr.n > MaxRead {
			dt.flags |= docTruncated
		}
	}
	if err != nil {
		dt.flags |= docBroken
	}
	return dt, cr.n, err
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
