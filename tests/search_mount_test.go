package tests

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/sample"
)

// TestMountSearch: search/<query>/ in the mount holds exactly the messages
// cbctl's doItemSearch query finds, as <account>/<folder path>/<id>.eml,
// each the same file (bytes, inode, attributes) as the state's message
// under accounts/; a query the index cannot answer is no folder.
func TestMountSearch(t *testing.T) {
	mountSkipUnlessFUSE(t)
	dir := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", filepath.Join(dir, "xdg")) // the search index's folder, for cbctl and the mount
	bin := mountBinary(t, dir)
	root := filepath.Join(dir, "bp")
	_, err := sample.Generate(context.Background(), root, sample.Options{Seed: 5})
	require.NoError(t, err)
	r := cbctl(t, "--state-dir", filepath.Join(dir, "st"), "backup", "doIndexMessages", root)
	require.Zero(t, r.code, r.stdout+r.stderr)

	const query = "meeting"
	r = cbctl(t, "backup", "doItemSearch", "query", query, "--backup-path", root, "--json", "--limit=-1")
	require.Zero(t, r.code, r.stderr)
	var res struct {
		Hits []struct {
			Account, Folder, MountPath string
			ItemID                     int
		}
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &res))
	require.NotEmpty(t, res.Hits)

	mp := filepath.Join(dir, "mnt")
	require.NoError(t, os.Mkdir(mp, 0o755))
	p := mountStart(t, bin, root, mp, filepath.Join(dir, "cache", "index.db"))

	top := filepath.Join(mp, "search", query)
	var listed []string
	require.NoError(t, filepath.Walk(top, func(path string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			rel, _ := filepath.Rel(top, path)
			listed = append(listed, rel)
		}
		return err
	}))
	var want []string
	for _, h := range res.Hits {
		rel := filepath.Join(h.Account, filepath.FromSlash(strings.Trim(h.Folder, "/")), itoa(h.ItemID)+".eml")
		want = append(want, rel)
		got, gerr := os.ReadFile(filepath.Join(top, rel))
		orig, oerr := os.ReadFile(filepath.Join(mp, h.MountPath))
		assert.Equal(t, oerr == nil, gerr == nil, "%s: %v / %v", rel, gerr, oerr)
		assert.Equal(t, orig, got, rel)
		var a, b syscall.Stat_t
		require.NoError(t, syscall.Stat(filepath.Join(top, rel), &a))
		require.NoError(t, syscall.Stat(filepath.Join(mp, h.MountPath), &b))
		assert.Equal(t, b.Ino, a.Ino, "%s: the same file as %s", rel, h.MountPath)
		sa, _ := unixGetxattr(filepath.Join(top, rel), "user.cbfs.status")
		sb, _ := unixGetxattr(filepath.Join(mp, h.MountPath), "user.cbfs.status")
		assert.Equal(t, sb, sa, rel)
	}
	assert.ElementsMatch(t, want, listed)

	_, err = os.Stat(filepath.Join(mp, "search", "subject:"))
	assert.ErrorIs(t, err, os.ErrNotExist, "a query that does not parse is no folder")
	ents, err := os.ReadDir(filepath.Join(mp, "search"))
	require.NoError(t, err)
	assert.Empty(t, ents, "search/ lists nothing: the queries are the user's to name")
	p.stop(t)
}
