package statedir

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrLocked is returned (wrapped) when another process holds the state
// directory's lock.
var ErrLocked = errors.New("state directory is in use by another cbfs process")

// StateLock is an exclusive flock on <state-dir>/lock (LockFile). It guards everything
// in the state directory (index, queue, restore ledger): one service (or
// one foreground cbctl operation) at a time. The holder's PID is written
// into the file, so a refused process can name it.
type StateLock struct {
	dir string
	f   *os.File
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
	path := d.LockFile()
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open state directory lock: %w", err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		defer f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			holder := "pid unknown"
			if pid := readPID(f); pid > 0 {
				holder = "pid " + strconv.Itoa(pid)
			}
			return nil, fmt.Errorf("%s (%s): %w", dir, holder, ErrLocked)
		}
		return nil, fmt.Errorf("lock state directory %s: %w", dir, err)
	}
	if err := writePID(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("write state directory lock %s: %w", path, err)
	}
	return &StateLock{dir: dir, f: f}, nil
}

func readPID(f *os.File) int {
	buf := make([]byte, 32)
	n, _ := f.ReadAt(buf, 0)
	pid, err := strconv.Atoi(strings.TrimSpace(string(buf[:n])))
	if err != nil {
		return 0
	}
	return pid
}

func writePID(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return err
}

// Dir is the locked state directory.
func (l *StateLock) Dir() string { return l.dir }

// Release drops the lock. It is safe to call more than once.
func (l *StateLock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	_ = l.f.Truncate(0) // no stale PID for the next reader
	err := l.f.Close()  // closing releases the flock
	l.f = nil
	if err != nil {
		return fmt.Errorf("release state directory lock %s: %w", l.dir, err)
	}
	return nil
}
