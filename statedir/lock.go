package statedir

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/cbfs/cbfs/internal/pathlock"
)

// ErrLocked is returned (wrapped) when another process holds the state
// directory's lock (a pathlock.Take of LockFile, naming its holder).
var ErrLocked = errors.New("state directory is in use by another cbfs process")

// StateLock is an exclusive flock on <state-dir>/lock (LockFile). It guards everything
// in the state directory (index, queue, restore ledger): one service (or
// one foreground cbctl operation) at a time. The holder's PID is written
// into the file, so a refused process can name it.
type StateLock struct {
	dir string
	l   *pathlock.Lock
}

// Lock creates the directory (mode 0700) if needed and takes its lock
// without waiting. A lock held by another process (or by another Lock in
// this one: flock locks belong to the open file) gives an error wrapping
// ErrLocked that names the directory and the holder's PID when known.
func (d Dir) Lock() (*StateLock, error) {
	dir := string(d)
	if dir == "" {
		return nil, errors.New("no state directory given")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create state directory: %w", err)
	}
	if err := private(dir); err != nil {
		return nil, err
	}
	l, err := pathlock.Take(d.LockFile(), "state directory")
	var held *pathlock.HeldError
	if errors.As(err, &held) {
		holder := "pid unknown"
		if held.Holder.PID > 0 {
			holder = "pid " + strconv.Itoa(held.Holder.PID)
		}
		return nil, fmt.Errorf("%s (%s): %w", dir, holder, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("lock state directory %s: %w", dir, err)
	}
	return &StateLock{dir: dir, l: l}, nil
}

// Dir is the locked state directory.
func (l *StateLock) Dir() string { return l.dir }

// Release drops the lock. It is safe to call more than once.
func (l *StateLock) Release() error {
	if l == nil || l.l == nil {
		return nil
	}
	err := l.l.Release()
	l.l = nil
	if err != nil {
		return fmt.Errorf("release state directory lock %s: %w", l.dir, err)
	}
	return nil
}

// private makes the state directory mode 0700 when it already existed
// with a looser mode (MkdirAll leaves an existing folder as it is): it
// holds the queue (operations' parameters), the restore ledger and the
// socket. Only a folder of this process's user is changed, through a
// descriptor (the folder a link given as the state directory names, as an
// administrator may link /var/lib/cbfs elsewhere); a sticky folder (/tmp
// given as the state directory) is never changed: it is refused, as a
// folder others can write into, as is another user's folder others can
// write into.
func private(dir string) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("state directory %s: %w", dir, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("state directory %s: %w", dir, err)
	}
	switch {
	case st.Mode&unix.S_ISVTX != 0:
		return fmt.Errorf("state directory %s is a shared folder (sticky, like /tmp): give a folder of its own", dir)
	case st.Mode&0o077 == 0:
		return nil
	case int(st.Uid) != os.Geteuid():
		if st.Mode&0o022 != 0 {
			return fmt.Errorf("state directory %s belongs to uid %d and others can write into it: give a folder of its own", dir, st.Uid)
		}
		return nil
	}
	if err := unix.Fchmod(fd, 0o700); err != nil {
		return fmt.Errorf("state directory %s: make it private (0700): %w", dir, err)
	}
	return nil
}
