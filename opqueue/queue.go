package opqueue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/tidwall/buntdb"
)

// Options tune a Queue. The zero value is fine.
type Options struct {
	// Now is the clock for the operations' timestamps and for Prune
	// (default time.Now).
	Now func() time.Time
	// PersistEvery is the least time between two writes of a running
	// operation's progress to the database (default 1s; negative: only
	// when the operation ends).
	PersistEvery time.Duration
	// Logger gets warnings (default slog.Default()).
	Logger *slog.Logger
}

// Queue is the persistent FIFO of operations and its runner.
type Queue struct {
	path         string
	db           *buntdb.DB
	now          func() time.Time
	persistEvery time.Duration
	log          *slog.Logger
	wake         chan struct{} // one pending "something was enqueued"

	mu           sync.Mutex
	closed       bool
	handlers     map[string]Handler
	runnerActive bool
	running      *runState // nil when no operation runs
	subs         map[string]map[*sub]struct{}
}

// runState is the operation being run, with its live progress.
type runState struct {
	op          Op
	cancel      context.CancelFunc
	stopNote    string // set once Stop/StopAll asked it to stop
	lastPersist time.Time
}

type sub struct {
	ch   chan Op
	done chan struct{}
}

// Open opens (creating it if needed) the queue database at path
// (":memory:" for a queue that is not persisted). An operation recorded as
// running is marked stopped with NoteRestart; see the package doc.
//
// Only one process may open a queue file at a time; the caller (the
// service) guarantees it with its state directory lock.
func Open(path string, opts Options) (*Queue, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.PersistEvery == 0 {
		opts.PersistEvery = time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	db, err := buntdb.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open operation queue %s: %w", path, err)
	}
	var cfg buntdb.Config
	if err := db.ReadConfig(&cfg); err != nil {
		db.Close()
		return nil, fmt.Errorf("open operation queue %s: %w", path, err)
	}
	cfg.SyncPolicy = buntdb.Always // an enqueued operation survives a crash
	if err := db.SetConfig(cfg); err != nil {
		db.Close()
		return nil, fmt.Errorf("open operation queue %s: %w", path, err)
	}
	q := &Queue{
		path:         path,
		db:           db,
		now:          opts.Now,
		persistEvery: opts.PersistEvery,
		log:          opts.Logger,
		wake:         make(chan struct{}, 1),
		handlers:     map[string]Handler{},
		subs:         map[string]map[*sub]struct{}{},
	}
	if err := q.init(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open operation queue %s: %w", path, err)
	}
	return q, nil
}

// init checks the schema and marks operations left running by a dead
// process as stopped.
func (q *Queue) init() error {
	return q.db.Update(func(tx *buntdb.Tx) error {
		v, err := tx.Get(keySchema)
		switch {
		case errors.Is(err, buntdb.ErrNotFound):
			if _, _, err := tx.Set(keySchema, strconv.Itoa(schemaVersion), nil); err != nil {
				return err
			}
		case err != nil:
			return err
		default:
			n, perr := strconv.Atoi(v)
			if perr != nil {
				return fmt.Errorf("malformed schema version %q: %w", v, perr)
			}
			if n > schemaVersion {
				return fmt.Errorf("schema version %d is newer than this cbfs understands (%d)", n, schemaVersion)
			}
		}
		var stale []Op
		err = scanOps(tx, func(key string, op Op, derr error) bool {
			if derr != nil {
				q.log.Warn("operation queue: skipping malformed record", "err", derr)
				return true
			}
			if op.State == Running {
				stale = append(stale, op)
			}
			return true
		})
		if err != nil {
			return err
		}
		now := q.now()
		for _, op := range stale {
			op.State = Stopped
			op.Ended = now
			op.Error = NoteRestart
			if err := putOp(tx, op); err != nil {
				return err
			}
			q.log.Info("operation interrupted by restart marked stopped", "id", op.ID, "kind", op.Kind)
		}
		return nil
	})
}

// Close closes the database. Call it after Run has returned; monitors still
// open are closed.
func (q *Queue) Close() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return nil
	}
	q.closed = true
	if q.running != nil {
		q.running.cancel()
	}
	for id, set := range q.subs {
		for s := range set {
			close(s.ch)
			close(s.done)
		}
		delete(q.subs, id)
	}
	if err := q.db.Close(); err != nil {
		return fmt.Errorf("close operation queue %s: %w", q.path, err)
	}
	return nil
}

// Register sets the handler for kind. Enqueue accepts only registered
// kinds.
func (q *Queue) Register(kind string, h Handler) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.handlers[kind] = h
}

// Enqueue appends an operation of a registered kind to the queue and
// returns it (state queued), with a new UUID.
func (q *Queue) Enqueue(kind string, params map[string]string) (Op, error) {
	return q.EnqueueAs(uuid.NewString(), kind, params)
}

// EnqueueAs is Enqueue with the id chosen by the caller (NewID), who
// needs it before the operation exists: the service keeps an operation's
// secrets in memory under its id before enqueuing it, so that they are
// there when it runs and belong to it alone. An id already used is
// refused.
func (q *Queue) EnqueueAs(id, kind string, params map[string]string) (Op, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return Op{}, ErrClosed
	}
	if _, ok := q.handlers[kind]; !ok {
		return Op{}, fmt.Errorf("%w %q", ErrUnknownKind, kind)
	}
	if id == "" {
		return Op{}, fmt.Errorf("enqueue %s: %w: no id", kind, ErrInvalid)
	}
	op := Op{
		ID:      id,
		Kind:    kind,
		Params:  maps.Clone(params),
		State:   Queued,
		Created: q.now(),
	}
	err := q.db.Update(func(tx *buntdb.Tx) error {
		if _, err := tx.Get(opIDKey(id)); err == nil {
			return fmt.Errorf("%w: id %s is taken", ErrInvalid, id)
		}
		seq := uint64(1)
		v, err := tx.Get(keyNextSeq)
		switch {
		case errors.Is(err, buntdb.ErrNotFound):
		case err != nil:
			return err
		default:
			if seq, err = strconv.ParseUint(v, 10, 64); err != nil {
				return fmt.Errorf("malformed %s %q: %w", keyNextSeq, v, err)
			}
		}
		op.Seq = seq
		if _, _, err := tx.Set(keyNextSeq, strconv.FormatUint(seq+1, 10), nil); err != nil {
			return err
		}
		return putOp(tx, op)
	})
	if err != nil {
		return Op{}, fmt.Errorf("enqueue %s: %w", kind, err)
	}
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return op.clone(), nil
}

// NewID is a new operation id (a UUID) for EnqueueAs.
func NewID() string { return uuid.NewString() }

// Get returns the operation with the given id (ErrNotFound if none).
func (q *Queue) Get(id string) (Op, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	op, err := q.getLocked(id)
	if err != nil {
		return Op{}, err
	}
	return op.clone(), nil
}

func (q *Queue) getLocked(id string) (Op, error) {
	if q.closed {
		return Op{}, ErrClosed
	}
	if q.running != nil && q.running.op.ID == id {
		return q.running.op, nil
	}
	var op Op
	err := q.db.View(func(tx *buntdb.Tx) error {
		var err error
		op, err = getOp(tx, id)
		return err
	})
	return op, err
}

// List returns every operation kept, oldest first (newest last).
func (q *Queue) List() ([]Op, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return nil, ErrClosed
	}
	var ops []Op
	err := q.db.View(func(tx *buntdb.Tx) error {
		return scanOps(tx, func(key string, op Op, derr error) bool {
			if derr != nil {
				q.log.Warn("operation queue: skipping malformed record", "err", derr)
				return true
			}
			if q.running != nil && q.running.op.ID == op.ID {
				op = q.running.op
			}
			ops = append(ops, op.clone())
			return true
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list operations: %w", err)
	}
	return ops, nil
}

// Stop stops one operation: a queued one is marked stopped at once and
// never runs; a running one has its context cancelled and becomes stopped
// when its handler returns (the returned snapshot may still say running;
// Monitor follows it to the end). Stopping an ended operation returns it
// with an error wrapping ErrFinished.
func (q *Queue) Stop(id string) (Op, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return Op{}, ErrClosed
	}
	if rs := q.running; rs != nil && rs.op.ID == id {
		if rs.stopNote == "" {
			rs.stopNote = NoteStopped
			rs.cancel()
		}
		return rs.op.clone(), nil
	}
	var op Op
	ended := false
	err := q.db.Update(func(tx *buntdb.Tx) error {
		var err error
		if op, err = getOp(tx, id); err != nil {
			return err
		}
		if ended = op.State.Finished(); ended {
			return nil
		}
		op.State = Stopped
		op.Ended = q.now()
		op.Error = NoteStopped + noteNotRun
		return putOp(tx, op)
	})
	if err != nil {
		return Op{}, fmt.Errorf("stop operation %s: %w", id, err)
	}
	if ended {
		return op.clone(), fmt.Errorf("stop operation %s: it is %s: %w", id, op.State, ErrFinished)
	}
	q.notifyLocked(op)
	return op.clone(), nil
}

// StopAll stops the running operation (as Stop does) and every queued one,
// emptying the queue. It returns how many operations it stopped.
func (q *Queue) StopAll() (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return 0, ErrClosed
	}
	n := 0
	if rs := q.running; rs != nil && rs.stopNote == "" {
		rs.stopNote = NoteStopAll
		rs.cancel()
		n++
	}
	var stopped []Op
	err := q.db.Update(func(tx *buntdb.Tx) error {
		err := scanOps(tx, func(key string, op Op, derr error) bool {
			if derr == nil && op.State == Queued {
				stopped = append(stopped, op)
			}
			return true
		})
		if err != nil {
			return err
		}
		now := q.now()
		for i := range stopped {
			stopped[i].State = Stopped
			stopped[i].Ended = now
			stopped[i].Error = NoteStopAll + noteNotRun
			if err := putOp(tx, stopped[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("stop all operations: %w", err)
	}
	for _, op := range stopped {
		q.notifyLocked(op)
	}
	return n + len(stopped), nil
}

// Monitor follows one operation: the returned channel gets its current
// snapshot at once, then one per change (a slow reader skips to the
// latest), then the final snapshot, and is then closed. It is also closed
// when ctx ends or the queue is closed. ErrNotFound if there is no such
// operation.
func (q *Queue) Monitor(ctx context.Context, id string) (<-chan Op, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	op, err := q.getLocked(id)
	if err != nil {
		return nil, fmt.Errorf("monitor operation %s: %w", id, err)
	}
	s := &sub{ch: make(chan Op, 1), done: make(chan struct{})}
	s.ch <- op.clone()
	if op.State.Finished() {
		close(s.ch)
		return s.ch, nil
	}
	set := q.subs[id]
	if set == nil {
		set = map[*sub]struct{}{}
		q.subs[id] = set
	}
	set[s] = struct{}{}
	go func() {
		select {
		case <-ctx.Done():
			q.mu.Lock()
			if set, ok := q.subs[id]; ok {
				if _, ok := set[s]; ok {
					delete(set, s)
					if len(set) == 0 {
						delete(q.subs, id)
					}
					close(s.ch)
					close(s.done)
				}
			}
			q.mu.Unlock()
		case <-s.done:
		}
	}()
	return s.ch, nil
}

// notifyLocked hands a snapshot to op's monitors, closing them when op has
// ended. q.mu is held; it is the only sender, so after draining the
// one-slot buffer the send cannot block.
func (q *Queue) notifyLocked(op Op) {
	set := q.subs[op.ID]
	for s := range set {
		select {
		case <-s.ch:
		default:
		}
		s.ch <- op.clone()
		if op.State.Finished() {
			close(s.ch)
			close(s.done)
		}
	}
	if op.State.Finished() {
		delete(q.subs, op.ID)
	}
}

// Prune removes ended operations that ended more than maxAge ago and
// returns how many. Queued and running operations are never removed.
func (q *Queue) Prune(maxAge time.Duration) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return 0, ErrClosed
	}
	cutoff := q.now().Add(-maxAge)
	n := 0
	err := q.db.Update(func(tx *buntdb.Tx) error {
		type victim struct{ key, id string }
		var vs []victim
		err := scanOps(tx, func(key string, op Op, derr error) bool {
			if derr != nil {
				return true
			}
			end := op.Ended
			if end.IsZero() {
				end = op.Created
			}
			if op.State.Finished() && end.Before(cutoff) {
				vs = append(vs, victim{key, op.ID})
			}
			return true
		})
		if err != nil {
			return err
		}
		for _, v := range vs {
			if _, err := tx.Delete(v.key); err != nil {
				return err
			}
			if _, err := tx.Delete(opIDKey(v.id)); err != nil && !errors.Is(err, buntdb.ErrNotFound) {
				return err
			}
		}
		n = len(vs)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("prune operations: %w", err)
	}
	return n, nil
}

// putOp writes op under its seq key and its id key.
func putOp(tx *buntdb.Tx, op Op) error {
	val, err := encodeOp(op)
	if err != nil {
		return err
	}
	key := opKey(op.Seq)
	if _, _, err := tx.Set(key, val, nil); err != nil {
		return err
	}
	_, _, err = tx.Set(opIDKey(op.ID), key[len(tmplOp):], nil)
	return err
}

func getOp(tx *buntdb.Tx, id string) (Op, error) {
	seq, err := tx.Get(opIDKey(id))
	if errors.Is(err, buntdb.ErrNotFound) {
		return Op{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err != nil {
		return Op{}, err
	}
	key := tmplOp + seq
	val, err := tx.Get(key)
	if errors.Is(err, buntdb.ErrNotFound) {
		return Op{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err != nil {
		return Op{}, err
	}
	return decodeOp(key, val)
}

// scanOps calls fn for every operation record in enqueue order until fn
// returns false. A record that does not decode is passed with its error.
func scanOps(tx *buntdb.Tx, fn func(key string, op Op, err error) bool) error {
	return tx.AscendGreaterOrEqual("", tmplOp, func(k, v string) bool {
		if !strings.HasPrefix(k, tmplOp) {
			return false
		}
		op, err := decodeOp(k, v)
		return fn(k, op, err)
	})
}
