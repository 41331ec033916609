package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWrite(t *testing.T) {
	for _, o := range []Options{{}, {NoSync: true}} {
		dir := t.TempDir()
		path := filepath.Join(dir, "sub", "f")
		if err := o.WriteFile(path, []byte("one"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := o.WriteFile(path, []byte("two"), 0o644); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil || string(b) != "two" {
			t.Fatalf("content %q, %v; want two", b, err)
		}
		if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
			t.Errorf("mode %v, want 0600 (0644 without the default umask)", fi.Mode().Perm())
		}

		// A failing fill leaves the old file and no temporary behind.
		boom := errors.New("boom")
		err = o.Write(path, 0o644, func(w io.Writer) error {
			w.Write([]byte("half"))
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("err %v, want boom", err)
		}
		if b, _ := os.ReadFile(path); string(b) != "two" {
			t.Errorf("after failed write: %q, want two", b)
		}
		ents, _ := os.ReadDir(filepath.Dir(path))
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), TempPrefix) {
				t.Errorf("temporary file left: %s", e.Name())
			}
		}
	}
}

func TestWriteIntoFileFails(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o644)
	if err := WriteFile(filepath.Join(file, "x"), []byte("x"), 0o644); err == nil {
		t.Fatal("writing below a regular file succeeded")
	}
}

func TestModeIsPrivateByDefault(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a", "b", "f")
	if err := WriteFile(p, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{p: 0o600, filepath.Dir(p): 0o700, filepath.Join(dir, "a"): 0o700} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s: mode %v, want %v", path, got, want)
		}
	}
	SetUmask(0o027)
	defer SetUmask(DefaultUmask)
	if got := Mode(0o755); got != 0o750 {
		t.Errorf("Mode(0755) with umask 027 = %v, want 0750", got)
	}
}
