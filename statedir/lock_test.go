package statedir

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The state directory is 0700 once locked, also when it existed before
// with a looser mode; a sticky shared folder is refused, not changed.
func TestLockMakesPrivate(t *testing.T) {
	for _, mode := range []os.FileMode{0o755, 0o777, 0o700} {
		dir := filepath.Join(t.TempDir(), "st")
		require.NoError(t, os.Mkdir(dir, 0o700))
		require.NoError(t, os.Chmod(dir, mode))
		l, err := Dir(dir).Lock()
		require.NoError(t, err)
		fi, err := os.Stat(dir)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm(), "was %o", mode)
		require.NoError(t, l.Release())
	}
	shared := filepath.Join(t.TempDir(), "tmp")
	require.NoError(t, os.Mkdir(shared, 0o700))
	require.NoError(t, os.Chmod(shared, 0o777|os.ModeSticky))
	_, err := Dir(shared).Lock()
	require.ErrorContains(t, err, "sticky")
	fi, err := os.Stat(shared)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o777), fi.Mode().Perm(), "left as it was")

	// A linked state directory: the folder it names is made private.
	real := filepath.Join(t.TempDir(), "real")
	require.NoError(t, os.Mkdir(real, 0o700))
	require.NoError(t, os.Chmod(real, 0o755))
	link := filepath.Join(t.TempDir(), "link")
	require.NoError(t, os.Symlink(real, link))
	l, err := Dir(link).Lock()
	require.NoError(t, err)
	require.NoError(t, l.Release())
	fi, err = os.Stat(real)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm())
}
