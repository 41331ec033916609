package tests

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/internal/testuser"
)

// A --daemon mount that the kernel refuses says why, with fusermount3's
// own words: a user other than root asking for --allow-other without
// user_allow_other in /etc/fuse.conf.
func TestDaemonMountErrorNonRoot(t *testing.T) {
	bin, root, _, dir := lifecycleFixture(t)
	if b, _ := os.ReadFile("/etc/fuse.conf"); strings.Contains(stripComments(string(b)), "user_allow_other") {
		t.Skip("/etc/fuse.conf has user_allow_other")
	}
	u := testuser.New(t)
	// The user reads the Backup Path and the binary, and owns the
	// mountpoint and the index's folder.
	require.NoError(t, os.Chmod(filepath.Dir(dir), 0o755)) // t.TempDir's own parent is 0700
	for _, p := range []string{dir, root} {
		require.NoError(t, filepath.Walk(p, func(p string, fi os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			return os.Chmod(p, fi.Mode().Perm()|0o055)
		}))
	}
	mp := filepath.Join(dir, "user-mnt")
	home := filepath.Join(dir, "user-home")
	for _, d := range []string{mp, home} {
		require.NoError(t, os.Mkdir(d, 0o700))
		require.NoError(t, os.Chown(d, int(u.UID), int(u.GID)))
	}
	t.Cleanup(func() { mountForceUnmount(mp) })
	cmd := u.Command(bin, "mount", root, mp, "--index", filepath.Join(home, "index.db"), "--daemon", "--allow-other")
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CACHE_HOME="+home)
	out, err := cmd.CombinedOutput()
	require.Error(t, err, "%s", out)
	// Not only go-fuse's "fusermount exited with code 256".
	assert.Regexp(t, `fusermount exited with code \d+: \S*fusermount3: `, string(out), "fusermount3's reason reaches the --daemon parent")
	if fi, err := os.Stat("/dev/fuse"); err == nil && fi.Mode().Perm()&0o006 == 0o006 || bytes.Contains(out, []byte("allow_other")) {
		assert.Contains(t, string(out), "user_allow_other")
		assert.Contains(t, string(out), "/etc/fuse.conf")
	} else {
		// fusermount3 opens /dev/fuse as the user before it checks the
		// options: here it says that instead.
		t.Logf("/dev/fuse is not open to other users: %s", out)
	}
	assert.NotContains(t, string(out), "\n\n")
	assert.False(t, mountIsMounted(mp))
}

// stripComments drops the # lines of a configuration file.
func stripComments(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}
