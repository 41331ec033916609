package index

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/sample"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The index of a generated sample agrees with backuppath's reads of every
// account and item, and classifies the planted damage.
func TestGeneratedSample(t *testing.T) {
	if testing.Short() {
		t.Skip("generates a sample Backup Path")
	}
	dest := filepath.Join(t.TempDir(), "backup")
	rep, err := sample.Generate(context.Background(), dest, sample.Options{Accounts: 4, Messages: 30, Seed: 7})
	require.NoError(t, err)
	t.Logf("sample: %d accounts, %d items, %d damaged", len(rep.Accounts), rep.Items, len(rep.Damaged))
	bp, err := backuppath.Open(dest)
	require.NoError(t, err)
	ix, err := Open(bp, filepath.Join(t.TempDir(), "index.db"))
	require.NoError(t, err)
	defer ix.Close()
	st, err := ix.Refresh(context.Background(), nil)
	require.NoError(t, err)
	assert.Equal(t, rep.Items, st.Items)
	assert.Equal(t, rep.Items, st.ItemsRead)
	checkAgainstDisk(t, ix)

	malformed := 0
	for _, d := range rep.Damaged {
		if d.Kind != sample.DamageMalformedJSON {
			continue
		}
		malformed++
		it, err := ix.Item(d.AccountID, d.ItemID)
		require.NoError(t, err)
		assert.Equal(t, "broken", it.ErrClass, "item %d of %s", d.ItemID, d.Account)
	}
	assert.Positive(t, malformed, "the sample plants a malformed item file")
	accts, err := ix.Accounts()
	require.NoError(t, err)
	userFolders := 0
	for _, a := range accts {
		days, err := ix.ChangeDays(a.ID)
		require.NoError(t, err)
		for _, at := range append(days, time.Time{}) {
			fs, err := ix.Folders(a.ID, at)
			require.NoError(t, err)
			seen := map[string]bool{}
			for _, f := range fs {
				require.False(t, seen[f.Path], "folder path %q twice in %s at %v", f.Path, a.Name, at)
				seen[f.Path] = true
				if at.IsZero() && f.ID > 256 {
					userFolders++
				}
			}
		}
	}

	assert.Positive(t, userFolders, "the sample has folders of its own")

	st, err = ix.Refresh(context.Background(), nil)
	require.NoError(t, err)
	assert.Equal(t, 0, st.ItemsRead, "a second refresh reads nothing")
	st, err = ix.Rebuild(context.Background(), nil)
	require.NoError(t, err)
	assert.Equal(t, rep.Items, st.ItemsRead)
	checkAgainstDisk(t, ix)
}
