package blob

import (
	"context"
	"io"
	"sync"
)

// Window is a large blob decoded as it is read, for a reader that reads
// at offsets (the kernel's readahead comes concurrent and slightly out of
// order). It keeps the decoded bytes of a window (windowBytes) behind the
// furthest position, so such reads are served without restarting; a read
// before the window restarts the decoder. Reads are serialised (one
// decoder); different Windows run in parallel.
//
// The window is a list of fixed-size chunks from a pool: decoding never
// regrows, zeroes or slides a buffer (an earlier doubling buffer spent
// most of the mount's CPU in makeslice and memmove).
//
// The read that returns the last byte first decodes to the end, where the
// stream verifies the digest: a blob's last byte is never returned
// unverified. How the stream ended is remembered for Cache.Health.
type Window struct {
	c   *Cache
	d   Digest
	lim Limit

	mu       sync.Mutex
	rc       io.ReadCloser
	chunks   []*[]byte // decoded bytes [start, start+decoded), windowChunk each but the last
	start    int64
	decoded  int64 // bytes held in chunks
	finished bool  // the stream ended
	err      error // how it ended: nil = verified
}

const (
	windowChunk = 256 << 10
	windowBytes = 2 << 20 // decoded bytes a Window keeps behind its position
)

var chunkPool = sync.Pool{New: func() any { b := make([]byte, windowChunk); return &b }}

// Window returns a Window over blob d read within l. Nothing is opened
// until the first read.
func (c *Cache) Window(d Digest, l Limit) *Window {
	return &Window{c: c, d: d, lim: l}
}

func (w *Window) dropChunks(n int) {
	for _, c := range w.chunks[:n] {
		*c = (*c)[:windowChunk]
		chunkPool.Put(c)
	}
	w.chunks = append(w.chunks[:0], w.chunks[n:]...)
}

func (w *Window) reset() {
	if w.rc != nil {
		w.rc.Close()
	}
	w.dropChunks(len(w.chunks))
	w.rc, w.start, w.decoded, w.finished, w.err = nil, 0, 0, false, nil
}

// fill decodes one more chunk.
func (w *Window) fill() {
	if w.rc == nil {
		var rc io.ReadCloser
		err := w.c.opt.Unavailable
		if err == nil {
			rc, err = w.c.store.OpenLimit(w.d, w.lim)
		}
		if err != nil {
			w.finished, w.err = true, err
			w.c.health.put(w.d, w.lim.Size, err)
			return
		}
		w.rc = rc
	}
	// Not io.ReadFull: it drops an error that comes with the last bytes
	// and turns a short clean end into ErrUnexpectedEOF. Only io.EOF itself
	// is a clean (verified) end; anything else is the blob's fault.
	c := chunkPool.Get().(*[]byte)
	n := 0
	var err error
	for n < len(*c) && err == nil {
		var m int
		m, err = w.rc.Read((*c)[n:])
		n += m
	}
	*c = (*c)[:n]
	if n > 0 {
		w.chunks = append(w.chunks, c)
		w.decoded += int64(n)
	} else {
		chunkPool.Put(c)
	}
	if err != nil {
		w.finished = true
		if err != io.EOF {
			w.err = err
		}
		w.c.health.put(w.d, w.lim.Size, w.err)
	}
}

// trim drops whole chunks that end before keep and lie more than
// windowBytes behind the decoded end.
func (w *Window) trim(keep int64) {
	end := w.start + w.decoded
	n := 0
	for n < len(w.chunks) {
		cl := int64(len(*w.chunks[n]))
		if w.start+cl > keep || end-(w.start+cl) < windowBytes {
			break
		}
		w.start += cl
		w.decoded -= cl
		n++
	}
	if n > 0 {
		w.dropChunks(n)
	}
}

// copyOut copies decoded bytes from off into dest and returns how many.
func (w *Window) copyOut(dest []byte, off int64) int {
	pos := w.start
	n := 0
	for _, c := range w.chunks {
		cl := int64(len(*c))
		if off >= pos+cl {
			pos += cl
			continue
		}
		n += copy(dest[n:], (*c)[off+int64(n)-pos:])
		if n == len(dest) {
			break
		}
		pos += cl
	}
	return n
}

// ReadAt reads into dest the decoded bytes at off, as many as there are
// up to len(dest). size is the content's size as the reader was told
// (< 0: unknown): a read reaching it decodes to the end first, so that
// the digest is verified before the last byte is returned. It fails with
// the blob's *Error if the blob is damaged, or with ctx's error if ctx
// ends while it decodes.
func (w *Window) ReadAt(ctx context.Context, dest []byte, off, size int64) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if off < w.start {
		w.reset()
	}
	want := off + int64(len(dest))
	toEnd := size < 0 || want >= size // this read returns the last byte: verify first
	for !w.finished && (toEnd || w.start+w.decoded < want) {
		w.fill()
		w.trim(off)
		if err := ctx.Err(); err != nil {
			return 0, err
		}
	}
	if w.err != nil {
		return 0, w.err
	}
	if off < w.start { // cannot happen: trim keeps off
		return 0, io.ErrUnexpectedEOF
	}
	return w.copyOut(dest, off), nil
}

// Close releases the decoder and the window's chunks.
func (w *Window) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.rc != nil {
		w.rc.Close()
		w.rc = nil
	}
	w.dropChunks(len(w.chunks))
	return nil
}
