package blob

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"syscall"

	kgzip "github.com/klauspost/compress/gzip"
	"github.com/klauspost/pgzip"

	"github.com/cbfs/cbfs/internal/confined"
)

// The two classes of damage, as Carbonio's restore classifies unrestorable
// items. Compare with errors.Is.
var (
	// ErrUnreadable: the file cannot be read at all (missing, permissions,
	// I/O error, a folder where a file should be). Carbonio: "read error".
	ErrUnreadable = errors.New("unreadable")
	// ErrBroken: the file was read but its content is corrupt (bad gzip
	// header or stream, truncated, digest mismatch). Carbonio: "broken".
	ErrBroken = errors.New("broken")
	// ErrMissing is the unreadable case where no file exists. It matches
	// ErrUnreadable too.
	ErrMissing = fmt.Errorf("%w: missing", ErrUnreadable)
	// ErrTooLarge: the content is longer than the reader accepts (a Limit's
	// Max, or MaxUnsized when no size is recorded), which says nothing
	// about the blob's health. It is neither broken nor unreadable. (Longer
	// than the state's recorded size is ErrBroken.)
	ErrTooLarge = errors.New("too large")
)

// Error describes what went wrong with one blob. errors.Is(err, ErrBroken)
// or errors.Is(err, ErrUnreadable) classifies it; Unwrap gives the cause.
type Error struct {
	Digest Digest
	Path   string
	Kind   error  // ErrUnreadable, ErrMissing, ErrBroken or ErrTooLarge
	Reason string // short human reason, e.g. "digest mismatch", "truncated gzip stream"
	Err    error  // underlying error, may be nil
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("blob %s (%s): %s", e.Digest, e.Path, e.Kind.Error())
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Is(target error) bool {
	if target == e.Kind {
		return true
	}
	return e.Kind == ErrMissing && target == ErrUnreadable
}

func (e *Error) Unwrap() error { return e.Err }

// Class returns "ok", "broken", "too large" or "unreadable" for err (nil is
// "ok").
func Class(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ErrBroken):
		return "broken"
	case errors.Is(err, ErrTooLarge):
		return "too large"
	default:
		return "unreadable"
	}
}

// errNotGzip is the decoder error for a file whose first bytes are not the
// gzip magic.
var errNotGzip = errors.New("no gzip magic number")

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
