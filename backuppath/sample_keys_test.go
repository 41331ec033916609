package backuppath

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSpread(t *testing.T) {
	s := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	assert.Equal(t, []int{0, 2, 4, 6, 8}, spread(s, 5))
	assert.Equal(t, s, spread(s, 10))
	assert.Equal(t, s, spread(s, 0))
	assert.Equal(t, []int{0}, spread(s, 1))
}

// The sample's census counts the keys of the files it read, and says which
// held data it did not understand.
func TestSampleKeys(t *testing.T) {
	root := t.TempDir()
	write := func(rel, s string) {
		p := filepath.Join(root, rel)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(s), 0o644))
	}
	write("backupstat", `{"serverId":"s1"}`)
	write("accounts/a1/account_info", `{"mail":"ann@example.com"}`)
	write("accounts/a2/account_info", `{"mail":"bob@example.com"}`)
	for _, id := range []string{"257", "258", "259"} {
		write("accounts/a1/items/"+id[1:]+"/"+id, `[{"startDate":1700000000000,"type":5,"folderId":2,"frobnicate":"x"}]`)
	}
	write("accounts/a2/items/60/260", `[{"tp":5,"fid":2,"uc":1}]`)
	bp, err := Open(root)
	require.NoError(t, err)
	c, n, err := bp.SampleKeys(context.Background(), 8, 2)
	require.NoError(t, err)
	assert.Equal(t, 3, n, "two of a1's three, a2's one")
	share, bad := c.Understood()
	assert.Equal(t, []string{"frobnicate"}, bad)
	assert.InDelta(t, 9.0/11, share, 1e-9, "two of 11 key occurrences (4 in each of two files, 3 in one) not read")
	assert.Contains(t, c.Summary(), "1 key not understood (frobnicate)")
}
