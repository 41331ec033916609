package tests

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/sample"
)

// TestMountLazyIndex: a mount is ready before any item file is read; an
// account's items are indexed when it is entered, the others in the
// background; user.cbfs.index says where each account stands; and the
// tree is the same as a mount that indexed everything first.
func TestMountLazyIndex(t *testing.T) {
	mountSkipUnlessFUSE(t)
	dir := t.TempDir()
	bin := mountBinary(t, dir)
	root := filepath.Join(dir, "bp")
	_, err := sample.Generate(context.Background(), root, sample.Options{Seed: 5})
	require.NoError(t, err)
	bp, err := backuppath.Open(root)
	require.NoError(t, err)

	lazyMp, fullMp := filepath.Join(dir, "lazy"), filepath.Join(dir, "full")
	require.NoError(t, os.Mkdir(lazyMp, 0o755))
	require.NoError(t, os.Mkdir(fullMp, 0o755))
	lazy := mountStart(t, bin, root, lazyMp, filepath.Join(dir, "cache", "lazy.db"))
	assert.Contains(t, lazy.ready, "items indexed so far")
	full := mountStart(t, bin, root, fullMp, filepath.Join(dir, "cache", "full.db"), "--full-index")
	assert.NotContains(t, full.ready, "indexed so far")

	ents, err := os.ReadDir(filepath.Join(lazyMp, "accounts"))
	require.NoError(t, err)
	require.NotEmpty(t, ents)
	state := func(name string) string {
		v, err := unixGetxattr(filepath.Join(lazyMp, "accounts", name), "user.cbfs.index")
		require.NoError(t, err, name)
		return v
	}
	for _, e := range ents {
		assert.Contains(t, []string{"waiting", "indexing", "indexed"}, state(e.Name()), e.Name())
	}

	// Entering an account indexes it: its state and count are then final.
	name := ents[0].Name()
	_, err = os.ReadDir(filepath.Join(lazyMp, "accounts", name, "items"))
	require.NoError(t, err)
	assert.Equal(t, "indexed", state(name))
	id := accountIDOf(t, lazyMp, name)
	files, _, err := bp.ItemFiles(id)
	require.NoError(t, err)
	n, err := unixGetxattr(filepath.Join(lazyMp, "accounts", name), "user.cbfs.index.items")
	require.NoError(t, err)
	assert.Equal(t, strconv.Itoa(len(files)), n)

	// The background indexer does the rest, and says so.
	deadline := time.Now().Add(time.Minute)
	for _, e := range ents {
		for state(e.Name()) != "indexed" {
			require.True(t, time.Now().Before(deadline), "account %s not indexed in the background\n%s", e.Name(), lazy.stderr)
			time.Sleep(50 * time.Millisecond)
		}
	}
	require.Eventually(t, func() bool { return strings.Contains(lazy.stderr.String(), "every account indexed") },
		30*time.Second, 50*time.Millisecond, "the log says when the background is done\n%s", lazy.stderr)

	// Same tree, same sizes, as the mount that indexed first.
	assert.Equal(t, treeOf(t, fullMp), treeOf(t, lazyMp))
	lazy.stop(t)
	full.stop(t)
}

// accountIDOf reads an account folder's id from its account.json.
func accountIDOf(t *testing.T, mp, name string) string {
	t.Helper()
	out, err := exec.Command("sh", "-c", "grep -o '\"id\": *\"[^\"]*\"' "+strconv.Quote(filepath.Join(mp, "accounts", name, "account.json"))+" | head -1").Output()
	require.NoError(t, err)
	f := strings.Split(strings.TrimSpace(string(out)), "\"")
	require.GreaterOrEqual(t, len(f), 4, string(out))
	return f[3]
}

// treeOf lists every path under each account's folders/, items/ and
// deleted/ with its size (folders 0).
func treeOf(t *testing.T, mp string) []string {
	t.Helper()
	var out []string
	top := filepath.Join(mp, "accounts")
	require.NoError(t, filepath.Walk(top, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(top, p)
		if parts := strings.Split(rel, string(filepath.Separator)); len(parts) == 2 && fi.IsDir() {
			switch parts[1] {
			case "folders", "items", "deleted":
			default:
				return filepath.SkipDir
			}
		}
		size := int64(0)
		if !fi.IsDir() {
			size = fi.Size()
		}
		out = append(out, rel+" "+strconv.FormatInt(size, 10))
		return nil
	}))
	sort.Strings(out)
	return out
}
