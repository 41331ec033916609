package blob

import (
	"io"
	"os"
)

// Check reads blob d through and reports its class: nil, or an *Error. It
// keeps no content in memory beyond the decoders' buffers. It knows no
// recorded size: CheckLimit also holds the content to one.
func (s *Store) Check(d Digest) error { return s.CheckLimit(d, Limit{}) }

// CheckLimit is Check within l: content longer than the recorded size is
// broken ("size mismatch"), longer than l.Max ErrTooLarge, found after
// inflating at most the bound plus a small margin.
func (s *Store) CheckLimit(d Digest, l Limit) error {
	_, err := s.Layers(d, l)
	return err
}

// Layers is CheckLimit that also says how many gzip layers blob d's file
// has: 1 (gunzipped once, the content), or 2 (gzip inside gzip, as old
// blobs were written: the content is gunzipped twice). It is the one answer
// to that question; every reader serves the same layer (see servedLayer).
// On error it returns 0 and the *Error.
func (s *Store) Layers(d Digest, l Limit) (int, error) {
	f, size, err := s.open(d, l, l.streamBound())
	if err != nil {
		return 0, err
	}
	defer f.Close()
	layer, err := s.verify(d, f, size, l)
	if err != nil {
		return 0, err
	}
	if layer == 2 {
		s.remember(d, layer) // Open need not find it again
	}
	return layer, nil
}

// servedLayer is the one rule for which layer of a blob is its content when
// the once-gunzipped bytes start with the gzip magic: the twice-gunzipped
// bytes if they decode within the bound and hash to d (innerSound: gzip
// inside gzip), else the once-gunzipped bytes if they hash to d (outerSound:
// content that really is gzip, such as an attached .gz file), else neither
// (0: broken). The two are asked in that order and only as needed, so a
// whole read hashes the outer bytes only when the inner ones fail. (Without
// the magic, only the once-gunzipped bytes can be the content.)
func servedLayer(innerSound, outerSound func() bool) int {
	switch {
	case innerSound():
		return 2
	case outerSound():
		return 1
	}
	return 0
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
	switch servedLayer(func() bool { return ierr == nil && !inner.over() && sumMatches(d, hi) },
		func() bool { return !outer.over() && sumMatches(d, ho) }) {
	case 2:
		return 2, nil
	case 1:
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
	if err == nil {
		s.remember(d, layer)
	}
	return layer
}

// remember notes the layer of sound blob d for layerOf, while the cache has
// room.
func (s *Store) remember(d Digest, layer int) {
	if s.layersLen.Load() < maxLayerCache {
		if _, loaded := s.layers.LoadOrStore(d, layer); !loaded {
			s.layersLen.Add(1)
		}
	}
}

// forget drops what layerOf remembers of blob d (its file was replaced).
func (s *Store) forget(d Digest) {
	if _, loaded := s.layers.LoadAndDelete(d); loaded {
		s.layersLen.Add(-1)
	}
}

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
