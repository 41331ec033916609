package opqueue

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/tidwall/buntdb"
)

// Run is the runner: it runs queued operations one at a time, oldest
// first, until ctx ends. When ctx ends while an operation runs, that
// operation's context is cancelled, Run waits for its handler to return and
// records it as stopped (NoteShutdown), then returns nil. Only one Run may
// be active at a time (ErrRunning).
func (q *Queue) Run(ctx context.Context) error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return ErrClosed
	}
	if q.runnerActive {
		q.mu.Unlock()
		return ErrRunning
	}
	q.runnerActive = true
	q.mu.Unlock()
	defer func() {
		q.mu.Lock()
		q.runnerActive = false
		q.mu.Unlock()
	}()

	for ctx.Err() == nil {
		op, h, opCtx, ok, err := q.claim(ctx)
		if err != nil {
			return err
		}
		if !ok {
			select {
			case <-ctx.Done():
			case <-q.wake:
			}
			continue
		}
		report, herr := callHandler(opCtx, h, op, q.progressFunc(op.ID))
		q.finish(ctx, report, herr)
	}
	return nil
}

// claim marks the oldest queued operation running and makes it q.running.
// ok is false when nothing is queued.
func (q *Queue) claim(ctx context.Context) (op Op, h Handler, opCtx context.Context, ok bool, err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return Op{}, nil, nil, false, ErrClosed
	}
	err = q.db.Update(func(tx *buntdb.Tx) error {
		serr := scanOps(tx, func(key string, o Op, derr error) bool {
			if derr != nil {
				q.log.Warn("operation queue: skipping malformed record", "err", derr)
				return true
			}
			if o.State == Queued {
				op, ok = o, true
				return false
			}
			return true
		})
		if serr != nil || !ok {
			return serr
		}
		op.State = Running
		op.Started = q.now()
		return putOp(tx, op)
	})
	if err != nil {
		return Op{}, nil, nil, false, fmt.Errorf("take next operation: %w", err)
	}
	if !ok {
		return Op{}, nil, nil, false, nil
	}
	var cancel context.CancelFunc
	opCtx, cancel = context.WithCancel(ctx)
	q.running = &runState{op: op, cancel: cancel, lastPersist: time.Now()}
	q.notifyLocked(op)
	h = q.handlers[op.Kind]
	if h == nil {
		h = func(context.Context, *Op, ProgressFunc) (string, error) {
			return "", fmt.Errorf("%w %q: no handler registered", ErrUnknownKind, op.Kind)
		}
	}
	return op.clone(), h, opCtx, true, nil
}

// callHandler runs h, turning a panic into an error.
func callHandler(ctx context.Context, h Handler, op Op, progress ProgressFunc) (report string, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("operation handler panicked: %v\n%s", r, debug.Stack())
		}
	}()
	return h(ctx, &op, progress)
}

func (q *Queue) progressFunc(id string) ProgressFunc {
	return func(p Progress) {
		q.mu.Lock()
		defer q.mu.Unlock()
		rs := q.running
		if q.closed || rs == nil || rs.op.ID != id {
			return // late call after the operation ended
		}
		rs.op.Progress = p
		q.notifyLocked(rs.op)
		if q.persistEvery < 0 || time.Since(rs.lastPersist) < q.persistEvery {
			return
		}
		rs.lastPersist = time.Now()
		op := rs.op
		if err := q.db.Update(func(tx *buntdb.Tx) error { return putOp(tx, op) }); err != nil {
			q.log.Warn("operation queue: cannot record progress", "id", id, "err", err)
		}
	}
}

// finish records the outcome of the running operation.
func (q *Queue) finish(runCtx context.Context, report string, err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	rs := q.running
	q.running = nil
	rs.cancel()
	op := rs.op
	op.Ended = q.now()
	op.Result = report
	op.State = OutcomeOf(err, rs.stopNote != "" || runCtx.Err() != nil)
	switch op.State {
	case Done:
	case Stopped:
		op.Error = rs.stopNote
		if op.Error == "" {
			op.Error = NoteShutdown
		}
		if !errors.Is(err, context.Canceled) {
			op.Error += ": " + err.Error()
		}
	default:
		op.Error = err.Error()
	}
	if q.closed {
		q.log.Warn("operation queue closed before the operation ended; outcome not recorded", "id", op.ID, "state", op.State)
		return
	}
	if werr := q.db.Update(func(tx *buntdb.Tx) error { return putOp(tx, op) }); werr != nil {
		q.log.Error("operation queue: cannot record the end of an operation", "id", op.ID, "state", op.State, "err", werr)
	}
	q.notifyLocked(op)
}

// OutcomeOf is the state an operation that returned err ends in, the one
// rule (the queue, the service's log and its metrics use it): done for
// nil, stopped when its context ended, partial for an error wrapping
// ErrPartial, failed otherwise.
func OutcomeOf(err error, stopped bool) State {
	switch {
	case err == nil:
		return Done
	case stopped:
		return Stopped
	case errors.Is(err, ErrPartial):
		return Partial
	default:
		return Failed
	}
}
