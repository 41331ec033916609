package blob

import (
	"bytes"
	"context"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/internal/s3test"
	"github.com/cbfs/cbfs/objstore/s3"
)

// A store that stops answering (a real versitygw stopped with SIGSTOP)
// costs one wait: that read fails with "external storage unreachable", the
// next uncached reads fail the same way at once, and once the store
// answers again and the backoff is over, reads work again.
func TestRemoteUnreachable(t *testing.T) {
	srv := s3test.Start(t)
	t.Setenv("AWS_ACCESS_KEY_ID", srv.Access)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.Secret)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	b, err := s3.Open(srv.URL("p"), s3.Options{Timeout: 300 * time.Millisecond, Retries: 2, Warn: func(string, ...any) {}})
	require.NoError(t, err)

	src := NewStore(t.TempDir())
	src.Write.NoSync = true
	var ds []Digest
	for i := range 3 {
		c := bytes.Repeat([]byte{byte('a' + i)}, 5000)
		d, _, err := src.Put(c)
		require.NoError(t, err)
		raw, err := os.ReadFile(src.Path(d))
		require.NoError(t, err)
		_, err = b.PutIfAbsent(context.Background(), d.RelPath(), bytes.NewReader(raw), int64(len(raw)))
		require.NoError(t, err)
		ds = append(ds, d)
	}
	r, err := NewRemote(b, t.TempDir(), 1<<20)
	require.NoError(t, err)
	r.Backoff = 2 * time.Second
	st := NewStore(t.TempDir())
	st.SetRemote(r)
	c := NewCache(st, CacheOptions{})

	srv.Freeze(t)
	start := time.Now()
	_, err = st.Read(ds[0])
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrUnreadable)
	assert.Contains(t, err.Error(), "external storage unreachable")
	first := time.Since(start)
	down, _ := r.Unreachable()
	assert.True(t, down)

	start = time.Now()
	gets := r.Gets.Load()
	_, err = st.Read(ds[1])
	require.Error(t, err)
	assert.Contains(t, err.Error(), "external storage unreachable")
	assert.Equal(t, gets, r.Gets.Load(), "no request while the store is taken for unreachable")
	herr := c.Health(ds[2], 5000)
	assert.True(t, Transient(herr), "%v", herr)
	t.Logf("first read failed after %s, the next after %s", first, time.Since(start))

	require.NoError(t, syscall.Kill(-srv.PID, syscall.SIGCONT))
	require.Eventually(t, func() bool { down, _ := r.Unreachable(); return !down }, 10*time.Second, 50*time.Millisecond)
	assert.NoError(t, c.Health(ds[2], 5000), "an unreachable store is not remembered as the blob's health")
	got, err := st.Read(ds[2])
	require.NoError(t, err)
	assert.Equal(t, bytes.Repeat([]byte{'c'}, 5000), got)
}
