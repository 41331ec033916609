package service

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cbfs/cbfs/opqueue"
	"github.com/stretchr/testify/require"
)

// waitFor bounds waits for things that happen at once in a healthy
// service; reaching it is a failure.
const waitFor = 10 * time.Second

// fakeClock is a Clock whose time moves only when the test says so.
type fakeClock struct {
	mu         sync.Mutex
	now        time.Time
	waiters    []fakeWaiter
	registered chan time.Time // each At's deadline
}

type fakeWaiter struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock(t time.Time) *fakeClock {
	return &fakeClock{now: t, registered: make(chan time.Time, 1000)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) At(t time.Time) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if !t.After(c.now) {
		ch <- c.now
	} else {
		c.waiters = append(c.waiters, fakeWaiter{t, ch})
	}
	c.registered <- t
	return ch
}

// Set moves the clock to t and wakes the waiters due by then.
func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(t) {
			w.ch <- t
		} else {
			kept = append(kept, w)
		}
	}
	c.waiters = kept
}

// shortSocketDir is a short temporary folder for sockets (sun_path is 108
// bytes; t.TempDir paths can be longer).
func shortSocketDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "cbq")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// gate is a handler that reports its start and blocks until released or
// stopped, reporting progress first.
type gate struct {
	started chan string
	release chan struct{}
}

func newGate() *gate {
	return &gate{started: make(chan string, 100), release: make(chan struct{}, 100)}
}

func (g *gate) handler(ctx context.Context, op *opqueue.Op, progress opqueue.ProgressFunc) (string, error) {
	progress(opqueue.Progress{Done: 1, Total: 2, Phase: "half way"})
	g.started <- op.ID
	select {
	case <-g.release:
		progress(opqueue.Progress{Done: 2, Total: 2, Phase: "all done"})
		return "report " + op.Params["n"], nil
	case <-ctx.Done():
		return "partial " + op.Params["n"], ctx.Err()
	}
}

func (g *gate) waitStarted(t *testing.T) string {
	t.Helper()
	select {
	case id := <-g.started:
		return id
	case <-time.After(waitFor):
		t.Fatal("no operation started")
		return ""
	}
}

// running is a served Service.
type running struct {
	svc    *Service
	sock   string
	state  string
	cancel context.CancelFunc
	done   chan error
}

// serve opens and serves a service on a fresh socket; stop() shuts it down
// and returns Serve's error.
func serve(t *testing.T, opts Options) *running {
	t.Helper()
	if opts.StateDir == "" {
		opts.StateDir = t.TempDir()
	}
	if opts.SocketPath == "" {
		opts.SocketPath = filepath.Join(shortSocketDir(t), "s.sock")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(t.Output(), nil)) // shown with -v or on failure
	}
	svc, err := Open(opts)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{svc: svc, sock: opts.SocketPath, state: opts.StateDir, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- svc.Serve(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	// Ready once the socket answers.
	deadline := time.Now().Add(waitFor)
	for {
		if _, err := Dial(opts.SocketPath); err == nil {
			break
		}
		select {
		case err := <-r.done:
			r.done <- err
			t.Fatalf("service ended at start: %v", err)
		default:
		}
		require.True(t, time.Now().Before(deadline), "service did not start listening")
		time.Sleep(5 * time.Millisecond)
	}
	return r
}

func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		r.done <- err // later calls see it too
		return err
	case <-time.After(waitFor):
		t.Fatal("service did not shut down")
		return nil
	}
}

func (r *running) client(t *testing.T) *Client {
	t.Helper()
	c, err := Dial(r.sock)
	require.NoError(t, err)
	return c
}
