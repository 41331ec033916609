package blob

import (
	"encoding/binary"
	"hash"
	"io"
	"slices"
)

// Bounds on decompression. A blob is input from elsewhere: a few megabytes of
// gzip can inflate to gigabytes (a "gzip bomb"), so no reader trusts the
// compressed size or the gzip trailer, and none holds more than it expects.
const (
	// MaxUnsized bounds a whole read of a blob whose item state records no
	// size (Limit.Size 0, Limit.Max 0). Mail is rarely larger; a reader
	// that needs more streams (Open), which holds only bounded buffers.
	MaxUnsized = 32 << 20

	// SalvageMax bounds a salvage, whatever size is recorded: what is
	// salvaged is kept in memory whole (the mount caches it), and a
	// broken blob's size is not to be trusted.
	SalvageMax = 64 << 20
)

// Limit is what a reader expects of a blob's content. The zero Limit is a
// read of unknown size.
type Limit struct {
	// Size is the uncompressed size the item state records (mailbox
	// State.Size); 0 if unknown. A blob whose content is longer is broken
	// ("size mismatch": the state and the blob disagree, and the blob's
	// extra bytes are never served as if healthy). Shorter content is the
	// caller's to judge.
	Size int64
	// Max, if positive, is the most the caller accepts whatever Size says
	// (such as a restore's max_file_size): longer content fails with
	// ErrTooLarge.
	Max int64
}

// bound is the most content bytes a read within l returns.
func (l Limit) bound(salvage bool) int64 {
	b := int64(MaxUnsized)
	if salvage {
		b = SalvageMax
	}
	if l.Size > 0 && (l.Size < b || !salvage) {
		b = l.Size
	}
	if l.Max > 0 && l.Max < b {
		b = l.Max
	}
	return b
}

// outerBound is the most once-gunzipped bytes accepted for content bound
// bytes: for a double-gzipped blob the outer layer is the inner gzip
// stream, which may exceed its content by deflate's stored-block overhead
// (5 bytes per 64 KiB) and a header. This is the "small margin" over the
// recorded size that a read may inflate before it refuses the blob.
func outerBound(bound int64) int64 { return bound + bound/1024 + 4096 }

// streamBound is the most content bytes a stream (Open, Check) within l
// serves: a stream holds only bounded buffers, so with no size recorded and
// no Max it has no bound (-1).
func (l Limit) streamBound() int64 {
	b := int64(-1)
	if l.Size > 0 {
		b = l.Size
	}
	if l.Max > 0 && (b < 0 || l.Max < b) {
		b = l.Max
	}
	return b
}

// limited counts what is read through it and stops after bound+1 bytes
// (bound < 0: never), so that "more than bound" is seen without inflating
// further.
type limited struct {
	r     io.Reader
	bound int64
	n     int64
}

func (l *limited) Read(p []byte) (int, error) {
	if l.bound >= 0 {
		left := l.bound + 1 - l.n
		if left <= 0 {
			return 0, io.EOF
		}
		if int64(len(p)) > left {
			p = p[:left]
		}
	}
	k, err := l.r.Read(p)
	l.n += int64(k)
	return k, err
}

// over reports whether more than bound bytes came through.
func (l *limited) over() bool { return l.bound >= 0 && l.n > l.bound }

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
	bound := l.bound(salvage)
	f, size, err := s.open(d, l, bound)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	src := &source{r: f}
	h := d.NewHash()
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
	switch servedLayer(func() bool { return ierr == nil && !innerOver && hashOf(d, in) == d },
		func() bool { return hashOf(d, out) == d }) {
	case 2:
		return in, nil
	case 1:
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

// maxRatio bounds deflate's expansion (a little above its theoretical
// 1032:1).
const maxRatio = 1040

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
