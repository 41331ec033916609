package blob

import (
	"errors"
	"fmt"
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
