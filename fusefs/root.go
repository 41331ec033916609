package fusefs

import (
	"context"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
)

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
