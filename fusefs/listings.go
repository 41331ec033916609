package fusefs

import (
	"container/list"
	"sync"
)

// ---- the budget of folder listings ----
//
// A folder of folders/ (or of the Maildir view) that was listed keeps its
// files (listing) so that the lookups and reads that follow a listing are
// answered from memory. The kernel keeps a listed folder's node for as
// long as it likes, so without a bound the mount's memory would grow with
// every folder ever browsed (22 Inboxes of 33k-100k files: 400 MiB). The
// mount keeps the listings of at most DefaultListingFiles files, least
// recently used dropped first; a dropped folder lists itself again from
// the index at its next use. The newest listing is always kept, however
// big.

// DefaultListingFiles is the number of listed files the mount keeps in
// memory (about 500 bytes each with their read-ahead list).
const DefaultListingFiles = 150_000

// listings is the FS's least-recently-used list of folders holding a
// listing.
type listings struct {
	mu    sync.Mutex
	lru   list.List // of *folderDir, most recent first
	files int       // files of the listings in lru
	max   int
}

// add records d's new listing of n files, and drops the least recently
// used others while the total is over the budget.
func (l *listings) add(d *folderDir, n int) {
	var dropped []*folderDir
	l.mu.Lock()
	if d.lru != nil {
		// Rare: a drop ran late (after its folder had been listed and
		// added again), so the folder is counted without a listing.
		l.lru.Remove(d.lru)
		l.files -= d.listed
	}
	d.lru, d.listed = l.lru.PushFront(d), n
	l.files += n
	for l.files > l.max && l.lru.Len() > 1 {
		old := l.lru.Back().Value.(*folderDir)
		l.lru.Remove(old.lru)
		l.files -= old.listed
		old.lru, old.listed = nil, 0
		dropped = append(dropped, old)
	}
	l.mu.Unlock()
	// Outside the lock: a read-ahead list being loaded holds its own lock
	// while it asks for its folder's listing (and so for this one).
	for _, old := range dropped {
		old.drop()
	}
}

// touch marks d's listing as used now.
func (l *listings) touch(d *folderDir) {
	l.mu.Lock()
	if d.lru != nil {
		l.lru.MoveToFront(d.lru)
	}
	l.mu.Unlock()
}

// held is the number of listed files kept (for tests).
func (l *listings) held() (folders, files int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lru.Len(), l.files
}
