package confined

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestReadNamed: an administrator's file is read through symbolic links,
// but only if it is a regular file of at most max bytes; /dev/zero, a FIFO
// (no writer: an open that would block), a folder or a 100 MB file fail at
// once with an error naming the path.
func TestReadNamed(t *testing.T) {
	dir := t.TempDir()
	ok := filepath.Join(dir, "ok")
	must(t, os.WriteFile(ok, []byte("hello\n"), 0o600))
	link := filepath.Join(dir, "link")
	must(t, os.Symlink(ok, link))
	fifo := filepath.Join(dir, "fifo")
	must(t, syscall.Mkfifo(fifo, 0o600))
	big := filepath.Join(dir, "big")
	f, err := os.Create(big)
	must(t, err)
	must(t, f.Truncate(100<<20)) // sparse: 100 MB claimed, nothing on disk
	must(t, f.Close())
	zeroLink := filepath.Join(dir, "zero")
	must(t, os.Symlink("/dev/zero", zeroLink))

	for _, c := range []struct {
		name, path string
		want       error
		mode       string
	}{
		{"regular", ok, nil, ""},
		{"symbolic link to a regular file", link, nil, ""},
		{"/dev/zero", "/dev/zero", ErrNotRegular, "character device"},
		{"link to /dev/zero", zeroLink, ErrNotRegular, "character device"},
		{"FIFO without a writer", fifo, ErrNotRegular, "FIFO"},
		{"folder", dir, syscall.EISDIR, "folder"},
		{"100 MB", big, ErrTooLarge, "more than 1024"},
		{"missing", filepath.Join(dir, "missing"), fs.ErrNotExist, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			var b []byte
			var err error
			guard(t, func() { b, err = ReadNamed(c.path, 1024) })
			if c.want == nil {
				if err != nil || string(b) != "hello\n" {
					t.Fatalf("got %q, %v", b, err)
				}
				return
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			var pe *fs.PathError
			if !errors.As(err, &pe) || pe.Path != c.path {
				t.Fatalf("error %v does not name %s", err, c.path)
			}
			if !strings.Contains(err.Error(), c.mode) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q: want one line saying %q", err, c.mode)
			}
		})
	}

	t.Run("exactly max", func(t *testing.T) {
		b, err := ReadNamed(ok, 6)
		if err != nil || len(b) != 6 {
			t.Fatalf("got %q, %v", b, err)
		}
		if _, err := ReadNamed(ok, 5); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("one byte over: %v", err)
		}
	})
}
