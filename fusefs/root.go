package fusefs

import (
	"context"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
)

// ---- / ----

// rootDir is the mount's root: accounts/, blobs/, search/, server/ (static).
type rootDir struct{ node }

var (
	_ = (fs.NodeOnAdder)((*rootDir)(nil))
	_ = (fs.NodeOpendirHandler)((*rootDir)(nil))
	_ = (fs.NodeGetattrer)((*rootDir)(nil))
)

func (r *rootDir) OnAdd(ctx context.Context) {
	for _, t := range r.fsys.tops(0) { // refresh.go swaps them for newer ones
		addStatic(ctx, &r.Inode, t.name, t.node)
	}
}

func (r *rootDir) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	return openList(childEntries(&r.Inode), 0)
}
