package scan

import (
	"fmt"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/mailbox"
)

// commitResult is the outcome of a group's commit.
type commitResult struct {
	items int // item files written
	err   error
}

// pendingMax is how many new items wait for one blob sync.
const pendingMax = 1024

// writeWorkers is how many blobs (and, in flush, item files) are written
// at once: compression takes a core each, and file creation in the kernel
// overlaps with it.
var writeWorkers = max(2, runtime.GOMAXPROCS(0))

// putAsync stores content, whose digest is d, in the background; the
// next waitPuts (flush) waits for it and reports its error.
func (a *acctScan) putAsync(d blob.Digest, content []byte) error {
	a.putMu.Lock()
	err, dup := a.putErr, a.putting[d]
	a.putting[d] = true
	a.putMu.Unlock()
	if err != nil || dup {
		return err
	}
	a.putSem <- struct{}{}
	wg := a.putWG
	wg.Add(1)
	go func() {
		defer func() { <-a.putSem; wg.Done() }()
		got, created, err := a.store.Put(content)
		if err == nil && got != d {
			err = fmt.Errorf("store blob %s: content changed while it was stored (now %s)", d, got)
		}
		a.putMu.Lock()
		defer a.putMu.Unlock()
		if err != nil && a.putErr == nil {
			a.putErr = &writeError{err}
		}
		if created {
			a.putNew++
		}
	}()
	return nil
}

// takePutErr counts the blobs putAsync created so far and returns its
// first error.
func (a *acctScan) takePutErr() error {
	a.putMu.Lock()
	defer a.putMu.Unlock()
	a.rep.BlobsNew += a.putNew
	a.rep.Written += a.putNew
	a.putNew = 0
	return a.putErr
}

// flush hands the current group (its blobs being written, its pending
// items) to a background commit: wait for the blobs, make them durable,
// then write the items (writeWorkers at a time). The previous group's
// commit is collected first, so at most one is in flight.
func (a *acctScan) flush() error {
	if err := a.collect(); err != nil {
		return err
	}
	if err := a.takePutErr(); err != nil {
		return err
	}
	if len(a.pending) == 0 {
		return nil
	}
	items := a.pending
	paths := make([]string, len(items))
	for i, it := range items {
		paths[i] = a.st.itemPaths[it.ID]
	}
	puts := a.putWG
	a.pending, a.putWG = nil, &sync.WaitGroup{}
	clear(a.putting)
	done := make(chan commitResult, 1)
	a.inflight = done
	go func() { done <- a.commit(puts, items, paths) }()
	return nil
}

// drain flushes and waits for every commit: the items pending so far
// are on disk afterwards (or the error says why not).
func (a *acctScan) drain() error {
	if err := a.flush(); err != nil {
		return err
	}
	if err := a.collect(); err != nil {
		return err
	}
	a.putWG.Wait() // puts of messages whose items were not queued (none normally)
	return a.takePutErr()
}

// collect waits for the commit in flight, if any, and counts its items.
func (a *acctScan) collect() error {
	if a.inflight == nil {
		return nil
	}
	r := <-a.inflight
	a.inflight = nil
	for range r.items {
		a.counted()
		a.rep.Items.New++ // pending items are new messages (add)
	}
	return r.err
}

// commit writes a group: blobs (awaited), one sync, item files.
func (a *acctScan) commit(puts *sync.WaitGroup, items []*mailbox.Item, paths []string) commitResult {
	puts.Wait()
	a.putMu.Lock()
	err := a.putErr
	a.putMu.Unlock()
	if err != nil {
		return commitResult{err: err}
	}
	if err := a.sync(); err != nil {
		return commitResult{err: err}
	}
	errs := make([]error, len(items))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(writeWorkers, len(items)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				errs[i] = a.writeItemFile(paths[i], items[i])
			}
		}()
	}
	for i := range items {
		next <- i
	}
	close(next)
	wg.Wait()
	r := commitResult{}
	for _, err := range errs {
		if err == nil {
			r.items++
		} else if r.err == nil {
			r.err = err
		}
	}
	return r
}

// sync flushes the Backup Path's file system (durable mode only).
func (a *acctScan) sync() error {
	if !a.durable {
		return nil
	}
	if err := syncFS(a.r.bp.Root); err != nil {
		return &writeError{fmt.Errorf("sync %s: %w", a.r.bp.Root, err)}
	}
	return nil
}

func (a *acctScan) writeItem(rel string, it *mailbox.Item) error {
	if err := a.writeItemFile(rel, it); err != nil {
		return err
	}
	a.counted()
	return nil
}

// writeItemFile writes an item file (safe for concurrent use).
func (a *acctScan) writeItemFile(rel string, it *mailbox.Item) error {
	b, err := it.Encode()
	if err != nil {
		return fmt.Errorf("encode item %d: %w", it.ID, err)
	}
	if err := a.wopt.WriteFile(filepath.Join(a.r.bp.Root, rel), b, 0o644); err != nil {
		return &writeError{fmt.Errorf("write item %d of %s: %w", it.ID, a.name, err)}
	}
	return nil
}

// counted counts an item file written.
func (a *acctScan) counted() {
	a.rep.Written++
	a.wrote = true
	a.sinceC++
}
