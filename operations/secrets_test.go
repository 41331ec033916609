package operations

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/internal/dovecot"
	"github.com/cbfs/cbfs/opqueue"
	"github.com/cbfs/cbfs/service"
	"github.com/cbfs/cbfs/statedir"
)

// A restore to imap://admin:PASSWORD@host: the password is nowhere on disk
// (queue, ledger, every file of the state directory) nor in the listings.
func TestRestoreTargetPasswordIsNeverStoredOrPrinted(t *testing.T) {
	dv := dovecot.Start(t, map[string]string{"ann@example.com": "pw1", "bob@example.com": "pw2"})
	secret := dv.AdminPass
	require.GreaterOrEqual(t, len(secret), 8, "a password distinctive enough to search for")
	target := dv.SourceURL() + "?timeout=10s"
	require.Contains(t, target, secret)

	dir := t.TempDir()
	bp, st := filepath.Join(dir, "bp"), filepath.Join(dir, "st")
	src := writeMaildirSource(t, []string{"ann@example.com", "bob@example.com"}, 2)
	_, err := newScanRunner(t, bp, st, src).Run(context.Background(), KindSmartScan, nil, nil)
	require.NoError(t, err)

	r := newScanRunner(t, bp, st, src)
	svc, err := service.Open(service.Options{StateDir: st, Handlers: r.Handlers(), Validate: r.Validate, Redact: r.Redact, Forget: r.Forget})
	require.NoError(t, err)
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- svc.Serve(ctx) }()
	var c *service.Client
	require.Eventually(t, func() bool {
		c, err = service.Dial(svc.SocketPath())
		return err == nil && c.Ping(context.Background()) == nil
	}, 10*time.Second, 20*time.Millisecond)

	op, err := c.Enqueue(context.Background(), KindExternalRestore, map[string]string{"sourcePath": bp, "target": target})
	require.NoError(t, err)
	assert.Equal(t, strings.Replace(target, ":"+secret, "", 1), op.Params["target"], "stored without the password")
	end, err := c.Monitor(context.Background(), op.ID, nil)
	require.NoError(t, err)
	require.Equal(t, opqueue.Done, end.State, "%s\n%s", end.Error, end.Result)
	assert.Contains(t, end.Result, "Restored")
	ops, err := c.List(context.Background())
	require.NoError(t, err)
	for what, v := range map[string]any{"getAllOperations --json": ops, "monitor --json": end, "enqueue --json": op} {
		b, err := json.Marshal(v)
		require.NoError(t, err)
		assert.NotContains(t, string(b), secret, what)
	}
	stop()
	require.NoError(t, <-served)

	files := 0
	require.NoError(t, filepath.WalkDir(st, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Type()&fs.ModeSocket != 0 {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files++
		assert.NotContains(t, string(b), secret, p)
		return nil
	}))
	assert.FileExists(t, statedir.Dir(st).Queue())
	assert.FileExists(t, statedir.Dir(st).Ledger())
	assert.GreaterOrEqual(t, files, 3)

	// After a restart the password is gone from memory: the stored
	// operation needs it from the service's settings.
	r2 := newScanRunner(t, bp, st, src)
	_, err = r2.Run(context.Background(), KindExternalRestore, end.Params, nil)
	require.Error(t, err)
	assert.True(t, errors.Is(err, errNoPassword), "%v", err)
	assert.NotContains(t, err.Error(), secret)
	r3, err := New(Settings{BackupPath: bp, Flags: Flags{StateDir: st, RestoreTarget: dv.SourceURL()}}, nil)
	require.NoError(t, err)
	_, err = r3.Run(context.Background(), KindExternalRestore, end.Params, nil)
	require.NoError(t, err, "the password of --restore-target, same login and server")
}

func TestRedactParams(t *testing.T) {
	got := RedactParams(map[string]string{
		"target":        "imaps://admin:s3cr%40t@mail:993?insecure=1",
		"smtp_password": "hunter2",
		"apiSecret":     "x",
		"destPath":      "/srv/x",
		"plain":         "imap://admin@mail:143",
	})
	assert.Equal(t, map[string]string{
		"target":        "imaps://admin@mail:993?insecure=1",
		"smtp_password": Redacted,
		"apiSecret":     Redacted,
		"destPath":      "/srv/x",
		"plain":         "imap://admin@mail:143",
	}, got)
}

// Issue 22 (4): a password given with one operation is that operation's
// alone. After a restore with a wrong target password, and after one with
// the right one, a restore to the same login given none is refused as a
// fresh service refuses it, through the real service and a real Dovecot.
func TestRestorePasswordIsTheOperationsAlone(t *testing.T) {
	t.Setenv(EnvIMAPPassword, "")
	t.Setenv("CREDENTIALS_DIRECTORY", "")
	dv := dovecot.Start(t, map[string]string{"ann@example.com": "pw1"})
	right := dv.SourceURL() + "?timeout=10s"
	wrong := strings.Replace(right, ":"+dv.AdminPass+"@", ":wrong-"+dv.AdminPass+"@", 1)
	none := strings.Replace(right, ":"+dv.AdminPass+"@", "@", 1)
	require.NotEqual(t, right, wrong)
	require.NotEqual(t, right, none)

	dir := t.TempDir()
	bp, st := filepath.Join(dir, "bp"), filepath.Join(dir, "st")
	src := writeMaildirSource(t, []string{"ann@example.com"}, 2)
	_, err := newScanRunner(t, bp, st, src).Run(context.Background(), KindSmartScan, nil, nil)
	require.NoError(t, err)

	r := newScanRunner(t, bp, st, src)
	svc, err := service.Open(service.Options{StateDir: st, Handlers: r.Handlers(), Validate: r.Validate, Redact: r.Redact, Forget: r.Forget})
	require.NoError(t, err)
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- svc.Serve(ctx) }()
	t.Cleanup(func() { stop(); <-served })
	var c *service.Client
	require.Eventually(t, func() bool {
		c, err = service.Dial(svc.SocketPath())
		return err == nil && c.Ping(context.Background()) == nil
	}, 10*time.Second, 20*time.Millisecond)
	restore := func(target string) (opqueue.Op, error) {
		op, err := c.Enqueue(context.Background(), KindExternalRestore, map[string]string{"sourcePath": bp, "target": target})
		if err != nil {
			return op, err
		}
		return c.Monitor(context.Background(), op.ID, nil)
	}
	noneRefused := func(after string) {
		_, err := restore(none)
		require.Error(t, err, "after a restore with the %s password, one with none must not run", after)
		assert.ErrorIs(t, err, opqueue.ErrInvalid, "refused when enqueued, as a fresh service refuses it")
		assert.Contains(t, err.Error(), "no password for target", after)
		assert.NotContains(t, err.Error(), dv.AdminPass)
	}

	end, err := restore(wrong)
	require.NoError(t, err)
	assert.Equal(t, opqueue.Failed, end.State, end.Result)
	assert.Contains(t, end.Error, "refused the login")
	noneRefused("wrong")

	end, err = restore(right)
	require.NoError(t, err)
	require.Equal(t, opqueue.Done, end.State, "%s\n%s", end.Error, end.Result)
	noneRefused("right")

	r.mu.Lock()
	assert.Empty(t, r.secrets, "nothing kept once the operations ended")
	r.mu.Unlock()
}
