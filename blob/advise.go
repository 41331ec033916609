package blob

import (
	"errors"
	"io/fs"

	"golang.org/x/sys/unix"

	"github.com/cbfs/cbfs/internal/confined"
)

// WillNeed tells the kernel that blob d's compressed file is about to be
// read (posix_fadvise WILLNEED), so its pages are fetched in the
// background: a reader about to open a series of blobs keeps the disk
// queue full without holding any of their bytes in its own memory. The
// file is opened as open does (confined, no symbolic link, regular files
// only). Errors are returned for tests; callers may ignore them, a later
// read reports them properly. For a blob of the remote tier (see Remote)
// it starts fetching it into the cache instead, without waiting, within
// no Limit (WillNeedLimit bounds it as the reader will).
func (s *Store) WillNeed(d Digest) error { return s.WillNeedLimit(d, Limit{}) }

// WillNeedLimit is WillNeed for a reader within l: a fetch from the remote
// tier takes at most what such a reader's content needs.
func (s *Store) WillNeedLimit(d Digest, l Limit) error {
	if err := s.invalid(d); err != nil {
		return err
	}
	f, err := confined.Open(s.root, d.RelPath())
	if err != nil {
		if s.remote != nil && errors.Is(err, fs.ErrNotExist) {
			// A blob of the remote tier: fetch it into the cache in
			// the background (the read-ahead's prefetch).
			s.remote.prefetch(d, fetchBound(l.streamBound()))
			return nil
		}
		return err
	}
	defer f.Close()
	return unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_WILLNEED)
}
