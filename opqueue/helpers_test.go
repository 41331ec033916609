package opqueue

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// waitFor is how long a test waits for something that happens at once in
// a healthy queue; reaching it is a failure, never a pass.
const waitFor = 10 * time.Second

func openTemp(t *testing.T, opts Options) (*Queue, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "queue.db")
	q, err := Open(path, opts)
	require.NoError(t, err)
	t.Cleanup(func() { q.Close() })
	return q, path
}

// startRunner runs q.Run in the background; the returned func stops it and
// waits for it to return.
func startRunner(t *testing.T, q *Queue) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- q.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				// ErrClosed: the test closed the queue under the runner.
				if err != nil && !errors.Is(err, ErrClosed) {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(waitFor):
				t.Fatal("runner did not return")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// waitEnd follows op id to its end and returns the final snapshot.
func waitEnd(t *testing.T, q *Queue, id string) Op {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	ch, err := q.Monitor(ctx, id)
	require.NoError(t, err)
	var last Op
	for op := range ch {
		last = op
	}
	require.True(t, last.State.Finished(), "operation %s did not end in time (state %s)", id, last.State)
	return last
}

// gate is a handler that reports when it starts and blocks until released
// or stopped.
type gate struct {
	started  chan string // op ids, as they start
	release  chan struct{}
	mu       sync.Mutex
	active   int
	maxSeen  int
	order    []string
	canceled []string
}

func newGate() *gate {
	return &gate{started: make(chan string, 100), release: make(chan struct{}, 100)}
}

func (g *gate) handler(ctx context.Context, op *Op, progress ProgressFunc) (string, error) {
	g.mu.Lock()
	g.active++
	g.maxSeen = max(g.maxSeen, g.active)
	g.order = append(g.order, op.ID)
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.active--
		g.mu.Unlock()
	}()
	g.started <- op.ID
	select {
	case <-g.release:
		return "report of " + op.Params["n"], nil
	case <-ctx.Done():
		g.mu.Lock()
		g.canceled = append(g.canceled, op.ID)
		g.mu.Unlock()
		return "partial report of " + op.Params["n"], ctx.Err()
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

func (g *gate) snapshot() (order, canceled []string, maxSeen int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.order...), append([]string(nil), g.canceled...), g.maxSeen
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}
