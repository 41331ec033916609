package fusefs

import (
	"context"
	"fmt"
	"strconv"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/index"
	"github.com/cbfs/cbfs/mailbox"
)

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
	id, ok := mailbox.ParseItemID(name)
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
	c := &itemDir{acct: d.acct, item: it, names: mailbox.StateDirNames(it.States)}
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
	return d.fsys.stateIno(kind, d.acct, d.item.ID, i)
}

// stateIno is the inode of a state's folder or file (kind), the one rule
// for items/ and search/.
func (f *FS) stateIno(kind uint64, acct index.Account, id, i int) uint64 {
	n, ok := inoState(kind, acct.Seq, id, i)
	return f.ino(n, ok, fmt.Sprintf("state:%d:%s:%d:%d", kind, acct.ID, id, i))
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
		js.xa = d.fsys.itemXattrs(d.acct, &d.item, -1)
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

// stateRef is the content file of state idx of it, the file
// items/<id>/<state>/ shows (and search/ and changes/ show again), if the
// state has content.
func stateRef(it *index.Item, idx int) (fileRef, bool) {
	c := it.ContentIndex(idx)
	if c < 0 || !it.States[idx].Type.HasContent() {
		return fileRef{}, false
	}
	ref := fileRef{id: it.ID, state: it.States[idx], idx: idx}
	if c != idx {
		ref.content = &it.States[c]
	}
	return ref, true
}

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
		if d.fsys.salvageable(&d.item.States[c]) {
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
		js := &dataFile{data: f.stateMetaJSON(d.acct, d.item, d.idx, d.parent.names)}
		js.init(f, d.parent.stateIno(kindStateMeta, d.idx), false, int64(len(js.data)), s.Start.Time())
		js.xa = f.itemXattrs(d.acct, d.item, d.idx)
		return newChild(ctx, &d.Inode, js, out), 0
	}
	cname, _ := d.content()
	ref, ok := stateRef(d.item, d.idx)
	if cname == "" || !ok {
		return nil, syscall.ENOENT
	}
	switch name {
	case cname:
		file := f.itemFile(d.acct, ref, d.parent.stateIno(kindStateContent, d.idx), "", false, s.Deleted)
		return newChild(ctx, &d.Inode, file, out), 0
	case partialName(cname):
		if !f.salvageable(ref.cs()) {
			return nil, syscall.ENOENT
		}
		p := f.newPartialFile(ref, d.parent.stateIno(kindStatePartial, d.idx))
		return newChild(ctx, &d.Inode, p, out), 0
	}
	return nil, syscall.ENOENT
}

// itemXattrs are the attributes of an item's or a state's meta.json
// (state -1: the item's: its status is the worst of its item file's and
// its states' blobs', as in meta.json).
func (f *FS) itemXattrs(acct index.Account, it *index.Item, state int) func() []xattr {
	return func() []xattr {
		xa := []xattr{{xattrPrefix + "itemid", strconv.Itoa(it.ID)}}
		status := "ok"
		if it.Err != "" {
			status = it.ErrClass + ": " + it.Err
		}
		var s *index.State
		if state >= 0 && state < len(it.States) {
			s = &it.States[state]
		} else {
			s = it.Latest()
			if it.Err == "" {
				if _, why := f.worstState(it); why != nil {
					status = statusOf(why)
				}
			}
		}
		if s != nil {
			xa = append(xa,
				xattr{xattrPrefix + "type", s.Type.String()},
				xattr{xattrPrefix + "folder", f.folderPath(acct.ID, s.FolderID, s.Start.Time())},
				xattr{xattrPrefix + "folder_id", strconv.Itoa(s.FolderID)},
				xattr{xattrPrefix + "flags", s.Flags})
			if state >= 0 && s.Type.HasContent() && it.ContentIndex(state) >= 0 {
				h := f.contentHealth(it, state)
				xa = append(xa, xattr{xattrPrefix + "digest", string(h.Digest)})
				return append(xa, healthXattrs(h)...)
			}
		}
		return append(xa, xattr{xattrPrefix + "status", status})
	}
}

// worstState is the index of the item's state whose blob is the most
// damaged (mailbox.WorseStatus; the newest of equals) and its error, or
// -1 and nil when every blob is sound.
func (f *FS) worstState(it *index.Item) (int, error) {
	worst, idx := "ok", -1
	var why error
	for i := range it.States {
		c := it.ContentIndex(i)
		if c < 0 || !it.States[i].Type.HasContent() {
			continue
		}
		err := f.blobs.Health(it.States[c].Digest, it.States[c].Size)
		if err == nil {
			continue
		}
		if cl := blob.Class(err); mailbox.WorseStatus(worst, cl) != worst || cl == worst {
			worst, idx, why = cl, i, err
		}
	}
	return idx, why
}

// salvageable reports whether state s's blob is damaged with something to
// salvage (mailbox.Salvage): then a .partial file is offered beside it.
func (f *FS) salvageable(s *index.State) bool {
	ok, _ := mailbox.Salvage(f.blobs.Health(s.Digest, s.Size))
	return ok
}

// folderPath is folder fid's path in the account's folder tree at t (in
// the latest tree if it is not in that one), as folders/ shows it; its id
// as text if neither tree holds it.
func (f *FS) folderPath(acctID string, fid int, t time.Time) string {
	for _, at := range []time.Time{t, {}} {
		folders, err := f.ix.Folders(acctID, at)
		if err != nil {
			continue
		}
		for _, x := range folders {
			if x.ID == fid {
				return x.Path
			}
		}
	}
	return strconv.Itoa(fid)
}

// contentHealth is state i's content report (mailbox.ContentHealth) as
// the mount names things: the newest earlier healthy state as its content
// file relative to the account's folder (items/<id>/<state>/message.eml),
// the salvage as the .partial file beside the failing content.
func (f *FS) contentHealth(it *index.Item, i int) mailbox.ContentHealth {
	partial := ""
	if i >= 0 && i < len(it.States) {
		partial = partialName(contentName(it.States[i].Type))
	}
	return it.ContentHealth(i, f.blobs.Health, nil, func(k int) string {
		return "items/" + strconv.Itoa(it.ID) + "/" + mailbox.StateDirNames(it.States)[k] + "/" + contentName(it.States[k].Type)
	}, partial)
}

// healthXattrs render a content report as attributes: user.cbfs.status
// ("ok", or "<class>: <error>"), and when it fails user.cbfs.healthy_state
// (if there is one) and user.cbfs.salvage.
func healthXattrs(h mailbox.ContentHealth) []xattr {
	status := h.Status
	if h.Error != "" {
		status += ": " + h.Error
	}
	xa := []xattr{{xattrPrefix + "status", status}}
	if h.HealthyState != "" {
		xa = append(xa, xattr{xattrPrefix + "healthy_state", h.HealthyState})
	}
	if h.Salvage != "" {
		xa = append(xa, xattr{xattrPrefix + "salvage", h.Salvage})
	}
	return xa
}

// itemFile is the file of an item's content (newItemFile) with the
// attributes of its story: the folder's path (user.cbfs.folder; its id in
// user.cbfs.folder_id) and, when it fails, the reason, where the newest
// earlier healthy state is and what can be salvaged. folder is the path
// the file is shown under if known, else the folder is looked up in the
// tree of the state's moment.
func (f *FS) itemFile(acct index.Account, ref fileRef, ino uint64, folder string, known, deleted bool) *blobFile {
	file := f.newItemFile(ref, ino)
	// The attributes are computed on demand from a few facts, not from
	// ref and acct, which a closure would keep whole: a file node of a
	// listed folder cost 1 KiB more that way (100,000 of them: 100 MiB).
	a := &fileAttrs{accountID: acct.ID, id: ref.id, idx: ref.idx, typ: ref.state.Type, folderID: ref.state.FolderID,
		start: ref.state.Start, flags: ref.state.Flags, digest: ref.cs().Digest, size: ref.cs().Size, csType: ref.cs().Type,
		folder: folder, known: known}
	file.xa = func() []xattr { return f.fileXattrs(a) }
	return file
}

// fileAttrs is what an item file's attributes are computed from.
type fileAttrs struct {
	accountID   string
	id, idx     int
	typ, csType mailbox.ItemType
	folderID    int
	start       mailbox.Millis
	flags       string
	digest      blob.Digest
	size        int64
	folder      string // the path it is shown under (known), else looked up at the state's moment
	known       bool
}

// fileXattrs are an item file's attributes: item id, type, folder, flags,
// digest, and its content's health (for a failing one, where the newest
// earlier healthy state is and what can be salvaged).
func (f *FS) fileXattrs(a *fileAttrs) []xattr {
	path := a.folder
	if !a.known {
		path = f.folderPath(a.accountID, a.folderID, a.start.Time())
	}
	xa := []xattr{
		{xattrPrefix + "itemid", strconv.Itoa(a.id)},
		{xattrPrefix + "type", a.typ.String()},
		{xattrPrefix + "folder", path},
		{xattrPrefix + "folder_id", strconv.Itoa(a.folderID)},
		{xattrPrefix + "flags", a.flags},
		{xattrPrefix + "digest", string(a.digest)},
	}
	err := f.blobs.Health(a.digest, a.size)
	if err != nil {
		// Failing: the whole story needs the item's other states.
		if it, ierr := f.ix.Item(a.accountID, a.id); ierr == nil {
			return append(xa, healthXattrs(f.contentHealth(&it, a.idx))...)
		}
	}
	h := mailbox.BlobHealth(a.digest, "", err)
	if err != nil {
		h.Salvage = mailbox.SalvageNote(partialName(contentName(a.csType)), err)
	}
	return append(xa, healthXattrs(h)...)
}
