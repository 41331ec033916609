package index

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// lockFile takes an exclusive, non-blocking flock on dbPath+lockSuffix
// (created if missing). flock locks belong to the open file, so a second Open of the
// same index in this very process is refused too.
func lockFile(dbPath string) (*os.File, error) {
	path := dbPath + lockSuffix
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open index lock file %s: %w", path, err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s: %w: another cbfs process is using it (lock %s held)", dbPath, ErrLocked, path)
		}
		return nil, fmt.Errorf("lock index %s: %w", path, err)
	}
	return f, nil
}

// lockSuffix is appended to the index file's name for its lock file.
const lockSuffix = ".lock"

func unlockFile(f *os.File) error {
	if f == nil {
		return nil
	}
	// Closing the file releases the flock.
	return f.Close()
}
