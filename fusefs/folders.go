package fusefs

import (
	"container/list"
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/cbfs/cbfs/index"
)

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

	mdOnce sync.Once
	md     *mdView // at views: at/<moment>/Maildir (maildir.go)
}

// maildirName is the Maildir view's name: accounts/<name>/Maildir and
// at/<moment>/Maildir.
const maildirName = "Maildir"

// maildir is the view's Maildir view (at views; made once).
func (v *view) maildir() *mdView {
	v.mdOnce.Do(func() { v.md = &mdView{v: v} })
	return v.md
}

// atMaildir says whether folder fn of d shows Maildir/: the root of an at
// view, unless a folder of that name is there (the folder wins).
func (d *folderDir) atMaildir(fn *folderNode) bool {
	if d.v.at.IsZero() || fn != d.v.root {
		return false
	}
	for _, c := range fn.children {
		if c.name == maildirName {
			return false
		}
	}
	return true
}

// fileRef is an item shown as a file: which item, which state's content.
type fileRef struct {
	id      int
	state   index.State  // the state shown (latest live, or in force at the moment)
	content *index.State // the state whose blob is the content, when not state (one copy per listed file, not two: 100,000 of them cost 25 MiB less)
	idx     int          // index of state among the item's states
}

// cs is the state whose blob is the content.
func (r *fileRef) cs() *index.State {
	if r.content != nil {
		return r.content
	}
	return &r.state
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
				v.items[s.FolderID] = append(v.items[s.FolderID], fileRef{id: it.ID, state: s, idx: idx})
			}
			return true
		})
		if err != nil {
			v.err = fmt.Errorf("items of %s: %w", v.acct.Name, err)
		}
	})
	return v.err
}

// latestRef builds the fileRef of the latest state of item it, if it is
// live content in folderID (any folder if folderID < 0).
func latestRef(it *index.Item, folderID int) (fileRef, bool) {
	idx := it.ShownAt(time.Time{})
	if idx < 0 || (folderID >= 0 && it.States[idx].FolderID != folderID) {
		return fileRef{}, false
	}
	s := it.States[idx]
	return fileRef{id: it.ID, state: s, idx: idx}, true
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

	mu     sync.Mutex              // one listing made at a time
	list   atomic.Pointer[listing] // nil until listed, and once dropped
	lru    *list.Element           // in fsys.lists (under its mutex)
	listed int                     // files counted there (under its mutex)
	ra     raSeq                   // read-ahead list (readahead.go)
}

// listing is a folder's files as listed, never changed once made. The
// folder drops it when the mount's listing budget needs room
// (listings.go) and makes it again from the index at its next use.
type listing struct {
	files  []fileRef
	byName map[string]int // file name -> index in files
}

// drop forgets the folder's listing and read-ahead list (listings.add).
// Those using them keep their copy.
func (d *folderDir) drop() {
	d.list.Store(nil)
	if s := d.ra.get(); s != nil {
		s.Forget()
	}
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

// loadFiles returns the folder's listing, made now if the folder holds
// none (never listed, or dropped for the budget).
func (d *folderDir) loadFiles() (*listing, error) {
	if l := d.list.Load(); l != nil {
		d.fsys.lists.touch(d)
		return l, nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if l := d.list.Load(); l != nil {
		return l, nil
	}
	l, err := d.makeListing()
	if err != nil {
		return nil, err
	}
	d.list.Store(l)
	d.fsys.lists.add(d, len(l.files))
	return l, nil
}

// makeListing lists the folder's items.
func (d *folderDir) makeListing() (*listing, error) {
	fn, err := d.folder()
	if err != nil {
		return nil, err
	}
	l := &listing{}
	if !d.v.at.IsZero() {
		l.files = d.v.items[fn.id]
	} else {
		ix, acct := d.v.fsys.ix, d.v.acct.ID
		ids, err := ix.FolderItems(acct, fn.id)
		if err != nil {
			return nil, fmt.Errorf("items of folder %q: %w", d.path, err)
		}
		l.files = make([]fileRef, 0, len(ids))
		total, _ := ix.ItemCount(acct) // the account is indexed by now (FolderItems)
		if len(ids)*scanRatio > total {
			// A big share of the account: one scan of its items is
			// much cheaper than a lookup per item.
			err = ix.Items(acct, func(it *index.Item) bool {
				if r, ok := latestRef(it, fn.id); ok {
					l.files = append(l.files, r)
				}
				return true
			})
			if err != nil {
				return nil, fmt.Errorf("items of folder %q: %w", d.path, err)
			}
			ids = nil
		}
		for _, id := range ids {
			it, err := ix.Item(acct, id)
			if err != nil {
				continue // vanished or unreadable: not a live item of this folder
			}
			if r, ok := latestRef(&it, fn.id); ok {
				l.files = append(l.files, r)
			}
		}
	}
	l.byName = make(map[string]int, len(l.files))
	sub := map[string]bool{}
	for _, c := range fn.children {
		sub[c.name] = true
	}
	for i, r := range l.files {
		name := itemFileName(r.id, r.state.Type)
		if !sub[name] { // a subfolder of the same name wins
			l.byName[name] = i
		}
	}
	return l, nil
}

func (d *folderDir) entries(ctx context.Context) ([]fuse.DirEntry, syscall.Errno) {
	fn, err := d.folder()
	if err != nil {
		return nil, errno(err)
	}
	l, err := d.loadFiles()
	if err != nil {
		return nil, errno(err)
	}
	out := make([]fuse.DirEntry, 0, len(fn.children)+len(l.byName))
	for _, c := range fn.children {
		out = append(out, dirEntry(c.name, true, d.subIno(c.id)))
	}
	for name, i := range l.byName {
		out = append(out, dirEntry(name, false, d.fileIno(l.files[i].id)))
	}
	if d.atMaildir(fn) {
		out = append(out, dirEntry(maildirName, true, d.v.maildir().ino(0, mdSubDir)))
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
	entries, errno := d.entries(ctx)
	if errno == 0 && len(entries) > 0 {
		d.fsys.blobs.Prefetch(d.sequence(), -1) // a listing is often followed by reads in its order
	}
	return openList(entries, errno)
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
	if name == maildirName && d.atMaildir(fn) {
		return newChild(ctx, &d.Inode, newMaildirDir(d.v.maildir()), out), 0
	}
	id, _, ok := parseItemFileName(name)
	if !ok {
		return nil, syscall.ENOENT
	}
	var ref fileRef
	if d.v.at.IsZero() && d.list.Load() == nil {
		// The latest view, not listed yet: ask the index for this one item.
		it, err := d.fsys.ix.Item(d.v.acct.ID, id)
		if err != nil {
			return nil, errno(err)
		}
		if ref, ok = latestRef(&it, fn.id); !ok || itemFileName(id, ref.state.Type) != name {
			return nil, syscall.ENOENT
		}
	} else {
		l, err := d.loadFiles()
		if err != nil {
			return nil, errno(err)
		}
		i, ok := l.byName[name]
		if !ok {
			return nil, syscall.ENOENT
		}
		ref = l.files[i]
	}
	file := d.fsys.itemFile(d.v.acct, ref, d.fileIno(id), joinPath(d.path, ""), true, false)
	file.seq, file.seqKey = d.sequence(), id // opening it reads ahead in this folder
	return newChild(ctx, &d.Inode, file, out), 0
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
