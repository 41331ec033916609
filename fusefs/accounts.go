package fusefs

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/cbfs/cbfs/index"
)

// ---- accounts/ ----

// accountsDir lists every account (deleted ones too) by name.
type accountsDir struct {
	node
	once   sync.Once
	names  []string
	byName map[string]index.Account
	err    error
}

var (
	_ = (fs.NodeLookuper)((*accountsDir)(nil))
	_ = (fs.NodeOpendirHandler)((*accountsDir)(nil))
)

func (d *accountsDir) load() error {
	d.once.Do(func() {
		accts, err := d.fsys.ix.Accounts()
		if err != nil {
			d.err = fmt.Errorf("list accounts: %w", err)
			return
		}
		d.names, d.byName = accountNames(accts)
	})
	return d.err
}

func (d *accountsDir) entries(ctx context.Context) ([]fuse.DirEntry, syscall.Errno) {
	if err := d.load(); err != nil {
		return nil, errno(err)
	}
	out := make([]fuse.DirEntry, 0, len(d.names))
	for _, n := range d.names {
		a := d.byName[n]
		out = append(out, dirEntry(n, true, d.fsys.accountIno(a, subAccountDir)))
	}
	return out, 0
}

func (f *FS) accountIno(a index.Account, sub int) uint64 {
	n, ok := inoAccountNode(a.Seq, sub)
	return f.ino(n, ok, fmt.Sprintf("account:%s:%d", a.ID, sub))
}

func (d *accountsDir) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	return openList(d.entries(ctx))
}

func (d *accountsDir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if err := d.load(); err != nil {
		return nil, errno(err)
	}
	a, ok := d.byName[name]
	if !ok {
		return nil, syscall.ENOENT
	}
	ad := &accountDir{acct: a}
	mt := a.Created.Time()
	if mt.IsZero() {
		mt = d.fsys.mtime
	}
	ad.init(d.fsys, d.fsys.accountIno(a, subAccountDir), true, 0, mt)
	ad.xa = d.fsys.indexXattrs(a.ID)
	return newChild(ctx, &d.Inode, ad, out), 0
}

// indexXattrs are an account folder's attributes saying how far its items
// are indexed (index.Status): user.cbfs.index is "indexed", "indexing" or
// "waiting"; user.cbfs.index.progress "read/total" item files while
// indexing; user.cbfs.index.items the items indexed; user.cbfs.index.error
// why the last indexing failed. Reading them never waits for indexing.
func (f *FS) indexXattrs(accountID string) func() []xattr {
	return func() []xattr {
		st, err := f.ix.Status(accountID)
		if err != nil {
			return nil
		}
		out := []xattr{{xattrPrefix + "index", st.State}}
		if st.State == "indexing" {
			out = append(out, xattr{xattrPrefix + "index.progress", fmt.Sprintf("%d/%d", st.Done, st.Total)})
		}
		if st.State == "indexed" || st.Items > 0 {
			out = append(out, xattr{xattrPrefix + "index.items", strconv.Itoa(st.Items)})
		}
		if st.Err != "" {
			out = append(out, xattr{xattrPrefix + "index.error", st.Err})
		}
		return out
	}
}

// ---- accounts/<name>/ ----

// accountDir holds account.json, folders/, items/, deleted/, at/,
// changes/ and Maildir/ (static).
type accountDir struct {
	node
	acct index.Account
}

var (
	_ = (fs.NodeOnAdder)((*accountDir)(nil))
	_ = (fs.NodeOpendirHandler)((*accountDir)(nil))
)

func (d *accountDir) OnAdd(ctx context.Context) {
	f, a := d.fsys, d.acct
	js := &dataFile{data: f.accountJSON(a)}
	js.init(f, f.accountIno(a, subAccountJSON), false, int64(len(js.data)), d.mtime)
	addStatic(ctx, &d.Inode, "account.json", js)

	v := &view{fsys: f, acct: a}
	fd := &folderDir{v: v}
	fd.init(f, f.accountIno(a, subFolders), true, 0, d.mtime)
	addStatic(ctx, &d.Inode, "folders", fd)

	it := &itemsDir{acct: a}
	it.init(f, f.accountIno(a, subItems), true, 0, d.mtime)
	addStatic(ctx, &d.Inode, "items", it)

	del := &deletedDir{acct: a}
	del.init(f, f.accountIno(a, subDeleted), true, 0, d.mtime)
	addStatic(ctx, &d.Inode, "deleted", del)

	at := &atDir{acct: a}
	at.init(f, f.accountIno(a, subAt), true, 0, d.mtime)
	addStatic(ctx, &d.Inode, "at", at)

	ch := &changesDir{acct: a}
	ch.init(f, f.accountIno(a, subChanges), true, 0, d.mtime)
	addStatic(ctx, &d.Inode, "changes", ch)

	addStatic(ctx, &d.Inode, "Maildir", newMaildirDir(&mdView{v: v}))
}

func (d *accountDir) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	return openList(childEntries(&d.Inode), 0)
}
