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
//
// The folder may be writable by someone else (an export's destination a
// user owns): the lock file is opened on the folder's descriptor without
// following a symbolic link and without blocking, and used only if it is
// a regular file with a single name, so nothing planted there makes root
// truncate or write another file (BadFileError).
package pathlock

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cbfs/cbfs/internal/confined"
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
// is a *BusyError (wrapping ErrBusy). The lock file is looked up in root's
// descriptor the way Take does (no link followed, regular files only): a
// *BadFileError if something else is planted there.
func Acquire(root, op string) (*Lock, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	d, err := confined.OpenDir(abs, ".")
	if err != nil {
		return nil, fmt.Errorf("backup path %s: writer lock: %w", abs, err)
	}
	defer d.Close()
	return AcquireDir(d, op, confined.Owner{})
}

// AcquireDir is Acquire for a folder the caller opened (an export's
// destination, opened once without following a link), whose lock file, if
// it has to be made, is made as the user as (confined.Owner.Do): in a
// folder a user owns, the lock file is theirs like everything written
// there. An existing lock file is used whoever made it (checked as Take
// checks it). The zero Owner makes it as the process.
func AcquireDir(d *confined.Dir, op string, as confined.Owner) (*Lock, error) {
	abs := d.Path()
	l, err := take(d, Name, filepath.Join(abs, Name), op, as)
	var held *HeldError
	if errors.As(err, &held) {
		return nil, &BusyError{Path: abs, Holder: held.Holder}
	}
	var bad *BadFileError
	if errors.As(err, &bad) {
		return nil, fmt.Errorf("backup path %s: writer %w", abs, err)
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
//
// The file is opened in its folder (trusted, opened as path names it)
// without following a symbolic link and without blocking, and used only
// if it is a regular file with no other hard link: a link, FIFO or device
// planted at its name (or a hard link to another file) fails with a
// *BadFileError, and nothing is written, truncated or waited on.
func Take(path, op string) (*Lock, error) {
	d, err := confined.OpenDir(filepath.Dir(path), ".")
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return take(d, filepath.Base(path), path, op, confined.Owner{})
}

// BadFileError is the error of a lock file that is not a plain regular
// file of its own (a symbolic link, FIFO, device, folder, or a file with
// other hard links): it is never followed, opened for writing or
// truncated, since root would then write into whatever it leads to.
type BadFileError struct {
	File string
	Err  error // confined.ErrSymlink, a *confined.NotRegularError, errHardLinked
}

func (e *BadFileError) Error() string {
	return fmt.Sprintf("lock file %s: %v: not used (remove it if no cbfs made it)", e.File, e.Err)
}

func (e *BadFileError) Unwrap() error { return e.Err }

// errHardLinked: the lock file has other names (a hard link to a file
// elsewhere: truncating it would truncate that file).
var errHardLinked = errors.New("has other hard links")

// open opens (making it as as if missing) the lock file name in d.
func open(d *confined.Dir, name string, as confined.Owner) (*os.File, error) {
	for tries := 0; ; tries++ {
		f, err := d.OpenFile(name, os.O_RDWR, 0)
		if !errors.Is(err, fs.ErrNotExist) || tries == 3 {
			return f, err
		}
		err = as.Do(func() (err error) {
			f, err = d.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
			return err
		})
		if !errors.Is(err, fs.ErrExist) {
			return f, err
		}
		// Made meanwhile by another taker (or planted): open it again.
	}
}

func take(d *confined.Dir, name, path, op string, as confined.Owner) (*Lock, error) {
	f, err := open(d, name, as)
	if errors.Is(err, unix.EISDIR) {
		err = &confined.NotRegularError{Mode: fs.ModeDir} // opening it to write said so
	}
	if err != nil {
		if errors.Is(err, confined.ErrSymlink) || errors.Is(err, confined.ErrNotRegular) {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return nil, &BadFileError{File: path, Err: err}
		}
		return nil, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		f.Close()
		return nil, fmt.Errorf("stat %s: %w", path, err)
	}
	if st.Nlink > 1 {
		f.Close()
		return nil, &BadFileError{File: path, Err: fmt.Errorf("%w (%d names)", errHardLinked, st.Nlink)}
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
	err = f.Truncate(0)
	if err == nil {
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
