package blob

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"runtime"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/pgzip"

	"github.com/cbfs/cbfs/internal/confined"
)

// Compression settings. They are fixed so that the same content always
// compresses to the same bytes (the sample generator relies on it): pgzip
// cuts its input into putBlockSize blocks, each compressed with the previous
// block's tail as dictionary, so the output depends on the data, the block
// size and the level only, never on timing or on how many blocks are in
// flight. The header carries no name and a zero mtime.
const (
	putLevel     = pgzip.DefaultCompression
	putBlockSize = 1 << 20
)

// smallPutMax is the largest content compressed by compressSmall: one
// pooled klauspost gzip writer in the caller's goroutine. pgzip costs ~1 ms
// a call whatever the size (goroutines, block buffers), which made storing a
// 20 KB message 17 MB/s; content up to one pgzip block gains nothing from
// its parallelism anyway. Larger content goes through compress (pgzip).
const smallPutMax = putBlockSize

// compressSmall writes the gzip compression of data into w (no name, MTIME
// 0, putLevel: deterministic like compress).
func compressSmall(w io.Writer, data []byte) error {
	zw := gzwPool.Get().(*gzip.Writer)
	defer gzwPool.Put(zw)
	zw.Reset(w)
	zw.ModTime = time.Unix(0, 0)
	if _, err := zw.Write(data); err != nil {
		return fmt.Errorf("gzip: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("gzip: %w", err)
	}
	return nil
}

// putBlocks is how many blocks compress keeps in flight. (A variable so
// that a test can make SetConcurrency fail.)
var putBlocks = func() int { return runtime.GOMAXPROCS(0) }

// compress writes the gzip compression of what fill writes into w.
func compress(w io.Writer, fill func(zw io.Writer) error) error {
	zw := pgzwPool.Get().(*pgzip.Writer)
	// Whatever fails, the writer goes back to the pool. Reset waits for the
	// compressing goroutines (also after a failure, when they may still be
	// writing to w) and drops the reference to w.
	defer func() {
		zw.Reset(io.Discard)
		pgzwPool.Put(zw)
	}()
	zw.Reset(w)
	if err := zw.SetConcurrency(putBlockSize, putBlocks()); err != nil {
		return fmt.Errorf("gzip: %w", err)
	}
	zw.ModTime = time.Unix(0, 0) // MTIME 0: "no time stamp" (RFC 1952)
	if err := fill(zw); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("gzip: %w", err)
	}
	return nil
}

// readHead reads the start of r into *buf (from headPool): up to one byte
// more than smallPutMax. If r ends there, small is set and head is all the
// content, which takes the small path (compressSmall, as in Put); else all
// yields the whole content (head, then the rest of r) for compress. This is
// how PutReader and RewriteSingle give the bytes Put would.
func readHead(r io.Reader, buf *[]byte) (head []byte, all io.Reader, small bool, err error) {
	n, err := io.ReadFull(r, *buf)
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		return (*buf)[:n], nil, true, nil
	case err != nil:
		return nil, nil, false, fmt.Errorf("read content: %w", err)
	}
	return *buf, io.MultiReader(bytes.NewReader(*buf), r), false, nil
}

// copyInto is a compress fill that copies r into the compressor and sets
// *n to the bytes copied.
func copyInto(r io.Reader, n *int64) func(zw io.Writer) error {
	return func(zw io.Writer) error {
		buf := copyPool.Get().(*[]byte)
		defer copyPool.Put(buf)
		k, err := io.CopyBuffer(zw, r, *buf)
		*n = k
		if err != nil {
			return fmt.Errorf("read content: %w", err)
		}
		return nil
	}
}

// Put stores data (uncompressed) and returns its SHA-256 digest. If the blob
// already exists it is not rewritten (created reports false); an existing
// file is trusted, not re-verified (Check finds damaged ones).
func (s *Store) Put(data []byte) (d Digest, created bool, err error) {
	d = Sum(data)
	path := s.Path(d)
	if exists, err := s.exists(d); err != nil || exists {
		return d, false, err
	}
	err = s.writeOpts().Write(path, filePerm, func(w io.Writer) error {
		if len(data) <= smallPutMax {
			return compressSmall(w, data)
		}
		return compress(w, func(zw io.Writer) error {
			_, err := zw.Write(data)
			return err
		})
	})
	if err != nil {
		return d, false, fmt.Errorf("store blob %s: %w", d, err)
	}
	return d, true, nil
}

// filePerm is the mode of blob files.
const filePerm = 0o644

// exists reports whether blob d's file is already there (then it is not
// written again). Something else there (a folder, a symbolic link) is an
// error: the blob can be neither trusted nor replaced. It is looked up
// beneath the root without following symbolic links, so neither is a
// symlinked items/<xx>/ folder written through.
func (s *Store) exists(d Digest) (bool, error) {
	fi, err := confined.Stat(s.root, d.RelPath())
	switch {
	case err == nil && fi.Mode().Type() != 0:
		return false, fmt.Errorf("store blob: %s is in the way (%v, not a file)", s.Path(d), fi.Mode().Type())
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	default:
		return false, fmt.Errorf("store blob %s: %w", d, err)
	}
}

// PutReader stores a stream of unknown length: it is compressed to a
// temporary file while hashed, then renamed to its digest's name (or dropped
// if that blob already exists). It returns the digest and uncompressed size.
//
// The temporary file (atomicfile.TempPrefix) is made in items/ itself, since
// the final folder is not known until the end; the rename into items/<xx>/
// stays on one file system, so it is atomic all the same. Both folders are
// resolved beneath the root like every write (writeOpts).
func (s *Store) PutReader(r io.Reader) (d Digest, size int64, created bool, err error) {
	// Content that fits the small path is read whole and stored by Put, so
	// Put and PutReader give the same bytes for the same content.
	hp := headPool.Get().(*[]byte)
	defer headPool.Put(hp)
	head, r, small, err := readHead(r, hp)
	switch {
	case err != nil:
		return "", 0, false, fmt.Errorf("store blob: %w", err)
	case small:
		d, created, err = s.Put(head)
		return d, int64(len(head)), created, err
	}
	items := filepath.Join(s.root, "items")
	tmp, err := s.writeOpts().CreateTemp(items)
	if err != nil {
		return "", 0, false, fmt.Errorf("store blob: %w", err)
	}
	defer tmp.Abort() // nothing once committed

	h := Digest("").NewHash() // SHA-256
	if err := compress(tmp, copyInto(io.TeeReader(r, h), &size)); err != nil {
		return "", 0, false, fmt.Errorf("store blob: %w", err)
	}
	d = FromHash(h.Sum(nil))
	if exists, err := s.exists(d); err != nil || exists {
		return d, size, false, err
	}
	if err := tmp.Commit(s.Path(d), filePerm); err != nil {
		return "", 0, false, fmt.Errorf("store blob %s: %w", d, err)
	}
	return d, size, true, nil
}

// RewriteSingle replaces blob d, if it is gzip inside gzip (Layers says 2),
// by the single gzip of the same content, the bytes Put would write for it.
// The new file is written atomically (Write: a temporary name in the blob's
// folder, fsync unless Write.NoSync, rename), and read back and verified as
// one sound layer of content d before the rename. The content is streamed
// both ways, so memory stays bounded whatever the blob inflates to; l holds
// it to the recorded size, as every reader does. A blob already single is
// left as it is (nil); a damaged one too, with its *Error. If the rewrite
// fails the old file stays.
func (s *Store) RewriteSingle(d Digest, l Limit) error {
	layers, err := s.Layers(d, l)
	if err != nil || layers == 1 {
		return err
	}
	rc, err := s.OpenLimit(d, l)
	if err != nil {
		return err
	}
	defer rc.Close()
	hp := headPool.Get().(*[]byte)
	defer headPool.Put(hp)
	err = s.writeOpts().Write(s.Path(d), filePerm, func(w io.Writer) error {
		head, all, small, err := readHead(rc, hp) // rc verifies d at its end
		switch {
		case err != nil:
			return err
		case small:
			err = compressSmall(w, head)
		default:
			var n int64
			err = compress(w, copyInto(all, &n))
		}
		if err != nil {
			return err
		}
		return s.readBack(d, w, l)
	})
	if err != nil {
		return fmt.Errorf("rewrite blob %s as single gzip: %w", d, err)
	}
	s.forget(d) // the file layerOf remembered is gone
	return nil
}

// readBack verifies what RewriteSingle wrote to w (the temporary file,
// which atomicfile opens for reading too): one gzip layer whose content is
// d, within l.
func (s *Store) readBack(d Digest, w io.Writer, l Limit) error {
	f, ok := w.(interface {
		io.ReaderAt
		io.Seeker
	})
	if !ok {
		return fmt.Errorf("read back: %T cannot be read", w)
	}
	size, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		return fmt.Errorf("read back: %w", err)
	}
	layer, err := s.verify(d, io.NewSectionReader(f, 0, size), size, l)
	switch {
	case err != nil:
		return fmt.Errorf("read back: %w", err)
	case layer != 1:
		return errors.New("read back: still gzip inside gzip")
	}
	return nil
}
