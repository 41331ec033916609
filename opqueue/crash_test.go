package opqueue

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// crashHelperEnv makes the test binary act as a service that is killed
// mid-operation (TestCrashHelper).
const crashHelperEnv = "OPQUEUE_CRASH_HELPER_DB"

// TestCrashHelper is not a test: run as a subprocess with crashHelperEnv
// set, it enqueues three operations, starts the first, reports progress,
// prints "started" and blocks until it is killed.
func TestCrashHelper(t *testing.T) {
	path := os.Getenv(crashHelperEnv)
	if path == "" {
		t.Skip("helper process for TestKillDuringRun")
	}
	q, err := Open(path, Options{PersistEvery: time.Nanosecond})
	if err != nil {
		os.Exit(2)
	}
	q.Register("scan", func(ctx context.Context, op *Op, progress ProgressFunc) (string, error) {
		progress(Progress{Done: 3, Total: 10, Phase: "account 3"})
		os.Stdout.WriteString("started " + op.ID + "\n")
		select {} // until SIGKILL
	})
	for _, n := range []string{"a", "b", "c"} {
		op, err := q.Enqueue("scan", map[string]string{"n": n})
		if err != nil {
			os.Exit(2)
		}
		os.Stdout.WriteString("enqueued " + op.ID + "\n")
	}
	_ = q.Run(context.Background())
	os.Exit(3)
}

func TestKillDuringRun(t *testing.T) {
	path := filepath.Join(t.TempDir(), "queue.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$")
	cmd.Env = append(os.Environ(), crashHelperEnv+"="+path)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	var enqueued []string
	var started string
	sc := bufio.NewScanner(out)
	for started == "" && sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && f[0] == "enqueued" {
			enqueued = append(enqueued, f[1])
		}
		if len(f) == 2 && f[0] == "started" {
			started = f[1]
		}
	}
	require.Len(t, enqueued, 3, "helper output")
	require.Equal(t, enqueued[0], started)
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()

	q, err := Open(path, Options{})
	require.NoError(t, err)
	defer q.Close()
	a, err := q.Get(enqueued[0])
	require.NoError(t, err)
	assert.Equal(t, Stopped, a.State)
	assert.Equal(t, NoteRestart, a.Error)
	assert.Equal(t, Progress{Done: 3, Total: 10, Phase: "account 3"}, a.Progress, "last persisted progress kept")

	var ran []string
	q.Register("scan", func(ctx context.Context, op *Op, _ ProgressFunc) (string, error) {
		ran = append(ran, op.Params["n"])
		return "", nil
	})
	startRunner(t, q)
	assert.Equal(t, Done, waitEnd(t, q, enqueued[2]).State)
	assert.Equal(t, Done, waitEnd(t, q, enqueued[1]).State)
	assert.Equal(t, []string{"b", "c"}, ran, "queued operations run in order after the restart")
}
