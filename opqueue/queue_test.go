package opqueue

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/buntdb"
)

func TestFIFOOneAtATime(t *testing.T) {
	for _, n := range []int{1, 3, 8} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			q, _ := openTemp(t, Options{})
			g := newGate()
			q.Register("work", g.handler)
			var ids []string
			for i := range n {
				op, err := q.Enqueue("work", map[string]string{"n": strconv.Itoa(i)})
				require.NoError(t, err)
				require.Equal(t, Queued, op.State)
				_, err = uuid.Parse(op.ID)
				require.NoError(t, err, "id is a UUID")
				ids = append(ids, op.ID)
			}
			startRunner(t, q)
			for i := range n {
				got := g.waitStarted(t)
				require.Equal(t, ids[i], got, "operation %d started out of order", i)
				// While one runs, every later one is still queued.
				for _, later := range ids[i+1:] {
					op, err := q.Get(later)
					require.NoError(t, err)
					require.Equal(t, Queued, op.State)
				}
				g.release <- struct{}{}
			}
			for i, id := range ids {
				op := waitEnd(t, q, id)
				assert.Equal(t, Done, op.State)
				assert.Equal(t, "report of "+strconv.Itoa(i), op.Result)
				assert.False(t, op.Started.IsZero())
				assert.False(t, op.Ended.Before(op.Started))
			}
			order, _, maxSeen := g.snapshot()
			assert.Equal(t, ids, order)
			assert.Equal(t, 1, maxSeen, "operations overlapped")
			ops, err := q.List()
			require.NoError(t, err)
			var listed []string
			for _, op := range ops {
				listed = append(listed, op.ID)
			}
			assert.Equal(t, ids, listed, "List is oldest first")
		})
	}
}

func TestEnqueueWhileRunning(t *testing.T) {
	q, _ := openTemp(t, Options{})
	var mu sync.Mutex
	var order []string
	var active, maxActive int
	q.Register("w", func(ctx context.Context, op *Op, _ ProgressFunc) (string, error) {
		mu.Lock()
		active++
		maxActive = max(maxActive, active)
		order = append(order, op.Params["n"])
		mu.Unlock()
		time.Sleep(time.Millisecond)
		mu.Lock()
		active--
		mu.Unlock()
		return "", nil
	})
	startRunner(t, q)
	var want []string
	var last string
	for i := range 20 {
		op, err := q.Enqueue("w", map[string]string{"n": strconv.Itoa(i)})
		require.NoError(t, err)
		want = append(want, strconv.Itoa(i))
		last = op.ID
	}
	require.Equal(t, Done, waitEnd(t, q, last).State)
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, want, order)
	assert.Equal(t, 1, maxActive)
}

func TestStopQueued(t *testing.T) {
	q, _ := openTemp(t, Options{})
	g := newGate()
	q.Register("work", g.handler)
	a, _ := q.Enqueue("work", map[string]string{"n": "a"})
	b, _ := q.Enqueue("work", map[string]string{"n": "b"})
	c, _ := q.Enqueue("work", map[string]string{"n": "c"})
	startRunner(t, q)
	require.Equal(t, a.ID, g.waitStarted(t))

	got, err := q.Stop(b.ID)
	require.NoError(t, err)
	assert.Equal(t, Stopped, got.State, "a queued operation is stopped at once")
	assert.Contains(t, got.Error, NoteStopped)

	g.release <- struct{}{}
	require.Equal(t, c.ID, g.waitStarted(t), "the stopped operation is skipped")
	g.release <- struct{}{}
	assert.Equal(t, Done, waitEnd(t, q, c.ID).State)
	order, _, _ := g.snapshot()
	assert.Equal(t, []string{a.ID, c.ID}, order, "b never ran")
	bb, err := q.Get(b.ID)
	require.NoError(t, err)
	assert.Equal(t, Stopped, bb.State)
	assert.True(t, bb.Started.IsZero())
}

func TestStopRunning(t *testing.T) {
	q, _ := openTemp(t, Options{})
	g := newGate()
	q.Register("work", g.handler)
	a, _ := q.Enqueue("work", map[string]string{"n": "a"})
	b, _ := q.Enqueue("work", map[string]string{"n": "b"})
	startRunner(t, q)
	require.Equal(t, a.ID, g.waitStarted(t))

	snap, err := q.Stop(a.ID)
	require.NoError(t, err)
	assert.Equal(t, a.ID, snap.ID)
	end := waitEnd(t, q, a.ID)
	assert.Equal(t, Stopped, end.State)
	assert.Equal(t, NoteStopped, end.Error)
	assert.Equal(t, "partial report of a", end.Result, "a stopped operation keeps its partial report")
	_, canceled, _ := g.snapshot()
	assert.Equal(t, []string{a.ID}, canceled, "the handler's context was cancelled")

	// The queue goes on with the next one.
	require.Equal(t, b.ID, g.waitStarted(t))
	g.release <- struct{}{}
	assert.Equal(t, Done, waitEnd(t, q, b.ID).State)

	// Stopping an ended operation is an error naming its state.
	_, err = q.Stop(a.ID)
	assert.ErrorIs(t, err, ErrFinished)
	_, err = q.Stop(b.ID)
	assert.ErrorIs(t, err, ErrFinished)
	_, err = q.Stop(uuid.NewString())
	assert.ErrorIs(t, err, ErrNotFound)
}

func TestStopAll(t *testing.T) {
	tests := []struct {
		name    string
		running bool
		queued  int
	}{
		{"empty", false, 0},
		{"running only", true, 0},
		{"running and queued", true, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q, _ := openTemp(t, Options{})
			g := newGate()
			q.Register("work", g.handler)
			var ids []string
			if tc.running {
				op, _ := q.Enqueue("work", map[string]string{"n": "run"})
				ids = append(ids, op.ID)
			}
			startRunner(t, q)
			if tc.running {
				require.Equal(t, ids[0], g.waitStarted(t))
			}
			for i := range tc.queued {
				op, err := q.Enqueue("work", map[string]string{"n": strconv.Itoa(i)})
				require.NoError(t, err)
				ids = append(ids, op.ID)
			}
			n, err := q.StopAll()
			require.NoError(t, err)
			assert.Equal(t, len(ids), n)
			for _, id := range ids {
				end := waitEnd(t, q, id)
				assert.Equal(t, Stopped, end.State)
				assert.Contains(t, end.Error, NoteStopAll)
			}
			order, canceled, _ := g.snapshot()
			if tc.running {
				assert.Equal(t, ids[:1], order, "no queued operation ran")
				assert.Equal(t, ids[:1], canceled)
			} else {
				assert.Empty(t, order)
			}
			// The queue keeps working afterwards.
			op, err := q.Enqueue("work", map[string]string{"n": "after"})
			require.NoError(t, err)
			require.Equal(t, op.ID, g.waitStarted(t))
			g.release <- struct{}{}
			assert.Equal(t, Done, waitEnd(t, q, op.ID).State)
		})
	}
}

func TestMonitorSeesProgressAndEnd(t *testing.T) {
	q, _ := openTemp(t, Options{})
	step := make(chan struct{})
	const total = 5
	q.Register("scan", func(ctx context.Context, op *Op, progress ProgressFunc) (string, error) {
		for i := 1; i <= total; i++ {
			<-step
			progress(Progress{Done: int64(i), Total: total, Phase: fmt.Sprintf("account %d", i)})
		}
		<-step
		return "scanned 5", nil
	})
	op, err := q.Enqueue("scan", nil)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	ch, err := q.Monitor(ctx, op.ID)
	require.NoError(t, err)
	first := <-ch
	assert.Equal(t, Queued, first.State, "the current snapshot comes at once")
	startRunner(t, q)

	next := func() Op {
		select {
		case s, ok := <-ch:
			require.True(t, ok, "monitor closed early")
			return s
		case <-ctx.Done():
			t.Fatal("no update")
			return Op{}
		}
	}
	s := next()
	require.Equal(t, Running, s.State)
	for i := 1; i <= total; i++ {
		step <- struct{}{}
		s = next()
		assert.Equal(t, Running, s.State)
		assert.Equal(t, Progress{Done: int64(i), Total: total, Phase: fmt.Sprintf("account %d", i)}, s.Progress)
		// Get sees the live progress too.
		g, err := q.Get(op.ID)
		require.NoError(t, err)
		assert.Equal(t, int64(i), g.Progress.Done)
	}
	step <- struct{}{}
	s = next()
	assert.Equal(t, Done, s.State)
	assert.Equal(t, "scanned 5", s.Result)
	_, ok := <-ch
	assert.False(t, ok, "closed after the end")

	// Monitoring an ended operation gives it and closes.
	ch2, err := q.Monitor(context.Background(), op.ID)
	require.NoError(t, err)
	s = <-ch2
	assert.Equal(t, Done, s.State)
	_, ok = <-ch2
	assert.False(t, ok)

	_, err = q.Monitor(context.Background(), uuid.NewString())
	assert.ErrorIs(t, err, ErrNotFound)
}

func TestMonitorContextEnds(t *testing.T) {
	q, _ := openTemp(t, Options{})
	q.Register("w", func(ctx context.Context, op *Op, _ ProgressFunc) (string, error) { return "", nil })
	op, err := q.Enqueue("w", nil)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	ch, err := q.Monitor(ctx, op.ID)
	require.NoError(t, err)
	<-ch
	cancel()
	select {
	case _, ok := <-ch:
		assert.False(t, ok)
	case <-time.After(waitFor):
		t.Fatal("monitor not closed after its context ended")
	}
}

func TestOutcomes(t *testing.T) {
	tests := []struct {
		name      string
		h         Handler
		wantState State
		wantErr   string
		wantRes   string
	}{
		{"done", func(context.Context, *Op, ProgressFunc) (string, error) { return "ok", nil }, Done, "", "ok"},
		{"error", func(context.Context, *Op, ProgressFunc) (string, error) {
			return "half", errors.New("disk full")
		}, Failed, "disk full", "half"},
		{"partial", func(context.Context, *Op, ProgressFunc) (string, error) {
			return "3 restored", fmt.Errorf("%w restore: 3 items restored, 1 unrestored", ErrPartial)
		}, Partial, "partial restore: 3 items restored, 1 unrestored", "3 restored"},
		{"panic", func(context.Context, *Op, ProgressFunc) (string, error) { panic("boom") }, Failed, "operation handler panicked: boom", ""},
		{"mutates its copy", func(_ context.Context, op *Op, _ ProgressFunc) (string, error) {
			op.Params["x"] = "changed"
			op.State = Failed
			return op.Params["x"], nil
		}, Done, "", "changed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q, _ := openTemp(t, Options{})
			q.Register("k", tc.h)
			op, err := q.Enqueue("k", map[string]string{"x": "orig"})
			require.NoError(t, err)
			startRunner(t, q)
			end := waitEnd(t, q, op.ID)
			assert.Equal(t, tc.wantState, end.State)
			assert.Equal(t, tc.wantRes, end.Result)
			if tc.wantErr == "" {
				assert.Empty(t, end.Error)
			} else {
				assert.Contains(t, end.Error, tc.wantErr)
			}
			assert.Equal(t, "orig", end.Params["x"], "the stored params are not the handler's copy")
		})
	}
}

func TestErrors(t *testing.T) {
	q, _ := openTemp(t, Options{})
	_, err := q.Enqueue("nope", nil)
	assert.ErrorIs(t, err, ErrUnknownKind)
	_, err = q.Get("not-an-id")
	assert.ErrorIs(t, err, ErrNotFound)

	g := newGate()
	q.Register("work", g.handler)
	op, err := q.Enqueue("work", nil)
	require.NoError(t, err)
	startRunner(t, q)
	require.Equal(t, op.ID, g.waitStarted(t)) // the first Run is active
	assert.ErrorIs(t, q.Run(context.Background()), ErrRunning)
	g.release <- struct{}{}
}

func TestShutdownStopsRunningResumable(t *testing.T) {
	q, _ := openTemp(t, Options{})
	g := newGate()
	q.Register("work", g.handler)
	a, _ := q.Enqueue("work", map[string]string{"n": "a"})
	b, _ := q.Enqueue("work", map[string]string{"n": "b"})
	stop := startRunner(t, q)
	require.Equal(t, a.ID, g.waitStarted(t))
	stop() // returns only after the handler returned
	ga, err := q.Get(a.ID)
	require.NoError(t, err)
	assert.Equal(t, Stopped, ga.State)
	assert.Equal(t, NoteShutdown, ga.Error)
	gb, err := q.Get(b.ID)
	require.NoError(t, err)
	assert.Equal(t, Queued, gb.State, "queued operations stay queued over a shutdown")
}

func TestReopenKeepsQueue(t *testing.T) {
	q, path := openTemp(t, Options{})
	g := newGate()
	q.Register("work", g.handler)
	a, _ := q.Enqueue("work", map[string]string{"n": "a"})
	// Simulate a crash mid-run: Close does not record the end of a
	// running operation, so the file says "running", as after a kill -9.
	stop := startRunner(t, q)
	require.Equal(t, a.ID, g.waitStarted(t))
	b, _ := q.Enqueue("work", map[string]string{"n": "b"})
	c, _ := q.Enqueue("work", map[string]string{"n": "c"})
	require.NoError(t, q.Close())
	stop()

	q2, err := Open(path, Options{})
	require.NoError(t, err)
	t.Cleanup(func() { q2.Close() })
	g2 := newGate()
	q2.Register("work", g2.handler)
	ga, err := q2.Get(a.ID)
	require.NoError(t, err)
	assert.Equal(t, Stopped, ga.State)
	assert.Equal(t, NoteRestart, ga.Error)
	d, err := q2.Enqueue("work", map[string]string{"n": "d"})
	require.NoError(t, err)
	assert.Greater(t, d.Seq, c.Seq, "sequence numbers continue")
	startRunner(t, q2)
	for _, want := range []string{b.ID, c.ID, d.ID} {
		require.Equal(t, want, g2.waitStarted(t))
		g2.release <- struct{}{}
	}
	assert.Equal(t, Done, waitEnd(t, q2, d.ID).State)
}

func TestPrune(t *testing.T) {
	day := 24 * time.Hour
	base := time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)
	clock := &fakeClock{t: base}
	q, _ := openTemp(t, Options{Now: clock.Now})
	q.Register("k", func(ctx context.Context, op *Op, _ ProgressFunc) (string, error) {
		if op.Params["fail"] != "" {
			return "", errors.New("failed")
		}
		return "", nil
	})
	type spec struct {
		ageDays int
		fail    bool
		queued  bool
	}
	specs := []spec{{10, false, false}, {8, true, false}, {6, false, false}, {1, false, false}, {0, false, true}}
	ids := map[int]string{}
	// Run each operation at its own fake time.
	for i, s := range specs {
		clock.Set(base.Add(-time.Duration(s.ageDays) * day))
		params := map[string]string{}
		if s.fail {
			params["fail"] = "1"
		}
		op, err := q.Enqueue("k", params)
		require.NoError(t, err)
		ids[i] = op.ID
		if !s.queued {
			stop := startRunner(t, q)
			waitEnd(t, q, op.ID)
			stop()
		}
	}
	clock.Set(base)
	tests := []struct {
		maxAge time.Duration
		want   int
		kept   []int
	}{
		{30 * day, 0, []int{0, 1, 2, 3, 4}},
		{7 * day, 2, []int{2, 3, 4}},
		{0, 2, []int{4}}, // queued ones are never pruned
	}
	for _, tc := range tests {
		t.Run(tc.maxAge.String(), func(t *testing.T) {
			n, err := q.Prune(tc.maxAge)
			require.NoError(t, err)
			assert.Equal(t, tc.want, n)
			ops, err := q.List()
			require.NoError(t, err)
			var got, want []string
			for _, op := range ops {
				got = append(got, op.ID)
			}
			for _, i := range tc.kept {
				want = append(want, ids[i])
			}
			assert.Equal(t, want, got)
		})
	}
	_, err := q.Get(ids[0])
	assert.ErrorIs(t, err, ErrNotFound, "the id key goes with the operation")
}

func TestOpenRejectsNewerSchema(t *testing.T) {
	q, path := openTemp(t, Options{})
	require.NoError(t, q.db.Update(func(tx *buntdb.Tx) error {
		_, _, err := tx.Set(keySchema, "99", nil)
		return err
	}))
	require.NoError(t, q.Close())
	_, err := Open(path, Options{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "schema version 99")
}

func TestMalformedRecordSkipped(t *testing.T) {
	q, _ := openTemp(t, Options{})
	q.Register("k", func(context.Context, *Op, ProgressFunc) (string, error) { return "", nil })
	require.NoError(t, q.db.Update(func(tx *buntdb.Tx) error {
		_, _, err := tx.Set(opKey(0), "{not json", nil)
		return err
	}))
	op, err := q.Enqueue("k", nil)
	require.NoError(t, err)
	startRunner(t, q)
	assert.Equal(t, Done, waitEnd(t, q, op.ID).State)
	ops, err := q.List()
	require.NoError(t, err)
	require.Len(t, ops, 1)
}

func TestConcurrentUse(t *testing.T) {
	q, _ := openTemp(t, Options{PersistEvery: time.Millisecond})
	q.Register("k", func(ctx context.Context, op *Op, progress ProgressFunc) (string, error) {
		for i := range 20 {
			progress(Progress{Done: int64(i), Total: 20})
		}
		return "", nil
	})
	startRunner(t, q)
	var wg sync.WaitGroup
	ids := make(chan string, 200)
	for w := range 4 {
		wg.Go(func() {
			for i := range 25 {
				op, err := q.Enqueue("k", map[string]string{"w": strconv.Itoa(w)})
				if !assert.NoError(t, err) {
					return
				}
				ids <- op.ID
				if i%5 == 0 {
					_, _ = q.Stop(op.ID)
				}
				_, err = q.List()
				assert.NoError(t, err)
				ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
				if ch, err := q.Monitor(ctx, op.ID); err == nil {
					for range ch {
					}
				}
				cancel()
			}
		})
	}
	wg.Wait()
	close(ids)
	for id := range ids {
		end := waitEnd(t, q, id)
		assert.Contains(t, []State{Done, Stopped}, end.State)
	}
}
