package service

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/cbfs/cbfs/internal/grammar"
	"github.com/cbfs/cbfs/opqueue"
)

// DefaultProgressLogEvery is how often a running operation's progress is
// logged when Options.ProgressLogEvery is 0.
const DefaultProgressLogEvery = time.Minute

// logged wraps a handler so that the service log tells what the runner
// does: "operation started" (id, kind and the parameters as the queue stores
// them, i.e. already redacted), "operation progress" at most once per every
// (done, total, phase), and "operation ended" (state, duration, result: the
// report's counts and the first error on one line, err) at INFO for a full
// success only, WARN when partial or stopped, ERROR when failed. Without it the log only said "operation
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
			state := opqueue.OutcomeOf(err, ctx.Err() != nil)
			if r != nil {
				state = opqueue.Failed
			}
			eargs := []any{"state", state, "duration", time.Since(start).Round(time.Millisecond).String()}
			var why error
			switch {
			case r != nil:
				why = errors.New("handler panicked")
			case err != nil && !(state == opqueue.Stopped && errors.Is(err, context.Canceled)):
				why = err
			}
			if res := resultLine(report, why); res != "" {
				eargs = append(eargs, "result", res)
			}
			if why != nil {
				eargs = append(eargs, "err", why.Error())
			}
			// INFO is a full success only: what did not fully succeed
			// stands out in the log.
			switch state {
			case opqueue.Done:
				l.Info("operation ended", eargs...)
			case opqueue.Partial, opqueue.Stopped:
				l.Warn("operation ended", eargs...)
			default:
				l.Error("operation ended", eargs...)
			}
			if r != nil {
				panic(r) // the queue records it
			}
		}()
		return h(ctx, op, wrapped)
	}
}

// resultLine is the log's one-line summary of an operation's end: the
// counts of its report ("Restored Items: 3, Skipped Items: 0, Unrestored
// Items: 1", the "key: value" lines of its first section, section titles
// such as "- stats -" left out), then the first error (err: the partial
// or failed operation's, which names its first failure).
func resultLine(report string, err error) string {
	var counts []string
	for _, line := range strings.Split(report, "\n") {
		line = strings.Join(strings.Fields(line), " ")
		title := strings.HasPrefix(line, "- ") && strings.HasSuffix(line, " -")
		if (line == "" || title) && len(counts) > 0 {
			break // the first section ended
		}
		if line != "" && !title {
			counts = append(counts, line)
		}
	}
	out := strings.Join(counts, ", ")
	if err != nil {
		e := grammar.OneLine(err.Error())
		if out == "" {
			return e
		}
		out += "; " + e
	}
	return out
}
