package blob

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"slices"
	"sync"
	"syscall"

	kgzip "github.com/klauspost/compress/gzip"
	"github.com/klauspost/pgzip"

	"github.com/cbfs/cbfs/internal/confined"
)

// smallMax is the largest compressed size (bytes) decoded by the "small"
// path: the whole file is read into a pooled buffer and inflated by a pooled
// klauspost/compress/gzip reader (Reset, never re-allocated). Larger blobs
// are streamed through klauspost/pgzip, whose read-ahead goroutine inflates
// on the other core while the caller hashes and copies. The value comes from
// BenchmarkDecoders (see bench_test.go and docs/PERFORMANCE.md): the pooled
// single-threaded reader wins clearly below ~128 KiB compressed, pooled pgzip
// wins above ~512 KiB, and the two are within noise in between. It is a
// variable so tests can force either path.
var smallMax int64 = 256 << 10

// maxRatio bounds deflate's expansion (a little above its theoretical
// 1032:1).
const maxRatio = 1040

// gzipMagic starts every gzip member (ID1, ID2, CM=deflate).
var gzipMagic = [3]byte{0x1f, 0x8b, 0x08}

// isGzip reports whether b starts with the gzip magic.
func isGzip(b []byte) bool {
	return len(b) >= 3 && b[0] == gzipMagic[0] && b[1] == gzipMagic[1] && b[2] == gzipMagic[2]
}

// notGzip reports whether the first bytes of b already rule out gzip.
func notGzip(b []byte) bool {
	for i := 0; i < len(b) && i < 3; i++ {
		if b[i] != gzipMagic[i] {
			return true
		}
	}
	return false
}

// isizeHint is the uncompressed size a gzip stream's trailer announces
// (ISIZE, mod 2^32), or 0 if the stream is too short to have a trailer. It
// sizes the result buffer, so that a sound blob is inflated without growing
// it; since a damaged trailer may lie, it is capped (see sizeCap).
func isizeHint(comp []byte) int {
	if len(comp) < 18 {
		return 0
	}
	n := int64(uint32(comp[len(comp)-4]) | uint32(comp[len(comp)-3])<<8 |
		uint32(comp[len(comp)-2])<<16 | uint32(comp[len(comp)-1])<<24)
	return sizeCap(n, int64(len(comp)))
}

// sizeCap caps an ISIZE hint for a compressed size: mail rarely compresses
// better than 1:20, so a larger claim is only believed up to that (a buffer
// that must grow after all merely costs a copy), and never beyond what
// deflate can expand to.
func sizeCap(isize, compSize int64) int {
	return int(min(isize, compSize*maxRatio, max(compSize*20, 1<<20)))
}

type (
	bufioReader = bufio.Reader
	pgzipReader = pgzip.Reader
)

// smallDec is a pooled klauspost gzip reader with the bytes.Reader it reads
// from, so that reusing it allocates nothing.
type smallDec struct {
	z       kgzip.Reader
	br      bytes.Reader
	scratch [512]byte
}

var (
	smallPool = sync.Pool{New: func() any { return new(smallDec) }}
	pgzPool   = sync.Pool{New: func() any { return newPgzip() }}
	bufrPool  = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 256<<10) }}
	compPool  sync.Pool // *[]byte: whole compressed small blobs
	copyPool  = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}
)

// emptyReader is what pooled decoders are reset to when they are put back:
// it drops their reference to the last source and, for pgzip, stops the
// read-ahead goroutine. (pgzip's Close followed by Reset panics in v1.3.0,
// so pooled pgzip readers are never Closed.)
type emptyReader struct{}

func (emptyReader) Read([]byte) (int, error) { return 0, io.EOF }
func (emptyReader) ReadByte() (byte, error)  { return 0, io.EOF }

func getSmall() *smallDec { return smallPool.Get().(*smallDec) }

func putSmall(sd *smallDec) {
	if sd == nil {
		return
	}
	_ = sd.z.Reset(emptyReader{})
	sd.br.Reset(nil)
	smallPool.Put(sd)
}

// pgzip read-ahead geometry for the large path: blocks of pgzBlockSize
// decoded bytes, pgzBlocks of them in flight (pgzip's default is 4 x 1 MiB,
// which hands nothing over before a whole MiB is inflated; smaller blocks
// start the overlap sooner). See BenchmarkPgzipBlocks.
var (
	pgzBlockSize = 256 << 10
	pgzBlocks    = 8
)

// emptyGzip is a complete gzip stream of no content.
var emptyGzip = []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0}

func newPgzip() *pgzipReader {
	z, err := pgzip.NewReaderN(bytes.NewReader(emptyGzip), pgzBlockSize, pgzBlocks)
	if err != nil {
		panic(fmt.Sprintf("pgzip reader on an empty gzip stream: %v", err)) // a constant input
	}
	_ = z.Reset(emptyReader{})
	return z
}

func getPgzip() *pgzipReader { return pgzPool.Get().(*pgzipReader) }

func putPgzip(z *pgzip.Reader) {
	if z == nil {
		return
	}
	_ = z.Reset(emptyReader{}) // stops read-ahead; always fails with io.EOF
	pgzPool.Put(z)
}

func getComp(n int) *[]byte {
	if p, ok := compPool.Get().(*[]byte); ok && cap(*p) >= n {
		*p = (*p)[:0]
		return p
	}
	b := make([]byte, 0, max(n, 32<<10))
	return &b
}

func putComp(p *[]byte) {
	if p != nil && int64(cap(*p)) <= smallMax+4096 {
		compPool.Put(p)
	}
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

// prefixed reads a decoder's output after peeking its first three bytes (to
// spot gzip inside gzip), replaying them first. It remembers the first
// non-EOF error of the decoder (fault), so inner and outer failures can be
// told apart.
type prefixed struct {
	r     io.Reader
	pre   [3]byte
	n     int
	off   int
	err   error // met while peeking; returned once the peeked bytes are out
	fault error // first non-EOF error from r
}

func (p *prefixed) reset(r io.Reader) {
	*p = prefixed{r: r}
	for tries := 0; p.n < len(p.pre) && p.err == nil; tries++ {
		if tries > 100 {
			p.err = io.ErrNoProgress
			break
		}
		k, err := r.Read(p.pre[p.n:])
		p.n += k
		if err != nil {
			p.err = err
		}
	}
	if p.err != nil && p.err != io.EOF {
		p.fault = p.err
	}
}

func (p *prefixed) magic() bool { return isGzip(p.pre[:p.n]) }

func (p *prefixed) Read(b []byte) (int, error) {
	if p.off < p.n {
		k := copy(b, p.pre[p.off:p.n])
		p.off += k
		return k, nil
	}
	if p.err != nil {
		return 0, p.err
	}
	k, err := p.r.Read(b)
	if err != nil && err != io.EOF && p.fault == nil {
		p.fault = err
	}
	return k, err
}

// readAll appends everything r yields to out. out should be presized (from
// the ISIZE trailer) so that a sound blob is read without growing it; scratch
// detects the end without reallocating when it is exact. If h is non-nil the
// bytes are hashed as they arrive, unless the first three bytes are the gzip
// magic (then the caller decides); hashed reports whether all of out went into
// h. The error is nil at a clean end.
//
// When out must grow it doubles, up to limit+1 bytes (limit < 0: no limit),
// so that a large result costs about twice its size in allocations, not the
// five times append's gentler growth would.
func readAll(r io.Reader, out []byte, scratch []byte, h hash.Hash, limit int64) (_ []byte, hashed bool, _ error) {
	done := 0 // bytes of out already hashed
	decided := h == nil
	for {
		var n int
		var err error
		if len(out) < cap(out) {
			n, err = r.Read(out[len(out):cap(out)])
			out = out[:len(out)+n]
		} else {
			n, err = r.Read(scratch)
			if n > 0 {
				grow := max(cap(out), n, 4096)
				if limit >= 0 {
					grow = max(min(grow, int(limit+1)-len(out)), n)
				}
				out = slices.Grow(out, grow)
			}
			out = append(out, scratch[:n]...)
		}
		if !decided && len(out) >= 3 {
			decided = true
			if isGzip(out) {
				h = nil
			}
		}
		if decided && h != nil && done < len(out) {
			h.Write(out[done:])
			done = len(out)
		}
		if err == io.EOF {
			if h != nil && done < len(out) {
				h.Write(out[done:])
			}
			return out, h != nil, nil
		}
		if err != nil {
			return out, false, err
		}
	}
}

// sumMatches reports whether h's sum is d.
func sumMatches(d Digest, h hash.Hash) bool {
	var buf [32]byte
	return FromHash(h.Sum(buf[:0])) == d
}

// fail builds a classified error for blob d.
func (s *Store) fail(d Digest, kind error, reason string, err error) *Error {
	return &Error{Digest: d, Path: s.Path(d), Kind: kind, Reason: reason, Err: err}
}

// errno strips the *PathError wrapper of an OS error: the path is already in
// the *Error.
func errno(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// openErr classifies a failure to open or stat a blob file (through
// internal/confined: a symbolic link or anything but a regular file is
// refused, never followed or read).
func (s *Store) openErr(d Digest, err error) *Error {
	var nr *confined.NotRegularError
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return s.fail(d, ErrMissing, "", errno(err))
	case errors.Is(err, confined.ErrSymlink):
		return s.fail(d, ErrUnreadable, "symbolic link (not followed)", nil)
	case errors.As(err, &nr):
		return s.checkMode(d, nr.Mode)
	case errors.Is(err, syscall.ENOTDIR):
		return s.fail(d, ErrUnreadable, "its folder is not a folder", errno(err))
	default:
		return s.fail(d, ErrUnreadable, "cannot open", errno(err))
	}
}

// invalid is the error for a malformed digest: no blob can have that name.
func (s *Store) invalid(d Digest) error {
	if _, err := ParseDigest(string(d)); err != nil {
		return &Error{Digest: d, Path: s.Path(d), Kind: ErrMissing, Reason: "invalid digest", Err: err}
	}
	if !d.Valid() {
		return &Error{Digest: d, Path: s.Path(d), Kind: ErrMissing, Reason: "invalid digest", Err: fmt.Errorf("%q is not in FS-safe form", string(d))}
	}
	return nil
}

// open opens blob d's file for reading and returns it with its size. Every
// failure is an *Error. The file is opened beneath the root without
// following any symbolic link and without blocking (a FIFO planted where a
// blob should be must not hang the reader), and only a regular file is
// accepted: see internal/confined.
func (s *Store) open(d Digest) (*os.File, int64, error) {
	if err := s.invalid(d); err != nil {
		return nil, 0, err
	}
	f, err := confined.Open(s.root, d.RelPath())
	if err != nil {
		return nil, 0, s.openErr(d, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, s.fail(d, ErrUnreadable, "cannot stat", errno(err))
	}
	return f, fi.Size(), nil
}

// checkMode is the error for a blob file of mode m (nil for a regular file).
func (s *Store) checkMode(d Digest, m fs.FileMode) *Error {
	switch {
	case m.IsDir():
		return s.fail(d, ErrUnreadable, "a folder where the blob file should be", syscall.EISDIR)
	case m&fs.ModeSymlink != 0:
		return s.fail(d, ErrUnreadable, "symbolic link (not followed)", nil)
	case !m.IsRegular():
		return s.fail(d, ErrUnreadable, "not a regular file", fmt.Errorf("file mode %v", m))
	}
	return nil
}

// decodeErr classifies a decoder failure. src is the file's source (its
// read error makes the blob unreadable); header is true when the failure
// came while reading the first gzip header; inner marks the inner stream of
// a double-gzipped blob.
func (s *Store) decodeErr(d Digest, src *source, err error, header, inner bool) *Error {
	if src != nil && src.err != nil {
		return s.fail(d, ErrUnreadable, "read error", errno(src.err))
	}
	var reason string
	switch {
	case header && err == io.EOF:
		reason = "empty file"
		err = nil
	case errors.Is(err, errNotGzip):
		reason = "not gzip data"
	case errors.Is(err, io.ErrUnexpectedEOF):
		reason = "truncated gzip stream"
	case errors.Is(err, kgzip.ErrHeader) || errors.Is(err, pgzip.ErrHeader):
		if header {
			reason = "not gzip data"
		} else {
			reason = "data after the gzip stream is not gzip"
		}
	case errors.Is(err, kgzip.ErrChecksum) || errors.Is(err, pgzip.ErrChecksum):
		reason = "gzip checksum mismatch"
	default:
		reason = "corrupt gzip stream"
	}
	if inner {
		if reason == "empty file" {
			reason = "empty inner gzip stream"
		} else {
			reason = "inner " + reason
		}
	}
	return s.fail(d, ErrBroken, reason, err)
}

// mismatch is the error for a sound gzip stream whose content is not d.
func (s *Store) mismatch(d Digest, got Digest) *Error {
	return s.fail(d, ErrBroken, "digest mismatch", fmt.Errorf("content hashes to %s", got))
}

// hashOf is the digest of data with d's algorithm.
func hashOf(d Digest, data []byte) Digest {
	h := d.NewHash()
	h.Write(data)
	var buf [32]byte
	return FromHash(h.Sum(buf[:0]))
}
