// Package pathlock keeps two writers off one Backup Path. Every operation
// that writes a Backup Path (a scan, a purge, a coherency check that fixes,
// an export into its destination) holds an exclusive flock on
// <path>/.cbfs-writer.lock for its whole duration, whatever state
// directory or process it runs from; a second writer fails at once with a
// line that names the holder. Readers (mounts, cbctl's inspection commands,
// restores reading a source) never take it.
//
// The file lives inside the Backup Path because writers write there
// anyway, and so that every process on any host sharing the path through a
// file system with working flock sees it. Its content (one JSON line: pid,
// host, operation, start) only names the holder; the flock is the lock, so
// a holder killed with -9 leaves a stale file but no stale lock. Names
// starting with ".cbfs-" (this file, atomicfile's temporary names) are not
// part of a backup: readers and checks skip them.
package pathlock

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// Name is the lock file in the Backup Path's root.
const Name = ".cbfs-writer.lock"

// ErrBusy is wrapped by Acquire's error when another writer holds the lock.
var ErrBusy = errors.New("backup path is being written by another operation")

// Holder is what the lock file says about its holder.
type Holder struct {
	PID   int       `json:"pid"`
	Host  string    `json:"host,omitempty"`
	Op    string    `json:"op,omitempty"`
	Since time.Time `json:"since,omitzero"`
}

// BusyError is the error of an Acquire refused because the path is being
// written. It wraps ErrBusy.
type BusyError struct {
	Path   string
	Holder Holder // zero if the file could not be read
}

func (e *BusyError) Error() string {
	who := "another process"
	if e.Holder.PID > 0 {
		who = "pid " + strconv.Itoa(e.Holder.PID)
		if host, _ := os.Hostname(); e.Holder.Host != "" && e.Holder.Host != host {
			who += " on " + e.Holder.Host
		}
	}
	if e.Holder.Op != "" {
		who += " (" + e.Holder.Op + ")"
	}
	return fmt.Sprintf("backup path %s is being written by %s; wait for it or stop it", e.Path, who)
}

func (e *BusyError) Unwrap() error { return ErrBusy }

// Lock is a held writer lock.
type Lock struct {
	path string
	f    *os.File
}

// Acquire takes the writer lock of the Backup Path at root (a folder that
// must exist) for operation op (a name for the refusal message, such as
// "doSmartScan"), without waiting. When another writer holds it, the error
// is a *BusyError (wrapping ErrBusy).
func Acquire(root, op string) (*Lock, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	l, err := Take(filepath.Join(abs, Name), op)
	var held *HeldError
	if errors.As(err, &held) {
		return nil, &BusyError{Path: abs, Holder: held.Holder}
	}
	if err != nil {
		return nil, fmt.Errorf("backup path %s: writer lock: %w", abs, err)
	}
	return l, nil
}

// HeldError is Take's error when another open file holds the lock (another
// process, or another Take in this one: flock locks belong to the open
// file). It wraps ErrBusy.
type HeldError struct {
	File   string
	Holder Holder // zero if the file could not be read
}

func (e *HeldError) Error() string {
	if e.Holder.PID > 0 {
		return fmt.Sprintf("%s is held by pid %d", e.File, e.Holder.PID)
	}
	return e.File + " is held by another process"
}

func (e *HeldError) Unwrap() error { return ErrBusy }

// Take takes an exclusive flock on the file at path (created 0600 if
// missing) without waiting, and writes the holder (this process, op) into
// it. It is the one lock of cbfs: the Backup Path's writer lock, the state
// directory's and the index's are each a Take of their own file. Closing
// (Release) drops the lock, so a holder killed with -9 leaves no stale
// lock, only a file naming it.
func Take(path, op string) (*Lock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
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
			h, _ := readHolder(f)
			return nil, &HeldError{File: path, Holder: h}
		}
		return nil, err
	}
	host, _ := os.Hostname()
	b, _ := json.Marshal(Holder{PID: os.Getpid(), Host: host, Op: op, Since: time.Now().UTC().Truncate(time.Second)})
	if err := f.Truncate(0); err == nil {
		_, err = f.WriteAt(append(b, '\n'), 0)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("write lock file %s: %w", path, err)
	}
	return &Lock{path: path, f: f}, nil
}

func readHolder(f *os.File) (Holder, error) {
	buf := make([]byte, 4096)
	n, _ := f.ReadAt(buf, 0)
	var h Holder
	if n == 0 {
		return h, nil
	}
	err := json.Unmarshal(buf[:n], &h)
	return h, err
}

// Path is the lock file.
func (l *Lock) Path() string { return l.path }

// Release drops the lock (the file stays, emptied). Safe to call more than
// once and on nil.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	_ = l.f.Truncate(0) // no stale holder for the next reader
	err := l.f.Close()  // closing releases the flock
	l.f = nil
	return err
}
