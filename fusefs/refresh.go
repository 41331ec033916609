package fusefs

// A running mount picks up new backups here: Refresh re-reads the index
// (index.Index.Refresh), then swaps the root's three folders for new nodes
// of a new generation and tells the kernel to forget the old entries.
//
// Every node carries the generation it was built in (StableAttr.Gen;
// children inherit their parent's, newChild and addStatic). go-fuse keys
// nodes by the whole StableAttr, so a node of the new generation is a new
// node even where its inode number (st_ino, from index identities) is the
// same as before: no listing, size or date cached by an old node is
// reused. The old nodes stay valid for whoever still holds them (an open
// file, a shell's working folder: they see the tree as it was, as with a
// folder deleted under them) and are dropped once the kernel forgets them.

import (
	"context"
	"fmt"
	"hash/fnv"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/cbfs/cbfs/backuppath"
)

// MountInfo is what a mount says about itself in its root's extended
// attributes (user.cbfs.source, user.cbfs.index, user.cbfs.since,
// user.cbfs.pid, user.cbfs.refresh_every), for cbfs mounts.
type MountInfo struct {
	Source       string // the Backup Path as given (a folder, or s3://...)
	Index        string // the index file
	Since        time.Time
	PID          int
	RefreshEvery time.Duration // the poll's period (0: no poll)
}

// Root extended attributes. XattrRefresh is read, never listed: reading it
// (as root or the mount's owner) refreshes the mount and returns the
// result line (cbfs refresh). The kernel refuses setxattr on a read-only
// mount before the file system sees it, so a read it is.
const (
	XattrSource       = xattrPrefix + "source"
	XattrIndex        = xattrPrefix + "index"
	XattrSince        = xattrPrefix + "since"
	XattrPID          = xattrPrefix + "pid"
	XattrRefreshEvery = xattrPrefix + "refresh_every"
	XattrRefreshed    = xattrPrefix + "refreshed"
	XattrRefresh      = xattrPrefix + "refresh"
)

// RefreshResult says what one Refresh found.
type RefreshResult struct {
	Accounts int      // accounts afterwards
	Added    []string // names of accounts that appeared
	Removed  []string // names of accounts that vanished
	Changed  int      // accounts whose item count, name or status changed
	Items    int      // items of the accounts indexed so far
	Took     time.Duration
	At       time.Time
}

// String is the result as one log line.
func (r RefreshResult) String() string {
	// A refresh reads account_info files only: each account's items are
	// re-read at its next use or by the background indexer, so the line
	// says so instead of counting item files it never read.
	s := fmt.Sprintf("%d accounts (%d new, %d gone, %d changed), %d items indexed so far (each account's items are brought up to date at its next use); took %s",
		r.Accounts, len(r.Added), len(r.Removed), r.Changed, r.Items, r.Took.Round(time.Millisecond))
	if len(r.Added) > 0 {
		s += "; new: " + shortList(r.Added)
	}
	if len(r.Removed) > 0 {
		s += "; gone: " + shortList(r.Removed)
	}
	return s
}

func shortList(names []string) string {
	const most = 10
	if len(names) <= most {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:most], ", ") + fmt.Sprintf(" and %d more", len(names)-most)
}

// refresher is the FS's refresh state.
type refresher struct {
	mu   sync.Mutex // one refresh at a time
	gen  atomic.Uint64
	root *rootDir
	info atomic.Pointer[MountInfo]
	last atomic.Pointer[RefreshResult]
	log  func(why string, res RefreshResult, err error)
	// refreshed is called after each refresh (the mount restarts its
	// background indexer: every account is to be looked at again).
	refreshed func()
}

// OnRefreshed sets a function called after each refresh; call it before
// mounting.
func (f *FS) OnRefreshed(fn func()) { f.rf.refreshed = fn }

// SetRefreshLog sets where refreshes the mount does on its own (Poll, and
// XattrRefresh) are reported, with why; call it before mounting.
func (f *FS) SetRefreshLog(fn func(why string, res RefreshResult, err error)) { f.rf.log = fn }

func (rf *refresher) report(why string, res RefreshResult, err error) {
	if rf.log != nil {
		rf.log(why, res, err)
	}
}

// SetMountInfo records what the root's user.cbfs.* attributes say.
func (f *FS) SetMountInfo(mi MountInfo) { f.rf.info.Store(&mi) }

// Refresh brings the index up to date with the Backup Path and shows the
// result: the root's accounts/, blobs/ and server/ are replaced by fresh
// nodes, and the kernel is told to forget its entries for them, so the
// next lookup or listing sees new accounts, items and states, and no
// longer sees vanished ones. Safe to call at any time from any goroutine;
// calls are serialised. Before the tree is mounted it only refreshes the
// index.
func (f *FS) Refresh(ctx context.Context) (RefreshResult, error) {
	f.rf.mu.Lock()
	defer f.rf.mu.Unlock()
	start := time.Now()
	before, _ := f.ix.Accounts()
	// The account list only: each account's items are brought up to date
	// when it is next used (or by the mount's background indexer), so a
	// refresh of a path of any size takes the time of its account_info
	// files, not of its items.
	st, err := f.ix.RefreshAccounts(ctx)
	if err != nil {
		return RefreshResult{}, err
	}
	after, err := f.ix.Accounts()
	if err != nil {
		return RefreshResult{}, fmt.Errorf("list accounts: %w", err)
	}
	res := RefreshResult{Accounts: len(after), Items: st.Items}
	old := make(map[string]string, len(before)) // id -> summary
	oldName := make(map[string]string, len(before))
	for _, a := range before {
		old[a.ID] = fmt.Sprintf("%s|%s|%d|%s", a.Name, a.Status, a.Items, a.Err)
		oldName[a.ID] = a.Name
	}
	for _, a := range after {
		o, ok := old[a.ID]
		switch {
		case !ok:
			res.Added = append(res.Added, a.Name)
		case o != fmt.Sprintf("%s|%s|%d|%s", a.Name, a.Status, a.Items, a.Err):
			res.Changed++
		}
		delete(oldName, a.ID)
	}
	for _, n := range oldName {
		res.Removed = append(res.Removed, n)
	}
	sort.Strings(res.Removed)
	f.swapTops(ctx)
	res.Took, res.At = time.Since(start), time.Now()
	f.rf.last.Store(&res)
	if f.rf.refreshed != nil {
		f.rf.refreshed()
	}
	return res, nil
}

// swapTops replaces the root's folders by nodes of a new generation and
// tells the kernel (mu held).
func (f *FS) swapTops(ctx context.Context) {
	r := f.rf.root
	if r == nil || r.Inode.StableAttr().Ino == 0 { // not mounted (yet)
		return
	}
	g := f.rf.gen.Add(1)
	for _, t := range f.tops(g) {
		old := r.GetChild(t.name)
		r.AddChild(t.name, r.NewPersistentInode(ctx, t.node, t.node.stable()), true)
		// The kernel drops its dentry (and everything below it): the next
		// walk looks the name up again and meets the new node.
		r.NotifyEntry(t.name)
		if old != nil {
			forgetTree(old)
		}
	}
}

// forgetTree lets go-fuse drop n and every persistent node below it once
// the kernel forgets them (static folders are persistent).
func forgetTree(n *gofs.Inode) {
	for _, c := range n.Children() {
		forgetTree(c)
	}
	n.ForgetPersistent()
}

// top is one of the root's folders.
type top struct {
	name string
	node child
}

// tops are the root's folders, of generation g.
func (f *FS) tops(g uint64) []top {
	a := &accountsDir{}
	a.init(f, inoAccounts, true, 0, f.mtime)
	b := &blobsDir{}
	b.init(f, inoBlobs, true, 0, f.mtime)
	s := &serverDir{}
	s.init(f, inoServer, true, 0, f.mtime)
	q := &searchDir{}
	q.init(f, inoSearch, true, 0, f.mtime)
	out := []top{{"accounts", a}, {"blobs", b}, {"search", q}, {"server", s}}
	for _, t := range out {
		t.node.setGen(g)
	}
	return out
}

// generation is the refresh generation n was built in.
func (n *node) generation() uint64 { return n.gen }
func (n *node) setGen(g uint64)    { n.gen = g }

// genOf is the generation of a parent's children.
func genOf(parent *gofs.Inode) uint64 {
	if g, ok := parent.Operations().(interface{ generation() uint64 }); ok {
		return g.generation()
	}
	return 0
}

// ---- the root's attributes ----

var _ = (gofs.NodeGetxattrer)((*rootDir)(nil))

// Getxattr answers the mount's own attributes, and XattrRefresh by
// refreshing (callers root or the mount's owner; others get EPERM). A
// size query (empty dest) does not refresh: it answers an upper bound, so
// that the read which follows is the one refresh.
func (r *rootDir) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	if attr != XattrRefresh {
		return r.node.Getxattr(ctx, attr, dest)
	}
	if c, ok := fuse.FromContext(ctx); ok && c.Uid != 0 && c.Uid != uint32(os.Geteuid()) {
		return 0, syscall.EPERM
	}
	const bound = 4096
	if len(dest) == 0 {
		return bound, 0
	}
	// The refresh runs on its own: a caller that gives up (Ctrl-C) leaves
	// it to finish rather than half done.
	type answer struct {
		line string
		err  error
	}
	done := make(chan answer, 1)
	go func() {
		res, err := r.fsys.Refresh(context.WithoutCancel(ctx))
		r.fsys.rf.report("cbfs refresh", res, err)
		if err != nil {
			done <- answer{err: err}
			return
		}
		done <- answer{line: "refreshed: " + res.String()}
	}()
	var a answer
	select {
	case a = <-done:
	case <-ctx.Done():
		return 0, syscall.EINTR
	}
	if a.err != nil {
		a.line = "error: " + a.err.Error()
	}
	if len(a.line) > bound {
		a.line = a.line[:bound]
	}
	if len(dest) < len(a.line) {
		return uint32(len(a.line)), syscall.ERANGE
	}
	return uint32(copy(dest, a.line)), 0
}

// rootXattrs are the root's listed attributes.
func (f *FS) rootXattrs() []xattr {
	var out []xattr
	if mi := f.rf.info.Load(); mi != nil {
		if mi.Source != "" {
			out = append(out, xattr{XattrSource, mi.Source})
		}
		if mi.Index != "" {
			out = append(out, xattr{XattrIndex, mi.Index})
		}
		if !mi.Since.IsZero() {
			out = append(out, xattr{XattrSince, mi.Since.UTC().Format(time.RFC3339)})
		}
		if mi.PID > 0 {
			out = append(out, xattr{XattrPID, strconv.Itoa(mi.PID)})
		}
		out = append(out, xattr{XattrRefreshEvery, mi.RefreshEvery.String()})
	}
	if l := f.rf.last.Load(); l != nil {
		out = append(out, xattr{XattrRefreshed, l.At.UTC().Format(time.RFC3339) + " " + l.String()})
	}
	return out
}

// ---- noticing changes on its own ----

// Fingerprint sums the modification times and sizes of what a backup run
// changes in a Backup Path: the root, backupstat, accounts/, server/
// (servers/), and each account's folder, account_info, account_stat and
// items/ folder. Four lstat calls per account and one listing of
// accounts/: no item file is read. A writer that only adds a state to an
// existing item file, touching none of these, is not noticed (cbfs
// refresh is).
func Fingerprint(root string) uint64 {
	h := fnv.New64a()
	add := func(rel string) {
		fi, err := os.Lstat(filepath.Join(root, rel))
		if err != nil {
			fmt.Fprintf(h, "%s:-\n", rel)
			return
		}
		fmt.Fprintf(h, "%s:%d:%d\n", rel, fi.ModTime().UnixNano(), fi.Size())
	}
	for _, rel := range []string{".", backuppath.BackupStatFile, backuppath.AccountsDir, backuppath.ServerDir, backuppath.ServerDirAlt} {
		add(rel)
	}
	ents, err := os.ReadDir(filepath.Join(root, backuppath.AccountsDir))
	if err != nil {
		return h.Sum64()
	}
	for _, e := range ents {
		if e.Type()&fs.ModeType != fs.ModeDir {
			continue
		}
		d := filepath.Join(backuppath.AccountsDir, e.Name())
		add(d)
		add(filepath.Join(d, backuppath.AccountInfoFile))
		add(filepath.Join(d, backuppath.AccountStatFile))
		add(filepath.Join(d, backuppath.ItemsDir))
	}
	return h.Sum64()
}

// Poll refreshes the mount whenever the Backup Path's Fingerprint changes,
// looking every period, until ctx ends. Each refresh is reported to
// the refresh log (SetRefreshLog).
func (f *FS) Poll(ctx context.Context, every time.Duration) {
	if every <= 0 {
		return
	}
	last := Fingerprint(f.bp.Root)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := Fingerprint(f.bp.Root)
		if now == last {
			continue
		}
		res, err := f.Refresh(ctx)
		f.rf.report("Backup Path changed", res, err)
		if err == nil {
			last = now
		}
	}
}
