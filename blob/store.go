package blob

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
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
	// regenerable data (samples, benchmark fixtures) should set.
	Write atomicfile.Options

	// layers remembers, for blobs whose content starts with the gzip magic,
	// whether the digest is of the inner (2) or the outer (1) content, so
	// that Open decides it once per blob, not once per open.
	layers    sync.Map // Digest -> int
	layersLen atomic.Int64
}

// maxLayerCache bounds Store.layers.
const maxLayerCache = 1 << 14

// NewStore returns the store of the Backup Path at root.
func NewStore(root string) *Store { return &Store{root: root} }

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

// Read returns the decompressed, verified content of blob d, whose size is
// not known: it is ReadLimit(d, Limit{}), so content over MaxUnsized fails
// (ErrTooLarge). Readers that know the state's recorded size use ReadLimit.
func (s *Store) Read(d Digest) ([]byte, error) { return s.load(d, false, Limit{}) }

// ReadLimit returns the decompressed, verified content of blob d, never
// holding more than l allows (see Limit): content larger than the state's
// recorded size is broken ("size mismatch"), content larger than l.Max
// (or MaxUnsized when no size is recorded) fails with ErrTooLarge, in both
// cases after inflating at most the bound plus a small margin.
func (s *Store) ReadLimit(d Digest, l Limit) ([]byte, error) { return s.load(d, false, l) }

// Salvage decompresses as much of blob d as it can, up to SalvageMax bytes.
// It returns the bytes obtained before the first fault and the fault (nil
// if the blob is sound). For a double-gzipped blob the bytes are those of
// the inner content.
func (s *Store) Salvage(d Digest) ([]byte, error) { return s.load(d, true, Limit{}) }

// SalvageLimit is Salvage bounded by l as well: at most min(recorded size,
// SalvageMax) bytes (l.Max lowers it further); a blob inflating past its
// recorded size yields its first l.Size bytes and a "size mismatch" error.
func (s *Store) SalvageLimit(d Digest, l Limit) ([]byte, error) { return s.load(d, true, l) }

// load reads blob d into memory, within l. Unless salvage, data is nil on
// error. Salvage uses the single-threaded decoder throughout, because pgzip
// drops the block in progress when it meets a fault.
func (s *Store) load(d Digest, salvage bool, l Limit) (data []byte, err error) {
	f, size, err := s.open(d)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	src := &source{r: f}
	h := d.NewHash()
	bound := l.bound(salvage)
	outerMax := outerBound(bound)
	// over is the error for content beyond bound; a salvage keeps what
	// fits.
	over := func(b []byte) ([]byte, error) {
		e := s.overLimit(d, l, bound, salvage)
		if !salvage {
			return nil, e
		}
		return b[:min(int64(len(b)), bound)], e
	}

	var (
		out    []byte
		hashed bool
		derr   error
		header bool
	)
	if size <= smallMax {
		comp := getComp(int(size) + 1)
		defer putComp(comp)
		if err := readFileInto(comp, src); err != nil {
			return nil, s.fail(d, ErrUnreadable, "read error", errno(err))
		}
		// Small blobs are hashed after inflating: one pass over hot data.
		out, _, derr, header = inflate(*comp, nil, nil, nil, nil, false, outerMax)
	} else {
		var tail [4]byte
		var hint int
		if _, err := f.ReadAt(tail[:], size-4); err == nil {
			hint = sizeCap(int64(binary.LittleEndian.Uint32(tail[:])), size)
		}
		br := bufrPool.Get().(*bufioReader)
		br.Reset(src)
		defer func() { br.Reset(nil); bufrPool.Put(br) }()
		peek, _ := br.Peek(3)
		// Large blobs are hashed as pgzip hands over each block, while it
		// inflates the next one on the other core.
		out, hashed, derr, header = inflate(nil, br, peek, make([]byte, 0, min(int64(hint), outerMax+1)), h, !salvage, outerMax)
		if src.err != nil && derr == nil {
			derr = src.err
		}
	}
	if int64(len(out)) > outerMax && src.err == nil {
		// Inflating stopped at the bound: whatever follows, too much.
		return over(out)
	}
	if derr != nil {
		e := s.decodeErr(d, src, derr, header, false)
		if !salvage {
			return nil, e
		}
		if isGzip(out) {
			// Double gzip: what the user wants is the inner content.
			if in, _, _, _ := inflate(out, nil, nil, nil, nil, false, bound); len(in) > 0 {
				return in[:min(int64(len(in)), bound)], e
			}
		}
		return out[:min(int64(len(out)), bound)], e
	}

	if !isGzip(out) {
		if int64(len(out)) > bound {
			return over(out)
		}
		if !hashed {
			h.Write(out)
		}
		if sumMatches(d, h) {
			return out, nil
		}
		if salvage {
			return out, s.mismatch(d, FromHash(h.Sum(nil)))
		}
		return nil, s.mismatch(d, FromHash(h.Sum(nil)))
	}

	// The content starts with the gzip magic: gzip inside gzip (old blobs),
	// or content that really is gzip. The digest says which.
	in, _, ierr, iheader := inflate(out, nil, nil, nil, nil, !salvage && int64(len(out)) > smallMax, bound)
	innerOver := int64(len(in)) > bound
	if ierr == nil && !innerOver && hashOf(d, in) == d {
		return in, nil
	}
	if hashOf(d, out) == d {
		if int64(len(out)) > bound {
			return over(out)
		}
		return out, nil
	}
	if innerOver || (ierr != nil && iheader && int64(len(out)) > bound) {
		return over(in)
	}
	var e *Error
	if ierr != nil {
		e = s.decodeErr(d, nil, ierr, iheader, true)
	} else {
		e = s.mismatch(d, hashOf(d, in))
	}
	if !salvage {
		return nil, e
	}
	if ierr != nil && iheader {
		return out, e // the inner is not gzip at all: the outer is all there is
	}
	return in, e
}

// inflate decodes the gzip stream in comp (if non-nil) or read from r (a
// *bufio.Reader whose first bytes are peek). out is the presized result
// (nil: sized from comp's ISIZE). parallel picks pgzip. header reports that
// the error (if any) came before any content, at the first gzip header.
//
// At most limit+1 bytes are inflated (limit < 0: no limit): a result longer
// than limit means that there was more, and the caller refuses it.
func inflate(comp []byte, r io.Reader, peek, out []byte, h hash.Hash, parallel bool, limit int64) (_ []byte, hashed bool, err error, header bool) {
	if comp != nil {
		peek = comp
		if out == nil {
			hint := int64(isizeHint(comp))
			if limit >= 0 {
				hint = min(hint, limit+1)
			}
			out = make([]byte, 0, hint)
		}
	}
	bounded := func(z io.Reader) io.Reader {
		if limit < 0 {
			return z
		}
		return &io.LimitedReader{R: z, N: limit + 1}
	}
	if len(peek) == 0 {
		return out, false, io.EOF, true
	}
	if notGzip(peek) {
		return out, false, errNotGzip, true
	}
	if parallel {
		z := getPgzip()
		defer putPgzip(z)
		var in io.Reader = r
		if comp != nil {
			sd := getSmall()
			defer putSmall(sd)
			sd.br.Reset(comp)
			in = &sd.br
		}
		if err := z.Reset(in); err != nil {
			return out, false, err, true
		}
		var scratch [512]byte
		out, hashed, err = readAll(bounded(z), out, scratch[:], h, limit)
		return out, hashed, err, false
	}
	sd := getSmall()
	defer putSmall(sd)
	in := r
	if comp != nil {
		sd.br.Reset(comp)
		in = &sd.br
	}
	if err := sd.z.Reset(in); err != nil {
		return out, false, err, true
	}
	out, hashed, err = readAll(bounded(&sd.z), out, sd.scratch[:], h, limit)
	return out, hashed, err, false
}

// errNotGzip is the decoder error for a file whose first bytes are not the
// gzip magic.
var errNotGzip = errors.New("no gzip magic number")

// Check reads blob d through and reports its class: nil, or an *Error. It
// keeps no content in memory beyond the decoders' buffers. It knows no
// recorded size: CheckLimit also holds the content to one.
func (s *Store) Check(d Digest) error { return s.CheckLimit(d, Limit{}) }

// CheckLimit is Check within l: content longer than the recorded size is
// broken ("size mismatch"), longer than l.Max ErrTooLarge, found after
// inflating at most the bound plus a small margin.
func (s *Store) CheckLimit(d Digest, l Limit) error {
	f, size, err := s.open(d)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = s.verify(d, f, size, l)
	return err
}

// verify decodes blob file f (of size bytes) through once and reports which
// layer to serve (1: the gunzipped file; 2: gunzipped twice) and the fault
// (nil if sound), within l (streamBound). For content that starts with the
// gzip magic, both layers are hashed in the same pass.
func (s *Store) verify(d Digest, f io.Reader, size int64, l Limit) (layer int, _ error) {
	src := &source{r: f}
	st := &stream{s: s, d: d}
	defer st.release()
	if err := st.start(src, size); err != nil {
		return 1, err
	}
	buf := copyPool.Get().(*[]byte)
	defer copyPool.Put(buf)
	bound := l.streamBound()
	outerMax := int64(-1)
	if bound >= 0 {
		outerMax = outerBound(bound)
	}
	outer := &limited{r: &st.outer, bound: outerMax}

	if !st.outer.magic() {
		h := d.NewHash()
		lo := &limited{r: outer, bound: bound}
		if _, err := io.CopyBuffer(h, lo, *buf); err != nil {
			return 1, st.classify(err)
		}
		if lo.over() {
			return 1, s.overLimit(d, l, bound, false)
		}
		if !sumMatches(d, h) {
			return 1, s.mismatch(d, FromHash(h.Sum(nil)))
		}
		return 1, nil
	}

	ho, hi := d.NewHash(), d.NewHash()
	tee := io.TeeReader(outer, ho)
	st.inner = getSmall()
	ierr := st.inner.z.Reset(tee)
	iheader := ierr != nil
	inner := &limited{r: &st.inner.z, bound: bound}
	if ierr == nil {
		_, ierr = io.CopyBuffer(hi, inner, *buf)
	}
	// The rest of the outer stream (nothing, for a sound double gzip).
	_, _ = io.CopyBuffer(ho, tee, *buf)
	if st.outer.fault != nil {
		return 2, st.classify(st.outer.fault)
	}
	if ierr == nil && !inner.over() && sumMatches(d, hi) {
		return 2, nil
	}
	if !outer.over() && sumMatches(d, ho) {
		if bound >= 0 && outer.n > bound {
			return 1, s.overLimit(d, l, bound, false)
		}
		return 1, nil
	}
	if inner.over() || outer.over() {
		return 2, s.overLimit(d, l, bound, false)
	}
	if ierr != nil {
		if iheader {
			return 1, s.decodeErr(d, nil, ierr, true, true)
		}
		return 2, s.decodeErr(d, nil, ierr, false, true)
	}
	return 2, s.mismatch(d, FromHash(hi.Sum(nil)))
}

// layerOf is the layer Open serves for a blob whose content starts with the
// gzip magic: cached, or found by one verify pass over the file (read with
// pread, so the caller's own reading of f is undisturbed), within l.
func (s *Store) layerOf(d Digest, f *os.File, size int64, l Limit) int {
	if v, ok := s.layers.Load(d); ok {
		return v.(int)
	}
	layer, err := s.verify(d, io.NewSectionReader(f, 0, size), size, l)
	if err == nil && s.layersLen.Load() < maxLayerCache {
		if _, loaded := s.layers.LoadOrStore(d, layer); !loaded {
			s.layersLen.Add(1)
		}
	}
	return layer
}

// Open returns a streaming reader of blob d's decompressed content. The
// digest is checked when the stream ends: instead of io.EOF the last Read
// returns an *Error of kind ErrBroken if it does not match, so a consumer
// never sees a clean end of a corrupt blob. Truncated or corrupt gzip data
// also ends the stream with an ErrBroken *Error, and a failing disk with an
// ErrUnreadable one. As with any io.Reader, the Read that returns the error
// may also return bytes; the error is what counts.
//
// The decoder is chosen by the file's size. Content that starts with the gzip
// magic costs one extra decoding pass per blob (remembered by the Store) to
// learn whether the digest is of the once- or twice-gunzipped bytes.
//
// Close returns the decoders to their pools; the reader must be closed.
//
// Open knows no recorded size, so it serves all the content there is (with
// bounded buffers); OpenLimit holds the stream to a Limit.
func (s *Store) Open(d Digest) (io.ReadCloser, error) { return s.OpenLimit(d, Limit{}) }

// OpenLimit is Open within l: the stream serves at most the recorded size
// (l.Size; l.Max if lower) and then fails, instead of going on, with an
// ErrBroken "size mismatch" *Error (ErrTooLarge for l.Max), having inflated
// at most the bound plus the decoders' read-ahead. With neither set it is
// Open.
func (s *Store) OpenLimit(d Digest, l Limit) (io.ReadCloser, error) {
	f, size, err := s.open(d)
	if err != nil {
		return nil, err
	}
	st := &stream{s: s, d: d, f: f, h: d.NewHash(), lim: l, bound: l.streamBound()}
	src := &source{r: f}
	if err := st.start(src, size); err != nil {
		st.Close()
		return nil, err
	}
	st.r = &st.outer
	if st.outer.magic() && s.layerOf(d, f, size, l) == 2 {
		st.inner = getSmall()
		if err := st.inner.z.Reset(&st.outer); err != nil {
			e := st.classify(err)
			st.Close()
			return nil, e
		}
		st.r = &st.inner.z
	}
	return st, nil
}

// stream is the reader Open returns (and the decoding state verify uses).
type stream struct {
	s *Store
	d Digest
	f *os.File // nil when the file is not the stream's own

	src   *source
	comp  *[]byte      // small path: the whole compressed file
	br    *bufioReader // large path: buffered file
	pz    *pgzipReader // large path decoder
	sd    *smallDec    // small path decoder
	outer prefixed     // the once-gunzipped content
	inner *smallDec    // double gzip: the inner decoder
	r     io.Reader    // what Read serves: &outer or &inner.z
	h     hash.Hash    // of what Read served
	err   error        // sticky
	done  bool         // Close was called
	lim   Limit        // what the reader expects
	bound int64        // most bytes Read serves (-1: no bound)
	n     int64        // bytes Read served
}

// start sets up the outer decoder on src (the blob file, size bytes) and
// peeks the first three content bytes.
func (st *stream) start(src *source, size int64) error {
	st.src = src
	var dec io.Reader
	if size <= smallMax {
		st.comp = getComp(int(size) + 1)
		if err := readFileInto(st.comp, src); err != nil {
			return st.s.fail(st.d, ErrUnreadable, "read error", errno(err))
		}
		comp := *st.comp
		if len(comp) == 0 {
			return st.s.decodeErr(st.d, src, io.EOF, true, false)
		}
		if notGzip(comp) {
			return st.s.decodeErr(st.d, src, errNotGzip, true, false)
		}
		st.sd = getSmall()
		st.sd.br.Reset(comp)
		if err := st.sd.z.Reset(&st.sd.br); err != nil {
			return st.s.decodeErr(st.d, src, err, true, false)
		}
		dec = &st.sd.z
	} else {
		st.br = bufrPool.Get().(*bufioReader)
		st.br.Reset(src)
		peek, err := st.br.Peek(3)
		if len(peek) == 0 {
			if err == nil || err == io.EOF {
				err = io.EOF
			}
			return st.s.decodeErr(st.d, src, err, true, false)
		}
		if notGzip(peek) {
			return st.s.decodeErr(st.d, src, errNotGzip, true, false)
		}
		st.pz = getPgzip()
		if err := st.pz.Reset(st.br); err != nil {
			return st.s.decodeErr(st.d, src, err, true, false)
		}
		dec = st.pz
	}
	st.outer.reset(dec)
	return nil
}

// classify turns a decoding error met while streaming into an *Error.
func (st *stream) classify(err error) error {
	if st.src != nil && st.src.err != nil {
		return st.s.fail(st.d, ErrUnreadable, "read error", errno(st.src.err))
	}
	if st.outer.fault != nil {
		return st.s.decodeErr(st.d, st.src, st.outer.fault, false, false)
	}
	return st.s.decodeErr(st.d, st.src, err, false, st.inner != nil)
}

func (st *stream) Read(p []byte) (int, error) {
	if st.err != nil {
		return 0, st.err
	}
	if st.bound >= 0 && int64(len(p)) > st.bound+1-st.n {
		p = p[:st.bound+1-st.n] // one byte more than allowed says "too much"
	}
	n, err := st.r.Read(p)
	if st.bound >= 0 && st.n+int64(n) > st.bound {
		n = int(st.bound - st.n)
		st.n = st.bound
		st.h.Write(p[:n])
		st.err = st.s.overLimit(st.d, st.lim, st.bound, false)
		return n, st.err
	}
	st.n += int64(n)
	st.h.Write(p[:n])
	switch {
	case err == nil:
		return n, nil
	case err == io.EOF:
		if sumMatches(st.d, st.h) {
			st.err = io.EOF
		} else {
			st.err = st.s.mismatch(st.d, FromHash(st.h.Sum(nil)))
		}
	default:
		st.err = st.classify(err)
	}
	return n, st.err
}

// release returns the decoders and buffers to their pools.
func (st *stream) release() {
	putSmall(st.inner)
	st.inner = nil
	putPgzip(st.pz) // stops its read-ahead before the file goes away
	st.pz = nil
	putSmall(st.sd)
	st.sd = nil
	if st.br != nil {
		st.br.Reset(nil)
		bufrPool.Put(st.br)
		st.br = nil
	}
	putComp(st.comp)
	st.comp = nil
	st.outer = prefixed{}
}

// Close releases the stream. Reads after Close fail with fs.ErrClosed.
func (st *stream) Close() error {
	if st.done {
		return nil
	}
	st.done = true
	st.release()
	st.err = fmt.Errorf("blob %s: %w", st.d, fs.ErrClosed)
	if st.f != nil {
		return st.f.Close()
	}
	return nil
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
func (s *Store) SizeHint(d Digest) (int64, error) {
	f, size, err := s.open(d)
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

// Put stores data (uncompressed) and returns its SHA-256 digest. If the blob
// already exists it is not rewritten (created reports false); an existing
// file is trusted, not re-verified (Check finds damaged ones).
func (s *Store) Put(data []byte) (d Digest, created bool, err error) {
	d = Sum(data)
	path := s.Path(d)
	if exists, err := s.exists(d); err != nil || exists {
		return d, false, err
	}
	err = s.Write.Write(path, filePerm, func(w io.Writer) error {
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

// headPool holds PutReader's look-ahead buffers (one small-path blob).
var headPool = sync.Pool{New: func() any { b := make([]byte, smallPutMax+1); return &b }}

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
// stays on one file system, so it is atomic all the same.
func (s *Store) PutReader(r io.Reader) (d Digest, size int64, created bool, err error) {
	// Content that fits the small path is read whole and stored by Put, so
	// Put and PutReader give the same bytes for the same content.
	hp := headPool.Get().(*[]byte)
	defer headPool.Put(hp)
	head := *hp
	n, err := io.ReadFull(r, head)
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		d, created, err = s.Put(head[:n])
		return d, int64(n), created, err
	case err != nil:
		return "", 0, false, fmt.Errorf("store blob: read content: %w", err)
	}
	r = io.MultiReader(bytes.NewReader(head), r)
	items := filepath.Join(s.root, "items")
	if err := os.MkdirAll(items, atomicfile.Mode(0o755)); err != nil {
		return "", 0, false, fmt.Errorf("store blob: create folder %s: %w", items, err)
	}
	tmp, err := os.CreateTemp(items, atomicfile.TempPrefix+"*")
	if err != nil {
		return "", 0, false, fmt.Errorf("store blob: create temporary file in %s: %w", items, err)
	}
	tmpName := tmp.Name()
	keep := false
	defer func() {
		if !keep {
			tmp.Close()
			os.Remove(tmpName)
		}
	}()

	h := Digest("").NewHash() // SHA-256
	err = compress(tmp, func(zw io.Writer) error {
		buf := copyPool.Get().(*[]byte)
		defer copyPool.Put(buf)
		n, err := io.CopyBuffer(zw, io.TeeReader(r, h), *buf)
		size = n
		if err != nil {
			return fmt.Errorf("read content: %w", err)
		}
		return nil
	})
	if err != nil {
		return "", 0, false, fmt.Errorf("store blob: %w", err)
	}
	d = FromHash(h.Sum(nil))
	if err := tmp.Chmod(atomicfile.Mode(filePerm)); err != nil {
		return "", 0, false, fmt.Errorf("store blob %s: chmod %s: %w", d, tmpName, err)
	}
	if !s.Write.NoSync {
		if err := tmp.Sync(); err != nil {
			return "", 0, false, fmt.Errorf("store blob %s: fsync %s: %w", d, tmpName, err)
		}
	}
	if err := tmp.Close(); err != nil {
		return "", 0, false, fmt.Errorf("store blob %s: close %s: %w", d, tmpName, err)
	}
	path := s.Path(d)
	if exists, err := s.exists(d); err != nil || exists {
		return d, size, false, err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, atomicfile.Mode(0o755)); err != nil {
		return "", 0, false, fmt.Errorf("store blob %s: create folder %s: %w", d, dir, err)
	}
	if err := os.Rename(tmpName, path); err != nil {
		return "", 0, false, fmt.Errorf("store blob %s: rename %s: %w", d, tmpName, err)
	}
	keep = true
	if !s.Write.NoSync {
		if err := atomicfile.SyncDir(dir); err != nil {
			return d, size, true, fmt.Errorf("store blob %s: %w", d, err)
		}
		if err := atomicfile.SyncDir(items); err != nil {
			return d, size, true, fmt.Errorf("store blob %s: %w", d, err)
		}
	}
	return d, size, true, nil
}

// Walk calls fn for every blob file under items/ in sorted order (folders,
// then names). name is the file's path relative to the Backup Path root
// (items/<xx>/<name>). Names that are not digests, digests in the wrong
// folder (not their first two characters) and stray entries directly in
// items/ are passed with ok=false (and d empty) so callers can report them;
// temporary files (atomicfile.TempPrefix) are skipped. An entry is passed
// whatever its type: a folder, FIFO or symbolic link with a digest's name is
// ok=true, and reading it reports it unreadable. Nothing is followed: a
// symlinked items/<xx> is a stray entry (ok=false), and a symlinked items/
// is an error. A missing items/ is an empty store. Walk stops at the first
// error from fn or ctx.
func (s *Store) Walk(ctx context.Context, fn func(name string, d Digest, ok bool) error) error {
	dirs, err := confined.ReadDir(s.root, "items")
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("list blobs: %w", err)
	}
	for _, de := range dirs {
		if err := ctx.Err(); err != nil {
			return err
		}
		dn := de.Name()
		if strings.HasPrefix(dn, atomicfile.TempPrefix) {
			continue
		}
		if !de.IsDir() {
			if err := fn("items/"+dn, "", false); err != nil {
				return err
			}
			continue
		}
		files, err := confined.ReadDir(s.root, "items/"+dn)
		if err != nil {
			return fmt.Errorf("list blobs: %w", err)
		}
		for i, fe := range files {
			if i%1024 == 1023 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			n := fe.Name()
			if strings.HasPrefix(n, atomicfile.TempPrefix) {
				continue
			}
			d := Digest(n)
			ok := len(n) >= 2 && n[:2] == dn && d.Valid()
			if !ok {
				d = ""
			}
			if err := fn("items/"+dn+"/"+n, d, ok); err != nil {
				return err
			}
		}
	}
	return nil
}
