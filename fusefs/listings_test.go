package fusefs

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestListingBudget: listed folders keep their files only within the
// budget, least recently used dropped first, the newest always kept; a
// dropped folder lists, looks up and reads ahead as before.
func TestListingBudget(t *testing.T) {
	f, _ := raFS(t, Options{})
	var folders []*folderDir
	total := 0
	accts, err := f.ix.Accounts()
	require.NoError(t, err)
	for _, a := range accts {
		v := &view{fsys: f, acct: a}
		require.NoError(t, v.load())
		for id := range v.byID {
			d := &folderDir{v: v, fid: id}
			d.init(f, 1, true, 0, zeroTime)
			if l, err := d.loadFiles(); err == nil && len(l.files) > 0 {
				folders = append(folders, d)
				total += len(l.files)
			}
		}
	}
	require.GreaterOrEqual(t, len(folders), 4, "the sample has too few folders with files")
	names := func(d *folderDir) []string {
		es, errno := d.entries(context.Background())
		require.Zero(t, errno)
		var out []string
		for _, e := range es {
			out = append(out, e.Name)
		}
		return out
	}
	want := make([][]string, len(folders))
	for i, d := range folders {
		want[i] = names(d)
	}
	_, held := f.lists.held()
	assert.Equal(t, total, held, "under the default budget every listing is kept")

	// A budget of the biggest folder: listing them all keeps one or a
	// few, the most recent.
	biggest := 0
	for _, d := range folders {
		l, _ := d.loadFiles()
		biggest = max(biggest, len(l.files))
	}
	f.lists.mu.Lock()
	f.lists.max = biggest
	f.lists.mu.Unlock()
	for i, d := range folders {
		d.drop() // as if never listed (their lru entries stay until dropped by the budget)
		assert.Equal(t, want[i], names(d), "folder %d listed again", i)
	}
	n, held := f.lists.held()
	assert.LessOrEqual(t, held, biggest, "over the budget")
	assert.Less(t, n, len(folders))
	last := folders[len(folders)-1]
	assert.NotNil(t, last.list.Load(), "the newest listing dropped")
	assert.Nil(t, folders[0].list.Load(), "the oldest listing kept")

	// A dropped folder: read-ahead lists it again, the same.
	first := folders[0]
	l, err := first.loadFiles() // lists it again, drops others
	require.NoError(t, err)
	first.drop()
	l2, err := first.loadFiles()
	require.NoError(t, err)
	assert.Equal(t, l.byName, l2.byName)
	seq := first.sequence()
	f.blobs.Prefetch(seq, -1)
	waitIdle(t, f)
	first.drop()
	f.blobs.Prefetch(seq, -1) // the list made again from a fresh listing
	waitIdle(t, f)
	assert.NotNil(t, first.list.Load(), "read-ahead did not list the dropped folder again")
}
