package restore

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/internal/dovecot"
	"github.com/cbfs/cbfs/mailbox"
)

// plannedOf lists a dry run's planned items as "account id folder".
func plannedOf(rep *Report) []string {
	var out []string
	for _, a := range rep.Accounts {
		for _, p := range a.Planned {
			out = append(out, fmt.Sprintf("%s %d %s", a.Account, p.ID, p.Folder))
		}
	}
	sort.Strings(out)
	return out
}

// restoredOf lists what a real run recorded in the ledger, in the same
// form.
func restoredOf(t *testing.T, l *Ledger) []string {
	m, err := l.Map()
	require.NoError(t, err)
	var out []string
	for _, e := range m {
		out = append(out, fmt.Sprintf("%s %d %s", e.Account, e.ItemID, e.Folder))
	}
	sort.Strings(out)
	return out
}

// TestDryRunMaildir runs each restore with dry_run against a Maildir
// target that already holds a restored account: the target's tree and
// the ledger do not change, and the items the dry run lists are exactly
// those the real run then restores (same items, same folders), with the
// same counts.
func TestDryRunMaildir(t *testing.T) {
	f := sampleFixture(t)
	acts := f.activeAccounts()
	a := acts[1]
	var ua *mailbox.Account
	start, end := time.Date(2023, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	var itemID int
	for _, acct := range acts {
		if w := deletedIn(f, acct, start, end); len(w) >= 2 {
			ua = acct
			for id := range w {
				itemID = id
				break
			}
			break
		}
	}
	require.NotNil(t, ua, "the sample has an account with deleted messages")
	now := func() time.Time { return time.Date(2024, 8, 15, 10, 0, 0, 0, time.UTC) }

	for _, tc := range []struct {
		name string
		run  func(tgt Target, l *Ledger, opt Options) (*Report, error)
	}{
		{"doExternalRestore", func(tgt Target, l *Ledger, opt Options) (*Report, error) {
			opt.ConcurrentAccounts = 2
			return ExternalRestore(context.Background(), f.p, tgt, l, opt)
		}},
		{"doRestoreOnNewAccount", func(tgt Target, l *Ledger, opt Options) (*Report, error) {
			return RestoreOnNewAccount(context.Background(), f.p, a.Name, "new@example.test",
				time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC), true, tgt, l, opt)
		}},
		{"doUndelete", func(tgt Target, l *Ledger, opt Options) (*Report, error) {
			return Undelete(context.Background(), f.p, ua.Name, start, end, tgt, l, opt)
		}},
		{"doItemRestore", func(tgt Target, l *Ledger, opt Options) (*Report, error) {
			return ItemRestore(context.Background(), f.p, ua.Name, itemID, time.Time{}, tgt, l, opt)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "target")
			require.NoError(t, os.MkdirAll(root, 0o755))
			// The target already holds an account, restored before.
			_, err := RestoreOnNewAccount(context.Background(), f.p, acts[0].Name, "earlier@example.test", time.Time{}, false,
				NewMaildir(root), openLedger(t), DefaultOptions())
			require.NoError(t, err)
			before, err := treeHash(root)
			require.NoError(t, err)
			l := openLedger(t)
			opt := DefaultOptions()
			opt.Now = now
			dry := opt
			dry.DryRun = true

			drep, err := tc.run(NewMaildir(root), l, dry)
			require.NoError(t, err)
			t.Logf("\n%s", drep)
			after, err := treeHash(root)
			require.NoError(t, err)
			assert.Equal(t, before, after, "the target's tree did not change")
			m, err := l.Map()
			require.NoError(t, err)
			assert.Empty(t, m, "no ledger entry")
			assert.True(t, drep.DryRun)
			assert.Contains(t, drep.String(), "- dry run -")
			assert.Contains(t, drep.String(), "- would restore -")
			planned := plannedOf(drep)
			require.NotEmpty(t, planned)
			assert.Len(t, planned, drep.Restored)

			rep, err := tc.run(NewMaildir(root), l, opt)
			require.NoError(t, err)
			assert.Equal(t, restoredOf(t, l), planned, "the dry run listed what the restore restored, into the same folders")
			assert.Equal(t, rep.Restored, drep.Restored)
			assert.Equal(t, rep.Unrestored, drep.Unrestored)
			assert.Equal(t, rep.Bytes, drep.Bytes)
			assert.Equal(t, rep.Other, drep.Other)

			// Once restored, a dry run says every item would be skipped.
			again, err := tc.run(NewMaildir(root), l, dry)
			require.NoError(t, err)
			assert.Zero(t, again.Restored)
			assert.Equal(t, rep.Restored, again.Skipped)
			assert.Empty(t, plannedOf(again))
		})
	}
}

// TestDryRunIMAP runs a dry external restore into a real Dovecot: no
// folder and no message appear (read back through IMAP), the login is
// still checked, and the listed items are those the real restore then
// writes.
func TestDryRunIMAP(t *testing.T) {
	f := sampleFixture(t)
	s, tgt := startDovecot(t, f)
	l := openLedger(t)
	opt := DefaultOptions()
	dry := opt
	dry.DryRun = true
	type box struct {
		msgs    []want
		folders []string
	}
	read := func() map[string]box {
		out := map[string]box{}
		for _, a := range f.activeAccounts() {
			m, fo := readIMAP(t, s, a.Name)
			sort.Strings(fo)
			out[a.Name] = box{m, fo}
		}
		return out
	}
	before := read()
	drep, err := ExternalRestore(context.Background(), f.p, tgt, l, dry)
	require.NoError(t, err)
	assert.Equal(t, before, read(), "no folder, no message on the target")
	m, err := l.Map()
	require.NoError(t, err)
	assert.Empty(t, m, "no ledger entry")
	require.Positive(t, drep.Restored)

	rep, err := ExternalRestore(context.Background(), f.p, tgt, l, opt)
	require.NoError(t, err)
	assert.Equal(t, restoredOf(t, l), plannedOf(drep))
	assert.Equal(t, rep.Restored, drep.Restored)
	assert.Equal(t, rep.Unrestored, drep.Unrestored)

	t.Run("a wrong password fails the dry run too", func(t *testing.T) {
		bad, err := ParseTarget("imap://" + dovecot.Admin + ":wrong@" + s.IMAPAddr)
		require.NoError(t, err)
		_, err = ExternalRestore(context.Background(), f.p, bad, openLedger(t), dry)
		require.ErrorIs(t, err, ErrLoginRefused)
	})
}
