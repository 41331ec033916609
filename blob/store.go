package blob

import (
	"context"
	"io"
)

// Store is the content-addressed blob area of one Backup Path: the files
// items/<d[0:2]>/<d>, each the gzip-compressed content whose digest is d.
//
// Reads decompress (also gzip inside gzip), verify the digest, and classify
// failures as ErrUnreadable or ErrBroken (see Error). Writes are atomic and
// deduplicating.
type Store struct {
	root string // the Backup Path root (the folder holding items/)
}

// NewStore returns the store of the Backup Path at root.
func NewStore(root string) *Store { return &Store{root: root} }

// Root is the Backup Path root.
func (s *Store) Root() string { return s.root }

// Path is the absolute file name of blob d.
func (s *Store) Path(d Digest) string { return s.root + "/" + d.RelPath() }

// Read returns the decompressed, verified content of blob d.
func (s *Store) Read(d Digest) ([]byte, error) { panic("unimplemented") }

// Open returns a streaming reader of blob d's decompressed content. The
// digest is checked when the stream ends: instead of io.EOF the last Read
// returns an *Error of kind ErrBroken if it does not match, so a consumer
// never sees a clean end of a corrupt blob. sizeHint is the compressed size
// if known (<=0: stat it); it chooses the decoder.
func (s *Store) Open(d Digest) (io.ReadCloser, error) { panic("unimplemented") }

// Salvage decompresses as much of blob d as it can. It returns the bytes
// obtained before the first fault and the fault (nil if the blob is sound).
func (s *Store) Salvage(d Digest) ([]byte, error) { panic("unimplemented") }

// Check reads blob d through and reports its class: nil, or an *Error.
func (s *Store) Check(d Digest) error { panic("unimplemented") }

// Put stores data (uncompressed) and returns its SHA-256 digest. If the blob
// already exists it is not rewritten (created reports false).
func (s *Store) Put(data []byte) (d Digest, created bool, err error) { panic("unimplemented") }

// PutReader stores a stream of unknown length: it is compressed to a
// temporary file while hashed, then renamed to its digest's name (or dropped
// if that blob already exists). It returns the digest and uncompressed size.
func (s *Store) PutReader(r io.Reader) (d Digest, size int64, created bool, err error) {
	panic("unimplemented")
}

// Walk calls fn for every blob file under items/ in sorted order (folders,
// then names). Names that are not digests are passed with ok=false so callers
// can report them; temporary files (atomicfile.TempPrefix) are skipped.
func (s *Store) Walk(ctx context.Context, fn func(name string, d Digest, ok bool) error) error {
	panic("unimplemented")
}
