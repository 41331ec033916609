package export

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/internal/testuser"
	"github.com/cbfs/cbfs/sample"
)

// An export into a folder a local user can write: the user may plant links
// and swap the folders the export makes for links while it runs. Nothing
// may be written outside DEST, and what is written belongs to DEST's owner.

// nothingIn fails t if dir holds anything.
func nothingIn(t *testing.T, dir string) {
	t.Helper()
	var found []string
	filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err == nil && p != dir {
			found = append(found, p)
		}
		return nil
	})
	assert.Empty(t, found, "written outside the destination, into %s", dir)
}

// ownedBy fails t for anything beneath root (root included) that does not
// belong to u.
func ownedBy(t *testing.T, root string, u testuser.User) int {
	t.Helper()
	n := 0
	require.NoError(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		require.NoError(t, err)
		fi, err := os.Lstat(p)
		require.NoError(t, err)
		st := fi.Sys().(*syscall.Stat_t)
		if st.Uid != u.UID || st.Gid != u.GID {
			rel, _ := filepath.Rel(root, p)
			t.Errorf("%s belongs to %d:%d, want DEST's owner %d:%d", rel, st.Uid, st.Gid, u.UID, u.GID)
		}
		n++
		return nil
	}))
	return n
}

// The export made inside a user's folder (DEST missing: made as the
// parent's owner) or into the user's own empty folder: every file and
// folder belongs to the user, and the export is a Backup Path that indexes
// as the source does.
func TestExportAsDestOwner(t *testing.T) {
	src, _ := genSample(t)
	u := testuser.New(t)
	home := u.Home(t)
	for _, tc := range []struct{ name, dest string }{
		{"made by the export", filepath.Join(home, "new", "exp")},
		{"the user's empty folder", filepath.Join(home, "mine")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "the user's empty folder" {
				u.Sh(t, home, "mkdir mine")
			}
			res, err := Run(context.Background(), src, tc.dest, Options{})
			require.NoError(t, err)
			require.Positive(t, res.Blobs)
			n := ownedBy(t, tc.dest, u)
			assert.Greater(t, n, res.Blobs+res.Items)
			srcIndex, expIndex := indexed(t, src.Root), indexed(t, tc.dest)
			assert.Equal(t, srcIndex, expIndex)
		})
	}
}

// A symbolic link where DEST should be is refused (it would make root
// write wherever the user points it).
func TestDestSymlinkRefused(t *testing.T) {
	src, _ := genSample(t)
	u := testuser.New(t)
	home := u.Home(t)
	victim := filepath.Join(filepath.Dir(home), "victim")
	require.NoError(t, os.Mkdir(victim, 0o755))
	u.Sh(t, home, "ln -s ../victim exp")
	_, err := Run(context.Background(), src, filepath.Join(home, "exp"), Options{NoSync: true})
	require.ErrorContains(t, err, "is a symbolic link")
	nothingIn(t, victim)
	_, err = LockDest(src.Root, filepath.Join(home, "exp"), "doExport")
	require.ErrorContains(t, err, "is a symbolic link")
	nothingIn(t, victim)
}

// swapCase is a swap the user makes at one moment of the export, through
// Progress (so the moment is the same every run).
type swapCase struct {
	name  string
	phase string // Progress phase
	done  int    // and count at which the user acts
	// script, run as the user in DEST; ELSEWHERE is the target folder.
	script string
}

func swapCases(t *testing.T, src *backuppath.Path) []swapCase {
	// The last bucket of the source's blobs: the blob workers take digests
	// in order, so it is made last; a link planted there at the start of
	// the blob phase is met by the last blobs.
	ents, err := os.ReadDir(filepath.Join(src.Root, "items"))
	require.NoError(t, err)
	var buckets []string
	for _, e := range ents {
		if e.IsDir() && len(e.Name()) == 2 {
			buckets = append(buckets, e.Name())
		}
	}
	sort.Strings(buckets)
	require.NotEmpty(t, buckets)
	last := buckets[len(buckets)-1]
	ids, err := src.AccountIDs() // the order accounts are exported in
	require.NoError(t, err)
	require.Greater(t, len(ids), 1)
	return []swapCase{
		{"accounts/ swapped between accounts", "accounts", 1, `mv accounts accounts.real && ln -s "$ELSEWHERE" accounts`},
		{"the next account's folder planted", "accounts", 1, `ln -s "$ELSEWHERE" accounts/` + ids[1]},
		{"items/ swapped before the blobs", "blobs", 0, `mv items items.real && ln -s "$ELSEWHERE" items`},
		{"a bucket planted before its blobs", "blobs", 0, `ln -s "$ELSEWHERE" items/` + last},
	}
}

// Each swap, to a folder of the user's elsewhere and to a root-owned
// folder: the export fails naming the link, nothing lands where it points,
// and what was written belongs to the user.
func TestExportSwappedFolders(t *testing.T) {
	src, _ := genSample(t)
	u := testuser.New(t)
	for _, sc := range swapCases(t, src) {
		for _, target := range []string{"user's folder", "root's folder"} {
			t.Run(sc.name+" to "+target, func(t *testing.T) {
				home := u.Home(t)
				elsewhere := filepath.Join(home, "elsewhere")
				if target == "root's folder" {
					elsewhere = filepath.Join(filepath.Dir(home), "rootdir")
					require.NoError(t, os.Mkdir(elsewhere, 0o755))
				} else {
					u.Sh(t, home, "mkdir elsewhere")
				}
				dest := filepath.Join(home, "exp")
				acted := false
				opt := Options{NoSync: true, Progress: func(done, total int, phase string) {
					if acted || phase != sc.phase || done != sc.done {
						return
					}
					acted = true
					u.Sh(t, dest, "ELSEWHERE="+elsewhere+"; "+sc.script)
				}}
				_, err := Run(context.Background(), src, dest, opt)
				require.True(t, acted, "the swap was never made")
				require.Error(t, err, "the export went on through the link")
				assert.Contains(t, err.Error(), "symbolic link")
				nothingIn(t, elsewhere)
				ownedBy(t, dest, u)
			})
		}
	}
}

// A goroutine swaps accounts/ and items/ with links (RENAME_EXCHANGE: at
// every moment each is the folder or the link) as fast as it can while
// exports run, into a folder the user owns: the exports fail or complete,
// but nothing is ever written where the links point.
func TestExportSwapLoop(t *testing.T) {
	src := filepath.Join(t.TempDir(), "backup")
	_, err := sample.Generate(context.Background(), src, sample.Options{Accounts: 4, Messages: 60, Seed: 7})
	require.NoError(t, err)
	bp, err := backuppath.Open(src)
	require.NoError(t, err)
	u := testuser.New(t)
	failed, completed, swaps := 0, 0, 0
	for round := 0; round < 6; round++ {
		home := u.Home(t)
		u.Sh(t, home, "mkdir elsewhere exp")
		elsewhere, dest := filepath.Join(home, "elsewhere"), filepath.Join(home, "exp")
		var stop atomic.Bool
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			links := map[string]string{}
			for !stop.Load() {
				for _, name := range []string{"accounts", "items"} {
					dir := filepath.Join(dest, name)
					if links[name] == "" {
						if _, err := os.Lstat(dir); err != nil {
							continue // not made yet
						}
						links[name] = dir + ".link"
						os.Symlink(elsewhere, links[name])
						os.Lchown(links[name], int(u.UID), int(u.GID))
					}
					if unix.Renameat2(unix.AT_FDCWD, dir, unix.AT_FDCWD, links[name], unix.RENAME_EXCHANGE) == nil {
						runtime.Gosched()
						unix.Renameat2(unix.AT_FDCWD, dir, unix.AT_FDCWD, links[name], unix.RENAME_EXCHANGE)
						swaps++
					}
				}
				runtime.Gosched()
			}
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		_, err := Run(ctx, bp, dest, Options{NoSync: true})
		require.NoError(t, ctx.Err(), "the export hung")
		cancel()
		stop.Store(true)
		wg.Wait()
		if err != nil {
			failed++
		} else {
			completed++
		}
		nothingIn(t, elsewhere)
	}
	t.Logf("%d exports failed, %d completed, %d swaps", failed, completed, swaps)
	require.Positive(t, swaps)
}
