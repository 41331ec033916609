package operations

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// writeMaildirSource makes a Maildir source tree (<root>/<domain>/<user>/Maildir)
// with n messages per account in the Inbox, and returns "maildir:<root>".
func writeMaildirSource(t *testing.T, accounts []string, n int) string {
	t.Helper()
	root := t.TempDir()
	for ai, a := range accounts {
		local, domain, _ := strings.Cut(a, "@")
		box := filepath.Join(root, domain, local, "Maildir")
		for _, sub := range []string{"cur", "new", "tmp"} {
			require.NoError(t, os.MkdirAll(filepath.Join(box, sub), 0o755))
		}
		for i := range n {
			body := fmt.Sprintf("From: a@example.com\nTo: %s\nSubject: m%d\nMessage-ID: <m%d.%d@example.com>\n\nhello %d\n", a, i, ai, i, i)
			name := filepath.Join(box, "cur", fmt.Sprintf("17000%02d%03d.M1P1.host,S=%d:2,S", ai, i, len(body)))
			require.NoError(t, os.WriteFile(name, []byte(body), 0o644))
			when := time.Date(2024, 5, 1, 9, 0, i, 0, time.UTC)
			require.NoError(t, os.Chtimes(name, when, when))
		}
		old := time.Now().Add(-time.Hour)
		for _, d := range []string{box, filepath.Join(box, "cur"), filepath.Join(box, "new")} {
			require.NoError(t, os.Chtimes(d, old, old))
		}
	}
	return "maildir:" + root
}

// newScanRunner is a Runner whose source is src, on its own Backup Path and
// state directory under dir.
func newScanRunner(t *testing.T, bp, stateDir, src string) *Runner {
	t.Helper()
	r, err := New(Settings{BackupPath: bp, Flags: Flags{StateDir: stateDir, Source: src}}, nil)
	require.NoError(t, err)
	return r
}
