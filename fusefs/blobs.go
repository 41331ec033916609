package fusefs

import (
	"context"
	"os"
	"strings"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/cbfs/cbfs/blob"
)

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
			{xattrPrefix + "status", statusOf(d.fsys.blobs.Health(dg, 0))},
		}
	}
	return newChild(ctx, &d.Inode, file, out), 0
}
