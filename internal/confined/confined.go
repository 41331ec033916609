// Package confined reads files beneath a root folder (a Backup Path) that
// it does not trust: an rsync'd copy or a USB disk may hold symbolic links
// pointing anywhere, FIFOs, device nodes and sockets where files should be.
//
// # Confined reads
//
// For every function here, root is trusted (it is opened as given, symbolic
// links in it included) and rel, a slash-separated path relative to root, is
// not. The package promises, on Linux:
//
//   - No symbolic link is followed in any component of rel, the last one
//     included, whether it points outside root or inside it: the lookup
//     fails with ErrSymlink. (Stat is the exception for the last component
//     only: like lstat it reports the link itself without following it.)
//   - Nothing outside root is reached: an absolute rel, or one whose ".."
//     would climb above root, fails with ErrOutside before any lookup, and
//     the kernel checks it again (openat2 RESOLVE_BENEATH).
//   - Open and ReadFile return regular files only. A FIFO, socket, device
//     or folder fails with ErrNotRegular (a folder also matches
//     syscall.EISDIR); none is ever read, and opening never blocks: the
//     open is non-blocking, so a FIFO without a writer is refused at once.
//     (A device node is opened, without a controlling terminal, before it
//     is refused: its driver sees an open and a close, no read. Mount
//     foreign disks nodev.)
//   - ReadFile reads at most max bytes, whatever the file's size claims:
//     a bigger file fails with ErrTooLarge.
//   - Errors are *fs.PathError values naming rel (never root's content nor
//     the file's), wrapping ErrSymlink, ErrOutside, ErrNotRegular,
//     ErrTooLarge or the system's errno (so errors.Is(err, fs.ErrNotExist)
//     still says "missing"). No byte of a refused file is ever read, so none
//     can end up in an error message.
//
// Lookups use openat2(2) with RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|
// RESOLVE_NO_MAGICLINKS (Linux 5.6). On an older kernel (ENOSYS) they walk
// rel one component at a time with openat(O_NOFOLLOW), which promises the
// same.
//
// What is not promised: that the file is not changed or replaced while it
// is read (a Backup Path being written to is not a stable input), nor
// anything about root itself.
package confined

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// The classes of refusal. Compare with errors.Is.
var (
	// ErrSymlink: a component of the path is a symbolic link.
	ErrSymlink = errors.New("is a symbolic link")
	// ErrNotRegular: the path names a FIFO, device, socket or folder where a
	// regular file is wanted.
	ErrNotRegular = errors.New("not a regular file")
	// ErrOutside: the path is absolute or climbs above the root.
	ErrOutside = errors.New("escapes the Backup Path")
	// ErrTooLarge: the file is larger than the caller's limit.
	ErrTooLarge = errors.New("file too large")
)

// NotRegularError is the error, inside the *fs.PathError, for an object
// that is not a regular file. It matches ErrNotRegular, and syscall.EISDIR
// for a folder.
type NotRegularError struct {
	Mode fs.FileMode // the object's type bits
}

func (e *NotRegularError) Error() string { return ErrNotRegular.Error() + ": " + TypeName(e.Mode) }

func (e *NotRegularError) Is(target error) bool {
	return target == ErrNotRegular || (e.Mode.IsDir() && target == syscall.EISDIR)
}

// TypeName names a file's type for messages ("symbolic link", "FIFO",
// "folder", "file"...), without an article.
func TypeName(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "file"
	case m.IsDir():
		return "folder"
	case m&fs.ModeNamedPipe != 0:
		return "FIFO"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "block device"
	case m&fs.ModeSymlink != 0:
		return "symbolic link"
	default:
		return "file of mode " + m.Type().String()
	}
}

// Open opens rel beneath root for reading, following no symbolic link and
// without blocking, and returns it only if it is a regular file.
func Open(root, rel string) (*os.File, error) {
	fd, err := openBeneath(root, rel, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY)
	return regularFile(fd, err, root, rel)
}

// Root is a root opened once, for callers that open many files beneath it
// (the index build reads every item file): Open on a Root saves opening and
// closing the root for each file. It holds the root folder itself, so a
// root renamed or replaced meanwhile is not followed to its new place.
type Root struct {
	path string
	fd   int
}

// OpenRoot opens root for Root.Open. Close it when done.
func OpenRoot(root string) (*Root, error) {
	fd, err := openRoot(root)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: root, Err: err}
	}
	return &Root{path: root, fd: fd}, nil
}

// Open is the package's Open beneath r.
func (r *Root) Open(rel string) (*os.File, error) {
	fd, err := openBeneathFD(r.fd, rel, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY)
	return regularFile(fd, err, r.path, rel)
}

// Close releases the root.
func (r *Root) Close() error {
	if r == nil || r.fd < 0 {
		return nil
	}
	err := unix.Close(r.fd)
	r.fd = -1
	return err
}

// regularFile finishes an open: the fd must be a regular file.
func regularFile(fd int, err error, root, rel string) (*os.File, error) {
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: rel, Err: err}
	}
	var st unix.Stat_t
	if err := fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, &fs.PathError{Op: "stat", Path: rel, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return nil, &fs.PathError{Op: "open", Path: rel, Err: &NotRegularError{Mode: fileMode(st.Mode)}}
	}
	// O_NONBLOCK stays set: it means nothing for a regular file.
	return os.NewFile(uintptr(fd), filepath.Join(root, rel)), nil
}

// ReadFile reads the regular file rel beneath root (see Open), at most max
// bytes: a larger file fails with ErrTooLarge, even if it grows while read.
func ReadFile(root, rel string, max int64) ([]byte, error) {
	f, err := Open(root, rel)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readAll(f, rel, max)
}

// Stat is lstat beneath root: it describes rel's last component itself (a
// symbolic link there is reported with fs.ModeSymlink, not followed), while
// a symbolic link in any earlier component fails with ErrSymlink. It never
// opens a FIFO or device for reading.
func Stat(root, rel string) (fs.FileInfo, error) {
	fd, err := openBeneath(root, rel, unix.O_PATH|unix.O_NOFOLLOW)
	if err != nil {
		return nil, &fs.PathError{Op: "lstat", Path: rel, Err: err}
	}
	f := os.NewFile(uintptr(fd), filepath.Join(root, rel))
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, &fs.PathError{Op: "lstat", Path: rel, Err: errno(err)}
	}
	return fi, nil
}

// ReadDir lists the folder rel beneath root (opened as Open opens files: a
// symbolic link anywhere in rel, the last component included, fails with
// ErrSymlink), sorted by name like os.ReadDir. Entries are not followed:
// their types are the entries' own (a symbolic link is fs.ModeSymlink).
// rel "." is root itself.
func ReadDir(root, rel string) ([]fs.DirEntry, error) {
	fd, err := openBeneath(root, rel, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: rel, Err: err}
	}
	f := os.NewFile(uintptr(fd), filepath.Join(root, rel))
	defer f.Close()
	ents, err := f.ReadDir(-1)
	if err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: rel, Err: errno(err)}
	}
	slices.SortFunc(ents, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return ents, nil
}

// noOpenat2 is set once openat2 is known to be missing (ENOSYS); tests set
// it to run everything through the fallback.
var noOpenat2 atomic.Bool

// openBeneath opens rel beneath root with flags (plus O_CLOEXEC), following
// no symbolic link. It returns a raw fd or an unwrapped error (ErrSymlink,
// ErrOutside or an errno).
func openBeneath(root, rel string, flags int) (int, error) {
	if _, err := clean(rel); err != nil {
		return -1, err // before any system call
	}
	dirfd, err := openRoot(root)
	if err != nil {
		return -1, err
	}
	defer unix.Close(dirfd)
	return openBeneathFD(dirfd, rel, flags)
}

// openBeneathFD is openBeneath with the root already open.
func openBeneathFD(dirfd int, rel string, flags int) (int, error) {
	rel, err := clean(rel)
	if err != nil {
		return -1, err
	}
	if !noOpenat2.Load() {
		fd, err := openat2(dirfd, rel, flags)
		if err != unix.ENOSYS {
			return fd, err
		}
		noOpenat2.Store(true)
	}
	return openWalk(dirfd, rel, flags)
}

// clean checks that rel stays beneath the root lexically and cleans it.
func clean(rel string) (string, error) {
	if rel == "" || filepath.IsAbs(rel) || !filepath.IsLocal(rel) {
		return "", ErrOutside
	}
	return filepath.Clean(rel), nil
}

func openRoot(root string) (int, error) {
	for {
		fd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// openat2 opens rel beneath dirfd with openat2(2).
func openat2(dirfd int, rel string, flags int) (int, error) {
	how := unix.OpenHow{
		Flags:   uint64(flags | unix.O_CLOEXEC),
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	}
	for tries := 0; ; tries++ {
		fd, err := unix.Openat2(dirfd, rel, &how)
		switch {
		case err == nil:
			return fd, nil
		case err == unix.EINTR || (err == unix.EAGAIN && tries < 16):
			// EAGAIN: a concurrent rename raced the ".." check; retry.
			continue
		case err == unix.ELOOP:
			return -1, ErrSymlink
		case err == unix.EXDEV:
			return -1, ErrOutside
		default:
			return -1, err
		}
	}
}

// openWalk is openat2's fallback for kernels without it: it opens rel's
// folders one by one with openat(O_NOFOLLOW|O_DIRECTORY) from dirfd and the
// last component with openat(flags|O_NOFOLLOW). rel must be clean and local.
func openWalk(dirfd int, rel string, flags int) (int, error) {
	parts := strings.Split(rel, "/")
	cur := dirfd
	defer func() {
		if cur != dirfd {
			unix.Close(cur)
		}
	}()
	for i, name := range parts {
		last := i == len(parts)-1
		if name == ".." || name == "" {
			return -1, ErrOutside // cannot happen for a clean local rel
		}
		fl := unix.O_PATH | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
		if last {
			fl = flags | unix.O_NOFOLLOW | unix.O_CLOEXEC
		}
		fd, err := openat(cur, name, fl)
		if err != nil {
			if err == unix.ELOOP || err == unix.ENOTDIR {
				// Tell a symbolic link from a file where a folder should be.
				var st unix.Stat_t
				if unix.Fstatat(cur, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
					return -1, ErrSymlink
				}
			}
			return -1, err
		}
		if cur != dirfd {
			unix.Close(cur)
		}
		cur = fd
	}
	fd := cur
	cur = dirfd // not closed by the deferred func
	return fd, nil
}

func openat(dirfd int, name string, flags int) (int, error) {
	for {
		fd, err := unix.Openat(dirfd, name, flags, 0)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

func fstat(fd int, st *unix.Stat_t) error {
	for {
		err := unix.Fstat(fd, st)
		if err != unix.EINTR {
			return err
		}
	}
}

// fileMode is the fs.FileMode type bits of a stat mode.
func fileMode(m uint32) fs.FileMode {
	switch m & unix.S_IFMT {
	case unix.S_IFDIR:
		return fs.ModeDir
	case unix.S_IFIFO:
		return fs.ModeNamedPipe
	case unix.S_IFSOCK:
		return fs.ModeSocket
	case unix.S_IFCHR:
		return fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFBLK:
		return fs.ModeDevice
	case unix.S_IFLNK:
		return fs.ModeSymlink
	case unix.S_IFREG:
		return 0
	default:
		return fs.ModeIrregular
	}
}

// errno strips an *fs.PathError naming the absolute path: errors here name
// rel.
func errno(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
