package fusefs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/index"
	"github.com/cbfs/cbfs/sample"
)

// fingerprintTree makes a Backup Path skeleton of n accounts.
func fingerprintTree(t testing.TB, n int) string {
	t.Helper()
	root := t.TempDir()
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(root, "backupstat"), []byte("{}"), 0o600))
	for i := range n {
		d := filepath.Join(root, "accounts", fmt.Sprintf("00000000-0000-0000-0000-%012d", i))
		must(os.MkdirAll(filepath.Join(d, "items", "01"), 0o700))
		must(os.WriteFile(filepath.Join(d, "account_info"), []byte("{}"), 0o600))
		must(os.WriteFile(filepath.Join(d, "account_stat"), []byte("{}"), 0o600))
	}
	return root
}

// What a scan changes moves the fingerprint; reading does not.
func TestFingerprint(t *testing.T) {
	root := fingerprintTree(t, 3)
	acct := filepath.Join(root, "accounts", "00000000-0000-0000-0000-000000000001")
	later := time.Now().Add(time.Hour)
	tests := []struct {
		name   string
		change func(t *testing.T)
		moves  bool
	}{
		{"nothing", func(t *testing.T) {}, false},
		{"a read", func(t *testing.T) {
			_, err := os.ReadFile(filepath.Join(acct, "account_info"))
			require.NoError(t, err)
		}, false},
		{"account_stat rewritten", func(t *testing.T) {
			require.NoError(t, os.Chtimes(filepath.Join(acct, "account_stat"), later, later))
		}, true},
		{"account_info grows", func(t *testing.T) {
			require.NoError(t, os.WriteFile(filepath.Join(acct, "account_info"), []byte(`{"name":"x"}`), 0o600))
		}, true},
		{"a new bucket", func(t *testing.T) {
			require.NoError(t, os.Mkdir(filepath.Join(acct, "items", "02"), 0o700))
		}, true},
		{"a new account", func(t *testing.T) {
			require.NoError(t, os.Mkdir(filepath.Join(root, "accounts", "new"), 0o700))
		}, true},
		{"an account removed", func(t *testing.T) {
			require.NoError(t, os.RemoveAll(acct))
		}, true},
		{"backupstat rewritten", func(t *testing.T) {
			later = later.Add(time.Minute)
			require.NoError(t, os.Chtimes(filepath.Join(root, "backupstat"), later, later))
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := Fingerprint(root)
			tt.change(t)
			assert.Equal(t, tt.moves, Fingerprint(root) != before)
		})
	}
}

// The cost of one look of the poll (docs/DESIGN.md, "Mounts that stay
// current"): go test ./fusefs -run '^$' -bench Fingerprint.
func BenchmarkFingerprint(b *testing.B) {
	for _, n := range []int{100, 10000} {
		b.Run(fmt.Sprintf("%d accounts", n), func(b *testing.B) {
			root := fingerprintTree(b, n)
			Fingerprint(root)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				Fingerprint(root)
			}
		})
	}
}

// Refresh on a mounted tree (root only: an in-process mount): an account
// moved out of the Backup Path disappears from accounts/, moved back it
// reappears; the others keep their inode numbers; open folders of the old tree keep
// working; the root's attributes say what the mount is.
func TestRefreshMounted(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting needs root")
	}
	dir := t.TempDir()
	root := filepath.Join(dir, "bp")
	_, err := sample.Generate(context.Background(), root, sample.Options{Accounts: 3, Messages: 5, Seed: 5})
	require.NoError(t, err)
	bp, err := backuppath.Open(root)
	require.NoError(t, err)
	ix, err := index.Open(bp, ":memory:")
	require.NoError(t, err)
	defer ix.Close()
	_, err = ix.Refresh(context.Background(), nil)
	require.NoError(t, err)
	mnt := filepath.Join(dir, "mnt")
	require.NoError(t, os.Mkdir(mnt, 0o755))
	f := New(ix, Options{})
	f.SetMountInfo(MountInfo{Source: root, Index: "mem", PID: 42})
	_, err = f.Refresh(context.Background()) // before mounting: the index only
	require.NoError(t, err)
	srv, err := gofs.Mount(mnt, f.Root(), f.MountOptions(false, false, true))
	require.NoError(t, err)
	defer srv.Unmount()

	list := func() []string {
		ents, err := os.ReadDir(filepath.Join(mnt, "accounts"))
		require.NoError(t, err)
		var out []string
		for _, e := range ents {
			out = append(out, e.Name())
		}
		return out
	}
	before := list()
	require.Len(t, before, 3)
	var st0 syscall.Stat_t // of an account that stays
	require.NoError(t, syscall.Stat(filepath.Join(mnt, "accounts", before[1], "folders"), &st0))
	held, err := os.Open(filepath.Join(mnt, "accounts", before[0]))
	require.NoError(t, err)
	defer held.Close()

	ids, err := bp.AccountIDs()
	require.NoError(t, err)
	aside := filepath.Join(dir, "aside")
	var moved string
	for _, id := range ids {
		a, err := ix.Account(id)
		require.NoError(t, err)
		if a.Name == before[0] {
			moved = id
		}
	}
	require.NotEmpty(t, moved)
	require.NoError(t, os.Rename(filepath.Join(root, "accounts", moved), aside))
	assert.Equal(t, before, list(), "cached until refreshed")
	res, err := f.Refresh(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{before[0]}, res.Removed)
	assert.Equal(t, before[1:], list())
	_, err = os.Stat(filepath.Join(mnt, "accounts", before[0]))
	assert.ErrorIs(t, err, os.ErrNotExist)
	names, err := held.Readdirnames(-1)
	assert.NoError(t, err, "a folder open before the refresh still reads")
	assert.Contains(t, names, "account.json")

	require.NoError(t, os.Rename(aside, filepath.Join(root, "accounts", moved)))
	res, err = f.Refresh(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{before[0]}, res.Added)
	assert.Equal(t, before, list())
	var st1 syscall.Stat_t
	require.NoError(t, syscall.Stat(filepath.Join(mnt, "accounts", before[1], "folders"), &st1))
	assert.Equal(t, st0.Ino, st1.Ino, "inode numbers survive a refresh")

	buf := make([]byte, 4096)
	n, err := unix.Getxattr(mnt, XattrPID, buf)
	require.NoError(t, err)
	assert.Equal(t, "42", string(buf[:n]))
	n, err = unix.Listxattr(mnt, buf)
	require.NoError(t, err)
	assert.NotContains(t, string(buf[:n]), XattrRefresh+"\x00", "never listed: getfattr -d must not refresh")
	assert.Contains(t, string(buf[:n]), XattrRefreshed+"\x00")
	n, err = unix.Getxattr(mnt, XattrRefresh, buf)
	require.NoError(t, err)
	assert.Contains(t, string(buf[:n]), "refreshed: 3 accounts (0 new, 0 gone")
}
