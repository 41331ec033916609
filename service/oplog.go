package service

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/cbfs/cbfs/opqueue"
)

// DefaultProgressLogEvery is how often a running operation's progress is
// logged when Options.ProgressLogEvery is 0.
const DefaultProgressLogEvery = time.Minute

// logged wraps a handler so that the service log tells what the runner
// does: "operation started" (id, kind and the parameters as the queue stores
// them, i.e. already redacted), "operation progress" at most once per every
// (done, total, phase), and "operation ended" (state, duration, the first
// line of the result, the error). Without it the log only said "operation
// enqueued", and an operation that ran for hours left no trace.
func logged(log *slog.Logger, every time.Duration, h opqueue.Handler) opqueue.Handler {
	return func(ctx context.Context, op *opqueue.Op, progress opqueue.ProgressFunc) (report string, err error) {
		l := log.With("id", op.ID, "kind", op.Kind)
		start := time.Now()
		args := []any{}
		if len(op.Params) > 0 {
			args = append(args, "params", op.Params)
		}
		l.Info("operation started", args...)
		var mu sync.Mutex
		last := start
		wrapped := func(p opqueue.Progress) {
			progress(p)
			mu.Lock()
			now := time.Now()
			due := now.Sub(last) >= every
			if due {
				last = now
			}
			mu.Unlock()
			if due {
				pargs := []any{"done", p.Done, "total", p.Total}
				if p.Phase != "" {
					pargs = append(pargs, "phase", p.Phase)
				}
				l.Info("operation progress", pargs...)
			}
		}
		defer func() {
			r := recover()
			state := opqueue.Done
			switch {
			case r != nil:
				state = opqueue.Failed
			case err == nil:
			case ctx.Err() != nil:
				state = opqueue.Stopped
			default:
				state = opqueue.Failed
			}
			eargs := []any{"state", state, "duration", time.Since(start).Round(time.Millisecond).String()}
			if first := firstLine(report); first != "" {
				eargs = append(eargs, "result", first)
			}
			switch {
			case r != nil:
				l.Error("operation ended", append(eargs, "err", "handler panicked")...)
				panic(r) // the queue records it
			case err != nil && state == opqueue.Stopped && errors.Is(err, context.Canceled):
				l.Info("operation ended", eargs...)
			case err != nil && state == opqueue.Stopped:
				l.Warn("operation ended", append(eargs, "err", err.Error())...)
			case err != nil:
				l.Error("operation ended", append(eargs, "err", err.Error())...)
			default:
				l.Info("operation ended", eargs...)
			}
		}()
		return h(ctx, op, wrapped)
	}
}

// firstLine is the first non-blank line of s, trimmed.
func firstLine(s string) string {
	for _, line := range strings.Split(s, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			return line
		}
	}
	return ""
}
