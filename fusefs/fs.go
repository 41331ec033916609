package fusefs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
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

// Options tune a mounted tree. Zero values take the defaults.
type Options struct {
	// CacheBytes bounds the cache of decompressed small blobs (default 16
	// MiB: the kernel keeps files read through the mount in its page cache,
	// so this one mostly holds read-ahead; half of it is the read-ahead
	// window). The mount's peak RSS is about 85 MiB plus this.
	CacheBytes int64
	// SmallBlob: blobs up to this many bytes are decompressed whole and
	// verified at open; bigger ones stream (default 1 MiB).
	SmallBlob int64
	// Timeout is the kernel's entry, attribute and negative-entry cache
	// timeout (default 1 hour): the tree does not change while mounted.
	Timeout time.Duration
	// UID and GID own every file (default: the mounting process's).
	UID, GID uint32
	// Umask clears permission bits of every file (0444) and folder (0555);
	// the kernel enforces them (default_permissions). Backed-up mail is
	// private: cbfs mount defaults to 077, only the owner reads.
	Umask uint32
	// DisableReadDirPlus turns READDIRPLUS off (see doc.go).
	DisableReadDirPlus bool
	// NoReadAhead turns off the read-ahead of a folder's next files
	// (readahead.go).
	NoReadAhead bool
	// ListingFiles is how many listed folders' files the mount keeps in
	// memory, least recently used dropped first (0: DefaultListingFiles;
	// listings.go).
	ListingFiles int
}

// Defaults.
const (
	DefaultCacheBytes = 16 << 20
	DefaultSmallBlob  = 1 << 20
	DefaultTimeout    = time.Hour
)

// FS is the read-only tree of one indexed Backup Path.
type FS struct {
	ix    *index.Index
	bp    *backuppath.Path
	store *blob.Store
	opt   Options
	mtime time.Time // of the fixed folders: the Backup Path root's
	// blobs is every content byte and every blob's health: read whole
	// and kept, streamed, read ahead, checked once (blob.Cache).
	blobs  *blob.Cache
	hashed hashedInodes
	rf     refresher // refresh.go
	lists  listings  // the folders holding a listing (listings.go)
}

// New returns the tree of ix's Backup Path.
func New(ix *index.Index, opt Options) *FS {
	if opt.CacheBytes <= 0 {
		opt.CacheBytes = DefaultCacheBytes
	}
	if opt.SmallBlob <= 0 {
		opt.SmallBlob = DefaultSmallBlob
	}
	if opt.Timeout <= 0 {
		opt.Timeout = DefaultTimeout
	}
	if opt.UID == 0 && opt.GID == 0 {
		opt.UID, opt.GID = uint32(os.Getuid()), uint32(os.Getgid())
	}
	bp := ix.BackupPath()
	f := &FS{ix: ix, bp: bp, store: bp.Blobs, opt: opt}
	f.lists.max = opt.ListingFiles
	if f.lists.max <= 0 {
		f.lists.max = DefaultListingFiles
	}
	if fi, err := os.Stat(bp.Root); err == nil {
		f.mtime = fi.ModTime()
	}
	co := blob.CacheOptions{MaxBytes: opt.CacheBytes, SmallBlob: opt.SmallBlob, NoPrefetch: opt.NoReadAhead}
	if bp.Blobless() { // no items/ (metadata only)
		co.Unavailable = errBlobless
	}
	f.blobs = blob.NewCache(bp.Blobs, co)
	return f
}

// errBlobless is the status of every content file of a Backup Path without
// items/: not damage, the content is simply kept elsewhere (or nowhere).
var errBlobless = fmt.Errorf("%w: blobless Backup Path (no items/ folder): the content is not kept here", blob.ErrUnreadable)

// Root is the root node, for fs.Mount.
func (f *FS) Root() fs.InodeEmbedder {
	r := &rootDir{}
	r.init(f, inoRoot, true, 0, f.mtime)
	r.xa = f.rootXattrs
	f.rf.root = r
	return r
}

// MountOptions returns the go-fuse options this tree is meant to be mounted
// with: read-only, explicit kernel cache timeouts, READDIRPLUS as measured.
func (f *FS) MountOptions(debug, allowOther, direct bool) *fs.Options {
	t := f.opt.Timeout
	return &fs.Options{
		EntryTimeout:    &t,
		AttrTimeout:     &t,
		NegativeTimeout: &t,
		UID:             f.opt.UID,
		GID:             f.opt.GID,
		RootStableAttr:  &fs.StableAttr{Ino: inoRoot},
		MountOptions: fuse.MountOptions{
			FsName:             "cbfs:" + f.bp.Root,
			Name:               "cbfs",
			Options:            []string{"ro", "default_permissions"},
			DirectMount:        direct,
			DirectMountFlags:   syscall.MS_RDONLY | syscall.MS_NOSUID | syscall.MS_NODEV,
			AllowOther:         allowOther,
			Debug:              debug,
			DisableReadDirPlus: f.opt.DisableReadDirPlus,
			// READDIRPLUS_AUTO: the kernel asks for attributes with the
			// names only while the lister stats them (ls -l, cp -r) and
			// after the first chunk otherwise, so a plain ls or find of
			// 100,000 messages does not make 100,000 nodes (about 1 KiB
			// each, kept while the kernel remembers them).
			ExtraCapabilities: readdirplusAuto(f.opt.DisableReadDirPlus),
			MaxReadAhead:      1 << 20,
			MaxWrite:          1 << 20,
		},
	}
}

func readdirplusAuto(off bool) uint64 {
	if off {
		return 0
	}
	return fuse.CAP_READDIRPLUS_AUTO
}

// ---- the node every type embeds ----

// node holds what every node has: its attributes, fixed at creation (a size
// learnt to be wrong at open is corrected), and the answer EROFS to every
// write.
type node struct {
	fs.Inode
	fsys  *FS
	ino   uint64
	dir   bool
	size  atomic.Int64
	mtime time.Time
	xa    func() []xattr // user.cbfs.* attributes, computed on demand; nil: none
	gen   uint64         // refresh generation (StableAttr.Gen, refresh.go)
}

func (n *node) init(f *FS, ino uint64, dir bool, size int64, mtime time.Time) {
	n.fsys, n.ino, n.dir, n.mtime = f, ino, dir, mtime
	n.size.Store(size)
}

func (n *node) stable() fs.StableAttr {
	if n.dir {
		return fs.StableAttr{Mode: syscall.S_IFDIR, Ino: n.ino, Gen: n.gen}
	}
	return fs.StableAttr{Mode: syscall.S_IFREG, Ino: n.ino, Gen: n.gen}
}

func (n *node) fill(a *fuse.Attr) {
	a.Ino = n.ino
	if a.Ino == 0 {
		a.Ino = n.StableAttr().Ino
	}
	if n.dir {
		a.Mode = syscall.S_IFDIR | 0o555&^n.fsys.opt.Umask
		a.Nlink = 2
	} else {
		a.Mode = syscall.S_IFREG | 0o444&^n.fsys.opt.Umask
		a.Nlink = 1
	}
	sz := n.size.Load()
	if sz < 0 {
		sz = 0
	}
	a.Size = uint64(sz)
	a.Blocks = (a.Size + 511) / 512
	a.Blksize = 4096
	t := n.mtime
	a.SetTimes(&t, &t, &t)
	a.Owner = fuse.Owner{Uid: n.fsys.opt.UID, Gid: n.fsys.opt.GID}
}

func (n *node) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	n.fill(&out.Attr)
	return 0
}

func (n *node) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	out.Bsize, out.Frsize, out.NameLen = 4096, 4096, 255
	return 0
}

// Flush answers ENOSYS: nothing is ever buffered for writing, and on the
// first ENOSYS the kernel stops sending FLUSH for the whole mount (its
// no_flush), saving one round trip on every close. Each round trip costs
// ~50 us of daemon CPU on this 2-core VM, which dominates reading many
// small files.
func (n *node) Flush(ctx context.Context, fh fs.FileHandle) syscall.Errno {
	return syscall.ENOSYS
}

var _ = (fs.NodeFlusher)((*node)(nil))

// Writes of every kind: EROFS (the mount is also read-only in the kernel,
// which answers most of them before they get here).
func (n *node) Setattr(ctx context.Context, fh fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	return syscall.EROFS
}
func (n *node) Setxattr(ctx context.Context, attr string, data []byte, flags uint32) syscall.Errno {
	return syscall.EROFS
}
func (n *node) Removexattr(ctx context.Context, attr string) syscall.Errno { return syscall.EROFS }
func (n *node) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	return nil, nil, 0, syscall.EROFS
}
func (n *node) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return nil, syscall.EROFS
}
func (n *node) Mknod(ctx context.Context, name string, mode uint32, dev uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return nil, syscall.EROFS
}
func (n *node) Link(ctx context.Context, target fs.InodeEmbedder, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return nil, syscall.EROFS
}
func (n *node) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return nil, syscall.EROFS
}
func (n *node) Unlink(ctx context.Context, name string) syscall.Errno { return syscall.EROFS }
func (n *node) Rmdir(ctx context.Context, name string) syscall.Errno  { return syscall.EROFS }
func (n *node) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	return syscall.EROFS
}

// xattr is one extended attribute.
type xattr struct{ name, value string }

const xattrPrefix = "user.cbfs."

// Getxattr answers user.cbfs.* names. A name outside the user namespace
// (ls -l asks for system.posix_acl_access and security.selinux on every
// file) gets EOPNOTSUPP: the tree has no ACLs or security labels, and GNU
// ls remembers that answer per device and stops asking, so a 100k-file ls -l
// costs two getxattr round trips instead of 200,000. Other user.* names get
// ENODATA. Neither touches the index or a blob.
func (n *node) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	if !strings.HasPrefix(attr, "user.") {
		return 0, syscall.EOPNOTSUPP
	}
	if n.xa == nil || !strings.HasPrefix(attr, xattrPrefix) {
		return 0, syscall.ENODATA
	}
	for _, x := range n.xa() {
		if x.name == attr {
			if len(dest) < len(x.value) {
				return uint32(len(x.value)), syscall.ERANGE
			}
			return uint32(copy(dest, x.value)), 0
		}
	}
	return 0, syscall.ENODATA
}

// Listxattr names the attributes this node has now: those n.xa returns
// (healthy_state and salvage only for a damaged item), so that getfattr -d,
// which asks for every name listed, never meets "No such attribute". It
// computes the values to know which exist: what getfattr -d then reads
// anyway.
func (n *node) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	if n.xa == nil {
		return 0, 0
	}
	var b []byte
	for _, x := range n.xa() {
		b = append(b, x.name...)
		b = append(b, 0)
	}
	if len(dest) < len(b) {
		return uint32(len(b)), syscall.ERANGE
	}
	return uint32(copy(dest, b)), 0
}

// ---- helpers for directories ----

// errno maps an index or Backup Path error to what the kernel gets.
func errno(err error) syscall.Errno {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, index.ErrNotFound), errors.Is(err, os.ErrNotExist):
		return syscall.ENOENT
	case errors.Is(err, context.Canceled):
		// The kernel interrupted the request (the caller got a signal:
		// Go's preemption signals do it under load): EINTR lets it
		// restart the call, EIO would fail it.
		return syscall.EINTR
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

// child is a node a directory can hand to the kernel.
type child interface {
	fs.InodeEmbedder
	stable() fs.StableAttr
	fill(*fuse.Attr)
	setGen(uint64)
}

// newChild registers c under parent and fills out (go-fuse reuses an
// existing node with the same inode number).
func newChild(ctx context.Context, parent *fs.Inode, c child, out *fuse.EntryOut) *fs.Inode {
	c.setGen(genOf(parent))
	in := parent.NewInode(ctx, c, c.stable())
	if ops, ok := in.Operations().(child); ok {
		ops.fill(&out.Attr)
	} else {
		c.fill(&out.Attr)
	}
	return in
}

// addStatic adds c as a persistent child (static folders).
func addStatic(ctx context.Context, parent *fs.Inode, name string, c child) {
	c.setGen(genOf(parent))
	parent.AddChild(name, parent.NewPersistentInode(ctx, c, c.stable()), false)
}

func dirEntry(name string, dir bool, ino uint64) fuse.DirEntry {
	m := uint32(syscall.S_IFREG)
	if dir {
		m = syscall.S_IFDIR
	}
	return fuse.DirEntry{Name: name, Mode: m, Ino: ino}
}

// childEntries lists a static folder's children, sorted by name.
func childEntries(n *fs.Inode) []fuse.DirEntry {
	kids := n.Children()
	out := make([]fuse.DirEntry, 0, len(kids))
	for name, c := range kids {
		out = append(out, fuse.DirEntry{Name: name, Mode: c.Mode(), Ino: c.StableAttr().Ino})
	}
	sortEntries(out)
	return out
}

func sortEntries(e []fuse.DirEntry) {
	sort.Slice(e, func(i, j int) bool { return e[i].Name < e[j].Name })
}

// listHandle serves a folder listing computed once at opendir. The kernel
// may cache it (FOPEN_CACHE_DIR): listings never change while mounted.
type listHandle struct {
	mu      sync.Mutex
	entries []fuse.DirEntry
	pos     int
}

func openList(entries []fuse.DirEntry, errno syscall.Errno) (fs.FileHandle, uint32, syscall.Errno) {
	if errno != 0 {
		return nil, 0, errno
	}
	return &listHandle{entries: entries}, fuse.FOPEN_CACHE_DIR | fuse.FOPEN_KEEP_CACHE, 0
}

func (h *listHandle) Readdirent(ctx context.Context) (*fuse.DirEntry, syscall.Errno) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.pos >= len(h.entries) {
		return nil, 0
	}
	e := h.entries[h.pos]
	h.pos++
	e.Off = uint64(h.pos)
	return &e, 0
}

func (h *listHandle) Seekdir(ctx context.Context, off uint64) syscall.Errno {
	h.mu.Lock()
	defer h.mu.Unlock()
	if off > uint64(len(h.entries)) {
		off = uint64(len(h.entries))
	}
	h.pos = int(off)
	return 0
}

func (h *listHandle) Releasedir(ctx context.Context, releaseFlags uint32) {}

var (
	_ = (fs.FileReaddirenter)((*listHandle)(nil))
	_ = (fs.FileSeekdirer)((*listHandle)(nil))
	_ = (fs.FileReleasedirer)((*listHandle)(nil))
)
