package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cbfs/cbfs/internal/confined"
	"github.com/cbfs/cbfs/internal/testuser"
)

// empty fails t if dir holds anything (a file written through a link).
func empty(t *testing.T, dir string) {
	t.Helper()
	var found []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && p != dir {
			found = append(found, p)
		}
		return nil
	})
	if len(found) > 0 {
		t.Errorf("written outside the root, into %s: %v", dir, found)
	}
}

// A folder beneath Root that is a symbolic link (to a folder outside, or
// inside) is never written through: the write fails naming the link.
func TestRootSymlinkedFolderNotFollowed(t *testing.T) {
	for _, target := range []string{"outside", "inside"} {
		t.Run(target, func(t *testing.T) {
			base := t.TempDir()
			root := filepath.Join(base, "root")
			outside := filepath.Join(base, "outside")
			os.MkdirAll(filepath.Join(root, "real"), 0o755)
			os.Mkdir(outside, 0o755)
			to := outside
			if target == "inside" {
				to = filepath.Join(root, "real")
			}
			if err := os.Symlink(to, filepath.Join(root, "accounts")); err != nil {
				t.Fatal(err)
			}
			o := Options{Root: root, NoSync: true}
			for _, p := range []string{"accounts/f", "accounts/a/b/f"} {
				err := o.WriteFile(filepath.Join(root, p), []byte("x"), 0o644)
				if !errors.Is(err, confined.ErrSymlink) {
					t.Errorf("write %s: %v, want ErrSymlink", p, err)
				}
			}
			if err := o.MkdirAll(filepath.Join(root, "accounts", "x")); !errors.Is(err, confined.ErrSymlink) {
				t.Errorf("MkdirAll through a link: %v, want ErrSymlink", err)
			}
			empty(t, outside)
			empty(t, filepath.Join(root, "real"))
		})
	}
}

// A symbolic link at the final name is replaced (rename), never written
// through, with a Root and without.
func TestFinalSymlinkReplaced(t *testing.T) {
	for _, withRoot := range []bool{true, false} {
		base := t.TempDir()
		root := filepath.Join(base, "root")
		os.Mkdir(root, 0o755)
		victim := filepath.Join(base, "victim")
		os.WriteFile(victim, []byte("precious"), 0o600)
		link := filepath.Join(root, "f")
		os.Symlink(victim, link)
		o := Options{}
		if withRoot {
			o.Root = root
		}
		if err := o.WriteFile(link, []byte("new"), 0o644); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(victim); string(b) != "precious" {
			t.Errorf("root %v: the link's target was written: %q", withRoot, b)
		}
		if fi, _ := os.Lstat(link); fi.Mode()&os.ModeSymlink != 0 {
			t.Errorf("root %v: the link is still there", withRoot)
		}
	}
}

func TestOutsideRootRefused(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "root")
	o := Options{Root: root}
	for _, p := range []string{filepath.Join(base, "f"), filepath.Join(root, "..", "f"), "/etc/cbfs-test"} {
		if err := o.WriteFile(p, []byte("x"), 0o644); !errors.Is(err, ErrOutside) {
			t.Errorf("write %s: %v, want ErrOutside", p, err)
		}
	}
	empty(t, base)
}

// The temporary name is TempPrefix and 16 random hex digits, made with
// O_EXCL: a name planted in advance cannot be it.
func TestTempNameUnpredictable(t *testing.T) {
	root := t.TempDir()
	re := regexp.MustCompile(`^` + regexp.QuoteMeta(TempPrefix) + `[0-9a-f]{16}$`)
	seen := map[string]bool{}
	for _, o := range []Options{{Root: root}, {}} {
		for i := 0; i < 3; i++ {
			err := o.Write(filepath.Join(root, "f"), 0o644, func(w io.Writer) error {
				name := filepath.Base(w.(*os.File).Name())
				if !re.MatchString(name) || seen[name] {
					t.Errorf("temporary name %q: want a fresh %s + 16 hex digits", name, TempPrefix)
				}
				seen[name] = true
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
}

// Dir: the root opened once. Renaming the root away and putting a link in
// its place does not redirect the writes: they land in the folder opened.
func TestHeldDirNotRedirected(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "root")
	os.Mkdir(root, 0o755)
	outside := filepath.Join(base, "outside")
	os.Mkdir(outside, 0o755)
	d, err := confined.OpenDir(root, ".")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	o := Options{Root: root, Dir: d, NoSync: true}
	if err := os.Rename(root, root+".moved"); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, root); err != nil {
		t.Fatal(err)
	}
	if err := o.WriteFile(filepath.Join(root, "a", "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	empty(t, outside)
	if b, err := os.ReadFile(filepath.Join(root+".moved", "a", "f")); err != nil || string(b) != "x" {
		t.Errorf("the write did not land in the folder opened: %q, %v", b, err)
	}
}

// A folder swapped for a symbolic link again and again while files are
// written beneath it: nothing ever lands outside, and every write either
// lands inside or fails.
func TestSwapRaceNothingOutside(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "root")
	outside := filepath.Join(base, "outside")
	os.MkdirAll(filepath.Join(root, "items"), 0o755)
	os.Mkdir(outside, 0o755)
	items, link := filepath.Join(root, "items"), filepath.Join(root, "items.link")
	if err := os.Symlink(outside, link); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	var swaps int
	wg.Add(1)
	go func() {
		defer wg.Done()
		// RENAME_EXCHANGE: items is at every moment the folder or the link.
		for !stop.Load() {
			if err := unix.Renameat2(unix.AT_FDCWD, items, unix.AT_FDCWD, link, unix.RENAME_EXCHANGE); err != nil {
				t.Errorf("swap: %v", err)
				return
			}
			runtime.Gosched()
			if err := unix.Renameat2(unix.AT_FDCWD, items, unix.AT_FDCWD, link, unix.RENAME_EXCHANGE); err != nil {
				t.Errorf("swap back: %v", err)
				return
			}
			swaps++
			runtime.Gosched()
		}
	}()
	o := Options{Root: root, NoSync: true}
	var failed, ok int
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; i < 2000 && time.Now().Before(deadline); i++ {
		p := filepath.Join(root, "items", string(rune('a'+i%26)), "f")
		if err := o.WriteFile(p, []byte("x"), 0o644); err != nil {
			failed++
		} else {
			ok++
		}
	}
	stop.Store(true)
	wg.Wait()
	t.Logf("%d writes landed, %d refused, %d swaps", ok, failed, swaps)
	if swaps == 0 || ok == 0 {
		t.Errorf("%d swaps, %d writes landed: the race was not run", swaps, ok)
	}
	empty(t, outside)
}

// As: the folders and the file are made as the owner, who owns them; a
// folder the owner may not write into stays unwritten.
func TestAsOwner(t *testing.T) {
	u := testuser.New(t)
	home := u.Home(t)
	owner := confined.Owner{UID: u.UID, GID: u.GID}
	o := Options{Root: home, As: owner}
	p := filepath.Join(home, "a", "b", "f")
	if err := o.WriteFile(p, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{p, filepath.Dir(p), filepath.Dir(filepath.Dir(p))} {
		fi, err := os.Lstat(q)
		if err != nil {
			t.Fatal(err)
		}
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != u.UID || st.Gid != u.GID {
			t.Errorf("%s belongs to %d:%d, want the owner %d:%d", q, st.Uid, st.Gid, u.UID, u.GID)
		}
	}
	// A root-owned folder in the user's home: the owner cannot write there,
	// so neither does the write.
	locked := filepath.Join(home, "locked")
	os.Mkdir(locked, 0o755)
	err := o.WriteFile(filepath.Join(locked, "f"), []byte("x"), 0o644)
	if !errors.Is(err, os.ErrPermission) {
		t.Errorf("write into a folder the owner cannot write: %v, want permission denied", err)
	}
	empty(t, locked)
	// The temporary file a Temp holds belongs to the owner too.
	tmp, err := o.CreateTemp(filepath.Join(home, "c"))
	if err != nil {
		t.Fatal(err)
	}
	defer tmp.Abort()
	fi, _ := tmp.Stat()
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != u.UID {
		t.Errorf("temporary file belongs to %d, want %d", st.Uid, u.UID)
	}
	if !strings.HasPrefix(filepath.Base(tmp.Name()), TempPrefix) {
		t.Errorf("temporary name %s", tmp.Name())
	}
}

// Commit into another folder (a blob's temporary file in items/, its name
// in items/<xx>/), and Abort leaving nothing behind.
func TestTempCommitElsewhereAndAbort(t *testing.T) {
	root := t.TempDir()
	o := Options{Root: root}
	tmp, err := o.CreateTemp(filepath.Join(root, "items"))
	if err != nil {
		t.Fatal(err)
	}
	tmp.WriteString("blob")
	if err := tmp.Commit(filepath.Join(root, "items", "ab", "abcd"), 0o644); err != nil {
		t.Fatal(err)
	}
	tmp.Abort() // after Commit: nothing
	if b, _ := os.ReadFile(filepath.Join(root, "items", "ab", "abcd")); string(b) != "blob" {
		t.Errorf("committed content %q", b)
	}
	tmp, err = o.CreateTemp(filepath.Join(root, "items"))
	if err != nil {
		t.Fatal(err)
	}
	tmp.Abort()
	ents, _ := os.ReadDir(filepath.Join(root, "items"))
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), TempPrefix) {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}

// Held: writes resolve from the root opened at the first write (a root
// missing until then is made), and the descriptor is closed once nothing
// refers to it.
func TestHeld(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "root")
	fds := func() int { ents, _ := os.ReadDir("/proc/self/fd"); return len(ents) }
	before := fds()
	func() {
		h := Hold(root)
		o := Options{Root: root, NoSync: true}
		if err := h.Options(o).WriteFile(filepath.Join(root, "a", "f"), []byte("1"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := h.Options(o).WriteFile(filepath.Join(root, "a", "g"), []byte("2"), 0o644); err != nil {
			t.Fatal(err)
		}
		if h.Options(o).Dir == nil {
			t.Fatal("the root is not held once it exists")
		}
		// Options for another root are left alone.
		if h.Options(Options{Root: base}).Dir != nil {
			t.Error("held root given to a write beneath another root")
		}
		os.Rename(root, root+".moved")
		os.Mkdir(root, 0o755)
		if err := h.Options(o).WriteFile(filepath.Join(root, "a", "h"), []byte("3"), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(root+".moved", "a", "h")); err != nil {
			t.Errorf("the write did not go to the folder held: %v", err)
		}
	}()
	for i := 0; i < 10 && fds() > before; i++ {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if n := fds(); n > before {
		t.Errorf("%d descriptors left open", n-before)
	}
}
