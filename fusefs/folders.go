package fusefs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/index"
)

// errno maps an index or Backup Path error to what the kernel gets.
func errno(err error) syscall.Errno {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, index.ErrNotFound), errors.Is(err, os.ErrNotExist):
		return syscall.ENOENT
	}
	return syscall.EIO
}

// ino returns the scheme's number if ok, else a hashed one for key.
func (f *FS) ino(n uint64, ok bool, key string) uint64 {
	if ok {
		return n
	}
	return f.hashed.ino(key)
}

// ---- / ----

// rootDir is the mount's root: accounts/, blobs/, server/ (static).
type rootDir struct{ node }

var (
	_ = (fs.NodeOnAdder)((*rootDir)(nil))
	_ = (fs.NodeOpendirHandler)((*rootDir)(nil))
	_ = (fs.NodeGetattrer)((*rootDir)(nil))
)

func (r *rootDir) OnAdd(ctx context.Context) {
	f := r.fsys
	a := &accountsDir{}
	a.init(f, inoAccounts, true, 0, f.mtime)
	addStatic(ctx, &r.Inode, "accounts", a)
	b := &blobsDir{}
	b.init(f, inoBlobs, true, 0, f.mtime)
	addStatic(ctx, &r.Inode, "blobs", b)
	s := &serverDir{}
	s.init(f, inoServer, true, 0, f.mtime)
	addStatic(ctx, &r.Inode, "server", s)
}

func (r *rootDir) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	return openList(childEntries(&r.Inode), 0)
}

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
	return newChild(ctx, &d.Inode, ad, out), 0
}

// ---- accounts/<name>/ ----

// accountDir holds account.json, folders/, items/, deleted/ and at/ (static).
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
}

func (d *accountDir) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	return openList(childEntries(&d.Inode), 0)
}

// ---- folders/ and at/<moment>/ ----

// view is one folders view of an account: the latest (at zero) or the
// account as it was at a moment.
type view struct {
	fsys *FS
	acct index.Account
	at   time.Time // zero: latest
	key  string    // at views: "at:<account id>:<name>", for hashed inodes

	once  sync.Once
	root  *folderNode
	byID  map[int]*folderNode
	items map[int][]fileRef // at views: folder id -> its items, by id
	err   error
}

// fileRef is an item shown as a file: which item, which state's content.
type fileRef struct {
	id    int
	state index.State // the state shown (latest live, or in force at the moment)
	cs    index.State // the state whose blob is the content
	idx   int         // index of state among the item's states
}

func (v *view) load() error {
	v.once.Do(func() {
		ix := v.fsys.ix
		folders, err := ix.Folders(v.acct.ID, v.at)
		if err != nil {
			v.err = fmt.Errorf("folders of %s: %w", v.acct.Name, err)
			return
		}
		v.root, v.byID = folderTree(folders)
		if v.at.IsZero() {
			return
		}
		v.items = map[int][]fileRef{}
		err = ix.Items(v.acct.ID, func(it *index.Item) bool {
			if idx := it.ShownAt(v.at); idx >= 0 {
				s := it.States[idx]
				v.items[s.FolderID] = append(v.items[s.FolderID], fileRef{id: it.ID, state: s, cs: s, idx: idx})
			}
			return true
		})
		if err != nil {
			v.err = fmt.Errorf("items of %s: %w", v.acct.Name, err)
		}
	})
	return v.err
}

// refOf builds the fileRef of the latest state of item it, if it is live
// content in folderID.
func latestRef(it *index.Item, folderID int) (fileRef, bool) {
	idx := it.ShownAt(time.Time{})
	if idx < 0 || (folderID >= 0 && it.States[idx].FolderID != folderID) {
		return fileRef{}, false
	}
	s := it.States[idx]
	return fileRef{id: it.ID, state: s, cs: s, idx: idx}, true
}

// scanRatio: a folder holding more than 1/scanRatio of its account's items
// is listed by one scan of the account's items (measured: a scan step costs
// about 1/30 of a lookup by id).
const scanRatio = 20

// folderDir is a folder of a view: its subfolders and its items.
type folderDir struct {
	node
	v    *view
	fid  int    // folder id; 0 until resolved (the view's root)
	path string // folder path, "" for the root

	once   sync.Once
	loaded atomic.Bool // files and byName are set (read-only from then on)
	files  []fileRef
	byName map[string]int // file name -> index in files
	err    error
}

var (
	_ = (fs.NodeLookuper)((*folderDir)(nil))
	_ = (fs.NodeOpendirHandler)((*folderDir)(nil))
)

func (d *folderDir) folder() (*folderNode, error) {
	if err := d.v.load(); err != nil {
		return nil, err
	}
	if d.fid == 0 {
		return d.v.root, nil
	}
	fn := d.v.byID[d.fid]
	if fn == nil {
		return nil, fmt.Errorf("folder %d: %w", d.fid, index.ErrNotFound)
	}
	return fn, nil
}

// loadFiles lists the folder's items (once).
func (d *folderDir) loadFiles() error {
	d.once.Do(func() {
		fn, err := d.folder()
		if err != nil {
			d.err = err
			return
		}
		if !d.v.at.IsZero() {
			d.files = d.v.items[fn.id]
		} else {
			ix, acct := d.v.fsys.ix, d.v.acct.ID
			ids, err := ix.FolderItems(acct, fn.id)
			if err != nil {
				d.err = fmt.Errorf("items of folder %q: %w", d.path, err)
				return
			}
			d.files = make([]fileRef, 0, len(ids))
			if len(ids)*scanRatio > d.v.acct.Items {
				// A big share of the account: one scan of its items is
				// much cheaper than a lookup per item.
				err = ix.Items(acct, func(it *index.Item) bool {
					if r, ok := latestRef(it, fn.id); ok {
						d.files = append(d.files, r)
					}
					return true
				})
				if err != nil {
					d.err = fmt.Errorf("items of folder %q: %w", d.path, err)
					return
				}
				ids = nil
			}
			for _, id := range ids {
				it, err := ix.Item(acct, id)
				if err != nil {
					continue // vanished or unreadable: not a live item of this folder
				}
				if r, ok := latestRef(&it, fn.id); ok {
					d.files = append(d.files, r)
				}
			}
		}
		d.byName = make(map[string]int, len(d.files))
		sub := map[string]bool{}
		for _, c := range fn.children {
			sub[c.name] = true
		}
		for i, r := range d.files {
			name := itemFileName(r.id, r.state.Type)
			if !sub[name] { // a subfolder of the same name wins
				d.byName[name] = i
			}
		}
		d.loaded.Store(true)
	})
	return d.err
}

func (d *folderDir) entries(ctx context.Context) ([]fuse.DirEntry, syscall.Errno) {
	fn, err := d.folder()
	if err != nil {
		return nil, errno(err)
	}
	if err := d.loadFiles(); err != nil {
		return nil, errno(err)
	}
	out := make([]fuse.DirEntry, 0, len(fn.children)+len(d.byName))
	for _, c := range fn.children {
		out = append(out, dirEntry(c.name, true, d.subIno(c.id)))
	}
	for name, i := range d.byName {
		out = append(out, dirEntry(name, false, d.fileIno(d.files[i].id)))
	}
	sortEntries(out)
	return out, 0
}

func (d *folderDir) subIno(fid int) uint64 {
	f := d.v.fsys
	if d.v.key != "" {
		return f.hashed.ino(d.v.key + ":f" + strconv.Itoa(fid))
	}
	n, ok := inoAccountItem(kindFolder, d.v.acct.Seq, fid)
	return f.ino(n, ok, fmt.Sprintf("folder:%s:%d", d.v.acct.ID, fid))
}

func (d *folderDir) fileIno(id int) uint64 {
	f := d.v.fsys
	if d.v.key != "" {
		return f.hashed.ino(d.v.key + ":i" + strconv.Itoa(id))
	}
	n, ok := inoAccountItem(kindFolderFile, d.v.acct.Seq, id)
	return f.ino(n, ok, fmt.Sprintf("folderfile:%s:%d", d.v.acct.ID, id))
}

func (d *folderDir) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	return openList(d.entries(ctx))
}

func (d *folderDir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	fn, err := d.folder()
	if err != nil {
		return nil, errno(err)
	}
	for _, c := range fn.children {
		if c.name == name {
			sub := &folderDir{v: d.v, fid: c.id, path: joinPath(d.path, c.name)}
			sub.init(d.fsys, d.subIno(c.id), true, 0, d.mtime)
			return newChild(ctx, &d.Inode, sub, out), 0
		}
	}
	id, _, ok := parseItemFileName(name)
	if !ok {
		return nil, syscall.ENOENT
	}
	var ref fileRef
	if d.v.at.IsZero() && !d.loaded.Load() {
		// The latest view, not listed yet: ask the index for this one item.
		it, err := d.fsys.ix.Item(d.v.acct.ID, id)
		if err != nil {
			return nil, errno(err)
		}
		if ref, ok = latestRef(&it, fn.id); !ok || itemFileName(id, ref.state.Type) != name {
			return nil, syscall.ENOENT
		}
	} else {
		if err := d.loadFiles(); err != nil {
			return nil, errno(err)
		}
		i, ok := d.byName[name]
		if !ok {
			return nil, syscall.ENOENT
		}
		ref = d.files[i]
	}
	file := d.fsys.newItemFile(d.v.acct, ref, d.fileIno(id), joinPath(d.path, ""), false)
	return newChild(ctx, &d.Inode, file, out), 0
}

func joinPath(dir, name string) string {
	switch {
	case dir == "":
		return name
	case name == "":
		return dir
	}
	return dir + "/" + name
}

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
	return fileRef{id: it.ID, state: s, cs: s, idx: idx}, true
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
	file := d.fsys.newItemFile(d.acct, r, d.ino(r.id), "", true)
	return newChild(ctx, &d.Inode, file, out), 0
}

// ---- items/ ----

// itemsDir lists every item of the account by id.
type itemsDir struct {
	node
	acct index.Account
}

var (
	_ = (fs.NodeLookuper)((*itemsDir)(nil))
	_ = (fs.NodeOpendirHandler)((*itemsDir)(nil))
)

func (d *itemsDir) ino(id int) uint64 {
	n, ok := inoAccountItem(kindItem, d.acct.Seq, id)
	return d.fsys.ino(n, ok, fmt.Sprintf("item:%s:%d", d.acct.ID, id))
}

func (d *itemsDir) entries(ctx context.Context) ([]fuse.DirEntry, syscall.Errno) {
	var out []fuse.DirEntry
	err := d.fsys.ix.Items(d.acct.ID, func(it *index.Item) bool {
		out = append(out, dirEntry(strconv.Itoa(it.ID), true, d.ino(it.ID)))
		return ctx.Err() == nil
	})
	if err != nil {
		return nil, errno(err)
	}
	sortEntries(out) // by name, as every listing (ids as text)
	return out, 0
}

func (d *itemsDir) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	return openList(d.entries(ctx))
}

func (d *itemsDir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	id, ok := parseItemID(name)
	if !ok {
		return nil, syscall.ENOENT
	}
	it, err := d.fsys.ix.Item(d.acct.ID, id)
	if err != nil {
		return nil, errno(err)
	}
	mt := d.mtime
	if l := it.Latest(); l != nil {
		mt = l.Start.Time()
	}
	c := &itemDir{acct: d.acct, item: it, names: stateDirNames(it.States)}
	c.init(d.fsys, d.ino(id), true, 0, mt)
	return newChild(ctx, &d.Inode, c, out), 0
}

// itemDir is items/<id>/: meta.json and one folder per state.
type itemDir struct {
	node
	acct  index.Account
	item  index.Item
	names []string // state folder names, parallel to item.States
}

var (
	_ = (fs.NodeLookuper)((*itemDir)(nil))
	_ = (fs.NodeOpendirHandler)((*itemDir)(nil))
)

func (d *itemDir) stateIno(kind uint64, i int) uint64 {
	n, ok := inoState(kind, d.acct.Seq, d.item.ID, i)
	return d.fsys.ino(n, ok, fmt.Sprintf("state:%d:%s:%d:%d", kind, d.acct.ID, d.item.ID, i))
}

func (d *itemDir) metaIno() uint64 {
	n, ok := inoAccountItem(kindItemMeta, d.acct.Seq, d.item.ID)
	return d.fsys.ino(n, ok, fmt.Sprintf("itemmeta:%s:%d", d.acct.ID, d.item.ID))
}

func (d *itemDir) entries(ctx context.Context) ([]fuse.DirEntry, syscall.Errno) {
	out := []fuse.DirEntry{dirEntry("meta.json", false, d.metaIno())}
	for i, n := range d.names {
		out = append(out, dirEntry(n, true, d.stateIno(kindStateDir, i)))
	}
	sortEntries(out)
	return out, 0
}

func (d *itemDir) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	return openList(d.entries(ctx))
}

func (d *itemDir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if name == "meta.json" {
		js := &dataFile{data: d.fsys.itemMetaJSON(d.acct, &d.item, d.names)}
		js.init(d.fsys, d.metaIno(), false, int64(len(js.data)), d.mtime)
		js.xa = d.fsys.itemXattrs(&d.item, -1)
		return newChild(ctx, &d.Inode, js, out), 0
	}
	for i, n := range d.names {
		if n == name {
			s := &stateDir{acct: d.acct, item: &d.item, idx: i, name: n, parent: d}
			s.init(d.fsys, d.stateIno(kindStateDir, i), true, 0, d.item.States[i].Start.Time())
			return newChild(ctx, &d.Inode, s, out), 0
		}
	}
	return nil, syscall.ENOENT
}

// stateDir is items/<id>/<start date>/: meta.json, the content, and for a
// broken blob the salvaged part.
type stateDir struct {
	node
	acct   index.Account
	item   *index.Item
	idx    int
	name   string
	parent *itemDir
}

var (
	_ = (fs.NodeLookuper)((*stateDir)(nil))
	_ = (fs.NodeOpendirHandler)((*stateDir)(nil))
)

// content is the state's content file name and the state holding its blob,
// or "" if the state has no content.
func (d *stateDir) content() (string, int) {
	s := d.item.States[d.idx]
	if !s.Type.HasContent() {
		return "", -1
	}
	c := d.item.ContentIndex(d.idx)
	if c < 0 {
		return "", -1
	}
	return contentName(s.Type), c
}

func (d *stateDir) entries(ctx context.Context) ([]fuse.DirEntry, syscall.Errno) {
	out := []fuse.DirEntry{dirEntry("meta.json", false, d.parent.stateIno(kindStateMeta, d.idx))}
	if name, c := d.content(); name != "" {
		out = append(out, dirEntry(name, false, d.parent.stateIno(kindStateContent, d.idx)))
		if errors.Is(d.fsys.blobHealth(d.item.States[c].Digest, d.item.States[c].Size), blob.ErrBroken) {
			out = append(out, dirEntry(partialName(name), false, d.parent.stateIno(kindStatePartial, d.idx)))
		}
	}
	sortEntries(out)
	return out, 0
}

func (d *stateDir) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	return openList(d.entries(ctx))
}

func (d *stateDir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	f := d.fsys
	s := d.item.States[d.idx]
	if name == "meta.json" {
		js := &dataFile{data: f.stateMetaJSON(d.acct, d.item, d.idx, d.name)}
		js.init(f, d.parent.stateIno(kindStateMeta, d.idx), false, int64(len(js.data)), s.Start.Time())
		js.xa = f.itemXattrs(d.item, d.idx)
		return newChild(ctx, &d.Inode, js, out), 0
	}
	cname, c := d.content()
	if cname == "" {
		return nil, syscall.ENOENT
	}
	ref := fileRef{id: d.item.ID, state: s, cs: d.item.States[c], idx: d.idx}
	switch name {
	case cname:
		file := f.newItemFile(d.acct, ref, d.parent.stateIno(kindStateContent, d.idx), "", s.Deleted)
		return newChild(ctx, &d.Inode, file, out), 0
	case partialName(cname):
		if !errors.Is(f.blobHealth(ref.cs.Digest, ref.cs.Size), blob.ErrBroken) {
			return nil, syscall.ENOENT
		}
		p := f.newPartialFile(ref, d.parent.stateIno(kindStatePartial, d.idx))
		return newChild(ctx, &d.Inode, p, out), 0
	}
	return nil, syscall.ENOENT
}

// ---- at/ ----

// atDir lists the days on which the account changed; any ISO 8601 date or
// date-time can be looked up.
type atDir struct {
	node
	acct index.Account
}

var (
	_ = (fs.NodeLookuper)((*atDir)(nil))
	_ = (fs.NodeOpendirHandler)((*atDir)(nil))
)

func (d *atDir) key(name string) string { return "at:" + d.acct.ID + ":" + name }

func (d *atDir) entries(ctx context.Context) ([]fuse.DirEntry, syscall.Errno) {
	days, err := d.fsys.ix.ChangeDays(d.acct.ID)
	if err != nil {
		return nil, errno(err)
	}
	out := make([]fuse.DirEntry, 0, len(days))
	for _, t := range days {
		n := t.UTC().Format(atDayLayout)
		if len(out) > 0 && out[len(out)-1].Name == n {
			continue
		}
		out = append(out, dirEntry(n, true, d.fsys.hashed.ino(d.key(n))))
	}
	return out, 0
}

func (d *atDir) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	return openList(d.entries(ctx))
}

func (d *atDir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	t, err := parseAt(name)
	if err != nil {
		return nil, syscall.ENOENT
	}
	v := &view{fsys: d.fsys, acct: d.acct, at: t, key: d.key(name)}
	fd := &folderDir{v: v}
	fd.init(d.fsys, d.fsys.hashed.ino(v.key), true, 0, t)
	return newChild(ctx, &d.Inode, fd, out), 0
}

// ---- server/ ----

// serverDir holds config/ and customizations/ (static).
type serverDir struct{ node }

var (
	_ = (fs.NodeOnAdder)((*serverDir)(nil))
	_ = (fs.NodeOpendirHandler)((*serverDir)(nil))
)

func (d *serverDir) OnAdd(ctx context.Context) {
	sf := &serverFiles{fsys: d.fsys}
	c := &configDir{files: sf}
	c.init(d.fsys, inoConfig, true, 0, d.mtime)
	addStatic(ctx, &d.Inode, "config", c)
	cu := &customizationsDir{files: sf}
	cu.init(d.fsys, inoCustomizations, true, 0, d.mtime)
	addStatic(ctx, &d.Inode, "customizations", cu)
}

func (d *serverDir) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	return openList(childEntries(&d.Inode), 0)
}

// serverFiles lists server/ once.
type serverFiles struct {
	fsys  *FS
	once  sync.Once
	files []backuppath.ServerFile
	err   error
}

func (s *serverFiles) list(kind string) ([]backuppath.ServerFile, error) {
	s.once.Do(func() { s.files, s.err = s.fsys.bp.ServerFiles() })
	var out []backuppath.ServerFile
	for _, f := range s.files {
		if f.Kind == kind {
			out = append(out, f)
		}
	}
	return out, s.err
}

// configDir lists the configuration backups by date.
type configDir struct {
	node
	files *serverFiles
}

var (
	_ = (fs.NodeLookuper)((*configDir)(nil))
	_ = (fs.NodeOpendirHandler)((*configDir)(nil))
)

func (d *configDir) ino(f backuppath.ServerFile, file int) uint64 {
	kind := uint64(kindConfigFile)
	if file == 0 {
		kind = kindConfigDir
	}
	n, ok := inoServerFile(kind, f.Date.Unix(), file)
	return d.fsys.ino(n, ok, fmt.Sprintf("config:%s:%d", f.Name, file))
}

func (d *configDir) entries(ctx context.Context) ([]fuse.DirEntry, syscall.Errno) {
	files, err := d.files.list(backuppath.KindConfig)
	if err != nil {
		return nil, errno(err)
	}
	out := make([]fuse.DirEntry, 0, len(files))
	for _, f := range files {
		out = append(out, dirEntry(f.Date.UTC().Format(stateTimeLayout), true, d.ino(f, 0)))
	}
	sortEntries(out)
	return out, 0
}

func (d *configDir) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	return openList(d.entries(ctx))
}

func (d *configDir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	files, err := d.files.list(backuppath.KindConfig)
	if err != nil {
		return nil, errno(err)
	}
	for _, f := range files {
		if f.Date.UTC().Format(stateTimeLayout) == name {
			c := &configDateDir{file: f, parent: d}
			c.init(d.fsys, d.ino(f, 0), true, 0, f.Date)
			return newChild(ctx, &d.Inode, c, out), 0
		}
	}
	return nil, syscall.ENOENT
}

// configDateDir is one configuration backup: config.json (the file as it
// is) and one file per section.
type configDateDir struct {
	node
	file   backuppath.ServerFile
	parent *configDir
}

var (
	_ = (fs.NodeOnAdder)((*configDateDir)(nil))
	_ = (fs.NodeOpendirHandler)((*configDateDir)(nil))
)

func (d *configDateDir) OnAdd(ctx context.Context) {
	files := d.fsys.configFiles(d.file)
	for i, cf := range files {
		df := &dataFile{data: cf.data}
		df.init(d.fsys, d.parent.ino(d.file, i+1), false, int64(len(cf.data)), d.file.Date)
		addStatic(ctx, &d.Inode, cf.name, df)
	}
}

func (d *configDateDir) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	return openList(childEntries(&d.Inode), 0)
}

// customizationsDir serves the customizations archives as they are.
type customizationsDir struct {
	node
	files *serverFiles
}

var (
	_ = (fs.NodeLookuper)((*customizationsDir)(nil))
	_ = (fs.NodeOpendirHandler)((*customizationsDir)(nil))
)

func (d *customizationsDir) ino(f backuppath.ServerFile) uint64 {
	n, ok := inoServerFile(kindCustom, f.Date.Unix(), 0)
	return d.fsys.ino(n, ok, "custom:"+f.Name)
}

func (d *customizationsDir) entries(ctx context.Context) ([]fuse.DirEntry, syscall.Errno) {
	files, err := d.files.list(backuppath.KindCustomizations)
	if err != nil {
		return nil, errno(err)
	}
	out := make([]fuse.DirEntry, 0, len(files))
	for _, f := range files {
		out = append(out, dirEntry(f.Name, false, d.ino(f)))
	}
	sortEntries(out)
	return out, 0
}

func (d *customizationsDir) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	return openList(d.entries(ctx))
}

func (d *customizationsDir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	files, err := d.files.list(backuppath.KindCustomizations)
	if err != nil {
		return nil, errno(err)
	}
	for _, f := range files {
		if f.Name == name {
			df := &diskFile{path: d.fsys.bp.Root + "/" + f.RelPath}
			df.init(d.fsys, d.ino(f), false, f.Size, f.Date)
			return newChild(ctx, &d.Inode, df, out), 0
		}
	}
	return nil, syscall.ENOENT
}

// ---- blobs/ ----

// blobsDir serves every blob under items/ by digest. Lookup of any
// well-formed digest stats its file directly, so this works on a Backup
// Path whose metadata cbfs cannot read.
type blobsDir struct{ node }

var (
	_ = (fs.NodeLookuper)((*blobsDir)(nil))
	_ = (fs.NodeOpendirHandler)((*blobsDir)(nil))
)

const blobExt = ".eml"

func (d *blobsDir) entries(ctx context.Context) ([]fuse.DirEntry, syscall.Errno) {
	var out []fuse.DirEntry
	err := d.fsys.store.Walk(ctx, func(name string, dg blob.Digest, ok bool) error {
		if ok {
			out = append(out, dirEntry(string(dg)+blobExt, false, d.fsys.hashed.ino("blob:"+string(dg))))
		}
		return ctx.Err()
	})
	if err != nil {
		return nil, errno(err)
	}
	sortEntries(out)
	return out, 0
}

func (d *blobsDir) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	return openList(d.entries(ctx))
}

func (d *blobsDir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	s, ok := strings.CutSuffix(name, blobExt)
	if !ok {
		return nil, syscall.ENOENT
	}
	dg, err := blob.ParseDigest(s)
	if err != nil || string(dg) != s {
		return nil, syscall.ENOENT
	}
	fi, err := os.Lstat(d.fsys.store.Path(dg))
	if err != nil {
		return nil, syscall.ENOENT
	}
	file := &blobFile{digest: dg}
	file.init(d.fsys, d.fsys.hashed.ino("blob:"+string(dg)), false, -1, fi.ModTime())
	if size, err := d.fsys.store.SizeHint(dg); err == nil {
		file.size.Store(size)
	}
	file.sizeUnsure = true
	file.xa = func() []xattr {
		return []xattr{
			{xattrPrefix + "digest", string(dg)},
			{xattrPrefix + "status", statusOf(d.fsys.blobHealth(dg, 0))},
		}
	}
	return newChild(ctx, &d.Inode, file, out), 0
}
