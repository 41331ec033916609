// Package atomicfile writes files so that a reader (or an rsync of the tree)
// sees either the old content or the new, never a half-written file: the data
// goes to a temporary name in the same folder, is fsynced, and is renamed
// over the final name; the folder is fsynced afterwards so the rename itself
// survives a crash.
//
// # Writing beneath a root
//
// cbfs runs as root and writes into folders others may change: a Backup
// Path, an export's destination a user owns. With Options.Root set, every
// folder a write needs is opened (or made) beneath Root with the *at calls
// of internal/confined: no symbolic link is followed on the way, at any
// moment (a folder swapped for a link during the write fails the write,
// never redirects it), and nothing outside Root is reached. The temporary
// file is created O_EXCL|O_NOFOLLOW under an unpredictable name, and the
// final rename is a renameat on the folder's descriptor, which replaces a
// link at the final name rather than writing through it. Options.Dir holds
// Root already opened, so that Root itself, swapped for a link after it was
// opened, is not followed either.
//
// Without a Root the folder is opened as the path names it (links in it
// followed: the caller trusts the whole path), but the temporary name stays
// unpredictable and exclusive and the rename never follows a link.
//
// Options.As makes the folders and the temporary file with the file-system
// identity of another user (confined.Owner.Do): the kernel then refuses
// what that user could not do, and what is made belongs to them.
package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cbfs/cbfs/internal/confined"
)

// TempPrefix starts the name of every temporary file this package creates.
// Readers of a Backup Path skip names with this prefix: they are writes in
// progress (or left behind by a crash) and never part of the backup.
const TempPrefix = confined.WriteTemp

// DefaultUmask is removed from the mode of every file and folder written
// unless SetUmask says otherwise: a backup holds private mail, so files are
// 0600 and folders 0700 by default.
const DefaultUmask os.FileMode = 0o077

var umask atomic.Uint32

func init() { umask.Store(uint32(DefaultUmask)) }

// SetUmask sets the permission bits removed from every mode this package
// applies (files and the folders it creates), and that Mode removes for
// the writers that create files themselves. Only the low nine bits count.
func SetUmask(m os.FileMode) { umask.Store(uint32(m & os.ModePerm)) }

// Umask is the mask SetUmask set (DefaultUmask at start).
func Umask() os.FileMode { return os.FileMode(umask.Load()) }

// Mode is perm without the Umask bits: the mode to give a file or folder
// of a Backup Path, an index or a state directory that is not written
// through this package (os.MkdirAll, os.Chmod).
func Mode(perm os.FileMode) os.FileMode { return perm &^ Umask() }

// ErrOutside is wrapped when a path to write is not beneath Options.Root.
var ErrOutside = errors.New("not beneath the folder written")

// Options tune how files are written. The zero value is durable and writes
// wherever the path leads (no Root).
type Options struct {
	// NoSync skips the fsyncs. The rename is still atomic for readers, but
	// a crash may lose the file. Only for data that can be made again
	// (generated samples, benchmark fixtures): fsync costs ~0.6 ms here,
	// which dominates writing 100,000 small files.
	NoSync bool

	// Root, if set, is the trusted folder (a Backup Path, an export's
	// destination) every path written lies beneath: the folders below it
	// are resolved and made without following a symbolic link (see the
	// package comment). A path outside Root fails with ErrOutside.
	Root string

	// Dir, if set, is Root opened once by the caller (confined.OpenDir(Root,
	// ".")), who closes it after the last write: writes resolve beneath it,
	// so Root replaced meanwhile (renamed, a link put in its place) is not
	// followed. Without it each write opens Root as its path names it.
	Dir *confined.Dir

	// As, if it is another user (As.Switches), is who makes the folders,
	// the temporary file and the rename, with that user's file-system
	// identity (confined.Owner.Do): files and folders written belong to
	// them, and the kernel refuses what they could not do. The zero value
	// (root) changes nothing.
	As confined.Owner
}

// WithNoSync is o with NoSync set.
func (o Options) WithNoSync() Options {
	o.NoSync = true
	return o
}

// Held is a root folder opened once for the many writes a writer makes
// beneath it (a blob store, a Backup Path): resolving each write from the
// held descriptor saves opening the root path again for every file, which
// measurably costs a small write. Its descriptor is closed once neither
// the Held nor an Options it returned is referenced (at the next garbage
// collection after that; the runtime forces one at least every two
// minutes): until then it keeps the root's file system from unmounting,
// so a Held belongs to a writer that lives for one operation.
type Held struct {
	root string
	mu   sync.Mutex
	d    *confined.Dir
}

// Hold returns a Held for root; nothing is opened before the first write.
func Hold(root string) *Held { return &Held{root: root} }

// Options returns o writing through the held root (o.Dir set) when o
// writes beneath that root (o.Root is it) and holds no Dir of its own.
// The root is opened on first use; while it cannot be (it does not exist
// yet), o is returned as it is, and its write opens Root (making it).
func (h *Held) Options(o Options) Options {
	if h == nil || o.Dir != nil || o.Root != h.root {
		return o
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.d == nil {
		d, err := confined.OpenDir(h.root, ".")
		if err != nil {
			return o
		}
		h.d = d
		// Closed once neither h nor any Options it returned (a write in
		// progress) refers to it.
		runtime.AddCleanup(d, func(fd int) { unix.Close(fd) }, d.Fd())
	}
	o.Dir = h.d
	return o
}

// WriteFile atomically and durably replaces path with data. The file gets
// Mode(perm) (0600 for 0644 by default); missing parent folders are created
// with Mode(0755) (0700 by default).
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return Options{}.WriteFile(path, data, perm)
}

// Write atomically and durably replaces path with what fill writes.
func Write(path string, perm os.FileMode, fill func(w io.Writer) error) error {
	return Options{}.Write(path, perm, fill)
}

// WriteFile atomically replaces path with data.
func (o Options) WriteFile(path string, data []byte, perm os.FileMode) error {
	return o.Write(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// Write atomically replaces path with what fill writes. fill is given the
// temporary file (an *os.File, open for reading and writing). If fill
// fails, the temporary file is removed and path is untouched.
//
// With As (another user), the whole write runs in one As.Do (switching
// identity costs ~17 µs, once per file rather than once per step), fill
// included: fill must only write w and read what it already holds open.
func (o Options) Write(path string, perm os.FileMode, fill func(w io.Writer) error) error {
	if o.As.Switches() {
		return o.As.Do(func() error { return o.write(path, perm, fill) })
	}
	return o.write(path, perm, fill)
}

func (o Options) write(path string, perm os.FileMode, fill func(w io.Writer) error) (err error) {
	t, err := o.createTemp(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			t.Abort()
		}
	}()
	if err = fill(t.File); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return t.commit(path, perm)
}

// SetTimes sets the access and modification times of the file a fill is
// writing (through its descriptor: no name is looked up). Call it after the
// last write; the rename keeps them.
func SetTimes(w io.Writer, atime, mtime time.Time) error {
	f, ok := w.(*os.File)
	if !ok {
		return fmt.Errorf("set times: %T is not a file", w)
	}
	return confined.SetTimes(f, atime, mtime)
}

// MkdirAll makes the folder dir and its missing parents (Mode(0755)), the
// confined way with a Root, as o.As.
func (o Options) MkdirAll(dir string) error {
	var d *confined.Dir
	err := o.As.Do(func() (err error) {
		d, err = o.openDir(dir)
		return err
	})
	if err != nil {
		return err
	}
	return d.Close()
}

// Temp is a file being written under a temporary name (TempPrefix and 16
// random hex digits, created O_EXCL|O_NOFOLLOW, mode 0600), open for
// reading and writing. Commit gives it its final name; Abort drops it.
type Temp struct {
	*os.File
	o      Options
	dir    *confined.Dir // the folder holding it
	name   string        // its name in dir
	closed bool
	done   bool // committed or aborted
}

// CreateTemp makes a temporary file in the folder dir (made if missing),
// for a write whose final name is known only at the end (a blob named by
// its digest).
func (o Options) CreateTemp(dir string) (t *Temp, err error) {
	err = o.As.Do(func() (err error) {
		t, err = o.createTemp(dir)
		return err
	})
	return t, err
}

// createTemp is CreateTemp in the caller's identity.
func (o Options) createTemp(dir string) (*Temp, error) {
	d, err := o.openDir(dir)
	if err != nil {
		return nil, err
	}
	f, name, err := d.CreateTemp(TempPrefix, 0o600)
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("create temporary file in %s: %w", dir, err)
	}
	return &Temp{File: f, o: o, dir: d, name: name}, nil
}

// Commit gives the temporary file mode Mode(perm), fsyncs it (unless
// NoSync), closes it and renames it to path (which may be in another
// folder beneath the same Root, made if missing), replacing what was
// there; then (unless NoSync) fsyncs the folders. A symbolic link at path
// is replaced, never followed. If Commit fails before the rename the
// temporary file is still there: Abort it.
func (t *Temp) Commit(path string, perm os.FileMode) error {
	return t.o.As.Do(func() error { return t.commit(path, perm) })
}

// commit is Commit in the caller's identity.
func (t *Temp) commit(path string, perm os.FileMode) error {
	if t.done {
		return errors.New("commit: already committed or aborted")
	}
	tmp := filepath.Join(t.dir.Path(), t.name)
	if err := t.File.Chmod(Mode(perm)); err != nil {
		return fmt.Errorf("chmod %s: %w", tmp, err)
	}
	if !t.o.NoSync {
		if err := t.File.Sync(); err != nil {
			return fmt.Errorf("fsync %s: %w", tmp, err)
		}
	}
	t.closed = true
	if err := t.File.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp, err)
	}
	dir, name := filepath.Dir(path), filepath.Base(path)
	to := t.dir
	if filepath.Clean(dir) != filepath.Clean(t.dir.Path()) {
		d, err := t.o.openDir(dir)
		if err != nil {
			return err
		}
		defer d.Close()
		to = d
	}
	if err := t.dir.Rename(t.name, to, name); err != nil {
		return fmt.Errorf("rename %s to %s: %w", tmp, path, unwrapLink(err))
	}
	t.done = true
	defer t.dir.Close()
	if t.o.NoSync {
		return nil
	}
	if err := to.Sync(); err != nil {
		return fmt.Errorf("fsync folder %s: %w", dir, err)
	}
	if to != t.dir {
		if err := t.dir.Sync(); err != nil {
			return fmt.Errorf("fsync folder %s: %w", t.dir.Path(), err)
		}
	}
	return nil
}

// Abort closes and removes the temporary file, unless Commit renamed it.
// Safe to call more than once, and after Commit.
func (t *Temp) Abort() {
	if t == nil || t.done {
		return
	}
	t.done = true
	if !t.closed {
		t.File.Close()
	}
	t.dir.Remove(t.name)
	t.dir.Close()
}

// openDir opens (making what is missing, Mode(0755)) the folder dir: beneath
// Root the confined way when o has a Root, else as the path names it.
func (o Options) openDir(dir string) (*confined.Dir, error) {
	perm := Mode(0o755)
	if o.Root == "" && o.Dir == nil {
		if err := os.MkdirAll(dir, perm); err != nil {
			return nil, fmt.Errorf("create folder %s: %w", dir, err)
		}
		d, err := confined.OpenDir(dir, ".")
		if err != nil {
			return nil, fmt.Errorf("open folder %s: %w", dir, err)
		}
		return d, nil
	}
	root := o.Root
	if root == "" {
		root = o.Dir.Path()
	}
	rel, err := filepath.Rel(root, dir)
	if err != nil || !filepath.IsLocal(rel) {
		return nil, fmt.Errorf("create folder %s: %w %s", dir, ErrOutside, root)
	}
	var d *confined.Dir
	if o.Dir != nil {
		d, err = mkdirAll(o.Dir, rel, perm)
	} else {
		d, err = confined.MkdirAll(root, rel, perm)
		if errors.Is(err, fs.ErrNotExist) {
			// Root itself is missing: it is trusted, made as named.
			if err := os.MkdirAll(root, perm); err != nil {
				return nil, fmt.Errorf("create folder %s: %w", root, err)
			}
			d, err = confined.MkdirAll(root, rel, perm)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("create folder %s: %w", dir, err)
	}
	return d, nil
}

// mkdirAll is root.MkdirAll(rel, perm) that, when rel is missing, first
// makes it in its parent (a new bucket or account folder: its parent is
// usually there), rather than walking again from root.
func mkdirAll(root *confined.Dir, rel string, perm os.FileMode) (*confined.Dir, error) {
	d, err := root.OpenDir(rel)
	if err == nil || !errors.Is(err, fs.ErrNotExist) || filepath.Dir(rel) == "." {
		if err != nil {
			return root.MkdirAll(rel, perm) // its errors name what is wrong
		}
		return d, nil
	}
	p, err := root.OpenDir(filepath.Dir(rel))
	if err != nil {
		return root.MkdirAll(rel, perm)
	}
	defer p.Close()
	if err := p.Mkdir(filepath.Base(rel), perm); err != nil {
		return root.MkdirAll(rel, perm)
	}
	if d, err = p.OpenDir(filepath.Base(rel)); err != nil {
		return root.MkdirAll(rel, perm)
	}
	return d, nil
}

// unwrapLink keeps a rename's errno only (the *os.LinkError names the
// paths already in the caller's message).
func unwrapLink(err error) error {
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}

// SyncDir fsyncs a folder so that renames and creations in it are durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open folder %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync folder %s: %w", dir, err)
	}
	return nil
}
