package blob

import (
	"errors"
	"fmt"
	"io"
)

// ErrChanged: content given as that of a digest does not hash to it (the
// source changed since it was hashed).
var ErrChanged = errors.New("content changed: it no longer matches its digest")

// ReplaceReader is Replace for content read from r, which the caller says
// has digest d (a deep scan's repair of a message too big to hold in
// memory): it is compressed into a temporary file while hashed, the same
// bytes Put would write, and replaces d's file only if what r gave hashes
// to d; otherwise nothing changes and the error wraps ErrChanged. Memory
// stays bounded whatever the size.
func (s *Store) ReplaceReader(d Digest, r io.Reader) error {
	if _, err := s.exists(d); err != nil {
		return err
	}
	err := s.Write.Write(s.Path(d), filePerm, func(w io.Writer) error {
		h := d.NewHash()
		hp := headPool.Get().(*[]byte)
		defer headPool.Put(hp)
		head, all, small, err := readHead(io.TeeReader(r, h), hp)
		if err != nil {
			return err
		}
		if small {
			err = compressSmall(w, head)
		} else {
			var n int64
			err = compress(w, copyInto(all, &n))
		}
		if err != nil {
			return err
		}
		if !sumMatches(d, h) {
			return fmt.Errorf("%w (%s)", ErrChanged, FromHash(h.Sum(nil)))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store blob %s: %w", d, err)
	}
	s.forget(d)
	return nil
}
