package confined

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// target makes a root holding a planted link to a file outside (the
// victim, which must never change) and to a folder outside (which must
// stay empty).
func target(t *testing.T) (root, victim, outDir string) {
	t.Helper()
	base := t.TempDir()
	root = filepath.Join(base, "root")
	outDir = filepath.Join(base, "elsewhere")
	victim = filepath.Join(base, "victim")
	must(t, os.MkdirAll(filepath.Join(root, "a"), 0o755))
	must(t, os.MkdirAll(outDir, 0o755))
	must(t, os.WriteFile(victim, []byte("VICTIM"), 0o600))
	must(t, os.Symlink(victim, filepath.Join(root, "a", "file-link")))
	must(t, os.Symlink(outDir, filepath.Join(root, "a", "dir-link")))
	must(t, syscall.Mkfifo(filepath.Join(root, "a", "fifo"), 0o666))
	return root, victim, outDir
}

func untouched(t *testing.T, victim, outDir string) {
	t.Helper()
	if b, err := os.ReadFile(victim); err != nil || string(b) != "VICTIM" {
		t.Errorf("the file outside changed: %q %v", b, err)
	}
	if ents, _ := os.ReadDir(outDir); len(ents) != 0 {
		t.Errorf("something was written outside: %v", ents)
	}
}

func TestDirWrites(t *testing.T) {
	modes(t, func(t *testing.T) {
		root, victim, outDir := target(t)
		d, err := OpenDir(root, "a")
		must(t, err)
		defer d.Close()

		_, err = d.Create("file-link", 0o600)
		wantErr(t, err, ErrSymlink)
		_, err = d.OpenFile("file-link", os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
		wantErr(t, err, ErrSymlink)
		guard(t, func() {
			_, err = d.OpenFile("fifo", os.O_RDWR|os.O_CREATE, 0o600)
		})
		wantErr(t, err, ErrNotRegular)
		_, err = d.MkdirAll("dir-link/x", 0o755)
		wantErr(t, err, ErrSymlink)
		err = d.Mkdir("dir-link", 0o755)
		wantErr(t, err, ErrSymlink)
		_, err = d.Create("../escape", 0o600)
		wantErr(t, err, ErrOutside)
		_, err = OpenDir(root, "a/dir-link")
		wantErr(t, err, ErrSymlink)
		// Atomic replacement of a link: the link goes, the target stays.
		must(t, d.WriteFile("file-link", []byte("new"), 0o640, true))
		fi, err := os.Lstat(filepath.Join(root, "a", "file-link"))
		must(t, err)
		if !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o640 {
			t.Errorf("file-link is %v, want a regular 0640 file", fi.Mode())
		}
		must(t, d.Chtimes("dir-link", time.Unix(5, 0), time.Unix(5, 0)))
		untouched(t, victim, outDir)
		if fi, _ := os.Stat(outDir); fi.ModTime().Equal(time.Unix(5, 0)) {
			t.Error("Chtimes followed the link")
		}
	})
}

// A Dir stays the folder it opened: swapping the folder's name for a link
// afterwards does not redirect the writes.
func TestDirSwapped(t *testing.T) {
	root, victim, outDir := target(t)
	d, err := MkdirAll(root, "a/b/c", 0o755)
	must(t, err)
	defer d.Close()
	must(t, os.Rename(filepath.Join(root, "a", "b"), filepath.Join(root, "a", "moved")))
	must(t, os.Symlink(outDir, filepath.Join(root, "a", "b")))
	f, name, err := d.CreateTemp("t-", 0o600)
	must(t, err)
	f.Close()
	if _, err := os.Stat(filepath.Join(root, "a", "moved", "c", name)); err != nil {
		t.Errorf("the temp file is not in the folder opened: %v", err)
	}
	sub, err := d.MkdirAll("x/y", 0o755)
	must(t, err)
	sub.Close()
	must(t, d.Rename(name, d, "renamed"))
	untouched(t, victim, outDir)
	// And a fresh lookup through the swapped name is refused.
	_, err = MkdirAll(root, "a/b/c", 0o755)
	wantErr(t, err, ErrSymlink)
}

func TestCreateTempNames(t *testing.T) {
	d, err := OpenDir(t.TempDir(), ".")
	must(t, err)
	defer d.Close()
	seen := map[string]bool{}
	for range 50 {
		f, name, err := d.CreateTemp("p-", 0o600)
		must(t, err)
		f.Close()
		if !strings.HasPrefix(name, "p-") || len(name) != len("p-")+16 || seen[name] {
			t.Fatalf("temp name %q", name)
		}
		seen[name] = true
	}
}

func TestDirWriteFill(t *testing.T) {
	root := t.TempDir()
	d, err := OpenDir(root, ".")
	must(t, err)
	defer d.Close()
	must(t, d.WriteFile("f", []byte("one"), 0o600, true))
	boom := errors.New("boom")
	err = d.Write("f", 0o600, true, func(w io.Writer) error {
		w.Write([]byte("half"))
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err %v", err)
	}
	b, err := d.ReadFile("f", 100)
	must(t, err)
	if !bytes.Equal(b, []byte("one")) {
		t.Errorf("a failed write changed the file: %q", b)
	}
	ents, err := d.ReadDir(".")
	must(t, err)
	if len(ents) != 1 {
		t.Errorf("a failed write left %v", ents)
	}
	_, err = d.ReadFile("f", 2)
	wantErr(t, err, ErrTooLarge)
	fi, err := d.Stat("f")
	must(t, err)
	if fi.Size() != 3 {
		t.Errorf("size %d", fi.Size())
	}
	if _, err := d.Stat("missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat of a missing file: %v", err)
	}
}

func TestRemoveRenameBeneath(t *testing.T) {
	root, victim, outDir := target(t)
	must(t, os.WriteFile(filepath.Join(outDir, "x"), []byte("keep"), 0o600))
	// Through a symlinked folder: refused, the file outside stays.
	wantErr(t, Remove(root, "a/dir-link/x"), ErrSymlink)
	wantErr(t, Rename(root, "a/dir-link/x", "a/y"), ErrSymlink)
	wantErr(t, Rename(root, "a/fifo", "a/dir-link/y"), ErrSymlink)
	wantErr(t, Remove(root, "../victim"), ErrOutside)
	// A link itself is removed, not its target.
	must(t, Remove(root, "a/file-link"))
	must(t, Rename(root, "a/fifo", "moved"))
	if _, err := os.Lstat(filepath.Join(root, "moved")); err != nil {
		t.Error(err)
	}
	// RemoveAll descends into folders, never through links.
	must(t, os.MkdirAll(filepath.Join(root, "tree", "sub"), 0o755))
	must(t, os.Symlink(outDir, filepath.Join(root, "tree", "sub", "out")))
	must(t, os.Symlink(victim, filepath.Join(root, "tree", "v")))
	wantErr(t, RemoveAll(root, "a/dir-link"), nil) // the link itself
	must(t, RemoveAll(root, "tree"))
	must(t, RemoveAll(root, "tree")) // gone: not an error
	if _, err := os.Lstat(filepath.Join(root, "tree")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("tree still there: %v", err)
	}
	must(t, os.Remove(filepath.Join(outDir, "x")))
	untouched(t, victim, outDir)
}
