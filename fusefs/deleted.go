package fusefs

import (
	"context"
	"fmt"
	"sync"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/cbfs/cbfs/index"
)

// ---- deleted/ ----

// deletedDir lists the items whose latest state is deleted, with the
// content they last had.
type deletedDir struct {
	node
	acct   index.Account
	once   sync.Once
	byName map[string]fileRef
	err    error
}

var (
	_ = (fs.NodeLookuper)((*deletedDir)(nil))
	_ = (fs.NodeOpendirHandler)((*deletedDir)(nil))
)

func deletedRef(it *index.Item) (fileRef, bool) {
	idx := it.ShownDeleted()
	if idx < 0 {
		return fileRef{}, false
	}
	s := it.States[idx]
	return fileRef{id: it.ID, state: s, idx: idx}, true
}

func (d *deletedDir) load() error {
	d.once.Do(func() {
		ix := d.fsys.ix
		ids, err := ix.DeletedItems(d.acct.ID)
		if err != nil {
			d.err = fmt.Errorf("deleted items of %s: %w", d.acct.Name, err)
			return
		}
		d.byName = make(map[string]fileRef, len(ids))
		for _, id := range ids {
			it, err := ix.Item(d.acct.ID, id)
			if err != nil {
				continue
			}
			if r, ok := deletedRef(&it); ok {
				d.byName[itemFileName(id, r.state.Type)] = r
			}
		}
	})
	return d.err
}

func (d *deletedDir) ino(id int) uint64 {
	n, ok := inoAccountItem(kindDeleted, d.acct.Seq, id)
	return d.fsys.ino(n, ok, fmt.Sprintf("deleted:%s:%d", d.acct.ID, id))
}

func (d *deletedDir) entries(ctx context.Context) ([]fuse.DirEntry, syscall.Errno) {
	if err := d.load(); err != nil {
		return nil, errno(err)
	}
	out := make([]fuse.DirEntry, 0, len(d.byName))
	for name, r := range d.byName {
		out = append(out, dirEntry(name, false, d.ino(r.id)))
	}
	sortEntries(out)
	return out, 0
}

func (d *deletedDir) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	return openList(d.entries(ctx))
}

func (d *deletedDir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if err := d.load(); err != nil {
		return nil, errno(err)
	}
	r, ok := d.byName[name]
	if !ok {
		return nil, syscall.ENOENT
	}
	file := d.fsys.itemFile(d.acct, r, d.ino(r.id), "", false, true)
	return newChild(ctx, &d.Inode, file, out), 0
}
