package blob

import (
	"fmt"
	"io"
)

// Replace writes data as its blob even when a file of that name is
// already there (Put leaves an existing one as it is): a deep scan's
// repair of a blob that is missing or does not verify, from the source's
// sound content. The file is replaced atomically; a folder or symbolic
// link in the way is an error.
func (s *Store) Replace(data []byte) error {
	d := Sum(data)
	if _, err := s.exists(d); err != nil {
		return err
	}
	err := s.writeOpts().Write(s.Path(d), filePerm, func(w io.Writer) error {
		if len(data) <= smallPutMax {
			return compressSmall(w, data)
		}
		return compress(w, func(zw io.Writer) error {
			_, err := zw.Write(data)
			return err
		})
	})
	if err != nil {
		return fmt.Errorf("store blob %s: %w", d, err)
	}
	s.forget(d)
	return nil
}
