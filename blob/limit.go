package blob

import (
	"fmt"
	"io"
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

// overLimit is the error for content beyond bound (see Limit).
func (s *Store) overLimit(d Digest, l Limit, bound int64, salvage bool) *Error {
	switch {
	case l.Size > 0 && bound >= l.Size:
		return s.fail(d, ErrBroken, fmt.Sprintf("size mismatch: more than %d bytes inflated (state records %d)", bound, l.Size), nil)
	case salvage && bound == SalvageMax:
		return s.fail(d, ErrTooLarge, fmt.Sprintf("salvage stops at %d bytes", bound), nil)
	case l.Max > 0 && bound == l.Max:
		return s.fail(d, ErrTooLarge, fmt.Sprintf("more than %d bytes inflated (limit %d)", bound, l.Max), nil)
	default:
		return s.fail(d, ErrTooLarge, fmt.Sprintf("more than %d bytes inflated and no size recorded (read it as a stream)", bound), nil)
	}
}

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
