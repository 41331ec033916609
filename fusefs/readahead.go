package fusefs

import (
	"sort"
	"sync"
	"sync/atomic"

	"github.com/cbfs/cbfs/blob"
)

// ---- read-ahead of a folder's next files ----
//
// When a folder of folders/, at/ or the Maildir view is listed, or one of
// its files is opened, the blob cache fetches the files that follow in
// listing order in the background (blob.Cache.Prefetch, which says how and
// within what bounds). The folder gives it the list: its files' blobs in
// listing order, with the limit an open uses (blob.Sequence). A file looked
// up in the folder is given that list at creation, and hands it to the
// cache when it is opened.

// raSeq is a folder's read-ahead list, made on first use.
type raSeq struct {
	once sync.Once
	seq  atomic.Pointer[blob.Sequence]
}

// get is the list if it was made (nil otherwise).
func (r *raSeq) get() *blob.Sequence { return r.seq.Load() }

// sequence is the folder's files' blobs in listing order, for
// blob.Cache.Prefetch. The list is computed by a read-ahead worker the
// first time it is needed (it may load the folder's listing), and again
// after the folder's listing was dropped (folderDir.drop).
func (d *folderDir) sequence() *blob.Sequence {
	d.ra.once.Do(func() {
		d.ra.seq.Store(blob.NewSequence(func() ([]blob.Want, error) {
			l, err := d.loadFiles()
			if err != nil {
				return nil, err
			}
			names := make([]string, 0, len(l.byName))
			for name := range l.byName {
				names = append(names, name)
			}
			sort.Strings(names)
			wants := make([]blob.Want, len(names))
			for k, name := range names {
				r := l.files[l.byName[name]]
				wants[k] = blob.Want{Key: r.id, Digest: r.cs().Digest, Limit: blob.Limit{Size: max(r.cs().Size, 0)}, Size: r.cs().Size}
			}
			return wants, nil
		}))
	})
	return d.ra.get()
}
