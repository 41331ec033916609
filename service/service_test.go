package service

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cbfs/cbfs/opqueue"
	"github.com/cbfs/cbfs/statedir"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// configStore is a ConfigFunc backed by a map, as the lead's toggles are.
type configStore struct {
	mu sync.Mutex
	m  map[string]string
}

func (c *configStore) fn(_ context.Context, r ConfigRequest) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r.Key != "backupEnabled" {
		return "", fmt.Errorf("%w: unknown key %q", ErrInvalid, r.Key)
	}
	k := r.Scope + "/" + r.Name
	switch r.Action {
	case "set":
		if r.Value != "true" && r.Value != "false" {
			return "", fmt.Errorf("%w: backupEnabled must be true or false, not %q", ErrInvalid, r.Value)
		}
		c.m[k] = r.Value
	case "unset":
		delete(c.m, k)
	}
	if v, ok := c.m[k]; ok {
		return v, nil
	}
	return "true", nil
}

func TestRoundTrip(t *testing.T) {
	g := newGate()
	cfg := &configStore{m: map[string]string{}}
	r := serve(t, Options{
		Handlers: map[string]opqueue.Handler{"doSmartScan": g.handler, "doPurge": g.handler},
		Validate: func(kind string, p map[string]string) error {
			if p["purgeDays"] == "-1" {
				return fmt.Errorf("%w: purgeDays must not be negative", ErrInvalid)
			}
			return nil
		},
		Config:  cfg.fn,
		Version: "1.2.3",
	})
	ctx := context.Background()
	c := r.client(t)

	require.NoError(t, c.Ping(ctx))
	v, err := c.Version(ctx)
	require.NoError(t, err)
	assert.Equal(t, "1.2.3", v)

	// Socket mode.
	fi, err := os.Stat(r.sock)
	require.NoError(t, err)
	assert.Equal(t, os.ModeSocket|0o600, fi.Mode()&(os.ModeType|os.ModePerm))

	// Enqueue, FIFO, monitor.
	a, err := c.Enqueue(ctx, "doSmartScan", map[string]string{"n": "a"})
	require.NoError(t, err)
	_, err = uuid.Parse(a.ID)
	require.NoError(t, err)
	assert.Equal(t, "doSmartScan", a.Kind)
	b, err := c.Enqueue(ctx, "doPurge", map[string]string{"n": "b"})
	require.NoError(t, err)
	cc, err := c.Enqueue(ctx, "doSmartScan", map[string]string{"n": "c"})
	require.NoError(t, err)
	require.Equal(t, a.ID, g.waitStarted(t))

	got, err := c.Get(ctx, a.ID)
	require.NoError(t, err)
	assert.Equal(t, opqueue.Running, got.State)
	assert.Equal(t, opqueue.Progress{Done: 1, Total: 2, Phase: "half way"}, got.Progress)

	ops, err := c.List(ctx)
	require.NoError(t, err)
	require.Len(t, ops, 3)
	assert.Equal(t, []string{a.ID, b.ID, cc.ID}, []string{ops[0].ID, ops[1].ID, ops[2].ID})
	assert.Equal(t, []opqueue.State{opqueue.Running, opqueue.Queued, opqueue.Queued}, []opqueue.State{ops[0].State, ops[1].State, ops[2].State})

	var seen []opqueue.Op
	monDone := make(chan opqueue.Op, 1)
	monitoring := make(chan struct{})
	go func() {
		final, err := c.Monitor(ctx, a.ID, func(op opqueue.Op) {
			if len(seen) == 0 {
				close(monitoring)
			}
			seen = append(seen, op)
		})
		assert.NoError(t, err)
		monDone <- final
	}()
	<-monitoring // the monitor is following a while it runs
	// Stop the queued b, then release a.
	sb, err := c.Stop(ctx, b.ID)
	require.NoError(t, err)
	assert.Equal(t, opqueue.Stopped, sb.State)
	g.release <- struct{}{}
	final := <-monDone
	assert.Equal(t, opqueue.Done, final.State)
	assert.Equal(t, "report a", final.Result)
	require.GreaterOrEqual(t, len(seen), 2)
	assert.Equal(t, opqueue.Running, seen[0].State)
	assert.Equal(t, final, seen[len(seen)-1])

	// c runs next (b was stopped); stop it while it runs.
	require.Equal(t, cc.ID, g.waitStarted(t))
	_, err = c.Stop(ctx, cc.ID)
	require.NoError(t, err)
	fc, err := c.Monitor(ctx, cc.ID, nil)
	require.NoError(t, err)
	assert.Equal(t, opqueue.Stopped, fc.State)
	assert.Equal(t, opqueue.NoteStopped, fc.Error)
	assert.Equal(t, "partial c", fc.Result)

	// StopAll.
	d, err := c.Enqueue(ctx, "doSmartScan", map[string]string{"n": "d"})
	require.NoError(t, err)
	require.Equal(t, d.ID, g.waitStarted(t))
	e, err := c.Enqueue(ctx, "doSmartScan", map[string]string{"n": "e"})
	require.NoError(t, err)
	n, err := c.StopAll(ctx)
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	for _, id := range []string{d.ID, e.ID} {
		op, err := c.Monitor(ctx, id, nil)
		require.NoError(t, err)
		assert.Equal(t, opqueue.Stopped, op.State)
	}

	// Errors come back as the sentinels.
	errTests := []struct {
		name string
		call func() error
		want error
	}{
		{"get unknown", func() error { _, err := c.Get(ctx, uuid.NewString()); return err }, opqueue.ErrNotFound},
		{"stop unknown", func() error { _, err := c.Stop(ctx, uuid.NewString()); return err }, opqueue.ErrNotFound},
		{"monitor unknown", func() error { _, err := c.Monitor(ctx, "x", nil); return err }, opqueue.ErrNotFound},
		{"stop ended", func() error { _, err := c.Stop(ctx, a.ID); return err }, opqueue.ErrFinished},
		{"unknown kind", func() error { _, err := c.Enqueue(ctx, "doNothing", nil); return err }, opqueue.ErrUnknownKind},
		{"invalid params", func() error {
			_, err := c.Enqueue(ctx, "doPurge", map[string]string{"purgeDays": "-1"})
			return err
		}, ErrInvalid},
		{"no kind", func() error { _, err := c.Enqueue(ctx, "", nil); return err }, ErrInvalid},
		{"config bad action", func() error {
			_, err := c.Config(ctx, ConfigRequest{Action: "toggle", Scope: "cos", Name: "x", Key: "backupEnabled"})
			return err
		}, ErrInvalid},
		{"config bad value", func() error {
			_, err := c.Config(ctx, ConfigRequest{Action: "set", Scope: "cos", Name: "x", Key: "backupEnabled", Value: "maybe"})
			return err
		}, ErrInvalid},
	}
	for _, tc := range errTests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			require.Error(t, err)
			assert.ErrorIs(t, err, tc.want)
			assert.NotContains(t, err.Error(), "\n", "one-line message")
		})
	}

	// Config is applied at once, in order.
	cfgSteps := []struct {
		req  ConfigRequest
		want string
	}{
		{ConfigRequest{Action: "get", Scope: "cos", Name: "EXT", Key: "backupEnabled"}, "true"},
		{ConfigRequest{Action: "set", Scope: "cos", Name: "EXT", Key: "backupEnabled", Value: "false"}, "false"},
		{ConfigRequest{Action: "get", Scope: "cos", Name: "EXT", Key: "backupEnabled"}, "false"},
		{ConfigRequest{Action: "get", Scope: "account", Name: "EXT", Key: "backupEnabled"}, "true"},
		{ConfigRequest{Action: "unset", Scope: "cos", Name: "EXT", Key: "backupEnabled"}, "true"},
	}
	for i, st := range cfgSteps {
		v, err := c.Config(ctx, st.req)
		require.NoError(t, err, "step %d", i)
		assert.Equal(t, st.want, v, "step %d %+v", i, st.req)
	}

	// Shutdown removes the socket and releases the lock.
	require.NoError(t, r.stop(t))
	_, err = os.Lstat(r.sock)
	assert.ErrorIs(t, err, os.ErrNotExist)
	l, err := statedir.Dir(r.state).Lock()
	require.NoError(t, err)
	require.NoError(t, l.Release())
	_, err = Dial(r.sock)
	assert.ErrorIs(t, err, ErrNoService)
}

func TestRawProtocol(t *testing.T) {
	r := serve(t, Options{Handlers: map[string]opqueue.Handler{"doSmartScan": newGate().handler}})
	conn, err := net.Dial("unix", r.sock)
	require.NoError(t, err)
	defer conn.Close()
	rd := bufio.NewReader(conn)
	tests := []struct {
		line   string
		wantOK bool
		code   string
	}{
		{`{"cmd":"ping"}`, true, ""},
		{`{"cmd":"list"}`, true, ""},
		{`{"cmd":"frobnicate"}`, false, CodeInvalid},
		{`{"cmd":"get","id":"nope"}`, false, CodeNotFound},
		{`{"cmd":"config"}`, false, CodeInvalid},
		{`{"cmd":"config","config":{"action":"get","key":"k"}}`, false, CodeInvalid}, // no Config callback
		{`{"cmd":"ping"}`, true, ""},                                                 // several requests on one connection
		{`{not json`, false, CodeInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.line, func(t *testing.T) {
			_, err := conn.Write([]byte(tc.line + "\n"))
			require.NoError(t, err)
			line, err := rd.ReadBytes('\n')
			require.NoError(t, err)
			var resp Response
			require.NoError(t, json.Unmarshal(line, &resp))
			assert.Equal(t, tc.wantOK, resp.OK, "%s", line)
			assert.Equal(t, tc.code, resp.Code)
			if !tc.wantOK {
				assert.NotEmpty(t, resp.Error)
			}
		})
	}
	// A malformed request ends the connection.
	_, err = rd.ReadBytes('\n')
	assert.Error(t, err)
}

func TestDialNoService(t *testing.T) {
	dir := shortSocketDir(t)
	stale := filepath.Join(dir, "stale.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
	require.NoError(t, err)
	ln.SetUnlinkOnClose(false)
	ln.Close() // leaves the file, as a killed service does

	tests := []struct {
		name, path string
		noService  bool
	}{
		{"no socket file", filepath.Join(dir, "none.sock"), true},
		{"stale socket file", stale, true},
		{"not a socket", dir, true}, // nothing can listen there either
		{"path too long", "/" + strings.Repeat("x", 120), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Dial(tc.path)
			require.Error(t, err)
			assert.Equal(t, tc.noService, errors.Is(err, ErrNoService), "%v", err)
		})
	}
}

func TestStaleSocketReplaced(t *testing.T) {
	sock := filepath.Join(shortSocketDir(t), "s.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	require.NoError(t, err)
	ln.SetUnlinkOnClose(false)
	ln.Close()
	_, err = Dial(sock)
	require.ErrorIs(t, err, ErrNoService, "the socket file is stale")

	r := serve(t, Options{SocketPath: sock, Handlers: map[string]opqueue.Handler{"k": newGate().handler}})
	require.NoError(t, r.client(t).Ping(context.Background()), "the service answers on the replaced socket")
	after, err := os.Lstat(sock)
	require.NoError(t, err)
	assert.Equal(t, os.ModeSocket|0o600, after.Mode()&(os.ModeType|os.ModePerm))
}

func TestSocketRefusals(t *testing.T) {
	h := map[string]opqueue.Handler{"k": newGate().handler}
	r := serve(t, Options{Handlers: h})
	regular := filepath.Join(shortSocketDir(t), "file")
	require.NoError(t, os.WriteFile(regular, []byte("keep me"), 0o600))
	tests := []struct {
		name string
		sock string
		want string
		is   error
	}{
		{"live socket", r.sock, "another cbfs service is listening", ErrServiceRunning},
		{"regular file", regular, "is not a socket", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			svc, err := Open(Options{StateDir: t.TempDir(), SocketPath: tc.sock, Handlers: h})
			require.NoError(t, err)
			err = svc.Serve(context.Background())
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			if tc.is != nil {
				assert.ErrorIs(t, err, tc.is)
			}
		})
	}
	// The first service is untouched, and so is the file.
	require.NoError(t, r.client(t).Ping(context.Background()))
	b, err := os.ReadFile(regular)
	require.NoError(t, err)
	assert.Equal(t, "keep me", string(b))
}

func TestStateDirLock(t *testing.T) {
	dir := t.TempDir()
	l, err := statedir.Dir(dir).Lock()
	require.NoError(t, err)
	defer l.Release()

	_, err = statedir.Dir(dir).Lock()
	require.ErrorIs(t, err, statedir.ErrLocked)
	assert.Contains(t, err.Error(), dir)
	assert.Contains(t, err.Error(), fmt.Sprintf("pid %d", os.Getpid()))

	_, err = Open(Options{StateDir: dir, SocketPath: filepath.Join(shortSocketDir(t), "s")})
	require.ErrorIs(t, err, statedir.ErrLocked, "a second service on the same state directory")

	require.NoError(t, l.Release())
	require.NoError(t, l.Release(), "twice is fine")
	l2, err := statedir.Dir(dir).Lock()
	require.NoError(t, err)
	require.NoError(t, l2.Release())
}

func TestOpenErrors(t *testing.T) {
	h := map[string]opqueue.Handler{"doSmartScan": newGate().handler}
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"no state dir", Options{}, "no state directory"},
		{"socket too long", Options{StateDir: "/tmp/x", SocketPath: "/" + strings.Repeat("s", 200)}, "longer than the 107"},
		{"schedule of unknown kind", Options{StateDir: "/tmp/x", Handlers: h, Schedules: DefaultSchedules()}, "no handler for operation kind \"doPurge\""},
		{"bad schedule", Options{StateDir: "/tmp/x", Handlers: h, Schedules: []Schedule{{Name: "scan", Spec: "daily", Kind: "doSmartScan"}}}, "want 5 fields"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(tc.opts)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestShutdownStopsRunningOperation(t *testing.T) {
	g := newGate()
	h := map[string]opqueue.Handler{"doSmartScan": g.handler}
	state := t.TempDir()
	r := serve(t, Options{StateDir: state, Handlers: h})
	ctx := context.Background()
	c := r.client(t)
	a, err := c.Enqueue(ctx, "doSmartScan", map[string]string{"n": "a"})
	require.NoError(t, err)
	b, err := c.Enqueue(ctx, "doSmartScan", map[string]string{"n": "b"})
	require.NoError(t, err)
	require.Equal(t, a.ID, g.waitStarted(t))

	monDone := make(chan opqueue.Op, 1)
	monitoring := make(chan struct{})
	go func() {
		var once sync.Once
		final, err := c.Monitor(ctx, a.ID, func(opqueue.Op) { once.Do(func() { close(monitoring) }) })
		assert.NoError(t, err)
		monDone <- final
	}()
	<-monitoring
	require.NoError(t, r.stop(t), "SIGTERM-like shutdown is not an error")
	final := <-monDone
	assert.Equal(t, opqueue.Stopped, final.State, "the monitor saw the end")
	assert.Equal(t, opqueue.NoteShutdown, final.Error)
	assert.Equal(t, "partial a", final.Result)

	// Restart on the same state directory: b runs, a stays stopped.
	g2 := newGate()
	r2 := serve(t, Options{StateDir: state, Handlers: map[string]opqueue.Handler{"doSmartScan": g2.handler}})
	require.Equal(t, b.ID, g2.waitStarted(t))
	c2 := r2.client(t)
	ga, err := c2.Get(ctx, a.ID)
	require.NoError(t, err)
	assert.Equal(t, opqueue.Stopped, ga.State)
	g2.release <- struct{}{}
	fb, err := c2.Monitor(ctx, b.ID, nil)
	require.NoError(t, err)
	assert.Equal(t, opqueue.Done, fb.State)
}

func TestScheduledRunsThroughQueue(t *testing.T) {
	g := newGate()
	clock := newFakeClock(time.Date(2025, 3, 8, 3, 0, 0, 0, time.UTC)) // Saturday
	r := serve(t, Options{
		Handlers:  map[string]opqueue.Handler{"doSmartScan": g.handler, "doPurge": g.handler},
		Schedules: DefaultSchedules(),
		Clock:     clock,
	})
	ctx := context.Background()
	waitDeadline := func(want time.Time) {
		t.Helper()
		for {
			select {
			case w := <-clock.registered:
				if w.Equal(want) {
					return
				}
				// the pruner's waits
			case <-time.After(waitFor):
				t.Fatalf("scheduler not waiting for %v", want)
			}
		}
	}
	at4 := time.Date(2025, 3, 8, 4, 0, 0, 0, time.UTC)
	waitDeadline(at4)
	clock.Set(at4)
	scan := g.waitStarted(t) // the scan runs; the purge waits behind it
	next := time.Date(2025, 3, 9, 4, 0, 0, 0, time.UTC)
	waitDeadline(next) // both have been enqueued
	c := r.client(t)
	ops, err := c.List(ctx)
	require.NoError(t, err)
	require.Len(t, ops, 2)
	assert.Equal(t, []string{"doSmartScan", "doPurge"}, []string{ops[0].Kind, ops[1].Kind})
	assert.Equal(t, scan, ops[0].ID)

	// The next day the scan is still running: the schedule is skipped.
	clock.Set(next)
	waitDeadline(time.Date(2025, 3, 10, 4, 0, 0, 0, time.UTC)) // it has fired
	ops, err = c.List(ctx)
	require.NoError(t, err)
	assert.Len(t, ops, 2, "no second scan while one is running")
}

// What Redact kept for an operation is forgotten when it will never run:
// its enqueue failed, or it was stopped while queued (doStopOperation,
// doStopAllOperations). The running one is not (its handler forgets).
func TestForgetOperationsThatNeverRun(t *testing.T) {
	g := newGate()
	var mu sync.Mutex
	redacted, forgotten := map[string]bool{}, map[string]bool{}
	r := serve(t, Options{
		Handlers: map[string]opqueue.Handler{"doSmartScan": g.handler},
		Redact: func(id, kind string, p map[string]string) map[string]string {
			mu.Lock()
			defer mu.Unlock()
			redacted[id] = true
			return p
		},
		Forget: func(id string) { mu.Lock(); defer mu.Unlock(); forgotten[id] = true },
	})
	ctx := context.Background()
	c := r.client(t)
	a, err := c.Enqueue(ctx, "doSmartScan", nil)
	require.NoError(t, err)
	require.Equal(t, a.ID, g.waitStarted(t))
	b, err := c.Enqueue(ctx, "doSmartScan", nil)
	require.NoError(t, err)
	cc, err := c.Enqueue(ctx, "doSmartScan", nil)
	require.NoError(t, err)

	_, err = c.Stop(ctx, b.ID)
	require.NoError(t, err)
	_, err = c.StopAll(ctx)
	require.NoError(t, err)
	mu.Lock()
	defer mu.Unlock()
	assert.True(t, redacted[a.ID] && redacted[b.ID] && redacted[cc.ID], "Redact is told each operation's id")
	assert.True(t, forgotten[b.ID], "stopped while queued")
	assert.True(t, forgotten[cc.ID], "stopped by StopAll while queued")
	assert.False(t, forgotten[a.ID], "the running one forgets in its handler")
}
