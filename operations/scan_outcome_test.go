package operations

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/scan"
)

// A scan in which every account failed is an error, not a success.
func TestScanEveryAccountFailedIsAnError(t *testing.T) {
	dir := t.TempDir()
	accts := filepath.Join(dir, "accounts")
	require.NoError(t, os.WriteFile(accts, []byte("ann@example.com\nbob@example.com\n"), 0o600))
	r, err := New(Settings{BackupPath: filepath.Join(dir, "bp"), Flags: Flags{StateDir: filepath.Join(dir, "st"),
		Source: "imap://admin:pw@127.0.0.1:1?timeout=2s", AccountsFile: accts}}, nil)
	require.NoError(t, err)
	rep, err := r.Run(context.Background(), KindSmartScan, nil, nil)
	require.Error(t, err)
	assert.True(t, errors.Is(err, ErrAccountsFailed))
	assert.False(t, errors.Is(err, ErrPartial))
	assert.Contains(t, err.Error(), "every account failed (2 of 2)")
	assert.NotContains(t, err.Error(), "\n")
	assert.Contains(t, rep, "- errors -")
}

func TestScanOutcome(t *testing.T) {
	ok := &scan.AccountReport{Name: "ann@example.com"}
	bad := &scan.AccountReport{Name: "evil\x1b[31m@example.com\nForged: line", Errors: []string{"imap login as evil\x1b[31m: refused"}}
	skipped := &scan.AccountReport{Name: "off@example.com", Skipped: "backupEnabled false"}
	assert.NoError(t, ScanOutcome(&scan.Report{PerAccount: []*scan.AccountReport{ok, skipped}}))
	assert.NoError(t, ScanOutcome(&scan.Report{}), "nothing to scan is no failure")

	err := ScanOutcome(&scan.Report{PerAccount: []*scan.AccountReport{ok, bad, skipped}})
	require.Error(t, err)
	assert.True(t, errors.Is(err, ErrPartial) && errors.Is(err, ErrAccountsFailed))
	assert.Contains(t, err.Error(), "1 of 2 accounts failed")
	assert.NotContains(t, err.Error(), "\x1b")
	assert.NotContains(t, err.Error(), "\n")

	err = ScanOutcome(&scan.Report{PerAccount: []*scan.AccountReport{bad, skipped}})
	assert.True(t, errors.Is(err, ErrAccountsFailed) && !errors.Is(err, ErrPartial))

	// An error of the run itself: the account asked for is not in the
	// source, so nothing was backed up (doAccountScan of a wrong name)...
	missing := "nobody@example.com: no such account in maildir:/m"
	err = ScanOutcome(&scan.Report{Errors: []string{missing}})
	assert.True(t, errors.Is(err, ErrAccountsFailed) && !errors.Is(err, ErrPartial))
	assert.Contains(t, err.Error(), "nothing was backed up: "+missing)
	// ... or the others were: partial.
	err = ScanOutcome(&scan.Report{Errors: []string{missing}, PerAccount: []*scan.AccountReport{ok}})
	assert.True(t, errors.Is(err, ErrPartial) && errors.Is(err, ErrAccountsFailed))
	// An account's own error, repeated in the report's list, is counted once.
	err = ScanOutcome(&scan.Report{Errors: []string{bad.Name + ": " + bad.Errors[0]}, PerAccount: []*scan.AccountReport{ok, bad}})
	assert.Contains(t, err.Error(), "1 of 2 accounts failed")
}

// Account names with control characters are printed escaped.
func TestScanReportEscapesNames(t *testing.T) {
	name := "evil\x1b[31m@example.com\nForged: line"
	rep := ScanReport(&scan.Report{Source: "maildir:/m", Errors: []string{name + ": broken\r"},
		PerAccount: []*scan.AccountReport{{Name: name}, {Name: name + "2", Skipped: "off"}}})
	assert.NotContains(t, rep, "\x1b")
	assert.NotContains(t, rep, "\r")
	assert.NotContains(t, rep, "\nForged")
	assert.Contains(t, rep, `"evil\x1b[31m@example.com\nForged: line": new 0`)
	assert.Contains(t, rep, `evil\x1b[31m@example.com\nForged: line: broken\r`)
	for _, l := range strings.Split(rep, "\n") {
		assert.False(t, strings.HasPrefix(l, "Forged"), l)
	}
}
