package operations

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/restore"
)

// The outcome of a restore: an account asked for by name and left out by
// a filter is partial (exit 3), never a silent success, even when nothing
// else was to be restored; a failure with nothing restored fails.
func TestRestoreOutcome(t *testing.T) {
	assert.NoError(t, RestoreOutcome(&restore.Report{Restored: 3}))

	leftOut := []restore.LeftOutAccount{{Account: "jennifer@example.com",
		Reason: "deleted on 2024-03-02, left out by filter_deleted (filter_deleted false includes it)"}}
	err := RestoreOutcome(&restore.Report{LeftOut: leftOut})
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrPartial)
	assert.Equal(t, "partial restore: 0 items restored, 0 items unrestored, 0 accounts failed, 1 accounts asked for left out; "+
		"first: account jennifer@example.com: deleted on 2024-03-02, left out by filter_deleted (filter_deleted false includes it)", err.Error())

	err = RestoreOutcome(&restore.Report{FailedAccounts: []restore.FailedAccount{{Account: "x@y", Class: restore.ClassNotFound, Reason: "no such account"}}, LeftOut: leftOut})
	assert.True(t, errors.Is(err, ErrNothingRestored) && !errors.Is(err, ErrPartial), "%v", err)
	assert.Contains(t, err.Error(), "first: account x@y: not found: no such account")

	// A dry run's outcome is the real run's, said as what would happen.
	dry := &restore.Report{DryRun: true, Restored: 2, Unrestored: 1, Accounts: []restore.AccountReport{{Account: "a@x",
		Unrestored: []restore.UnrestoredItem{{ID: 7, Class: restore.ClassBroken, Reason: "bad gzip"}}}}}
	err = RestoreOutcome(dry)
	assert.ErrorIs(t, err, ErrPartial)
	assert.Contains(t, err.Error(), "partial restore: 2 items would be restored (dry run), 1 items unrestored")
}
