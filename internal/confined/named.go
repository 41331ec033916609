package confined

import (
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// # Files an administrator named
//
// A --keymap, --config, password, credentials or accounts file is named by
// the administrator, not found in a tree someone else controls: its path is
// trusted as given, symbolic links in it (the last component included)
// are followed, as the administrator's own. What is not trusted is what
// the path ends at: a slip of the finger (/dev/zero, a FIFO, a log file of
// gigabytes) must not hang cbfs or take its memory. ReadNamed gives such a
// file the reading half's other promises: only a regular file is read, the
// open never blocks, and at most max bytes are read.

// ReadNamed reads the regular file at path, which an administrator named
// (see above: symbolic links in path are followed). It opens the file
// without blocking and without a controlling terminal (O_NONBLOCK|
// O_NOCTTY), fstats it, and refuses a FIFO, device, socket or folder with
// ErrNotRegular before reading a byte (a device is opened and closed, as
// Open does); a file of more than max bytes, whatever its size claims,
// fails with ErrTooLarge. Errors are *fs.PathError values naming path.
func ReadNamed(path string, max int64) ([]byte, error) {
	f, err := OpenNamed(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readAll(f, path, max)
}

// OpenNamed opens the regular file at path, which an administrator named,
// for reading, as ReadNamed does (symbolic links followed, a FIFO, device,
// socket or folder refused with ErrNotRegular without blocking), for a
// caller that also wants the file's fstat (Stat on the result) or reads it
// in its own way; it bounds its read itself.
func OpenNamed(path string) (*os.File, error) {
	var fd int
	var err error
	for {
		fd, err = unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	var st unix.Stat_t
	if err := fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return nil, &fs.PathError{Op: "open", Path: path, Err: &NotRegularError{Mode: fileMode(st.Mode)}}
	}
	return os.NewFile(uintptr(fd), path), nil
}
