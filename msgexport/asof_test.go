package msgexport

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/restore"
)

// sums lists the SHA-256 of the files under root that keep returns true
// for, sorted.
func sums(t *testing.T, root string, keep func(path string) bool) []string {
	t.Helper()
	var out []string
	require.NoError(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		require.NoError(t, err)
		if d.Type().IsRegular() && keep(p) {
			b, err := os.ReadFile(p)
			require.NoError(t, err)
			s := sha256.Sum256(b)
			out = append(out, hex.EncodeToString(s[:]))
		}
		return nil
	}))
	sort.Strings(out)
	return out
}

// TestAsOfAgreesWithRestore: an account exported as of a moment, with or
// without its deleted messages, holds exactly the messages a restore of
// that account at that moment writes (doRestoreOnNewAccount's rule, the
// model's one: the state in force then; a deleted one in its last live
// state, when asked).
func TestAsOfAgreesWithRestore(t *testing.T) {
	src, rep := genSample(t)
	ctx := context.Background()
	moments := []time.Time{{}, time.Date(2023, 6, 1, 0, 0, 0, 0, time.UTC), time.Date(2023, 1, 15, 0, 0, 0, 0, time.UTC)}
	total := 0
	for _, acct := range rep.Accounts {
		a, err := src.FindAccount(acct)
		require.NoError(t, err)
		for _, at := range moments {
			for _, deleted := range []bool{false, true} {
				dir := t.TempDir()
				res, err := Run(ctx, src, filepath.Join(dir, "exp"), Options{Format: FormatEML, Accounts: []string{a.ID}, At: at, Deleted: deleted, NoSync: true})
				require.NoError(t, err)
				l, err := restore.OpenLedger(":memory:")
				require.NoError(t, err)
				md := restore.NewMaildir(filepath.Join(dir, "md"))
				md.NoSync = true
				_, err = restore.RestoreOnNewAccount(ctx, src, acct, "copy@example.test", at, deleted, md, l, restore.DefaultOptions())
				l.Close()
				if err != nil {
					require.ErrorContains(t, err, "unrestored") // damaged items: left out by both
				}
				want := sums(t, filepath.Join(dir, "md"), func(p string) bool {
					d := filepath.Base(filepath.Dir(p))
					return d == "cur" || d == "new"
				})
				got := sums(t, filepath.Join(dir, "exp"), func(p string) bool { return strings.HasSuffix(p, ".eml") })
				assert.Equal(t, want, got, "%s at %v deleted %t", acct, at, deleted)
				assert.Equal(t, res.Messages, len(got))
				total += len(got)
				t.Logf("%s at %v deleted %t: %d messages", acct, at.Format(time.DateOnly), deleted, len(got))
			}
		}
	}
	assert.Greater(t, total, 50)
}
