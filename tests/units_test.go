package tests

// The shipped systemd units, man pages and `make install`
// (packaging/), and the service's structured log of operations.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/internal/dovecot"
)

// TestServeLogJSON: with --log-format json every line of the service's log
// is a JSON object, and an operation logs its start and its end with its
// id and kind, and no password.
func TestServeLogJSON(t *testing.T) {
	users := map[string]string{"alice@example.test": "pw"}
	dv := dovecot.Start(t, users)
	require.NoError(t, dv.Deliver("ann@example.com", []string{"alice@example.test"}, serveMsg("hello", "body")))

	dir := t.TempDir()
	bin := mountBinary(t, dir)
	root, st := filepath.Join(dir, "bp"), filepath.Join(dir, "st")
	accounts := filepath.Join(dir, "accounts")
	require.NoError(t, os.WriteFile(accounts, []byte("alice@example.test\n"), 0o644))
	srv := serveStart(t, bin, st, "--backup-path", root, "--source", dv.SourceURL(), "--accounts-file", accounts, "--log-format", "json")
	ok(t, "backup", "doSmartScan", "--wait", "--state-dir", st)
	srv.term(t)

	log := srv.stderr.String()
	require.NotEmpty(t, dv.AdminPass)
	assert.NotContains(t, log, dv.AdminPass, "the log shows no password")
	var msgs []string
	var started, ended map[string]any
	for _, line := range strings.Split(strings.TrimSpace(log), "\n") {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), "not JSON: %q\n%s", line, log)
		msg, _ := m["msg"].(string)
		msgs = append(msgs, msg)
		switch msg {
		case "operation started":
			started = m
		case "operation ended":
			ended = m
		}
	}
	require.NotNil(t, started, "no start line:\n%s", log)
	require.NotNil(t, ended, "no end line:\n%s", log)
	assert.Equal(t, "doSmartScan", started["kind"])
	assert.NotEmpty(t, started["id"])
	assert.Equal(t, started["id"], ended["id"])
	assert.Equal(t, "doSmartScan", ended["kind"])
	assert.Equal(t, "done", ended["state"])
	assert.NotEmpty(t, ended["duration"])
	assert.NotEmpty(t, ended["result"])
	assert.Subset(t, msgs, []string{"operation enqueued", "operation started", "operation ended"})
}
