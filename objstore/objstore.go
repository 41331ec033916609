// Package objstore is the storage seam of cbfs: the few operations the blob
// store and the Backup Path model need from wherever their files are kept
// (get, ranged get, put if absent, list, stat), with a local folder (Dir)
// as one implementation and S3-compatible object storage (objstore/s3) as
// another.
//
// Names are slash-separated keys relative to the store's root (a folder,
// or a bucket and prefix): "items/ab/abcd…", "accounts/<id>.tar.gz". A
// store never interprets them beyond refusing names that could leave its
// root ("..", absolute, empty components).
package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
)

// ErrNotExist is returned (wrapped) for a name the store does not hold.
var ErrNotExist = errors.New("no such object")

// ErrAccess is returned (wrapped) when the store refuses the credentials:
// not a transient fault, so it is never retried.
var ErrAccess = errors.New("access denied")

// ErrUnreachable is returned (wrapped) when the store gave no answer in
// time (a frozen server, a dropped network): readers then fail fast for a
// while instead of waiting again for each object.
var ErrUnreachable = errors.New("the store did not answer")

// ErrListing is returned (wrapped) when a listing does not end as a real
// store's does: it repeats or goes back, hands back the same continuation
// token, brings page after page without a key, or passes a bound on keys,
// page size or time. The message names which.
var ErrListing = errors.New("listing does not end")

// Store is where blobs and metadata archives are kept.
type Store interface {
	// Get returns the object's content and its size as the store
	// announces it (-1: not announced). For a remote store both are the
	// peer's claims: a caller reads through a limit of its own and
	// refuses an announced size past it before reading.
	Get(ctx context.Context, name string) (io.ReadCloser, int64, error)
	// GetRange returns n bytes of the object from offset off.
	GetRange(ctx context.Context, name string, off, n int64) (io.ReadCloser, error)
	// PutIfAbsent stores size bytes from r as name unless name exists;
	// created says whether it wrote. Objects are content-addressed or
	// replaced whole, so a race between two writers of one name is
	// harmless: both write the same bytes.
	PutIfAbsent(ctx context.Context, name string, r io.Reader, size int64) (created bool, err error)
	// Put stores size bytes from r as name, replacing any object of that
	// name whole (readers see the old or the new object, never a mix).
	Put(ctx context.Context, name string, r io.Reader, size int64) error
	// List calls fn for every object whose name starts with prefix, in
	// lexical order. A listing that does not end as a store's should
	// fails with ErrListing; fn may end it sooner by returning an error
	// (a caller's own bound on what it expects).
	List(ctx context.Context, prefix string, fn func(Object) error) error
	// Stat returns the object's size.
	Stat(ctx context.Context, name string) (int64, error)
	// String names the store for messages (no credentials).
	String() string
}

// Object is one entry of a listing.
type Object struct {
	Name string
	Size int64
	// Version changes whenever the object is replaced (S3: the ETag and
	// modification time; a folder: size and modification time).
	Version string
}

// Printable is s as it may appear in a message: s itself if every rune
// is printable, else its Go-escaped form (a store's names and error texts
// are the peer's: they must not move a terminal's cursor or forge a
// line).
func Printable(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) < 0 {
		return s
	}
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

// CheckName refuses a name that could leave the store's root.
func CheckName(name string) error {
	if name == "" || strings.HasPrefix(name, "/") || strings.HasSuffix(name, "/") {
		return fmt.Errorf("object name %q: want a relative name", name)
	}
	for _, c := range strings.Split(name, "/") {
		if c == "" || c == "." || c == ".." {
			return fmt.Errorf("object name %q: empty, . or .. component", name)
		}
	}
	return nil
}
