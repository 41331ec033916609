package blob

import (
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
)

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
	f, size, err := s.open(d, l, l.streamBound())
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
