package msgexport

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/internal/testbomb"
	"github.com/cbfs/cbfs/mailbox"
)

// A gzip bomb named by its content's digest (so only the recorded size
// can tell), given to a message whose state records a small size, is
// left out as broken, read no further than that size; a message over
// MaxFileSize is left out as too large; the others are exported.
func TestBombAndTooLarge(t *testing.T) {
	src, rep := genSample(t)
	a, err := src.FindAccount(rep.Accounts[0])
	require.NoError(t, err)
	name, err := testbomb.Plant(src.Root, 64<<20)
	require.NoError(t, err)
	now := time.Now().UTC()
	it := mailbox.NewItem(9001, []mailbox.State{{Start: mailbox.MillisOf(now.Add(-time.Hour)), Type: mailbox.TypeMessage,
		FolderID: mailbox.FolderInbox, Digest: blob.Digest(name), Size: 4096, Subject: "bomb"}})
	require.NoError(t, src.WriteItem(a.ID, it))

	res, err := Run(context.Background(), src, filepath.Join(t.TempDir(), "exp"), Options{Accounts: []string{a.ID}, NoSync: true})
	require.NoError(t, err)
	found := false
	for _, l := range res.LeftOut {
		if l.ItemID == 9001 {
			found = true
			assert.Equal(t, "broken", l.Class)
			assert.Equal(t, "blob", l.What)
			assert.Equal(t, "Inbox", l.Folder)
		}
	}
	assert.True(t, found, "the bomb is left out: %+v", res.LeftOut)
	require.Positive(t, res.Messages)

	// max_file_size below every message: all left out as too large.
	res2, err := Run(context.Background(), src, filepath.Join(t.TempDir(), "exp"), Options{Accounts: []string{a.ID}, NoSync: true, MaxFileSize: 100})
	require.NoError(t, err)
	assert.Zero(t, res2.Messages)
	tooLarge := 0
	for _, l := range res2.LeftOut {
		if l.Class == "too large" {
			tooLarge++
		}
	}
	assert.Equal(t, res.Messages+1, tooLarge, "every message exported before, and the bomb, is too large now: %v", res2.LeftOut)
	assert.Empty(t, res2.Files, "no mbox file without a message")
}
