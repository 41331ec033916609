package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/restore"
	"github.com/cbfs/cbfs/sample"
)

// wouldRestore reads a dry run's "- would restore -" section as
// "account id folder" lines, sorted.
func wouldRestore(t *testing.T, report string) []string {
	t.Helper()
	var out []string
	in, account, folder := false, "", ""
	for _, l := range strings.Split(report, "\n") {
		if strings.HasPrefix(l, "- ") {
			in = l == "- would restore -"
			continue
		}
		if !in || l == "" {
			continue
		}
		if a, ok := strings.CutPrefix(l, "account: "); ok {
			account = a
			continue
		}
		list, cont := strings.CutPrefix(l, "  ")
		if !cont {
			var ok bool
			folder, list, ok = strings.Cut(l, ": ")
			require.True(t, ok, "report line %q", l)
		}
		require.NotRegexp(t, `^and \d+ more$`, list, "the test's sample lists every id")
		for _, s := range strings.Split(strings.TrimSuffix(list, ","), ",") {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			require.NoError(t, err, "report line %q", l)
			out = append(out, fmt.Sprintf("%s %d %s", account, n, folder))
		}
	}
	sort.Strings(out)
	return out
}

// TestRestoreDryRun: cbctl's restores with dry_run true write nothing
// (no target folder, no ledger file in the state directory) and list the
// items that the same restore without it then restores, folder by folder.
func TestRestoreDryRun(t *testing.T) {
	s := restoreSample(t, sample.Options{Accounts: 3, Messages: 12, Seed: 5})
	dir := t.TempDir()
	st := filepath.Join(dir, "st")
	tgt := filepath.Join(dir, "maildir")
	ledger := filepath.Join(st, "restore-ledger.db")

	dry := restoredSome(t, "backup", "doExternalRestore", s.root, "target", "maildir:"+tgt, "dry_run", "true", "--state-dir", st)
	assert.Contains(t, dry.stdout, "- dry run -\nnothing was written")
	assert.NoDirExists(t, tgt, "no target folder created")
	assert.NoFileExists(t, ledger, "no ledger written")
	planned := wouldRestore(t, dry.stdout)
	require.NotEmpty(t, planned)
	assert.Equal(t, len(planned), statLine(t, dry.stdout, "Restored Items"))

	real := restoredSome(t, "backup", "doExternalRestore", s.root, "target", "maildir:"+tgt, "--state-dir", st)
	assert.Equal(t, statLine(t, dry.stdout, "Restored Items"), statLine(t, real.stdout, "Restored Items"))
	assert.Equal(t, statLine(t, dry.stdout, "Unrestored Items"), statLine(t, real.stdout, "Unrestored Items"))
	var entries []restore.Entry
	decode(t, ok(t, "backup", "getMap", "--json", "--state-dir", st).stdout, &entries)
	var got []string
	for _, e := range entries {
		got = append(got, fmt.Sprintf("%s %d %s", e.Account, e.ItemID, e.Folder))
	}
	sort.Strings(got)
	assert.Equal(t, got, planned, "the dry run listed what the restore restored")

	t.Run("after the restore, a dry item restore writes nothing and says it would skip", func(t *testing.T) {
		before := snapshot(t, tgt)
		lb, err := os.ReadFile(ledger)
		require.NoError(t, err)
		e := entries[0]
		r := ok(t, "backup", "doItemRestore", e.Account, strconv.Itoa(e.ItemID), "target", "maildir:"+tgt, "--dry-run", "--backup-path", s.root, "--state-dir", st)
		assert.Equal(t, 0, statLine(t, r.stdout, "Restored Items"), r.stdout)
		assert.Equal(t, 1, skippedItems(t, r.stdout), r.stdout)
		assert.Equal(t, before, snapshot(t, tgt))
		la, err := os.ReadFile(ledger)
		require.NoError(t, err)
		assert.Equal(t, lb, la, "the ledger file unchanged")

		// Into another folder, it would restore it there.
		r = ok(t, "backup", "doItemRestore", e.Account, strconv.Itoa(e.ItemID), "target", "maildir:"+filepath.Join(dir, "other"),
			"restore_folder", "Recovered", "dry_run", "true", "--backup-path", s.root, "--state-dir", st)
		assert.Equal(t, []string{fmt.Sprintf("%s %d Recovered", e.Account, e.ItemID)}, wouldRestore(t, r.stdout))
		assert.NoDirExists(t, filepath.Join(dir, "other"))
	})
}
