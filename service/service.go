package service

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"os"
	"sync"
	"time"

	"github.com/cbfs/cbfs/opqueue"
	"github.com/cbfs/cbfs/statedir"
)

// DefaultKeepOps is how long ended operations are kept when
// Options.KeepOps is 0.
const DefaultKeepOps = 30 * 24 * time.Hour

// Options configure a Service.
type Options struct {
	// StateDir holds the lock, the queue database and whatever else the
	// caller keeps there (index, restore ledger): see package statedir.
	// Required.
	StateDir string
	// SocketPath is where cbctl finds the service (default
	// statedir.Dir(StateDir).Socket()).
	SocketPath string
	// Handlers run the operations, by kind. Only these kinds are accepted.
	Handlers map[string]opqueue.Handler
	// Validate, if set, checks an operation's parameters when it is
	// enqueued, so a bad request is refused at once rather than failing
	// later; wrap ErrInvalid in its errors.
	Validate func(kind string, params map[string]string) error
	// Redact, if set, returns the parameters to store in the queue (and so
	// to list, monitor and hand to the handler) once Validate accepted
	// them: secrets such as a URL's password removed. The handler must find
	// them elsewhere: operations.Runner.Redact keeps them in memory for the
	// operation id (the one it is enqueued with) and for no other.
	Redact func(id, kind string, params map[string]string) map[string]string
	// Forget, if set, is told the id of an operation Redact was called for
	// that will never run (its enqueue failed, or it was stopped while
	// queued), so what Redact kept for it goes (a handler that ran forgets
	// its own).
	Forget func(id string)
	// Config, if set, answers the config command.
	Config ConfigFunc
	// Schedules are enqueued when due (nil: none; see DefaultSchedules).
	// A scheduled operation is skipped while one of the same kind and
	// parameters is still queued or running.
	Schedules []Schedule
	// Clock drives the scheduler and pruning (default SystemClock).
	Clock Clock
	// KeepOps is how long ended operations are kept in the queue (0:
	// DefaultKeepOps; negative: forever). Pruned at start and every 6h.
	KeepOps time.Duration
	// Version is what the version command answers.
	Version string
	// Logger gets the service's log (default slog.Default()): each
	// operation's start, progress and end among the rest.
	Logger *slog.Logger
	// ProgressLogEvery is the least time between two progress lines of a
	// running operation in the log (0: DefaultProgressLogEvery).
	ProgressLogEvery time.Duration
}

// Service is the long-running core: state lock, queue, runner, scheduler
// and socket server.
type Service struct {
	opts     Options
	log      *slog.Logger
	lock     *statedir.StateLock
	queue    *opqueue.Queue
	sched    *Scheduler
	closed   sync.Once
	served   bool
	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	stopping bool           // shutting down: no new monitors
	monitors sync.WaitGroup // monitor streams being served
}

// Open validates opts, takes the state directory lock and opens the queue
// (marking an operation a dead process left running as stopped). Nothing
// runs until Serve. Close releases everything if Serve is not called.
func Open(opts Options) (*Service, error) {
	if opts.StateDir == "" {
		return nil, errors.New("service: no state directory given")
	}
	if opts.SocketPath == "" {
		opts.SocketPath = statedir.Dir(opts.StateDir).Socket()
	}
	if err := checkSocketPath(opts.SocketPath); err != nil {
		return nil, fmt.Errorf("service: %w", err)
	}
	if opts.Clock == nil {
		opts.Clock = SystemClock{}
	}
	if opts.KeepOps == 0 {
		opts.KeepOps = DefaultKeepOps
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &Service{opts: opts, log: opts.Logger, conns: map[net.Conn]struct{}{}}
	for _, sc := range opts.Schedules {
		if _, ok := opts.Handlers[sc.Kind]; !ok {
			return nil, fmt.Errorf("service: schedule %s: no handler for operation kind %q", sc.Name, sc.Kind)
		}
	}
	sched, err := NewScheduler(opts.Schedules, opts.Clock, s.enqueueScheduled, opts.Logger)
	if err != nil {
		return nil, fmt.Errorf("service: %w", err)
	}
	s.sched = sched
	lock, err := statedir.Dir(opts.StateDir).Lock()
	if err != nil {
		return nil, fmt.Errorf("service: %w", err)
	}
	q, err := opqueue.Open(statedir.Dir(opts.StateDir).Queue(), opqueue.Options{Now: opts.Clock.Now, Logger: opts.Logger})
	if err != nil {
		lock.Release()
		return nil, fmt.Errorf("service: %w", err)
	}
	if opts.ProgressLogEvery <= 0 {
		opts.ProgressLogEvery = DefaultProgressLogEvery
	}
	for kind, h := range opts.Handlers {
		q.Register(kind, logged(opts.Logger, opts.ProgressLogEvery, h))
	}
	s.lock, s.queue = lock, q
	return s, nil
}

// SetSchedules replaces the schedules of a running (or not yet serving)
// service; a kind without a handler or a bad pattern changes nothing.
func (s *Service) SetSchedules(schedules []Schedule) error {
	for _, sc := range schedules {
		if _, ok := s.opts.Handlers[sc.Kind]; !ok {
			return fmt.Errorf("service: schedule %s: no handler for operation kind %q", sc.Name, sc.Kind)
		}
	}
	return s.sched.Set(schedules)
}

// Queue is the service's queue, for in-process use (enqueueing at start,
// tests). Do not Close it: Serve and Close do.
func (s *Service) Queue() *opqueue.Queue { return s.queue }

// SocketPath is where the service listens.
func (s *Service) SocketPath() string { return s.opts.SocketPath }

// Close releases the queue and the lock of a service that is not serving.
func (s *Service) Close() error {
	var err error
	s.closed.Do(func() {
		err = errors.Join(s.queue.Close(), s.lock.Release())
	})
	return err
}

// forget tells Options.Forget that operation id will never run.
func (s *Service) forget(id string) {
	if s.opts.Forget != nil {
		s.opts.Forget(id)
	}
}

// enqueueScheduled is the scheduler's EnqueueFunc: it skips a schedule
// whose previous run is still queued or running.
func (s *Service) enqueueScheduled(sc Schedule) error {
	ops, err := s.queue.List()
	if err != nil {
		return err
	}
	for _, op := range ops {
		if op.Kind == sc.Kind && !op.State.Finished() && maps.Equal(op.Params, sc.Params) {
			s.log.Info("scheduled operation skipped: the previous one has not ended", "name", sc.Name, "kind", sc.Kind, "previous", op.ID, "state", op.State)
			return nil
		}
	}
	op, err := s.queue.Enqueue(sc.Kind, sc.Params)
	if err != nil {
		return err
	}
	s.log.Info("scheduled operation enqueued", "name", sc.Name, "kind", sc.Kind, "id", op.ID)
	return nil
}

// Serve listens on the socket and runs the queue, the scheduler and the
// pruning until ctx ends, then shuts down gracefully: it stops accepting,
// stops the scheduler, cancels the running operation and waits for its
// handler to return (the operation is recorded stopped, resumable), closes
// the connections, closes the queue, removes the socket and releases the
// lock. It returns the first error that made it stop (nil for ctx ending).
// Serve may be called once; afterwards the Service is closed.
func (s *Service) Serve(ctx context.Context) error {
	if s.served {
		return errors.New("service: Serve called twice")
	}
	s.served = true
	ln, lnInfo, err := listenUnix(s.opts.SocketPath)
	if err != nil {
		return errors.Join(fmt.Errorf("service: %w", err), s.Close())
	}
	s.log.Info("cbfs service listening", "socket", s.opts.SocketPath, "state_dir", s.opts.StateDir, "pid", os.Getpid())

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	runnerCtx, stopRunner := context.WithCancel(context.Background())
	runnerDone := make(chan struct{})
	go func() {
		defer close(runnerDone)
		if err := s.queue.Run(runnerCtx); err != nil {
			cancel(fmt.Errorf("service: operation runner: %w", err))
		}
	}()
	// Connections outlive ctx until the running operation has stopped,
	// so that monitors report its end.
	connCtx, stopConns := context.WithCancel(context.Background())
	defer stopConns()

	bgCtx, stopBg := context.WithCancel(ctx)
	var bg sync.WaitGroup
	bg.Go(func() { s.sched.Run(bgCtx) })
	bg.Go(func() { s.prune(bgCtx) })

	var conns sync.WaitGroup
	acceptDone := make(chan struct{})
	go func() {
		defer close(acceptDone)
		for {
			conn, err := ln.Accept()
			if err != nil {
				if ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
					s.log.Error("service: accept", "err", err)
					cancel(fmt.Errorf("service: accept on %s: %w", s.opts.SocketPath, err))
				}
				return
			}
			s.mu.Lock()
			s.conns[conn] = struct{}{}
			s.mu.Unlock()
			conns.Go(func() {
				defer func() {
					s.mu.Lock()
					delete(s.conns, conn)
					s.mu.Unlock()
					conn.Close()
				}()
				s.serveConn(connCtx, conn)
			})
		}
	}()

	<-ctx.Done()
	s.log.Info("cbfs service shutting down")
	// 1. Stop accepting and scheduling. The socket file goes first, while
	// the listener still pins its inode (so removeSocket's identity check
	// cannot be fooled by a reused inode number).
	sockErr := removeSocket(s.opts.SocketPath, lnInfo)
	ln.Close()
	<-acceptDone
	stopBg()
	bg.Wait()
	// 2. Stop the running operation at its next safe point and wait.
	stopRunner()
	<-runnerDone
	// 3. Let monitors send their final line (the stopped operation's end;
	// monitors of queued operations just end), bounded by a write
	// deadline, then close the connections and wait for their goroutines.
	stopConns()
	s.mu.Lock()
	s.stopping = true
	for c := range s.conns {
		c.SetWriteDeadline(time.Now().Add(shutdownWriteTimeout))
	}
	s.mu.Unlock()
	s.monitors.Wait()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	conns.Wait()
	// 4. Release.
	errs := []error{sockErr, s.Close()}
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		errs = append([]error{cause}, errs...)
	}
	s.log.Info("cbfs service stopped")
	return errors.Join(errs...)
}

// shutdownWriteTimeout bounds the last writes to clients at shutdown.
const shutdownWriteTimeout = 5 * time.Second

// pruneEvery is how often ended operations are pruned.
const pruneEvery = 6 * time.Hour

func (s *Service) prune(ctx context.Context) {
	if s.opts.KeepOps < 0 {
		return
	}
	for {
		if n, err := s.queue.Prune(s.opts.KeepOps); err != nil {
			s.log.Warn("pruning ended operations", "err", err)
		} else if n > 0 {
			s.log.Info("pruned ended operations", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-s.opts.Clock.At(s.opts.Clock.Now().Add(pruneEvery)):
		}
	}
}

// serveConn answers the requests of one connection.
func (s *Service) serveConn(ctx context.Context, conn net.Conn) {
	sc := bufio.NewScanner(conn)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	enc := json.NewEncoder(conn)
	for sc.Scan() {
		var req Request
		if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
			enc.Encode(errResponse(fmt.Errorf("%w: malformed request: %v", ErrInvalid, err)))
			return
		}
		if req.Cmd == CmdMonitor {
			s.monitor(ctx, sc, enc, req.ID)
			return
		}
		if err := enc.Encode(s.handle(ctx, req)); err != nil {
			return
		}
	}
	if err := sc.Err(); err != nil && ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
		enc.Encode(errResponse(fmt.Errorf("%w: %v", ErrInvalid, err)))
	}
}

func errResponse(err error) Response {
	return Response{Error: err.Error(), Code: codeOf(err)}
}

func opResponse(op opqueue.Op, err error) Response {
	if err != nil {
		return errResponse(err)
	}
	return Response{OK: true, Op: &op}
}

// handle answers one non-streaming request.
func (s *Service) handle(ctx context.Context, req Request) Response {
	switch req.Cmd {
	case CmdPing:
		return Response{OK: true}
	case CmdVersion:
		return Response{OK: true, Version: s.opts.Version}
	case CmdEnqueue:
		if req.Kind == "" {
			return errResponse(fmt.Errorf("%w: enqueue: no operation kind", ErrInvalid))
		}
		if s.opts.Validate != nil {
			if err := s.opts.Validate(req.Kind, req.Params); err != nil {
				return errResponse(err)
			}
		}
		params, id := req.Params, opqueue.NewID()
		if s.opts.Redact != nil {
			params = s.opts.Redact(id, req.Kind, params)
		}
		op, err := s.queue.EnqueueAs(id, req.Kind, params)
		if err != nil {
			s.forget(id)
		}
		if err == nil {
			s.log.Info("operation enqueued", "id", op.ID, "kind", op.Kind)
		}
		return opResponse(op, err)
	case CmdList:
		ops, err := s.queue.List()
		if err != nil {
			return errResponse(err)
		}
		return Response{OK: true, Ops: ops, Count: len(ops)}
	case CmdGet:
		return opResponse(s.queue.Get(req.ID))
	case CmdStop:
		op, err := s.queue.Stop(req.ID)
		if err == nil {
			s.log.Info("operation stop requested", "id", op.ID, "kind", op.Kind)
			if op.State.Finished() { // stopped before it ran
				s.forget(op.ID)
			}
		}
		return opResponse(op, err)
	case CmdStopAll:
		before, _ := s.queue.List()
		n, err := s.queue.StopAll()
		if err != nil {
			return errResponse(err)
		}
		for _, op := range before {
			if op.State == opqueue.Queued { // stopped before it ran
				s.forget(op.ID)
			}
		}
		s.log.Info("all operations stopped", "count", n)
		return Response{OK: true, Count: n}
	case CmdConfig:
		if req.Config == nil {
			return errResponse(fmt.Errorf("%w: config: no request", ErrInvalid))
		}
		if err := req.Config.validate(); err != nil {
			return errResponse(err)
		}
		if s.opts.Config == nil {
			return errResponse(fmt.Errorf("%w: this service has no configuration settings", ErrInvalid))
		}
		v, err := s.opts.Config(ctx, *req.Config)
		if err != nil {
			return errResponse(err)
		}
		return Response{OK: true, Value: v}
	default:
		return errResponse(fmt.Errorf("%w: unknown command %q", ErrInvalid, req.Cmd))
	}
}

// monitor streams one operation's snapshots until it ends, the client goes
// away or the service shuts down.
func (s *Service) monitor(ctx context.Context, sc *bufio.Scanner, enc *json.Encoder, id string) {
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		enc.Encode(errResponse(errors.New("the cbfs service is shutting down")))
		return
	}
	s.monitors.Add(1)
	s.mu.Unlock()
	defer s.monitors.Done()
	mctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		// The client sends nothing more: a read ending means it left.
		for sc.Scan() {
		}
		cancel()
	}()
	ch, err := s.queue.Monitor(mctx, id)
	if err != nil {
		enc.Encode(errResponse(err))
		return
	}
	for op := range ch {
		if err := enc.Encode(Response{OK: true, Op: &op, End: op.State.Finished()}); err != nil {
			return
		}
	}
}
