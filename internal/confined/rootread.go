package confined

import (
	"fmt"
	"io/fs"
	"time"

	"golang.org/x/sys/unix"
)

// FileFacts is what ReadInto learnt of the file it read (from its fstat).
type FileFacts struct {
	Size  int64
	MTime time.Time
}

// ReadInto reads the regular file rel beneath r (see Open) into buf's
// storage (grown as needed) and returns the bytes and the file's size and
// modification time. A file larger than max (max > 0) fails with
// ErrTooLarge. It stops at the size fstat gave (a file written in place
// meanwhile may be read short: it is for files replaced by rename); an
// empty size (a /proc-like file) is read to its end. It uses the
// descriptor directly, without an *os.File: for
// callers that read many small files (the index reads every item file),
// an *os.File's poller registration, finalizer and close cost a quarter
// of the CPU a read took.
func (r *Root) ReadInto(rel string, buf []byte, max int64) ([]byte, FileFacts, error) {
	fd, err := openBeneathFD(r.fd, rel, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY)
	if err != nil {
		return buf[:0], FileFacts{}, &fs.PathError{Op: "open", Path: rel, Err: err}
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := fstat(fd, &st); err != nil {
		return buf[:0], FileFacts{}, &fs.PathError{Op: "stat", Path: rel, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return buf[:0], FileFacts{}, &fs.PathError{Op: "open", Path: rel, Err: &NotRegularError{Mode: fileMode(st.Mode)}}
	}
	facts := FileFacts{Size: st.Size, MTime: time.Unix(st.Mtim.Unix())}
	if max > 0 && st.Size > max {
		return buf[:0], facts, &fs.PathError{Op: "read", Path: rel, Err: fmt.Errorf("%w: %d bytes, more than %d", ErrTooLarge, st.Size, max)}
	}
	n := int(st.Size)
	if cap(buf) < n+1 {
		buf = make([]byte, 0, n+512)
	}
	buf = buf[:cap(buf)]
	got := 0
	for {
		k, err := unix.Read(fd, buf[got:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return buf[:0], facts, &fs.PathError{Op: "read", Path: rel, Err: err}
		}
		if k == 0 {
			break
		}
		got += k
		if n > 0 && got == n {
			break // what fstat announced: files read this way are replaced, not grown (saves a read per file)
		}
		if max > 0 && int64(got) > max {
			return buf[:0], facts, &fs.PathError{Op: "read", Path: rel, Err: fmt.Errorf("%w: more than %d bytes", ErrTooLarge, max)}
		}
		if got == len(buf) {
			buf = append(buf, 0)[:got]
			buf = buf[:cap(buf)]
		}
	}
	return buf[:got], facts, nil
}
