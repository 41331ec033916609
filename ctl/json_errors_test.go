package ctl

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// With --json every error is one JSON object on stderr, whatever stage
// found it (the command line, the run) and wherever --json stands; without
// it, the "cbctl: error:" line.
func TestJSONErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nowhere")
	for _, tc := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"usage: unknown flag", []string{"backup", "getBackupInfo", "--json", "--no-such-flag"}, ExitUsage, "no-such-flag"},
		{"usage: --json first", []string{"--json", "backup", "getItem", "a@x", "1", "backup_path", missing, "date", "32/13/2013"}, ExitUsage, "bad date"},
		{"operational", []string{"backup", "getBackupInfo", missing, "--json"}, ExitError, "nowhere"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := Main(context.Background(), tc.args, &out, &errb)
			require.Equal(t, tc.code, code, "stderr: %s", errb.String())
			lines := strings.Split(strings.TrimRight(errb.String(), "\n"), "\n")
			require.Len(t, lines, 1, "one line: %q", errb.String())
			var e struct {
				Error      string `json:"error"`
				ExitStatus int    `json:"exitStatus"`
			}
			require.NoError(t, json.Unmarshal([]byte(lines[0]), &e), "stderr is JSON: %q", lines[0])
			assert.Contains(t, e.Error, tc.msg)
			assert.Equal(t, tc.code, e.ExitStatus)
			assert.Empty(t, out.String())

			// The same without --json: the text line.
			var plain []string
			for _, a := range tc.args {
				if a != "--json" {
					plain = append(plain, a)
				}
			}
			out.Reset()
			errb.Reset()
			require.Equal(t, tc.code, Main(context.Background(), plain, &out, &errb))
			assert.True(t, strings.HasPrefix(errb.String(), "cbctl: error: "), errb.String())
		})
	}
}
