package msgexport

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/internal/testuser"
	"github.com/cbfs/cbfs/sample"
)

func genSample(t *testing.T) (*backuppath.Path, *sample.Report) {
	t.Helper()
	dest := filepath.Join(t.TempDir(), "backup")
	rep, err := sample.Generate(context.Background(), dest, sample.Options{Accounts: 3, Messages: 8, Seed: 7})
	require.NoError(t, err)
	bp, err := backuppath.Open(dest)
	require.NoError(t, err)
	return bp, rep
}

// An export into a folder an unprivileged user owns: everything it writes
// belongs to the user; links the user plants while it runs, where the
// export is about to make a folder or a file, are never followed.
func TestHostileDestLinks(t *testing.T) {
	src, rep := genSample(t)
	u := testuser.New(t)
	home := u.Home(t)
	for _, format := range []string{FormatMbox, FormatEML} {
		t.Run(format, func(t *testing.T) {
			dest := filepath.Join(home, "exp-"+format)
			u.Sh(t, home, "mkdir "+filepath.Base(dest))
			victim := filepath.Join(t.TempDir(), "victim") // root's
			require.NoError(t, os.Mkdir(victim, 0o755))
			names := append([]string(nil), rep.Accounts...)
			sort.Strings(names)
			planted := false
			opt := Options{Format: format, NoSync: true, Progress: func(done, total int) {
				if planted {
					return
				}
				planted = true
				// The folders of the accounts not begun, and files and
				// folders the account being written has yet to write, as
				// links to root's folder.
				script := ""
				for _, n := range names {
					script += "if [ -d '" + n + "' ]; then ln -s " + victim + "/x '" + n + "/Sent.mbox'; " +
						"ln -s " + victim + " '" + n + "/Sent'; else ln -s " + victim + " '" + n + "'; fi; "
				}
				script += "true"
				u.Sh(t, dest, script)
			}}
			res, err := Run(context.Background(), src, dest, opt)
			require.Error(t, err, "an account folder that is a link is not written through")
			assert.Contains(t, err.Error(), "symbolic link")
			require.NotNil(t, res)
			ents, err := os.ReadDir(victim)
			require.NoError(t, err)
			assert.Empty(t, ents, "written through a planted link")
			require.NoError(t, filepath.WalkDir(dest, func(p string, d fs.DirEntry, err error) error {
				require.NoError(t, err)
				fi, err := os.Lstat(p)
				require.NoError(t, err)
				if st := fi.Sys().(*syscall.Stat_t); st.Uid != u.UID {
					t.Errorf("%s belongs to %d, want %d", p, st.Uid, u.UID)
				}
				return nil
			}))
		})
	}
}
