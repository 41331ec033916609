package tests

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/internal/testuser"
)

// doExport into a folder a local user can write, run by root through the
// real cbctl. (Swaps during the run: export/hostile_test.go.)

// A .cbfs-writer.lock the user planted as a symbolic link to a root-only
// file: the export refuses it with one line naming it, exits non-zero,
// writes nothing, and the file it points to is untouched.
func TestHostileExportLockSymlink(t *testing.T) {
	root := cliSample(t)
	u := testuser.New(t)
	home := u.Home(t)
	victim := filepath.Join(filepath.Dir(home), "victim")
	const precious = "root:$6$SECRETHASH:19000:0:99999:7:::\n"
	require.NoError(t, os.WriteFile(victim, []byte(precious), 0o600))
	for _, plant := range []string{
		"mkdir exp && ln -s " + victim + " exp/.cbfs-writer.lock",
		"mkdir exp && mkfifo exp/.cbfs-writer.lock",
	} {
		t.Run(strings.Fields(plant)[3], func(t *testing.T) {
			require.NoError(t, os.WriteFile(victim, []byte(precious), 0o600))
			u.Sh(t, home, "rm -rf exp; "+plant)
			dest := filepath.Join(home, "exp")
			msg := "is a symbolic link"
			if strings.Contains(plant, "mkfifo") {
				msg = "not a regular file: FIFO"
			}
			r := cbctlWithin(t, "backup", "doExport", dest, "backup_path", root, "--state-dir", filepath.Join(t.TempDir(), "st"))
			assert.NotEqual(t, 0, r.code, "exit status; stderr:\n%s", r.stderr)
			assert.Contains(t, r.stderr, msg)
			assert.Contains(t, r.stderr, filepath.Join(dest, ".cbfs-writer.lock"))
			assert.Equal(t, 1, strings.Count(r.stderr, "cbctl: error: "), r.stderr)
			b, err := os.ReadFile(victim)
			require.NoError(t, err)
			assert.Equal(t, precious, string(b), "the link's target was written")
			ents, _ := os.ReadDir(dest)
			assert.Len(t, ents, 1, "nothing exported: %v", ents)
		})
	}
}

// An export into a user's folder (made by the export as the user) belongs
// to the user; it and an export into a root-owned folder are Backup Paths
// doExternalRestore consumes, restoring the same messages as the source.
func TestHostileExportUserDestRestorable(t *testing.T) {
	root := cliSample(t)
	u := testuser.New(t)
	home := u.Home(t)
	dir := t.TempDir()
	fromSource := restoredMessages(t, root, filepath.Join(dir, "r0"))
	require.NotEmpty(t, fromSource)
	for _, tc := range []struct {
		name, dest string
		owner      *testuser.User
	}{
		{"user's folder", filepath.Join(home, "exports", "e1"), &u},
		{"root's folder", filepath.Join(dir, "e2"), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok(t, "backup", "doExport", tc.dest, "backup_path", root, "--state-dir", filepath.Join(t.TempDir(), "st"))
			if tc.owner != nil {
				n := 0
				require.NoError(t, filepath.WalkDir(tc.dest, func(p string, d fs.DirEntry, err error) error {
					require.NoError(t, err)
					fi, err := os.Lstat(p)
					require.NoError(t, err)
					if st := fi.Sys().(*syscall.Stat_t); st.Uid != tc.owner.UID || st.Gid != tc.owner.GID {
						t.Errorf("%s belongs to %d:%d, want the user %d:%d", p, st.Uid, st.Gid, tc.owner.UID, tc.owner.GID)
					}
					n++
					return nil
				}))
				assert.Greater(t, n, 10)
			}
			assert.Equal(t, fromSource, restoredMessages(t, tc.dest, filepath.Join(t.TempDir(), "r")))
		})
	}
}

// restoredMessages restores the Backup Path bp into a Maildir at tgt and
// returns the digests of the messages restored, sorted.
func restoredMessages(t *testing.T, bp, tgt string) []string {
	t.Helper()
	restoredSome(t, "backup", "doExternalRestore", bp, "target", "maildir:"+tgt, "--state-dir", tgt+".st")
	var out []string
	require.NoError(t, filepath.WalkDir(tgt, func(p string, d fs.DirEntry, err error) error {
		require.NoError(t, err)
		if d.Type().IsRegular() && (filepath.Base(filepath.Dir(p)) == "cur" || filepath.Base(filepath.Dir(p)) == "new") {
			b, err := os.ReadFile(p)
			require.NoError(t, err)
			sum := sha256.Sum256(b)
			out = append(out, hex.EncodeToString(sum[:]))
		}
		return nil
	}))
	sort.Strings(out)
	return out
}
