package fusefs

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/cbfs/cbfs/blob"
)

// ---- blobFile: a blob's decompressed, verified content ----

// blobFile serves blob digest. Blobs up to Options.SmallBlob are
// decompressed whole and verified at open (through the LRU); bigger ones
// stream through a per-handle decoder. Either way a blob that turns out
// broken or unreadable fails read with EIO, at the latest on the read that
// reaches its end, so its last byte is never returned unverified.
type blobFile struct {
	node
	digest     blob.Digest
	recorded   int64 // the size the state records (0: none)
	sizeUnsure bool  // the size is a guess (blobs/): serve with direct I/O
	// seq: the files of the folders/, at/ or Maildir folder this file
	// was looked up in (nil elsewhere); opening the file asks the cache to
	// read ahead those after seqKey (its item id).
	seq    *blob.Sequence
	seqKey int
	// verified: an open read the blob whole, sound and exactly the
	// file's size. Later opens then decode nothing unless the kernel
	// asks for a page it no longer has (lazyHandle).
	verified atomic.Bool
}

// limit is what the file's blob may hold: its recorded size, beyond which
// it is broken (never served as if healthy: the kernel was told that size).
func (b *blobFile) limit() blob.Limit { return blob.Limit{Size: b.recorded} }

var (
	_ = (fs.NodeOpener)((*blobFile)(nil))
	_ = (fs.NodeGetxattrer)((*blobFile)(nil))
	_ = (fs.NodeListxattrer)((*blobFile)(nil))
	_ = (fs.NodeSetattrer)((*blobFile)(nil))
)

func (b *blobFile) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if writeFlags(flags) {
		return nil, 0, syscall.EROFS
	}
	f := b.fsys
	if b.seq != nil {
		f.blobs.Prefetch(b.seq, b.seqKey) // first: the next blobs load while this one does
	}
	fl := uint32(fuse.FOPEN_KEEP_CACHE)
	if b.sizeUnsure {
		fl = fuse.FOPEN_DIRECT_IO
	}
	size := b.size.Load()
	if b.verified.Load() {
		// Read and verified before: the kernel likely still has its pages
		// (FOPEN_KEEP_CACHE), and then no READ comes at all.
		return &lazyHandle{file: b}, fl, 0
	}
	if size >= 0 && size <= f.opt.SmallBlob {
		lim := b.limit()
		if lim.Size <= 0 {
			// The size is the gzip trailer's guess, which a bomb can
			// make small: read whole only what fits, else stream.
			lim.Max = f.opt.SmallBlob
		}
		data, err := f.blobs.ReadLimit(b.digest, lim)
		if errors.Is(err, blob.ErrTooLarge) {
			return &streamHandle{file: b, w: f.blobs.Window(b.digest, b.limit())}, fl, 0
		}
		if err == nil && int64(len(data)) != size {
			// The index was wrong, or guessed: serve what the blob holds
			// (never more than the recorded size: that is broken).
			b.size.Store(int64(len(data)))
			fl = fuse.FOPEN_DIRECT_IO
		} else if err == nil && !b.sizeUnsure {
			b.verified.Store(true)
		}
		return &memHandle{data: data, err: err}, fl, 0
	}
	return &streamHandle{file: b, w: f.blobs.Window(b.digest, b.limit())}, fl, 0
}

// memHandle serves bytes read whole (or the error that prevented it).
type memHandle struct {
	data []byte
	err  error
}

var _ = (fs.FileReader)((*memHandle)(nil))

func (h *memHandle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if h.err != nil {
		return nil, syscall.EIO
	}
	return fuse.ReadResultData(slice(h.data, dest, off)), 0
}

// lazyHandle serves a small blob read and verified by an earlier open of
// the same file: it reads it again (through the cache) only if the kernel
// asks for a page, so reopening a file whose pages the kernel kept costs
// no decoding. Blobs are immutable, and the read is verified again.
type lazyHandle struct {
	file *blobFile
	mu   sync.Mutex
	mem  *memHandle
}

var _ = (fs.FileReader)((*lazyHandle)(nil))

func (h *lazyHandle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	h.mu.Lock()
	if h.mem == nil {
		b := h.file
		data, err := b.fsys.blobs.ReadLimit(b.digest, b.limit())
		if err == nil && int64(len(data)) != b.size.Load() {
			err = errors.New("size changed") // cannot happen: blobs are immutable
		}
		h.mem = &memHandle{data: data, err: err}
	}
	h.mu.Unlock()
	return h.mem.Read(ctx, dest, off)
}

// streamHandle serves a large blob as it is decoded, through a
// blob.Window (which keeps the decoded bytes behind the furthest position,
// so the kernel's concurrent, slightly out-of-order readahead is served
// without restarting, and verifies before the last byte is returned).
type streamHandle struct {
	file *blobFile
	w    *blob.Window
}

var (
	_ = (fs.FileReader)((*streamHandle)(nil))
	_ = (fs.FileReleaser)((*streamHandle)(nil))
)

func (h *streamHandle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	n, err := h.w.ReadAt(ctx, dest, off, h.file.size.Load())
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return nil, syscall.EINTR
		}
		return nil, syscall.EIO
	}
	return fuse.ReadResultData(dest[:n]), 0
}

func (h *streamHandle) Release(ctx context.Context) syscall.Errno {
	h.w.Close()
	return 0
}

// newItemFile is the file of an item's content as of ref's state, without
// attributes (itemFile adds them).
func (f *FS) newItemFile(ref fileRef, ino uint64) *blobFile {
	file := &blobFile{digest: ref.cs().Digest, recorded: max(ref.cs().Size, 0)}
	mt := ref.state.Date.Time()
	if mt.IsZero() {
		mt = ref.state.Start.Time()
	}
	size := ref.cs().Size
	if size <= 0 {
		// The index does not know: take the gzip trailer's word, and
		// do not let the kernel trust it.
		size = -1
		if s, err := f.store.SizeHint(ref.cs().Digest); err == nil {
			size = s
		}
		file.sizeUnsure = true
	}
	file.init(f, ino, false, size, mt)
	return file
}
