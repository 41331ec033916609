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
