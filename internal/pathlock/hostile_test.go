package pathlock

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cbfs/cbfs/internal/confined"
	"github.com/cbfs/cbfs/internal/testuser"
)

// What a user who can write into the folder (an export's destination) may
// plant at the lock file's name. Root opening it O_RDWR|O_CREATE would
// truncate a victim through a link or a hard link, create a file where a
// dangling link points, or block on a FIFO. Each must fail with a
// *BadFileError naming the file, leaving everything as it was.
func TestPlantedLockFileRefused(t *testing.T) {
	const precious = "root's precious data\n"
	cases := []struct {
		name  string
		plant func(t *testing.T, lock, victim string)
		want  error
	}{
		{"symlink to a root file", func(t *testing.T, lock, victim string) { must(t, os.Symlink(victim, lock)) }, confined.ErrSymlink},
		{"dangling symlink", func(t *testing.T, lock, victim string) { must(t, os.Symlink(victim+".new", lock)) }, confined.ErrSymlink},
		{"FIFO", func(t *testing.T, lock, victim string) { must(t, syscall.Mkfifo(lock, 0o666)) }, confined.ErrNotRegular},
		{"folder", func(t *testing.T, lock, victim string) { must(t, os.Mkdir(lock, 0o755)) }, confined.ErrNotRegular},
		// (protected_hardlinks stops a user linking a file they do not
		// own; the lock must not depend on it.)
		{"hard link to a root file", func(t *testing.T, lock, victim string) { must(t, os.Link(victim, lock)) }, errHardLinked},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			root := filepath.Join(base, "dest")
			must(t, os.Mkdir(root, 0o755))
			victim := filepath.Join(base, "victim")
			must(t, os.WriteFile(victim, []byte(precious), 0o600))
			tc.plant(t, filepath.Join(root, Name), victim)

			done := make(chan error, 1)
			go func() {
				l, err := Acquire(root, "doExport")
				if err == nil {
					l.Release()
				}
				done <- err
			}()
			var err error
			select {
			case err = <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("Acquire blocked on the planted file")
			}
			var bad *BadFileError
			if !errors.As(err, &bad) || !errors.Is(err, tc.want) {
				t.Fatalf("Acquire: %v, want a *BadFileError wrapping %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), filepath.Join(root, Name)) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q: want one line naming the lock file", err)
			}
			if b, _ := os.ReadFile(victim); string(b) != precious {
				t.Errorf("victim changed: %q", b)
			}
			if _, err := os.Lstat(victim + ".new"); err == nil {
				t.Error("a file was created where the dangling link points")
			}
			// Take (the state directory's and the index's lock) refuses the same.
			if _, err := Take(filepath.Join(root, Name), "index"); !errors.As(err, &bad) {
				t.Errorf("Take: %v, want a *BadFileError", err)
			}
		})
	}
}

// The same planted by a real user in a folder they own.
func TestPlantedByUser(t *testing.T) {
	u := testuser.New(t)
	home := u.Home(t)
	victim := filepath.Join(filepath.Dir(home), "victim")
	must(t, os.WriteFile(victim, []byte("root only\n"), 0o600))
	u.Sh(t, home, "ln -s ../victim "+Name)
	_, err := Acquire(home, "doExport")
	if !errors.Is(err, confined.ErrSymlink) {
		t.Fatalf("Acquire: %v, want ErrSymlink", err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "root only\n" {
		t.Errorf("victim changed: %q", b)
	}
}

// A lock file that is a plain regular file (left by an earlier holder) is
// used as before.
func TestRegularLockFileReused(t *testing.T) {
	root := t.TempDir()
	must(t, os.WriteFile(filepath.Join(root, Name), []byte(`{"pid":1}`+"\n"), 0o600))
	l, err := Acquire(root, "doPurge")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	b, _ := os.ReadFile(filepath.Join(root, Name))
	if !strings.Contains(string(b), `"op":"doPurge"`) {
		t.Errorf("lock file says %q", b)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// AcquireDir makes a missing lock file as the folder's owner (in a user's
// export destination it is theirs, like the export), and uses an existing
// one whoever made it.
func TestAcquireDirAsOwner(t *testing.T) {
	u := testuser.New(t)
	home := u.Home(t)
	d, err := confined.OpenDir(home, ".")
	must(t, err)
	defer d.Close()
	owner, err := d.Owner()
	must(t, err)
	l, err := AcquireDir(d, "doExport", owner)
	must(t, err)
	fi, err := os.Lstat(filepath.Join(home, Name))
	must(t, err)
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != u.UID || st.Gid != u.GID {
		t.Errorf("lock file belongs to %d:%d, want the folder's owner %d:%d", st.Uid, st.Gid, u.UID, u.GID)
	}
	if _, err := AcquireDir(d, "doExport", owner); !errors.Is(err, ErrBusy) {
		t.Errorf("second AcquireDir: %v, want ErrBusy", err)
	}
	l.Release()
	// A lock file root made earlier (0600, root's): used, not refused.
	must(t, os.Remove(filepath.Join(home, Name)))
	must(t, os.WriteFile(filepath.Join(home, Name), nil, 0o600))
	l, err = AcquireDir(d, "doExport", owner)
	must(t, err)
	l.Release()
}
