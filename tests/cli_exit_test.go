package tests

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/internal/dovecot"
	"github.com/cbfs/cbfs/sample"
)

// Exit codes a script can trust: a restore that restored nothing because
// of an error exits 1 with the reason on one line; one that restored some
// and failed some exits 3; everything restored exits 0.
func TestExitCodesRestore(t *testing.T) {
	s := restoreSample(t, sample.Options{Accounts: 3, Messages: 8, Seed: 11})
	users := map[string]string{}
	for _, a := range s.active {
		users[a.Name] = "pw"
	}
	dv := dovecot.Start(t, users)
	dir := t.TempDir()

	t.Run("wrong master password: exit 1 at once, one line, nothing reported invalid", func(t *testing.T) {
		bad := strings.Replace(dv.SourceURL(), ":"+dv.AdminPass+"@", ":wrong-password@", 1)
		require.NotEqual(t, dv.SourceURL(), bad)
		r := fails(t, 1, "the target refused the login", "backup", "doExternalRestore", s.root, "target", bad,
			"--state-dir", filepath.Join(dir, "st1"))
		assert.Contains(t, r.stderr, "wrong master password")
		assert.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line on stderr, no log line: %q", r.stderr)
		assert.NotContains(t, r.stdout, "invalid")
		assert.NotContains(t, r.stderr, "wrong-password", "the password is never printed")
	})

	t.Run("target unreachable: exit 1, one line", func(t *testing.T) {
		r := fails(t, 1, "127.0.0.1:1", "backup", "doExternalRestore", s.root, "target", "imap://admin:pw@127.0.0.1:1",
			"--state-dir", filepath.Join(dir, "st2"))
		assert.Equal(t, 1, strings.Count(r.stderr, "\n"), "%q", r.stderr)
	})

	t.Run("no such account: exit 1", func(t *testing.T) {
		fails(t, 1, "account nobody@nowhere.test: not found in the backup", "backup", "doExternalRestore", s.root, "target", "maildir:"+filepath.Join(dir, "m3"),
			"accounts", "nobody@nowhere.test", "--state-dir", filepath.Join(dir, "st3"))
		fails(t, 1, "not found", "backup", "doRestoreOnNewAccount", "nobody@nowhere.test", "new@example.test", "last",
			"target", "maildir:"+filepath.Join(dir, "m3"), "--backup-path", s.root, "--state-dir", filepath.Join(dir, "st3"))
	})

	t.Run("some restored, some not: exit 3, the report on stdout", func(t *testing.T) {
		r := restoredSome(t, "backup", "doExternalRestore", s.root, "target", dv.SourceURL(), "--state-dir", filepath.Join(dir, "st4"))
		if r.code == 3 {
			assert.Contains(t, r.stderr, "partial restore")
			assert.Equal(t, 1, strings.Count(r.stderr, "\n"), "%q", r.stderr)
		}
		assert.Positive(t, statLine(t, r.stdout, "Restored Items"))
	})

	t.Run("only sound items: exit 0", func(t *testing.T) {
		a := s.active[0]
		it := oldestLiveMail(t, s, a)
		ok(t, "backup", "doItemRestore", a.Name, itoa(it.ID), "target", dv.SourceURL(), "--backup-path", s.root,
			"--state-dir", filepath.Join(dir, "st5"))
	})
}
