package statedir

import (
	"errors"
	"fmt"
	"os"
	"strconv"

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
