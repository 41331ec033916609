package purge

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Accounts under legal hold are never purged: not their states, items,
// account folder nor the blobs they name; the others are purged as usual.
func TestLegalHoldNeverPurged(t *testing.T) {
	f := newFixture(t)
	before := f.state(t)
	require.NoError(t, WriteLegalHold(f.bp, map[string]Hold{
		"a-ann": {ID: "a-ann", Name: "ann@example.com", Set: now},
		"a-cid": {ID: "a-cid", Name: "cid@example.com", Set: now},
	}))
	held, err := ReadLegalHold(f.bp)
	require.NoError(t, err)
	assert.Len(t, held, 2)

	// A cutoff after every date: without the hold ann's old states, cid
	// (deleted Mar15) and their blobs would go.
	res, err := Run(context.Background(), f.bp, Options{RetentionDays: 1, Now: now})
	require.NoError(t, err)
	after := f.state(t)
	assert.Equal(t, before["a-ann"], after["a-ann"], "ann (held) kept whole")
	assert.Equal(t, before["a-cid"], after["a-cid"], "cid (held, deleted) kept")
	assert.ElementsMatch(t, []string{"ann@example.com", "cid@example.com"}, res.Held)
	for _, n := range []string{"D1", "D2", "D3", "D4", "DS", "D5"} {
		assert.Contains(t, f.blobs(t), n, "blob %s of a held account kept", n)
	}
	assert.NotContains(t, f.blobs(t), "DO", "the orphan is still purged")
	assert.Contains(t, res.Report(), "- legal hold: kept whole -")

	// Unset: the next purge removes what retention says.
	require.NoError(t, WriteLegalHold(f.bp, map[string]Hold{}))
	_, err = Run(context.Background(), f.bp, Options{RetentionDays: 1, Now: now})
	require.NoError(t, err)
	assert.NotContains(t, f.state(t), "a-cid", "cid removed once released")
	assert.NotContains(t, f.blobs(t), "D5")
}

// A legal hold list that cannot be read stops the purge before it removes
// anything: it cannot know what is held.
func TestLegalHoldUnreadableStopsPurge(t *testing.T) {
	f := newFixture(t)
	before := f.state(t)
	require.NoError(t, os.WriteFile(filepath.Join(f.bp.Root, LegalHoldFile), []byte("{not json"), 0o644))
	_, err := Run(context.Background(), f.bp, Options{RetentionDays: 1, Now: now})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "legal hold")
	assert.Equal(t, before, f.state(t))
	assert.Contains(t, f.blobs(t), "DO")
}
