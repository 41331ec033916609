package opqueue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"time"
)

// State is where an operation is in its life.
type State string

// The states of an operation. Done, Partial, Stopped and Failed are
// final. Done is a full success only: an operation that did part of its
// work (items not restored, accounts not scanned) is Partial, so that an
// outcome with failures never reads as done.
const (
	Queued  State = "queued"
	Running State = "running"
	Done    State = "done"
	Partial State = "partial"
	Stopped State = "stopped"
	Failed  State = "failed"
)

// Finished reports whether s is a final state.
func (s State) Finished() bool { return s == Done || s == Partial || s == Stopped || s == Failed }

// Progress is how far a running operation has got: Done of Total units
// (Total 0: unknown), what a unit is (Unit: "items", "messages", "blobs",
// "accounts", "bytes"; empty in records written before it existed), the
// bytes handled so far when the work knows them, and a free-text Phase
// ("provisioning", "account 3/10 john@example.com", ...). The unit is
// what moves (a one-account restore of 900 items counts 900 items, not
// one account), so a bar drawn from it advances and its rate means
// something.
type Progress struct {
	Done  int64  `json:"done"`
	Total int64  `json:"total"`
	Unit  string `json:"unit,omitempty"`
	Bytes int64  `json:"bytes,omitempty"`
	Phase string `json:"phase,omitempty"`
}

// Op is one operation. Values returned by the Queue are copies.
type Op struct {
	ID       string            `json:"id"`
	Seq      uint64            `json:"seq"` // enqueue sequence: FIFO order
	Kind     string            `json:"kind"`
	Params   map[string]string `json:"params,omitempty"`
	State    State             `json:"state"`
	Progress Progress          `json:"progress"`
	Created  time.Time         `json:"created"`
	Started  time.Time         `json:"started,omitzero"`
	Ended    time.Time         `json:"ended,omitzero"`
	Result   string            `json:"result,omitempty"` // the handler's report
	Error    string            `json:"error,omitempty"`  // why it failed or was stopped
}

func (o Op) clone() Op {
	o.Params = maps.Clone(o.Params)
	return o
}

func decodeOp(key, val string) (Op, error) {
	var op Op
	if err := json.Unmarshal([]byte(val), &op); err != nil {
		return Op{}, fmt.Errorf("operation record %s: %w", key, err)
	}
	if op.ID == "" || op.State == "" {
		return Op{}, fmt.Errorf("operation record %s: missing id or state", key)
	}
	return op, nil
}

func encodeOp(op Op) (string, error) {
	b, err := json.Marshal(op)
	if err != nil {
		return "", fmt.Errorf("encode operation %s: %w", op.ID, err)
	}
	return string(b), nil
}

// ProgressFunc is what a handler calls to report progress. It is cheap
// (progress is kept in memory and persisted at most once per
// Options.PersistEvery) and safe to call from several goroutines.
type ProgressFunc func(Progress)

// Handler runs one operation of one Kind. op is the handler's own copy.
// ctx is cancelled when the operation is stopped (Stop, StopAll, or the
// runner's context ending); the handler should then return at its next safe
// point, with what it has done so far as report and ctx.Err() (or an error
// wrapping it). A nil error means the operation is done; an error wrapping
// ErrPartial that it partly succeeded (state Partial); any other error that
// it failed.
type Handler func(ctx context.Context, op *Op, progress ProgressFunc) (report string, err error)

// Errors, compared with errors.Is.
var (
	ErrNotFound    = errors.New("no such operation")
	ErrFinished    = errors.New("operation has already ended")
	ErrUnknownKind = errors.New("unknown operation kind")
	ErrClosed      = errors.New("operation queue is closed")
	ErrRunning     = errors.New("operation runner is already running")
	// ErrPartial is wrapped by a handler's error when the operation did
	// part of its work: it is recorded Partial, not Failed.
	ErrPartial = errors.New("partial")
	// ErrInvalid marks an operation refused for its parameters (or any
	// request refused as malformed): the queue's callers wrap it, so
	// the service and the operations that validate for it share one
	// sentinel.
	ErrInvalid = errors.New("invalid request")
)

// Notes recorded in Op.Error for stopped operations.
const (
	NoteRestart  = "interrupted by service restart; run it again to resume"
	NoteShutdown = "interrupted by service shutdown; run it again to resume"
	NoteStopped  = "stopped by doStopOperation"
	NoteStopAll  = "stopped by doStopAllOperations"
	noteNotRun   = " before it started"
)
