package confined

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// # The writing half
//
// A Dir is a folder opened beneath a root without following a symbolic
// link on the way. Every method acts on its descriptor with the *at system
// calls (openat2 or the component walk, mkdirat, renameat, unlinkat,
// utimensat), so a folder a user swaps for a symbolic link after it was
// opened is never followed: the Dir stays the folder it was. The promises
// of the reading half hold for every name looked up beneath a Dir; for
// writes:
//
//   - Create, CreateTemp and OpenFile never follow a symbolic link in the
//     last component (O_NOFOLLOW) and never open a FIFO or device: Create
//     and CreateTemp make a new file (O_EXCL), CreateTemp under an
//     unpredictable name; OpenFile returns regular files only.
//   - Mkdir and MkdirAll make folders with mkdirat, each component opened
//     again without following links: an existing symbolic link where a
//     folder should be fails with ErrSymlink.
//   - Rename, Remove and Chtimes act on the entry itself (renameat and
//     unlinkat never follow a last component; utimensat is told not to).
//   - Names given to the writing methods are single components: a "/" or
//     a name "", "." or ".." fails with ErrOutside before any system call.
//
// Who may do what in the folder is the kernel's business: run the calls
// inside Owner.Do to do them with the folder owner's rights.

// Dir is a folder opened beneath a root. Close it when done. Like an
// os.File, a Dir may also be left to a cleanup that closes its descriptor
// once it is unreachable (atomicfile.Held does): every method keeps d
// reachable until its system calls return, so the descriptor is never
// closed (and its number reused) under a call.
type Dir struct {
	fd   int
	path string // root + rel, for messages and the names of opened files
}

// OpenDir opens the folder rel beneath root (rel "." is root itself, which
// is trusted and opened as given). A symbolic link anywhere in rel fails
// with ErrSymlink.
func OpenDir(root, rel string) (*Dir, error) {
	fd, err := openRoot(root)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: root, Err: err}
	}
	top := &Dir{fd: fd, path: root}
	if rel == "." {
		return reopenDir(top)
	}
	defer top.Close()
	return top.OpenDir(rel)
}

// reopenDir turns an O_PATH root descriptor into one that can be listed
// and fsynced (O_RDONLY), falling back to the O_PATH one where reading the
// folder is not allowed.
func reopenDir(d *Dir) (*Dir, error) {
	fd, err := openat(d.fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC)
	if err != nil {
		return d, nil
	}
	unix.Close(d.fd)
	d.fd = fd
	return d, nil
}

// MkdirAll opens the folder rel beneath root, making the missing folders
// on the way with mode perm (see Dir.MkdirAll).
func MkdirAll(root, rel string, perm os.FileMode) (*Dir, error) {
	fd, err := openRoot(root)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: root, Err: err}
	}
	top := &Dir{fd: fd, path: root}
	if rel == "." {
		return reopenDir(top)
	}
	defer top.Close()
	return top.MkdirAll(rel, perm)
}

// Path is the folder's path as it was opened (for messages: the folder
// itself may have been moved since).
func (d *Dir) Path() string { return d.path }

// Fd is the folder's descriptor (for system calls the Dir does not wrap).
func (d *Dir) Fd() int { return d.fd }

// Close releases the folder.
func (d *Dir) Close() error {
	if d == nil || d.fd < 0 {
		return nil
	}
	err := unix.Close(d.fd)
	d.fd = -1
	return err
}

func (d *Dir) join(rel string) string { return filepath.Join(d.path, rel) }

// OpenDir opens the folder rel beneath d.
func (d *Dir) OpenDir(rel string) (*Dir, error) {
	defer runtime.KeepAlive(d)
	if rel == "." {
		fd, err := openat(d.fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC)
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: d.path, Err: err}
		}
		return &Dir{fd: fd, path: d.path}, nil
	}
	fd, err := openBeneathFD(d.fd, rel, unix.O_RDONLY|unix.O_DIRECTORY)
	if err == unix.EACCES {
		// A folder its owner may search but not list: still usable for
		// lookups beneath it.
		fd, err = openBeneathFD(d.fd, rel, unix.O_PATH|unix.O_DIRECTORY)
	}
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: rel, Err: err}
	}
	return &Dir{fd: fd, path: d.join(rel)}, nil
}

// Mkdir makes the folder name in d with mode perm (less the process's
// umask, as mkdir(2) does). An existing folder is not an error; anything
// else in its place is (a symbolic link: ErrSymlink).
func (d *Dir) Mkdir(name string, perm os.FileMode) error {
	defer runtime.KeepAlive(d)
	if err := checkName(name); err != nil {
		return &fs.PathError{Op: "mkdir", Path: name, Err: err}
	}
	err := mkdirat(d.fd, name, uint32(perm.Perm()))
	if err == unix.EEXIST {
		var st unix.Stat_t
		if serr := unix.Fstatat(d.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); serr != nil {
			return &fs.PathError{Op: "mkdir", Path: name, Err: serr}
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			return nil
		case unix.S_IFLNK:
			return &fs.PathError{Op: "mkdir", Path: name, Err: ErrSymlink}
		default:
			return &fs.PathError{Op: "mkdir", Path: name, Err: &NotRegularError{Mode: fileMode(st.Mode)}}
		}
	}
	if err != nil {
		return &fs.PathError{Op: "mkdir", Path: name, Err: err}
	}
	return nil
}

// MkdirAll opens the folder rel beneath d, making every missing folder on
// the way (mode perm), one component at a time: each is made with mkdirat
// and opened without following links, so a symbolic link planted anywhere
// on the way (before or during the call) fails with ErrSymlink.
func (d *Dir) MkdirAll(rel string, perm os.FileMode) (*Dir, error) {
	defer runtime.KeepAlive(d)
	rel, err := clean(rel)
	if err != nil {
		return nil, &fs.PathError{Op: "mkdir", Path: rel, Err: err}
	}
	// Fast path: the folder is there already.
	if sub, err := d.OpenDir(rel); err == nil {
		return sub, nil
	}
	cur := d
	for _, name := range strings.Split(rel, "/") {
		if err := cur.Mkdir(name, perm); err != nil {
			if cur != d {
				cur.Close()
			}
			return nil, &fs.PathError{Op: "mkdir", Path: rel, Err: errno(err)}
		}
		next, err := cur.OpenDir(name)
		if cur != d {
			cur.Close()
		}
		if err != nil {
			return nil, &fs.PathError{Op: "mkdir", Path: rel, Err: errno(err)}
		}
		cur = next
	}
	cur.path = d.join(rel)
	return cur, nil
}

// Open opens the regular file rel beneath d for reading (see Open).
func (d *Dir) Open(rel string) (*os.File, error) {
	defer runtime.KeepAlive(d)
	fd, err := openBeneathFD(d.fd, rel, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY)
	return regularFile(fd, err, d.path, rel)
}

// ReadFile reads the regular file rel beneath d, at most max bytes (see
// ReadFile).
func (d *Dir) ReadFile(rel string, max int64) ([]byte, error) {
	defer runtime.KeepAlive(d)
	f, err := d.Open(rel)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readAll(f, rel, max)
}

// ReadDir lists the folder rel beneath d (see ReadDir); rel "." is d.
func (d *Dir) ReadDir(rel string) ([]fs.DirEntry, error) {
	defer runtime.KeepAlive(d)
	var fd int
	var err error
	if rel == "." {
		fd, err = openat(d.fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC)
	} else {
		fd, err = openBeneathFD(d.fd, rel, unix.O_RDONLY|unix.O_DIRECTORY)
	}
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: rel, Err: err}
	}
	f := os.NewFile(uintptr(fd), d.join(rel))
	defer f.Close()
	ents, err := f.ReadDir(-1)
	if err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: rel, Err: errno(err)}
	}
	slices.SortFunc(ents, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return ents, nil
}

// Stat describes rel beneath d like lstat (see Stat); rel "." is d itself.
func (d *Dir) Stat(rel string) (fs.FileInfo, error) {
	defer runtime.KeepAlive(d)
	var fd int
	var err error
	if rel == "." {
		fd, err = openat(d.fd, ".", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC)
	} else {
		fd, err = openBeneathFD(d.fd, rel, unix.O_PATH|unix.O_NOFOLLOW)
	}
	if err != nil {
		return nil, &fs.PathError{Op: "lstat", Path: rel, Err: err}
	}
	f := os.NewFile(uintptr(fd), d.join(rel))
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, &fs.PathError{Op: "lstat", Path: rel, Err: errno(err)}
	}
	return fi, nil
}

// Create makes the new regular file name in d for writing (mode perm less
// the umask): it fails if anything of that name exists, a symbolic link
// included, which is never followed.
func (d *Dir) Create(name string, perm os.FileMode) (*os.File, error) {
	defer runtime.KeepAlive(d)
	return d.create(name, unix.O_WRONLY, perm)
}

func (d *Dir) create(name string, flags int, perm os.FileMode) (*os.File, error) {
	defer runtime.KeepAlive(d)
	if err := checkName(name); err != nil {
		return nil, &fs.PathError{Op: "create", Path: name, Err: err}
	}
	fd, err := openatMode(d.fd, name, flags|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, uint32(perm.Perm()))
	if err != nil {
		return nil, &fs.PathError{Op: "create", Path: name, Err: symlinkErr(d.fd, name, err)}
	}
	return os.NewFile(uintptr(fd), d.join(name)), nil
}

// CreateTemp makes a new regular file in d named prefix + 16 random hex
// digits (never a name another user could predict and plant a link at),
// open for reading and writing. It returns the file and its name in d.
func (d *Dir) CreateTemp(prefix string, perm os.FileMode) (*os.File, string, error) {
	defer runtime.KeepAlive(d)
	var b [8]byte
	for tries := 0; ; tries++ {
		rand.Read(b[:])
		name := prefix + hex.EncodeToString(b[:])
		f, err := d.create(name, unix.O_RDWR, perm)
		if err == nil {
			return f, name, nil
		}
		if tries < 8 && os.IsExist(err) {
			continue
		}
		return nil, "", err
	}
}

// OpenFile opens (flag: os.O_RDWR, os.O_CREATE, ... as os.OpenFile takes)
// the file name in d without following a symbolic link and without
// blocking, and returns it only if it is a regular file (a lock file, a
// file appended to).
func (d *Dir) OpenFile(name string, flag int, perm os.FileMode) (*os.File, error) {
	defer runtime.KeepAlive(d)
	if err := checkName(name); err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	fd, err := openatMode(d.fd, name, flag|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, uint32(perm.Perm()))
	if err != nil {
		err = symlinkErr(d.fd, name, err)
	}
	return regularFile(fd, err, d.path, name)
}

// Rename renames old in d to new in to (which may be d), replacing a file
// of that name: neither name is followed if it is a symbolic link (a link
// at new is replaced, not written through).
func (d *Dir) Rename(old string, to *Dir, new string) error {
	defer runtime.KeepAlive(d)
	defer runtime.KeepAlive(to)
	if err := checkName(old); err != nil {
		return &os.LinkError{Op: "rename", Old: old, New: new, Err: err}
	}
	if err := checkName(new); err != nil {
		return &os.LinkError{Op: "rename", Old: old, New: new, Err: err}
	}
	for {
		err := unix.Renameat(d.fd, old, to.fd, new)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return &os.LinkError{Op: "rename", Old: d.join(old), New: to.join(new), Err: err}
		}
		return nil
	}
}

// Remove removes the file (or empty folder) name from d; a symbolic link
// is removed itself.
func (d *Dir) Remove(name string) error {
	defer runtime.KeepAlive(d)
	if err := checkName(name); err != nil {
		return &fs.PathError{Op: "remove", Path: name, Err: err}
	}
	err := unix.Unlinkat(d.fd, name, 0)
	if err == unix.EISDIR {
		err = unix.Unlinkat(d.fd, name, unix.AT_REMOVEDIR)
	}
	if err != nil {
		return &fs.PathError{Op: "remove", Path: name, Err: err}
	}
	return nil
}

// RemoveAll removes name from d with everything beneath it, descending
// through folders opened without following links (a symbolic link inside
// is removed itself, never what it points to). A missing name is not an
// error. Folders nested deeper than MaxRemoveDepth are refused (each level
// holds a descriptor while its folders are removed).
func (d *Dir) RemoveAll(name string) error { return d.removeAll(name, 0) }

// MaxRemoveDepth bounds the nesting RemoveAll descends into: what cbfs
// removes (leftovers, an account folder) is a few levels deep.
const MaxRemoveDepth = 64

func (d *Dir) removeAll(name string, depth int) error {
	defer runtime.KeepAlive(d)
	err := d.Remove(name)
	if err == nil || errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if !errors.Is(err, unix.ENOTEMPTY) && !errors.Is(err, unix.EEXIST) {
		return err
	}
	if depth >= MaxRemoveDepth {
		return &fs.PathError{Op: "remove", Path: name, Err: fmt.Errorf("folders nested deeper than %d", MaxRemoveDepth)}
	}
	sub, err := d.OpenDir(name)
	if err != nil {
		return err
	}
	defer sub.Close()
	ents, err := sub.ReadDir(".")
	if err != nil {
		return err
	}
	for _, e := range ents {
		if err := sub.removeAll(e.Name(), depth+1); err != nil {
			return err
		}
	}
	return d.Remove(name)
}

// Readlink returns the target of the symbolic link name in d (never
// followed), at most 4096 bytes (PATH_MAX).
func (d *Dir) Readlink(name string) (string, error) {
	defer runtime.KeepAlive(d)
	if err := checkName(name); err != nil {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: err}
	}
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(d.fd, name, buf)
	if err == nil && n == len(buf) {
		err = unix.ENAMETOOLONG
	}
	if err != nil {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: err}
	}
	return string(buf[:n]), nil
}

// Chtimes sets the access and modification times of name in d (a
// symbolic link's own, never its target's).
func (d *Dir) Chtimes(name string, atime, mtime time.Time) error {
	defer runtime.KeepAlive(d)
	if err := checkName(name); err != nil {
		return &fs.PathError{Op: "chtimes", Path: name, Err: err}
	}
	ts := []unix.Timespec{unix.NsecToTimespec(atime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
	if err := unix.UtimesNanoAt(d.fd, name, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &fs.PathError{Op: "chtimes", Path: name, Err: err}
	}
	return nil
}

// SetTimes sets the access and modification times of an open file through
// its descriptor (futimens: no name is looked up).
func SetTimes(f *os.File, atime, mtime time.Time) error {
	ts := [2]unix.Timespec{unix.NsecToTimespec(atime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
	_, _, e := unix.Syscall6(unix.SYS_UTIMENSAT, f.Fd(), 0, uintptr(unsafe.Pointer(&ts[0])), 0, 0, 0)
	if e != 0 {
		return &fs.PathError{Op: "futimens", Path: f.Name(), Err: e}
	}
	return nil
}

// Sync makes the folder's entries durable (fsync of the folder).
func (d *Dir) Sync() error {
	defer runtime.KeepAlive(d)
	for {
		err := unix.Fsync(d.fd)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return &fs.PathError{Op: "fsync", Path: d.path, Err: err}
		}
		return nil
	}
}

// Syncfs makes everything written on the folder's file system durable
// (syncfs(2)).
func (d *Dir) Syncfs() error {
	defer runtime.KeepAlive(d)
	if err := unix.Syncfs(d.fd); err != nil {
		return &fs.PathError{Op: "syncfs", Path: d.path, Err: err}
	}
	return nil
}

// WriteFile atomically replaces the file name in d with data (see Write).
func (d *Dir) WriteFile(name string, data []byte, perm os.FileMode, sync bool) error {
	return d.Write(name, perm, sync, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteTemp is the prefix of the temporary files Write makes (readers of
// a folder cbfs writes skip such names).
const WriteTemp = ".cbfs-tmp-"

// Write atomically replaces the file name in d with what fill writes: a
// new file under an unpredictable temporary name (CreateTemp), mode perm
// exactly (fchmod, whatever the umask), then (sync) fsync, rename over
// name (a symbolic link there is replaced, never followed) and (sync)
// fsync of d. If anything fails the temporary file is removed and name is
// untouched.
func (d *Dir) Write(name string, perm os.FileMode, sync bool, fill func(w io.Writer) error) (err error) {
	defer runtime.KeepAlive(d)
	if err := checkName(name); err != nil {
		return &fs.PathError{Op: "write", Path: name, Err: err}
	}
	f, tmp, err := d.CreateTemp(WriteTemp, 0o600)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			d.Remove(tmp)
		}
	}()
	if err = fill(f); err != nil {
		return fmt.Errorf("write %s: %w", d.join(name), err)
	}
	if err = f.Chmod(perm.Perm()); err != nil {
		return err
	}
	if sync {
		if err = f.Sync(); err != nil {
			return err
		}
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = d.Rename(tmp, d, name); err != nil {
		return err
	}
	if sync {
		return d.Sync()
	}
	return nil
}

// checkName refuses anything but one plain path component.
func checkName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsRune(name, '/') || strings.ContainsRune(name, 0) {
		return ErrOutside
	}
	return nil
}

// symlinkErr tells ErrSymlink from other ELOOP/EEXIST causes: a symbolic
// link at name.
func symlinkErr(dirfd int, name string, err error) error {
	if err == unix.ELOOP || err == unix.EEXIST || err == unix.ENXIO || err == unix.ENOTDIR {
		var st unix.Stat_t
		if unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
			if err == unix.EEXIST {
				return fmt.Errorf("%w (%w)", ErrSymlink, fs.ErrExist)
			}
			return ErrSymlink
		}
	}
	return err
}

func mkdirat(dirfd int, name string, mode uint32) error {
	for {
		err := unix.Mkdirat(dirfd, name, mode)
		if err != unix.EINTR {
			return err
		}
	}
}

func openatMode(dirfd int, name string, flags int, mode uint32) (int, error) {
	for {
		fd, err := unix.Openat(dirfd, name, flags, mode)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// readAll reads f whole, at most max bytes (the body of ReadFile).
func readAll(f *os.File, rel string, max int64) ([]byte, error) {
	tooLarge := func(size string) error {
		return &fs.PathError{Op: "read", Path: rel, Err: fmt.Errorf("%w: %s bytes, more than %d", ErrTooLarge, size, max)}
	}
	fi, err := f.Stat()
	if err != nil {
		return nil, &fs.PathError{Op: "stat", Path: rel, Err: errno(err)}
	}
	if fi.Size() > max {
		return nil, tooLarge(fmt.Sprint(fi.Size()))
	}
	// The size can lie (a file growing, /proc-like files): the read itself
	// is bounded too.
	b := make([]byte, 0, fi.Size()+1)
	lr := io.LimitReader(f, max+1)
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := lr.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, &fs.PathError{Op: "read", Path: rel, Err: errno(err)}
		}
	}
	if int64(len(b)) > max {
		return nil, tooLarge("over " + fmt.Sprint(max))
	}
	return b, nil
}

// Remove removes rel beneath root: the file, empty folder or symbolic link
// itself, its folders looked up without following links (see Dir.Remove).
func Remove(root, rel string) error {
	return atParent(root, rel, func(d *Dir, name string) error { return d.Remove(name) })
}

// RemoveAll removes rel beneath root with everything beneath it (see
// Dir.RemoveAll). A missing rel, or a missing folder on its way, is not an
// error.
func RemoveAll(root, rel string) error {
	err := atParent(root, rel, func(d *Dir, name string) error { return d.RemoveAll(name) })
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// Rename renames oldrel to newrel, both beneath root, their folders looked
// up without following links and neither name followed (see Dir.Rename).
// newrel's folder must exist.
func Rename(root, oldrel, newrel string) error {
	return atParent(root, oldrel, func(from *Dir, oldName string) error {
		return atParent(root, newrel, func(to *Dir, newName string) error {
			return from.Rename(oldName, to, newName)
		})
	})
}

// atParent opens rel's folder beneath root and calls fn with it and rel's
// last component.
func atParent(root, rel string, fn func(d *Dir, name string) error) error {
	rel, err := clean(rel)
	if err != nil || rel == "." {
		return &fs.PathError{Op: "open", Path: rel, Err: ErrOutside}
	}
	d, err := OpenDir(root, filepath.Dir(rel))
	if err != nil {
		return err
	}
	defer d.Close()
	return fn(d, filepath.Base(rel))
}
