package fusefs

import (
	"context"
	"strconv"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/mailbox"
)

// ---- partialFile: what could be salvaged of a broken blob ----

type partialFile struct {
	node
	digest   blob.Digest
	recorded int64 // the size the state records (0: none)
}

var _ = (fs.NodeOpener)((*partialFile)(nil))

func (f *FS) newPartialFile(ref fileRef, ino uint64) *partialFile {
	p := &partialFile{digest: ref.cs().Digest, recorded: ref.cs().Size}
	mt := ref.state.Date.Time()
	if mt.IsZero() {
		mt = ref.state.Start.Time()
	}
	p.init(f, ino, false, int64(len(f.blobs.SalvageLimit(ref.cs().Digest, ref.cs().Size))), mt)
	p.xa = func() []xattr {
		return []xattr{
			{xattrPrefix + "itemid", strconv.Itoa(ref.id)},
			{xattrPrefix + "digest", string(ref.cs().Digest)},
			{xattrPrefix + "status", "partial: " + statusOf(f.blobs.Health(ref.cs().Digest, ref.cs().Size))},
			{xattrPrefix + "salvage", mailbox.SalvageNote(partialName(contentName(ref.cs().Type)), f.blobs.Health(ref.cs().Digest, ref.cs().Size))},
		}
	}
	return p
}

func (p *partialFile) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if writeFlags(flags) {
		return nil, 0, syscall.EROFS
	}
	data := p.fsys.blobs.SalvageLimit(p.digest, p.recorded)
	fl := uint32(fuse.FOPEN_KEEP_CACHE)
	if int64(len(data)) != p.size.Load() {
		p.size.Store(int64(len(data)))
		fl = fuse.FOPEN_DIRECT_IO
	}
	return &memHandle{data: data}, fl, 0
}
