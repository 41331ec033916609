package fusefs

import (
	"context"
	"errors"
	"io"
	"strconv"
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
	// folder: the folders/ or at/ folder this file was looked up in (nil
	// elsewhere); opening the file reads ahead the files after itemID.
	folder *folderDir
	itemID int
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
	if b.folder != nil {
		f.readAhead(b.folder, b.itemID) // first: the next blobs load while this one does
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
		data, err := f.readWhole(b.digest, lim)
		if errors.Is(err, blob.ErrTooLarge) {
			return &streamHandle{fsys: f, file: b}, fl, 0
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
	return &streamHandle{fsys: f, file: b}, fl, 0
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
		data, err := b.fsys.readWhole(b.digest, b.limit())
		if err == nil && int64(len(data)) != b.size.Load() {
			err = errors.New("size changed") // cannot happen: blobs are immutable
		}
		h.mem = &memHandle{data: data, err: err}
	}
	h.mu.Unlock()
	return h.mem.Read(ctx, dest, off)
}

// streamHandle decodes a large blob as it is read. It keeps the decoded
// bytes of a window behind the furthest position, so the kernel's
// concurrent, slightly out-of-order readahead is served without restarting;
// a read before the window restarts the decoder. Reads of one handle are
// serialised (one decoder); different handles run in parallel.
//
// The window is a list of fixed-size chunks from a pool: decoding never
// regrows, zeroes or slides a buffer (an earlier doubling buffer spent
// most of the daemon's CPU in makeslice and memmove).
type streamHandle struct {
	fsys *FS
	file *blobFile

	mu       sync.Mutex
	rc       io.ReadCloser
	chunks   []*[]byte // decoded bytes [start, start+decoded), streamChunk each but the last
	start    int64
	decoded  int64 // bytes held in chunks
	finished bool  // the stream ended
	err      error // how it ended: nil = verified
}

var (
	_ = (fs.FileReader)((*streamHandle)(nil))
	_ = (fs.FileReleaser)((*streamHandle)(nil))
)

const streamChunk = 256 << 10

var chunkPool = sync.Pool{New: func() any { b := make([]byte, streamChunk); return &b }}

func (h *streamHandle) dropChunks(n int) {
	for _, c := range h.chunks[:n] {
		*c = (*c)[:streamChunk]
		chunkPool.Put(c)
	}
	h.chunks = append(h.chunks[:0], h.chunks[n:]...)
}

func (h *streamHandle) reset() {
	if h.rc != nil {
		h.rc.Close()
	}
	h.dropChunks(len(h.chunks))
	h.rc, h.start, h.decoded, h.finished, h.err = nil, 0, 0, false, nil
}

// fill decodes one more chunk.
func (h *streamHandle) fill() {
	if h.rc == nil {
		rc, err := h.fsys.store.OpenLimit(h.file.digest, h.file.limit())
		if err != nil {
			h.finished, h.err = true, err
			h.fsys.health.put(h.file.digest, h.file.recorded, err)
			return
		}
		h.rc = rc
	}
	// Not io.ReadFull: it drops an error that comes with the last bytes
	// and turns a short clean end into ErrUnexpectedEOF. Only io.EOF itself
	// is a clean (verified) end; anything else is the blob's fault.
	c := chunkPool.Get().(*[]byte)
	n := 0
	var err error
	for n < len(*c) && err == nil {
		var m int
		m, err = h.rc.Read((*c)[n:])
		n += m
	}
	*c = (*c)[:n]
	if n > 0 {
		h.chunks = append(h.chunks, c)
		h.decoded += int64(n)
	} else {
		chunkPool.Put(c)
	}
	if err != nil {
		h.finished = true
		if err != io.EOF {
			h.err = err
		}
		h.fsys.health.put(h.file.digest, h.file.recorded, h.err)
	}
}

// trim drops whole chunks that end before keep and lie more than
// streamWindow behind the decoded end.
func (h *streamHandle) trim(keep int64) {
	end := h.start + h.decoded
	n := 0
	for n < len(h.chunks) {
		cl := int64(len(*h.chunks[n]))
		if h.start+cl > keep || end-(h.start+cl) < streamWindow {
			break
		}
		h.start += cl
		h.decoded -= cl
		n++
	}
	if n > 0 {
		h.dropChunks(n)
	}
}

// copyOut copies decoded bytes from off into dest and returns how many.
func (h *streamHandle) copyOut(dest []byte, off int64) int {
	pos := h.start
	w := 0
	for _, c := range h.chunks {
		cl := int64(len(*c))
		if off >= pos+cl {
			pos += cl
			continue
		}
		w += copy(dest[w:], (*c)[off+int64(w)-pos:])
		if w == len(dest) {
			break
		}
		pos += cl
	}
	return w
}

func (h *streamHandle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if off < h.start {
		h.reset()
	}
	want := off + int64(len(dest))
	size := h.file.size.Load()
	toEnd := size < 0 || want >= size // this read returns the last byte: verify first
	for !h.finished && (toEnd || h.start+h.decoded < want) {
		h.fill()
		h.trim(off)
		if ctx.Err() != nil {
			return nil, syscall.EINTR
		}
	}
	if h.err != nil {
		return nil, syscall.EIO
	}
	if off < h.start { // cannot happen: trim keeps off
		return nil, syscall.EIO
	}
	return fuse.ReadResultData(dest[:h.copyOut(dest, off)]), 0
}

func (h *streamHandle) Release(ctx context.Context) syscall.Errno {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.rc != nil {
		h.rc.Close()
		h.rc = nil
	}
	h.dropChunks(len(h.chunks))
	return 0
}

// newItemFile is the file of an item's content as of ref's state.
func (f *FS) newItemFile(ref fileRef, ino uint64, folder string) *blobFile {
	file := &blobFile{digest: ref.cs.Digest, recorded: max(ref.cs.Size, 0)}
	mt := ref.state.Date.Time()
	if mt.IsZero() {
		mt = ref.state.Start.Time()
	}
	size := ref.cs.Size
	if size <= 0 {
		// The index does not know: take the gzip trailer's word, and
		// do not let the kernel trust it.
		size = -1
		if s, err := f.store.SizeHint(ref.cs.Digest); err == nil {
			size = s
		}
		file.sizeUnsure = true
	}
	file.init(f, ino, false, size, mt)
	if folder == "" {
		folder = strconv.Itoa(ref.state.FolderID)
	}
	file.xa = func() []xattr {
		return []xattr{
			{xattrPrefix + "itemid", strconv.Itoa(ref.id)},
			{xattrPrefix + "type", ref.state.Type.String()},
			{xattrPrefix + "folder", folder},
			{xattrPrefix + "flags", ref.state.Flags},
			{xattrPrefix + "digest", string(ref.cs.Digest)},
			{xattrPrefix + "status", statusOf(f.blobHealth(ref.cs.Digest, ref.cs.Size))},
		}
	}
	return file
}
