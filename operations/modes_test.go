package operations

import (
	"context"
	"io/fs"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// A backup holds private mail: after a scan nothing under the Backup Path
// or the state directory may be group- or world-accessible.
func TestScanWritesPrivateModes(t *testing.T) {
	dir := t.TempDir()
	src := writeMaildirSource(t, []string{"ann@example.com", "bob@example.com"}, 3)
	r := newScanRunner(t, filepath.Join(dir, "bp"), filepath.Join(dir, "st"), src)
	_, err := r.Run(context.Background(), KindSmartScan, nil, nil)
	require.NoError(t, err)
	n := 0
	for _, root := range []string{r.s.BackupPath, r.s.StateDir} {
		require.NoError(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			n++
			if fi.Mode().Perm()&0o077 != 0 {
				t.Errorf("%s is %v: group or others can read it", p, fi.Mode().Perm())
			}
			return nil
		}))
	}
	require.Greater(t, n, 10, "the scan wrote files")
}
