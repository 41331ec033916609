package service

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cbfs/cbfs/opqueue"
	"github.com/cbfs/cbfs/statedir"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	crashStateEnv = "SERVICE_CRASH_HELPER_STATE"
	crashSockEnv  = "SERVICE_CRASH_HELPER_SOCK"
)

// TestServiceCrashHelper is not a test: run as a subprocess with the env
// above, it serves with a handler that prints "started <id>" and blocks
// until the process is killed.
func TestServiceCrashHelper(t *testing.T) {
	state := os.Getenv(crashStateEnv)
	if state == "" {
		t.Skip("helper process for TestServiceKilledMidOperation")
	}
	svc, err := Open(Options{
		StateDir:   state,
		SocketPath: os.Getenv(crashSockEnv),
		Handlers: map[string]opqueue.Handler{"doSmartScan": func(ctx context.Context, op *opqueue.Op, _ opqueue.ProgressFunc) (string, error) {
			os.Stdout.WriteString("started " + op.ID + "\n")
			select {}
		}},
	})
	if err != nil {
		os.Stdout.WriteString("error " + err.Error() + "\n")
		os.Exit(2)
	}
	os.Stdout.WriteString("serving\n")
	_ = svc.Serve(context.Background())
	os.Exit(3)
}

func TestServiceKilledMidOperation(t *testing.T) {
	state := t.TempDir()
	sock := filepath.Join(shortSocketDir(t), "s.sock")
	cmd := exec.Command(os.Args[0], "-test.run=^TestServiceCrashHelper$")
	cmd.Env = append(os.Environ(), crashStateEnv+"="+state, crashSockEnv+"="+sock)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := make(chan string, 10)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()

	// Wait until it answers.
	var c *Client
	deadline := time.Now().Add(waitFor)
	for c == nil {
		c, err = Dial(sock)
		if err != nil {
			require.True(t, time.Now().Before(deadline), "helper service did not start: %v", err)
			time.Sleep(10 * time.Millisecond)
		}
	}
	ctx := context.Background()
	var ids []string
	for _, n := range []string{"a", "b", "c"} {
		op, err := c.Enqueue(ctx, "doSmartScan", map[string]string{"n": n})
		require.NoError(t, err)
		ids = append(ids, op.ID)
	}
	for line := range lines {
		if strings.HasPrefix(line, "started ") {
			require.Equal(t, "started "+ids[0], line)
			break
		}
	}
	// A second service on the same state directory is refused, naming
	// the holder.
	_, err = Open(Options{StateDir: state, SocketPath: filepath.Join(shortSocketDir(t), "x")})
	require.ErrorIs(t, err, statedir.ErrLocked)
	assert.Contains(t, err.Error(), "pid "+strconv.Itoa(cmd.Process.Pid))

	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
	_, err = os.Lstat(sock)
	require.NoError(t, err, "a killed service leaves its socket file")
	_, err = Dial(sock)
	require.ErrorIs(t, err, ErrNoService)

	// Restart: lock free, stale socket replaced, a stopped, b and c run in order.
	g := newGate()
	r := serve(t, Options{StateDir: state, SocketPath: sock, Handlers: map[string]opqueue.Handler{"doSmartScan": g.handler}})
	c2 := r.client(t)
	a, err := c2.Get(ctx, ids[0])
	require.NoError(t, err)
	assert.Equal(t, opqueue.Stopped, a.State)
	assert.Equal(t, opqueue.NoteRestart, a.Error)
	for _, id := range ids[1:] {
		require.Equal(t, id, g.waitStarted(t))
		g.release <- struct{}{}
	}
	final, err := c2.Monitor(ctx, ids[2], nil)
	require.NoError(t, err)
	assert.Equal(t, opqueue.Done, final.State)
}
