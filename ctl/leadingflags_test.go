package ctl

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHoistLeadingFlags(t *testing.T) {
	k, err := New(&CLI{})
	require.NoError(t, err)
	for _, tt := range []struct{ in, want string }{
		{"--state-dir X backup getAllOperations", "backup getAllOperations --state-dir X"},
		{"--json --state-dir=X backup getAllOperations --json", "--json backup getAllOperations --state-dir=X --json"},
		{"--backup-path P backup getBackupInfo", "--backup-path P backup getBackupInfo"},
		{"--debug --source maildir:/m backup doSmartScan", "--debug backup doSmartScan --source maildir:/m"},
		{"backup getAllOperations --state-dir X", "backup getAllOperations --state-dir X"},
	} {
		got := hoistLeadingFlags(k.Model, strings.Fields(tt.in))
		assert.Equal(t, tt.want, strings.Join(got, " "), tt.in)
	}
}

// The whole command line: a command's flag before the verb is no usage
// error.
func TestGlobalFlagsBeforeVerb(t *testing.T) {
	t.Setenv("CBFS_CONFIG", "none")
	st := filepath.Join(t.TempDir(), "st")
	var out, errb bytes.Buffer
	code := Main(context.Background(), []string{"--state-dir", st, "backup", "getAllOperations"}, &out, &errb)
	assert.NotContains(t, errb.String(), "unknown flag")
	assert.NotEqual(t, ExitUsage, code, errb.String())
}

// Ctrl-C (the context cancelled) says "stopped", not "context canceled".
func TestInterruptSaysStopped(t *testing.T) {
	t.Setenv("CBFS_CONFIG", "none")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errb bytes.Buffer
	code := Main(ctx, []string{"sample", filepath.Join(t.TempDir(), "bp")}, &out, &errb)
	assert.Equal(t, ExitError, code)
	assert.Equal(t, "cbctl: stopped\n", errb.String())
}
