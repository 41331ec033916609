package confined

import (
	"io/fs"
	"unsafe"

	"golang.org/x/sys/unix"
)

// EachName calls fn with the name of every entry of the folder rel beneath
// root (not "." or ".."), in the order the file system returns them, with
// the same confinement as ReadDir. It allocates nothing per entry: name
// is only valid during the call (copy it to keep it). It is the walk for
// counting a folder of a million names, where ReadDir's DirEntry values
// and sort cost more than the disk.
func EachName(root, rel string, fn func(name []byte)) error {
	fd, err := openBeneath(root, rel, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return &fs.PathError{Op: "open", Path: rel, Err: err}
	}
	defer unix.Close(fd)
	var buf [32 << 10]byte
	for {
		n, err := unix.Getdents(fd, buf[:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return &fs.PathError{Op: "readdir", Path: rel, Err: errno(err)}
		}
		if n <= 0 {
			return nil
		}
		eachDirent(buf[:n], fn)
	}
}

// eachDirent walks the linux_dirent64 records of one getdents64 answer:
// ino u64, off s64, reclen u16, type u8, then the NUL-terminated name.
func eachDirent(b []byte, fn func(name []byte)) {
	const nameOff = int(unsafe.Offsetof(unix.Dirent{}.Name))
	for len(b) >= nameOff {
		reclen := int(*(*uint16)(unsafe.Pointer(&b[unsafe.Offsetof(unix.Dirent{}.Reclen)])))
		if reclen < nameOff || reclen > len(b) {
			return // a malformed answer: stop rather than read past it
		}
		name := b[nameOff:reclen]
		for i, c := range name {
			if c == 0 {
				name = name[:i]
				break
			}
		}
		if !(len(name) == 1 && name[0] == '.') && !(len(name) == 2 && name[0] == '.' && name[1] == '.') {
			fn(name)
		}
		b = b[reclen:]
	}
}
