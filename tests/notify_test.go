package tests

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/internal/notify/notifytest"
	"github.com/cbfs/cbfs/sample"
)

// TestNotifyEveryOperation: not only restores: any operation's report goes
// to its notifications addresses when --smtp names a server.
func TestNotifyEveryOperation(t *testing.T) {
	dir := t.TempDir()
	bp := filepath.Join(dir, "bp")
	_, err := sample.Generate(context.Background(), bp, sample.Options{Seed: 11})
	require.NoError(t, err)
	mail := notifytest.Start(t)

	r := ok(t, "backup", "doCoherencyCheck", "notifications", "ops@example.com",
		"--smtp", mail.Addr, "--backup-path", bp, "--state-dir", filepath.Join(dir, "st"))
	assert.Contains(t, r.stdout, "- notifications -\nops@example.com\n(sent through "+mail.Addr+")\n")
	m := mail.Last()
	require.Equal(t, []string{"ops@example.com"}, m.To)
	assert.Contains(t, m.Data, "Subject: [cbfs] Operation Completed: doCoherencyCheck\r\n")
	// The mail carries the report: its first line is in both.
	first, _, _ := strings.Cut(r.stdout, "\n")
	require.NotEmpty(t, first)
	assert.Contains(t, m.Data, first+"\r\n")
}

// An SMTP server that wants a login: --smtp-user with its password from a
// file (never argv) sends the report; a wrong password is said at once.
func TestNotifySMTPLogin(t *testing.T) {
	dir := t.TempDir()
	bp := filepath.Join(dir, "bp")
	_, err := sample.Generate(context.Background(), bp, sample.Options{Accounts: 3, Messages: 3, Seed: 12})
	require.NoError(t, err)
	mail := notifytest.StartAuth(t, "reports", "smtp-S3cret")
	pwFile := filepath.Join(dir, "smtp-password")
	writeFile(t, pwFile, []byte("smtp-S3cret\n"))

	r := ok(t, "backup", "doCoherencyCheck", "notifications", "ops@example.com",
		"--smtp", mail.Addr, "--smtp-user", "reports", "--smtp-password-file", pwFile,
		"--backup-path", bp, "--state-dir", filepath.Join(dir, "st"))
	assert.Contains(t, r.stdout, "(sent through "+mail.Addr+")")
	require.Len(t, mail.Mails(), 1)
	assert.NotContains(t, r.stdout+r.stderr, "smtp-S3cret")

	writeFile(t, pwFile, []byte("wrong\n"))
	r = ok(t, "backup", "doCoherencyCheck", "notifications", "ops@example.com",
		"--smtp", mail.Addr, "--smtp-user", "reports", "--smtp-password-file", pwFile,
		"--backup-path", bp, "--state-dir", filepath.Join(dir, "st2"))
	assert.Contains(t, r.stdout, "(not sent: ")
	assert.Len(t, mail.Mails(), 1, "nothing sent with a wrong password")
	assert.Positive(t, mail.AuthFailures())

	// No password anywhere: one clear line before any work.
	fails(t, 1, "password of --smtp-user", "backup", "doCoherencyCheck", "notifications", "ops@example.com",
		"--smtp", mail.Addr, "--smtp-user", "reports", "--backup-path", bp, "--state-dir", filepath.Join(dir, "st3"))
}
