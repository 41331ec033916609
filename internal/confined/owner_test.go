package confined

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
)

// nobody is a uid and gid no file here belongs to (no account is needed
// for fsuid: the kernel checks numbers).
var nobody = Owner{UID: 65534, GID: 65534}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("acting as another user needs root")
	}
}

// openTemp is a temporary folder that everybody may traverse (t.TempDir's
// parent is 0700), so that a refusal comes from the file's own mode.
func openTemp(t *testing.T) string {
	t.Helper()
	base, err := os.MkdirTemp("", "confined-owner-")
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(base) })
	must(t, os.Chmod(base, 0o755))
	return base
}

func TestOwnerDo(t *testing.T) {
	needRoot(t)
	base := openTemp(t)
	secret := filepath.Join(base, "secret")
	must(t, os.WriteFile(secret, []byte("root only"), 0o600))
	groupFile := filepath.Join(base, "group-only")
	must(t, os.WriteFile(groupFile, []byte("root's group"), 0o060))
	must(t, os.Chown(groupFile, 1, 0)) // daemon's, readable by group 0 (root's)
	shared := filepath.Join(base, "shared")
	must(t, os.Mkdir(shared, 0o777))
	must(t, os.Chmod(shared, 0o777))

	d, err := OpenDir(shared, ".")
	must(t, err)
	defer d.Close()
	err = nobody.Do(func() error {
		if _, err := os.ReadFile(secret); !errors.Is(err, fs.ErrPermission) {
			t.Errorf("read a root-only file as nobody: %v", err)
		}
		if _, err := os.ReadFile(groupFile); !errors.Is(err, fs.ErrPermission) {
			t.Errorf("read through root's group as nobody: %v", err)
		}
		f, err := d.Create("made", 0o600)
		if err != nil {
			return err
		}
		f.Close()
		return d.Mkdir("dir", 0o700)
	})
	must(t, err)
	for _, n := range []string{"made", "dir"} {
		fi, err := os.Lstat(filepath.Join(shared, n))
		must(t, err)
		if o := OwnerOf(fi); o != nobody {
			t.Errorf("%s made as nobody belongs to %v", n, o)
		}
	}
	// Back to root on this goroutine.
	if _, err := os.ReadFile(secret); err != nil {
		t.Errorf("after Do: %v", err)
	}
}

// Another goroutine, running while one is inside Do, keeps the process's
// rights (the switch is per thread), and many concurrent Dos all switch.
func TestOwnerDoThreads(t *testing.T) {
	needRoot(t)
	secret := filepath.Join(openTemp(t), "secret")
	must(t, os.WriteFile(secret, []byte("x"), 0o600))
	inside := make(chan struct{})
	release := make(chan struct{})
	go nobody.Do(func() error {
		close(inside)
		<-release
		return nil
	})
	<-inside
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for range 200 {
				if _, err := os.ReadFile(secret); err != nil {
					t.Errorf("root lost its rights outside Do: %v", err)
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			for range 200 {
				nobody.Do(func() error {
					if _, err := os.ReadFile(secret); !errors.Is(err, fs.ErrPermission) {
						t.Errorf("inside Do: %v", err)
					}
					return nil
				})
			}
		}()
	}
	wg.Wait()
	close(release)
}

func TestOwnerOf(t *testing.T) {
	d, err := OpenDir(t.TempDir(), ".")
	must(t, err)
	defer d.Close()
	o, err := d.Owner()
	must(t, err)
	if o != Process() {
		t.Errorf("a folder the test made belongs to %v, want %v", o, Process())
	}
	if Process().Switches() || (Owner{}).Switches() {
		t.Error("acting as the process itself or as root switches")
	}
	if os.Geteuid() == 0 && !nobody.Switches() {
		t.Error("root acting as nobody does not switch")
	}
	var st syscall.Stat_t
	must(t, syscall.Stat(d.Path(), &st))
}
