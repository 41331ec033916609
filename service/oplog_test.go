package service

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/opqueue"
)

func logLines(t *testing.T, b *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), line)
		out = append(out, m)
	}
	return out
}

func TestOperationLog(t *testing.T) {
	run := func(every time.Duration, h opqueue.Handler, ctx context.Context) []map[string]any {
		var b bytes.Buffer
		log := slog.New(slog.NewJSONHandler(&b, nil))
		op := &opqueue.Op{ID: "op-1", Kind: "doSmartScan", Params: map[string]string{"source": "imap://admin:***@host"}}
		var seen []opqueue.Progress
		logged(log, every, h)(ctx, op, func(p opqueue.Progress) { seen = append(seen, p) })
		assert.Len(t, seen, 3, "every progress reaches the queue")
		return logLines(t, &b)
	}
	three := func(report string, err error) opqueue.Handler {
		return func(ctx context.Context, op *opqueue.Op, progress opqueue.ProgressFunc) (string, error) {
			for i := range 3 {
				progress(opqueue.Progress{Done: int64(i + 1), Total: 3, Phase: "accounts"})
			}
			return report, err
		}
	}

	t.Run("done, progress throttled", func(t *testing.T) {
		lines := run(time.Hour, three("Accounts Scanned: 2\nItems New: 6\n", nil), context.Background())
		require.Len(t, lines, 2, "no progress line within the interval")
		assert.Equal(t, "operation started", lines[0]["msg"])
		assert.Equal(t, "op-1", lines[0]["id"])
		assert.Equal(t, "doSmartScan", lines[0]["kind"])
		assert.Equal(t, map[string]any{"source": "imap://admin:***@host"}, lines[0]["params"])
		assert.Equal(t, "operation ended", lines[1]["msg"])
		assert.Equal(t, "done", lines[1]["state"])
		assert.Equal(t, "Accounts Scanned: 2, Items New: 6", lines[1]["result"], "the counts, on one line")
		assert.Contains(t, lines[1], "duration")
		assert.NotContains(t, lines[1], "err")
	})
	t.Run("every progress when due", func(t *testing.T) {
		lines := run(time.Nanosecond, three("", nil), context.Background())
		require.Len(t, lines, 5)
		assert.Equal(t, "operation progress", lines[3]["msg"])
		assert.EqualValues(t, 3, lines[3]["done"])
		assert.EqualValues(t, 3, lines[3]["total"])
		assert.Equal(t, "accounts", lines[3]["phase"])
	})
	t.Run("failed", func(t *testing.T) {
		lines := run(time.Hour, three("Accounts Scanned: 1", errors.New("login refused")), context.Background())
		assert.Equal(t, "failed", lines[1]["state"])
		assert.Equal(t, "ERROR", lines[1]["level"])
		assert.Equal(t, "login refused", lines[1]["err"])
		assert.Equal(t, "Accounts Scanned: 1; login refused", lines[1]["result"])
	})
	t.Run("partial", func(t *testing.T) {
		report := "- stats -\nRestored Items: 3\nSkipped Items:  0\nUnrestored Items: 1\n\n- unrestored items -\naccount: a@x\nunrestored items: 7\n"
		err := fmt.Errorf("%w restore: 3 items restored, 1 items unrestored, 0 accounts failed; first: account a@x item 7: invalid: NO [OVERQUOTA]", opqueue.ErrPartial)
		lines := run(time.Hour, three(report, err), context.Background())
		assert.Equal(t, "partial", lines[1]["state"])
		assert.Equal(t, "WARN", lines[1]["level"])
		assert.Equal(t, "Restored Items: 3, Skipped Items: 0, Unrestored Items: 1; partial restore: 3 items restored, 1 items unrestored, "+
			"0 accounts failed; first: account a@x item 7: invalid: NO [OVERQUOTA]", lines[1]["result"])
	})
	t.Run("done restore: the counts, not the section title", func(t *testing.T) {
		lines := run(time.Hour, three("- stats -\nRestored Items: 3\nSkipped Items:  0\nUnrestored Items: 0\n", nil), context.Background())
		assert.Equal(t, "INFO", lines[1]["level"])
		assert.Equal(t, "Restored Items: 3, Skipped Items: 0, Unrestored Items: 0", lines[1]["result"])
	})
	t.Run("stopped", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		lines := run(time.Hour, three("", context.Canceled), ctx)
		assert.Equal(t, "stopped", lines[1]["state"])
		assert.Equal(t, "WARN", lines[1]["level"], "INFO is a full success only")
		assert.NotContains(t, lines[1], "err")
	})
}
