package confined

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// tree makes a root with every kind of entry the package must refuse, next
// to a folder outside it holding a secret. It returns the root.
func tree(t *testing.T) string {
	t.Helper()
	base := t.TempDir()
	root := filepath.Join(base, "root")
	outside := filepath.Join(base, "outside")
	for _, d := range []string{root, outside, filepath.Join(root, "sub"), filepath.Join(root, "dir")} {
		must(t, os.MkdirAll(d, 0o755))
	}
	must(t, os.WriteFile(filepath.Join(outside, "secret"), []byte("SECRET"), 0o600))
	must(t, os.WriteFile(filepath.Join(root, "ok.txt"), []byte("hello"), 0o644))
	must(t, os.WriteFile(filepath.Join(root, "sub", "file"), []byte("inner"), 0o644))
	must(t, os.Symlink("ok.txt", filepath.Join(root, "link-in")))
	must(t, os.Symlink(filepath.Join(outside, "secret"), filepath.Join(root, "link-out")))
	must(t, os.Symlink("sub", filepath.Join(root, "linkdir")))
	must(t, os.Symlink(outside, filepath.Join(root, "linkdir-out")))
	must(t, syscall.Mkfifo(filepath.Join(root, "fifo"), 0o644))
	if os.Geteuid() == 0 {
		// A character device like /dev/null (1, 3).
		must(t, unix.Mknod(filepath.Join(root, "dev"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
	}
	return root
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// guard runs f and fails the test if it takes more than 5 s (a FIFO open
// that blocks would hang forever).
func guard(t *testing.T, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("blocked for 5 s")
	}
}

// modes runs the test through openat2 and through the fallback walk.
func modes(t *testing.T, f func(t *testing.T)) {
	t.Run("openat2", func(t *testing.T) {
		fd, err := unix.Openat2(unix.AT_FDCWD, ".", &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC})
		if err == unix.ENOSYS {
			t.Skip("the kernel has no openat2")
		}
		unix.Close(fd)
		f(t)
	})
	t.Run("walk", func(t *testing.T) {
		old := noOpenat2.Load()
		noOpenat2.Store(true)
		t.Cleanup(func() { noOpenat2.Store(old) })
		f(t)
	})
}

// wantErr checks err against want (nil: no error) and that it never
// carries the outside secret.
func wantErr(t *testing.T, err, want error) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), "SECRET") {
		t.Errorf("the error shows the file's content: %v", err)
	}
	switch {
	case want == nil && err != nil:
		t.Fatalf("unexpected error: %v", err)
	case want != nil && !errors.Is(err, want):
		t.Fatalf("error %v, want %v", err, want)
	}
}

func TestOpen(t *testing.T) {
	tests := []struct {
		rel  string
		want string // content
		err  error
		root bool // needs root (mknod)
	}{
		{rel: "ok.txt", want: "hello"},
		{rel: "sub/file", want: "inner"},
		{rel: "sub/../ok.txt", want: "hello"},
		{rel: "./sub//file", want: "inner"},
		{rel: "link-in", err: ErrSymlink},
		{rel: "link-out", err: ErrSymlink},
		{rel: "linkdir/file", err: ErrSymlink},
		{rel: "linkdir-out/secret", err: ErrSymlink},
		{rel: "../outside/secret", err: ErrOutside},
		{rel: "sub/../../outside/secret", err: ErrOutside},
		{rel: "/etc/passwd", err: ErrOutside},
		{rel: "", err: ErrOutside},
		{rel: "fifo", err: ErrNotRegular},
		{rel: "dev", err: ErrNotRegular, root: true},
		{rel: "dir", err: syscall.EISDIR},
		{rel: ".", err: ErrNotRegular},
		{rel: "missing", err: fs.ErrNotExist},
		{rel: "ok.txt/x", err: syscall.ENOTDIR},
	}
	modes(t, func(t *testing.T) {
		root := tree(t)
		r, err := OpenRoot(root)
		must(t, err)
		t.Cleanup(func() { r.Close() })
		// Open, and Open on a Root opened once: the same answers.
		openers := map[string]func(rel string) (*os.File, error){
			"Open":      func(rel string) (*os.File, error) { return Open(root, rel) },
			"Root.Open": r.Open,
		}
		for _, name := range []string{"Open", "Root.Open"} {
			open := openers[name]
			for _, tt := range tests {
				t.Run(name+" "+tt.rel, func(t *testing.T) {
					if tt.root && os.Geteuid() != 0 {
						t.Skip("mknod needs root")
					}
					guard(t, func() {
						f, err := open(tt.rel)
						if tt.err == ErrNotRegular || tt.err == syscall.EISDIR {
							wantErr(t, err, ErrNotRegular)
						}
						wantErr(t, err, tt.err)
						if err != nil {
							if f != nil {
								t.Error("a file with the error")
							}
							var pe *fs.PathError
							if !errors.As(err, &pe) || pe.Path != tt.rel {
								t.Errorf("error %v does not name %q", err, tt.rel)
							}
							return
						}
						defer f.Close()
						b, err := io.ReadAll(f)
						must(t, err)
						if string(b) != tt.want {
							t.Errorf("read %q, want %q", b, tt.want)
						}
					})
				})
			}
		}
		// ReadInto: the same answers, without an *os.File.
		for _, tt := range tests {
			t.Run("Root.ReadInto "+tt.rel, func(t *testing.T) {
				if tt.root && os.Geteuid() != 0 {
					t.Skip("mknod needs root")
				}
				guard(t, func() {
					b, facts, err := r.ReadInto(tt.rel, make([]byte, 0, 2), 0)
					if tt.err == ErrNotRegular || tt.err == syscall.EISDIR {
						wantErr(t, err, ErrNotRegular)
					}
					wantErr(t, err, tt.err)
					if err != nil {
						if len(b) != 0 {
							t.Errorf("read %q with the error", b)
						}
						return
					}
					if string(b) != tt.want || facts.Size != int64(len(tt.want)) || facts.MTime.IsZero() {
						t.Errorf("read %q, %+v; want %q", b, facts, tt.want)
					}
				})
			})
		}
		_, _, err = r.ReadInto("ok.txt", nil, 4)
		wantErr(t, err, ErrTooLarge)
	})
}

func TestReadFile(t *testing.T) {
	modes(t, func(t *testing.T) {
		root := tree(t)
		guard(t, func() {
			b, err := ReadFile(root, "ok.txt", 5)
			wantErr(t, err, nil)
			if string(b) != "hello" {
				t.Errorf("read %q", b)
			}
			_, err = ReadFile(root, "ok.txt", 4)
			wantErr(t, err, ErrTooLarge)
			b, err = ReadFile(root, "link-out", 1<<20)
			wantErr(t, err, ErrSymlink)
			if b != nil {
				t.Errorf("read %q through a symbolic link", b)
			}
			_, err = ReadFile(root, "fifo", 1<<20)
			wantErr(t, err, ErrNotRegular)
		})
	})
}

func TestStat(t *testing.T) {
	tests := []struct {
		rel  string
		mode fs.FileMode // type bits
		err  error
	}{
		{rel: "ok.txt", mode: 0},
		{rel: "sub", mode: fs.ModeDir},
		{rel: ".", mode: fs.ModeDir},
		{rel: "link-in", mode: fs.ModeSymlink},
		{rel: "link-out", mode: fs.ModeSymlink},
		{rel: "linkdir", mode: fs.ModeSymlink},
		{rel: "fifo", mode: fs.ModeNamedPipe},
		{rel: "linkdir/file", err: ErrSymlink},
		{rel: "../outside/secret", err: ErrOutside},
		{rel: "missing", err: fs.ErrNotExist},
	}
	modes(t, func(t *testing.T) {
		root := tree(t)
		for _, tt := range tests {
			t.Run(tt.rel, func(t *testing.T) {
				guard(t, func() {
					fi, err := Stat(root, tt.rel)
					wantErr(t, err, tt.err)
					if err == nil && fi.Mode().Type() != tt.mode {
						t.Errorf("mode %v, want type %v", fi.Mode(), tt.mode)
					}
					if err == nil && tt.rel == "ok.txt" && fi.Size() != 5 {
						t.Errorf("size %d", fi.Size())
					}
				})
			})
		}
	})
}

func TestReadDir(t *testing.T) {
	modes(t, func(t *testing.T) {
		root := tree(t)
		ents, err := ReadDir(root, ".")
		wantErr(t, err, nil)
		types := map[string]fs.FileMode{}
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
			types[e.Name()] = e.Type()
		}
		if !strings.HasPrefix(strings.Join(names, " "), "dir fifo link-in link-out linkdir linkdir-out ok.txt sub") &&
			!strings.HasPrefix(strings.Join(names, " "), "dev dir fifo") {
			t.Errorf("names %v", names)
		}
		if types["linkdir"] != fs.ModeSymlink || types["sub"] != fs.ModeDir || types["fifo"] != fs.ModeNamedPipe {
			t.Errorf("entry types not the entries' own: %v", types)
		}
		ents, err = ReadDir(root, "sub")
		wantErr(t, err, nil)
		if len(ents) != 1 || ents[0].Name() != "file" {
			t.Errorf("sub: %v", ents)
		}
		_, err = ReadDir(root, "linkdir")
		wantErr(t, err, ErrSymlink)
		_, err = ReadDir(root, "linkdir-out")
		wantErr(t, err, ErrSymlink)
		_, err = ReadDir(root, "ok.txt")
		wantErr(t, err, syscall.ENOTDIR)
		_, err = ReadDir(root, "..")
		wantErr(t, err, ErrOutside)
	})
}

// TestWalk calls the ENOSYS fallback directly, also with names a clean rel
// never has.
func TestWalk(t *testing.T) {
	root := tree(t)
	dirfd, err := openRoot(root)
	must(t, err)
	defer unix.Close(dirfd)
	for _, tt := range []struct {
		rel string
		err error
	}{
		{"sub/file", nil},
		{"linkdir/file", ErrSymlink},
		{"link-in", ErrSymlink},
		{"ok.txt/x", syscall.ENOTDIR},
		{"sub/../ok.txt", ErrOutside},
		{"sub//file", ErrOutside},
	} {
		fd, err := openWalk(dirfd, tt.rel, unix.O_RDONLY|unix.O_NONBLOCK)
		wantErr(t, err, tt.err)
		if err == nil {
			unix.Close(fd)
		}
	}
}

// BenchmarkOpen compares opening, reading and closing a small file with
// os.Open and with Open (root open + openat2 + fstat + close).
func BenchmarkOpen(b *testing.B) {
	root := b.TempDir()
	must := func(err error) {
		if err != nil {
			b.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "items", "ab"), 0o755))
	must(os.WriteFile(filepath.Join(root, "items", "ab", "abcdef"), make([]byte, 2000), 0o644))
	buf := make([]byte, 4096)
	read := func(f *os.File, err error) {
		must(err)
		_, err = f.Read(buf)
		must(err)
		f.Close()
	}
	b.Run("os.Open", func(b *testing.B) {
		for b.Loop() {
			read(os.Open(filepath.Join(root, "items/ab/abcdef")))
		}
	})
	b.Run("os.Open+Stat", func(b *testing.B) {
		for b.Loop() {
			f, err := os.OpenFile(filepath.Join(root, "items/ab/abcdef"), os.O_RDONLY|syscall.O_NONBLOCK, 0)
			must(err)
			_, err = f.Stat()
			read(f, err)
		}
	})
	b.Run("confined.Open", func(b *testing.B) {
		for b.Loop() {
			read(Open(root, "items/ab/abcdef"))
		}
	})
	b.Run("confined.Open walk", func(b *testing.B) {
		noOpenat2.Store(true)
		defer noOpenat2.Store(false)
		for b.Loop() {
			read(Open(root, "items/ab/abcdef"))
		}
	})
}

// TestEachName: the same names as ReadDir, over more than one getdents
// answer (names of up to 255 bytes), with ReadDir's refusals.
func TestEachName(t *testing.T) {
	modes(t, func(t *testing.T) {
		root := tree(t)
		big := filepath.Join(root, "big")
		must(t, os.Mkdir(big, 0o755))
		for i := range 3000 {
			name := strconv.Itoa(i)
			if i%7 == 0 {
				name += "-" + strings.Repeat("x", 250-len(name))
			}
			must(t, os.WriteFile(filepath.Join(big, name), nil, 0o644))
		}
		for _, rel := range []string{".", "sub", "big"} {
			ents, err := ReadDir(root, rel)
			wantErr(t, err, nil)
			var want, got []string
			for _, e := range ents {
				want = append(want, e.Name())
			}
			wantErr(t, EachName(root, rel, func(name []byte) { got = append(got, string(name)) }), nil)
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("%s: EachName gave %d names, ReadDir %d (first %q vs %q)", rel, len(got), len(want), got[:min(3, len(got))], want[:min(3, len(want))])
			}
		}
		none := func([]byte) { t.Error("a name from a refused folder") }
		wantErr(t, EachName(root, "linkdir", none), ErrSymlink)
		wantErr(t, EachName(root, "linkdir-out", none), ErrSymlink)
		wantErr(t, EachName(root, "ok.txt", none), syscall.ENOTDIR)
		wantErr(t, EachName(root, "..", none), ErrOutside)
	})
}
