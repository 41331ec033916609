package fusefs

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/index"
	"github.com/cbfs/cbfs/mailbox"
)

// ---- changes/ ----

// changesDir is accounts/<name>/changes/: a folder per UTC day on which
// the account changed (the days at/ lists, index.ChangeDays), each holding
// what cbctl backup getChanges says for that day (changesDay).
type changesDir struct {
	node
	acct index.Account
}

var (
	_ = (fs.NodeLookuper)((*changesDir)(nil))
	_ = (fs.NodeOpendirHandler)((*changesDir)(nil))
)

func (d *changesDir) key(name string) string { return "changes:" + d.acct.ID + ":" + name }

// days are the account's change days by name (YYYY-MM-DD, UTC).
func (d *changesDir) days() (map[string]time.Time, []string, error) {
	days, err := d.fsys.ix.ChangeDays(d.acct.ID)
	if err != nil {
		return nil, nil, err
	}
	byName := map[string]time.Time{}
	var names []string
	for _, t := range days {
		n := t.UTC().Format(atDayLayout)
		if _, dup := byName[n]; !dup {
			byName[n] = t.UTC()
			names = append(names, n)
		}
	}
	return byName, names, nil
}

func (d *changesDir) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	_, names, err := d.days()
	if err != nil {
		return openList(nil, errno(err))
	}
	out := make([]fuse.DirEntry, 0, len(names))
	for _, n := range names {
		out = append(out, dirEntry(n, true, d.fsys.hashed.ino(d.key(n))))
	}
	return openList(out, 0)
}

// Lookup answers the days it lists, and no others: a day without a change
// has no folder.
func (d *changesDir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if _, err := time.Parse(atDayLayout, name); err != nil {
		return nil, syscall.ENOENT
	}
	byName, _, err := d.days()
	if err != nil {
		return nil, errno(err)
	}
	day, ok := byName[name]
	if !ok {
		return nil, syscall.ENOENT
	}
	cd := &changesDay{acct: d.acct, key: d.key(name), from: day.Add(-time.Millisecond), to: day.Add(24*time.Hour - time.Millisecond)}
	cd.init(d.fsys, d.fsys.hashed.ino(cd.key), true, 0, cd.to)
	return newChild(ctx, &d.Inode, cd, out), 0
}

// ---- changes/<day>/ ----

// The files and folders of a changes day.
const (
	changesText = "changes.txt"
	changesJSON = "changes.json"
)

// changeKinds are the folders of a changes day, by the change kinds that
// name an item with content (a folder's rename has none).
var changeKinds = []string{mailbox.ChangeAdded, mailbox.ChangeDeleted, mailbox.ChangeMoved, mailbox.ChangeReflagged}

// changesDay is changes/<day>/: changes.txt and changes.json, the text
// and --json output of getChanges from the end of the day before (from)
// to the end of the day (to), both UTC; and a folder per kind of change
// (changeKinds) holding each changed item's file: for deleted/ the state
// live at from, for the others the state live at to, each the very file
// items/<id>/<state>/ shows (inode, bytes, attributes). It is computed
// once, when first looked into (one scan of this account's items in the
// index).
type changesDay struct {
	node
	acct     index.Account
	key      string
	from, to time.Time

	once  sync.Once
	text  []byte
	json  []byte
	files map[string]map[string]changeFile // kind -> file name -> file
	err   error
}

// changeFile is an item file of a changes day's folder.
type changeFile struct {
	ref fileRef
	ino uint64
}

var (
	_ = (fs.NodeLookuper)((*changesDay)(nil))
	_ = (fs.NodeOpendirHandler)((*changesDay)(nil))
)

// load computes the day's report and files (once). The index keeps no
// subjects: the items that changed are read again from the Backup Path,
// and the report made over the index's items with those in their place,
// so it is getChanges's own (mailbox.NewChangeReport over the account's
// item files) without reading every item file.
func (d *changesDay) load() error {
	d.once.Do(func() {
		f := d.fsys
		var items []*mailbox.Item
		err := f.ix.Items(d.acct.ID, func(it *index.Item) bool {
			c := *it
			items = append(items, &c)
			return true
		})
		if err != nil {
			d.err = fmt.Errorf("items of %s: %w", d.acct.Name, err)
			return
		}
		changes, err := mailbox.Changes(items, d.from, d.to)
		if err != nil {
			d.err = err
			return
		}
		changed := map[int]bool{}
		for _, ch := range changes {
			changed[ch.ItemID] = true
		}
		byID := make(map[int]*mailbox.Item, len(changed))
		merged := make([]*mailbox.Item, len(items))
		for i, it := range items {
			merged[i] = it
			if !changed[it.ID] {
				continue
			}
			byID[it.ID] = it
			fresh, err := f.bp.ReadItemFile(it.RelPath, it.ID)
			if err != nil {
				fresh = &mailbox.Item{ID: it.ID, RelPath: it.RelPath, Err: err.Error(), ErrClass: blob.Class(err)}
			}
			merged[i] = fresh
		}
		rep, err := mailbox.NewChangeReport(d.acct.Name, d.acct.ID, merged, d.from, d.to)
		if err != nil {
			d.err = err
			return
		}
		var tb, jb bytes.Buffer
		if err := rep.Text(&tb); err != nil {
			d.err = err
			return
		}
		if err := rep.JSON(&jb); err != nil {
			d.err = err
			return
		}
		d.text, d.json = tb.Bytes(), jb.Bytes()
		d.files = map[string]map[string]changeFile{}
		for _, k := range changeKinds {
			d.files[k] = map[string]changeFile{}
		}
		for _, ch := range rep.Changes {
			kind, it := d.files[ch.Kind], byID[ch.ItemID]
			if kind == nil || it == nil {
				continue
			}
			at := d.to
			if ch.Kind == mailbox.ChangeDeleted {
				at = d.from
			}
			ref, ok := stateRef(it, it.ShownAt(at))
			if !ok {
				continue
			}
			kind[itemFileName(it.ID, ref.state.Type)] = changeFile{ref: ref, ino: f.stateIno(kindStateContent, d.acct, it.ID, ref.idx)}
		}
	})
	return d.err
}

func (d *changesDay) kindKey(kind string) string { return d.key + "/" + kind }

func (d *changesDay) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	h := &d.fsys.hashed
	out := []fuse.DirEntry{dirEntry(changesJSON, false, h.ino(d.key+"/"+changesJSON)), dirEntry(changesText, false, h.ino(d.key+"/"+changesText))}
	for _, k := range changeKinds {
		out = append(out, dirEntry(k, true, h.ino(d.kindKey(k))))
	}
	sortEntries(out)
	return openList(out, 0)
}

func (d *changesDay) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	f := d.fsys
	switch name {
	case changesText, changesJSON:
		if err := d.load(); err != nil {
			return nil, errno(err)
		}
		data := d.text
		if name == changesJSON {
			data = d.json
		}
		df := &dataFile{data: data}
		df.init(f, f.hashed.ino(d.key+"/"+name), false, int64(len(data)), d.mtime)
		return newChild(ctx, &d.Inode, df, out), 0
	}
	for _, k := range changeKinds {
		if k == name {
			kd := &changesKind{day: d, kind: k}
			kd.init(f, f.hashed.ino(d.kindKey(k)), true, 0, d.mtime)
			return newChild(ctx, &d.Inode, kd, out), 0
		}
	}
	return nil, syscall.ENOENT
}

// ---- changes/<day>/<kind>/ ----

// changesKind is changes/<day>/<kind>/: the files of the items changed
// that way that day.
type changesKind struct {
	node
	day  *changesDay
	kind string
}

var (
	_ = (fs.NodeLookuper)((*changesKind)(nil))
	_ = (fs.NodeOpendirHandler)((*changesKind)(nil))
)

func (d *changesKind) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if err := d.day.load(); err != nil {
		return openList(nil, errno(err))
	}
	files := d.day.files[d.kind]
	out := make([]fuse.DirEntry, 0, len(files))
	for n, cf := range files {
		out = append(out, dirEntry(n, false, cf.ino))
	}
	sortEntries(out)
	return openList(out, 0)
}

func (d *changesKind) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if err := d.day.load(); err != nil {
		return nil, errno(err)
	}
	cf, ok := d.day.files[d.kind][name]
	if !ok {
		return nil, syscall.ENOENT
	}
	file := d.fsys.itemFile(d.day.acct, cf.ref, cf.ino, "", false, cf.ref.state.Deleted)
	return newChild(ctx, &d.Inode, file, out), 0
}
