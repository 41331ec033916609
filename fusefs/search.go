package fusefs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/cbfs/cbfs/index"
	"github.com/cbfs/cbfs/search"
)

// ---- search/ ----

// searchDir is search/: looking up a name runs it as a query of the
// search index (doIndexMessages builds it) and answers a folder of the
// matching messages, search/<query>/<account>/<folder path>/<id>.eml,
// each the same file (bytes, attributes, inode) as the state's
// message.eml under accounts/<account>/items/<id>/. It lists nothing: the
// queries are the user's to name (ls "search/from:alice subject:invoice").
type searchDir struct{ node }

var (
	_ = (fs.NodeLookuper)((*searchDir)(nil))
	_ = (fs.NodeOpendirHandler)((*searchDir)(nil))
)

// searchMaxHits bounds one query folder.
const searchMaxHits = 10000

func (d *searchDir) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	return openList(nil, 0)
}

func (d *searchDir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if strings.HasPrefix(name, ".") {
		return nil, syscall.ENOENT // shells and desktops probe .hidden names
	}
	q, err := search.Parse(name)
	if err != nil {
		return nil, syscall.ENOENT
	}
	hits, err := d.fsys.searchHits(q)
	if err != nil {
		slog.Warn("search/: query not answered", "query", name, "err", err)
		return nil, errno(err)
	}
	qd := newSearchTree("search:"+name, hits)
	qd.init(d.fsys, d.fsys.hashed.ino(qd.key), true, 0, d.fsys.mtime)
	return newChild(ctx, &d.Inode, qd, out), 0
}

// searchHits runs q on the Backup Path's search index.
func (f *FS) searchHits(q *search.Query) ([]search.Hit, error) {
	file, err := search.DefaultFile(f.bp.Root)
	if err != nil {
		return nil, err
	}
	six, err := search.Open(file)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no search index of %s (cbctl backup doIndexMessages builds it): %w", f.bp.Root, index.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	defer six.Close()
	if six.Meta().Root != f.bp.Root {
		return nil, fmt.Errorf("%s indexes %s, not %s", file, six.Meta().Root, f.bp.Root)
	}
	hits, _, err := six.Search(q, search.SearchOptions{Limit: searchMaxHits})
	return hits, err
}

// searchTree is a query's folder, an account's under it, or a folder's
// below that: subfolders by name, and the hits whose folder path ends here
// (built whole when the query's folder is looked up; read-only after).
type searchTree struct {
	node
	key   string // hashed inode key of this folder
	subs  map[string]*searchTree
	files map[string]search.Hit
}

var (
	_ = (fs.NodeLookuper)((*searchTree)(nil))
	_ = (fs.NodeOpendirHandler)((*searchTree)(nil))
)

// newSearchTree sorts a query's hits into account folders and folder
// paths.
func newSearchTree(key string, hits []search.Hit) *searchTree {
	top := &searchTree{key: key, subs: map[string]*searchTree{}, files: map[string]search.Hit{}}
	for _, h := range hits {
		t := top
		for _, p := range append([]string{h.Account}, strings.Split(strings.Trim(h.Folder, "/"), "/")...) {
			if p == "" {
				continue
			}
			s := t.subs[p]
			if s == nil {
				s = &searchTree{key: t.key + "/" + p, subs: map[string]*searchTree{}, files: map[string]search.Hit{}}
				t.subs[p] = s
			}
			t = s
		}
		t.files[strconv.Itoa(h.ItemID)+".eml"] = h
	}
	return top
}

func (d *searchTree) entries() []fuse.DirEntry {
	var out []fuse.DirEntry
	for n := range d.subs {
		out = append(out, dirEntry(n, true, d.fsys.hashed.ino(d.subs[n].key)))
	}
	for n, h := range d.files {
		if _, sub := d.subs[n]; !sub {
			out = append(out, dirEntry(n, false, d.fsys.searchIno(h)))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (d *searchTree) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	return openList(d.entries(), 0)
}

func (d *searchTree) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	f := d.fsys
	if s, ok := d.subs[name]; ok {
		c := &searchTree{key: s.key, subs: s.subs, files: s.files} // a node per lookup (go-fuse owns it)
		c.init(f, f.hashed.ino(c.key), true, 0, f.mtime)
		return newChild(ctx, &d.Inode, c, out), 0
	}
	h, ok := d.files[name]
	if !ok {
		return nil, syscall.ENOENT
	}
	file, err := f.searchFile(h)
	if err != nil {
		return nil, errno(err)
	}
	return newChild(ctx, &d.Inode, file, out), 0
}

// hitState finds the state a hit names in the mount's index.
func (f *FS) hitState(h search.Hit) (index.Account, index.Item, int, error) {
	acct, err := f.ix.Account(h.AccountID)
	if err != nil {
		return acct, index.Item{}, -1, err
	}
	it, err := f.ix.Item(h.AccountID, h.ItemID)
	if err != nil {
		return acct, it, -1, err
	}
	for i := range it.States {
		if it.States[i].Start.Time().Equal(h.StateDate) {
			return acct, it, i, nil
		}
	}
	return acct, it, -1, fmt.Errorf("account %s: item %d: no state of %s (the search index is older than the mount's: doIndexMessages refreshes it): %w",
		h.Account, h.ItemID, h.StateDate, index.ErrNotFound)
}

// searchFile is the content file of the state a hit names: the node
// accounts/<account>/items/<id>/<state>/ would give, with its inode.
func (f *FS) searchFile(h search.Hit) (*blobFile, error) {
	acct, it, idx, err := f.hitState(h)
	if err != nil {
		return nil, err
	}
	ref, ok := stateRef(&it, idx)
	if !ok {
		return nil, fmt.Errorf("account %s: item %d: state %d has no content: %w", h.Account, h.ItemID, idx, index.ErrNotFound)
	}
	return f.itemFile(acct, ref, f.stateIno(kindStateContent, acct, it.ID, idx), "", false, it.States[idx].Deleted), nil
}

// searchIno is the inode a hit's file has in a listing: its state's
// content file's (a name's hash if the mount's index lacks the state).
func (f *FS) searchIno(h search.Hit) uint64 {
	if acct, it, idx, err := f.hitState(h); err == nil {
		return f.stateIno(kindStateContent, acct, it.ID, idx)
	}
	return f.hashed.ino(fmt.Sprintf("search-hit:%s:%d:%d", h.AccountID, h.ItemID, h.StateDate.UnixMilli()))
}
