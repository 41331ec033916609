package blob

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"sync/atomic"

	"github.com/cbfs/cbfs/internal/atomicfile"
	"github.com/cbfs/cbfs/internal/confined"
)

// Store is the content-addressed blob area of one Backup Path: the files
// items/<d[0:2]>/<d>, each the gzip-compressed content whose digest is d.
//
// Reads decompress (also gzip inside gzip), verify the digest, and classify
// failures as ErrUnreadable or ErrBroken (see Error). Writes are atomic and
// deduplicating.
//
// Decoding: blobs of up to 256 KiB compressed (nearly all mail) are read
// whole into a pooled buffer and inflated by a pooled, Reset-reused
// klauspost/compress/gzip reader; larger ones are streamed through pooled
// klauspost/pgzip readers, which inflate ahead on another core while the
// caller hashes. Compression always uses pgzip with fixed settings, so the
// same content always gives the same bytes.
//
// A Store is safe for concurrent use; a reader returned by Open is not.
type Store struct {
	root string // the Backup Path root (the folder holding items/)

	// Write says how blobs are written: always atomically; durably (fsync
	// of the file and its folder) unless Write.NoSync, which only
	// regenerable data (samples, benchmark fixtures) should set. Writes
	// are confined beneath Write.Root, the store's root unless set
	// otherwise (writeOpts): a symbolic link in items/ or items/<xx>/ is
	// never written through.
	Write atomicfile.Options

	// layers remembers, for blobs whose content starts with the gzip magic,
	// whether the digest is of the inner (2) or the outer (1) content, so
	// that Open decides it once per blob, not once per open.
	layers    sync.Map // Digest -> int
	layersLen atomic.Int64

	// remote, if set, holds the blobs missing here (see Remote).
	remote *Remote

	// held is the root opened once for writes (writeOpts).
	held *atomicfile.Held
}

// maxLayerCache bounds Store.layers.
const maxLayerCache = 1 << 14

// NewStore returns the store of the Backup Path at root.
func NewStore(root string) *Store {
	return &Store{root: root, Write: atomicfile.Options{Root: root}, held: atomicfile.Hold(root)}
}

// writeOpts is Write, confined beneath the store's root even if a caller
// replaced Write without a Root, and resolved from the root opened once.
func (s *Store) writeOpts() atomicfile.Options {
	o := s.Write
	if o.Root == "" && o.Dir == nil {
		o.Root = s.root
	}
	return s.held.Options(o)
}

// Root is the Backup Path root.
func (s *Store) Root() string { return s.root }

// Path is the absolute file name of blob d. (For a malformed d, which no
// blob can have, it is a name under items/ that no reader opens.)
func (s *Store) Path(d Digest) string {
	if len(d) < 2 {
		return s.root + "/items/" + string(d)
	}
	return s.root + "/" + d.RelPath()
}

// Stat returns the compressed size of blob d (its file's size), or a
// classified *Error. Like Open it follows no symbolic link: a symlinked blob
// (or blob folder) is unreadable, not present.
func (s *Store) Stat(d Digest) (compressedSize int64, err error) {
	if err := s.invalid(d); err != nil {
		return 0, err
	}
	// lstat beneath the root: a symbolic link, wherever it points, is no
	// blob (see internal/confined).
	fi, err := confined.Stat(s.root, d.RelPath())
	if err != nil {
		return 0, s.openErr(d, err)
	}
	if err := s.checkMode(d, fi.Mode()); err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// SizeHint returns the uncompressed size that blob d's gzip trailer
// announces (ISIZE), with one 4-byte read at the end of the file. It is a
// hint, not a promise: ISIZE is the size mod 2^32, the trailer of a damaged
// blob may lie, and for a double-gzipped blob it is the size of the inner gzip
// stream, not of the content. Use it to show a size without decompressing.
//
// With a remote tier it never fetches (a listing must not touch the object
// store): a blob not here nor in the cache has no hint.
func (s *Store) SizeHint(d Digest) (int64, error) {
	if r := s.remote; r != nil && s.invalid(d) == nil {
		if _, err := confined.Stat(s.root, d.RelPath()); err != nil {
			if _, err := confined.Stat(r.Cache, d.RelPath()); err != nil {
				return 0, s.fail(d, ErrUnreadable, "not fetched from "+r.Objects.String()+" yet", nil)
			}
		}
	}
	f, size, err := s.open(d, Limit{}, -1)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if size < 18 {
		if size == 0 {
			return 0, s.fail(d, ErrBroken, "empty file", nil)
		}
		return 0, s.fail(d, ErrBroken, "too short for gzip data", fmt.Errorf("%d bytes", size))
	}
	var tail [4]byte
	if _, err := f.ReadAt(tail[:], size-4); err != nil {
		return 0, s.fail(d, ErrUnreadable, "read error", errno(err))
	}
	return int64(binary.LittleEndian.Uint32(tail[:])), nil
}

// source wraps the blob file and remembers the first read error, so that a
// decoder failing because the disk failed is classified as unreadable, not
// broken.
type source struct {
	r   io.Reader
	err error
}

func (s *source) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF && s.err == nil {
		s.err = err
	}
	return n, err
}

// readFileInto reads everything from src into (*buf)[:0], growing it if the
// file grew since it was stat'ed.
func readFileInto(buf *[]byte, src io.Reader) error {
	b := (*buf)[:0]
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := src.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			*buf = b
			return nil
		}
		if err != nil {
			*buf = b
			return err
		}
	}
}

// open opens blob d's file for reading and returns it with its size. Every
// failure is an *Error. The file is opened beneath the root without
// following any symbolic link and without blocking (a FIFO planted where a
// blob should be must not hang the reader), and only a regular file is
// accepted: see internal/confined. A blob of the remote tier is fetched
// for a reader within l that takes at most bound content bytes (-1: no
// bound), so the fetch takes at most what such content needs (see Remote).
func (s *Store) open(d Digest, l Limit, bound int64) (*os.File, int64, error) {
	if err := s.invalid(d); err != nil {
		return nil, 0, err
	}
	f, err := confined.Open(s.root, d.RelPath())
	if err != nil {
		if s.remote == nil || !errors.Is(err, fs.ErrNotExist) {
			return nil, 0, s.openErr(d, err)
		}
		f, err = s.openRemote(d, l, bound)
		if err != nil {
			return nil, 0, err
		}
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, s.fail(d, ErrUnreadable, "cannot stat", errno(err))
	}
	return f, fi.Size(), nil
}
