package s3test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cbfs/cbfs/objstore/s3"
)

// A store that stops answering (versitygw stopped with SIGSTOP: it still
// accepts connections, the kernel does, and never answers) fails each
// request after Timeout × Retries, with WARN lines on the way and an error
// that says the store did not answer, instead of blocking for minutes.
func TestFrozenStore(t *testing.T) {
	srv := Start(t)
	t.Setenv("AWS_ACCESS_KEY_ID", srv.Access)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.Secret)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	var mu sync.Mutex
	var warned []string
	b, err := s3.Open(srv.URL("pre"), s3.Options{Timeout: 500 * time.Millisecond, Retries: 2,
		Warn: func(msg string, args ...any) {
			mu.Lock()
			warned = append(warned, fmt.Sprint(msg, args))
			mu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	data := []byte("frozen")
	if _, err := b.PutIfAbsent(ctx, "items/ab/abc", bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	srv.Freeze(t)

	for _, op := range []struct {
		name string
		do   func() error
	}{
		{"get", func() error { _, _, err := b.Get(ctx, "items/ab/abc"); return err }},
		{"range", func() error { _, err := b.GetRange(ctx, "items/ab/abc", 1, 2); return err }},
		{"stat", func() error { _, err := b.Stat(ctx, "items/ab/abc"); return err }},
	} {
		start := time.Now()
		err := op.do()
		took := time.Since(start)
		if err == nil {
			t.Fatalf("%s: a frozen store answered", op.name)
		}
		if took > 3*time.Second {
			t.Errorf("%s: took %s, want about Timeout × Retries (1s)", op.name, took)
		}
		if !strings.Contains(err.Error(), "did not answer within 1s (2 attempts of 500ms)") {
			t.Errorf("%s: %v", op.name, err)
		}
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			// fusefs maps context.Canceled to EINTR (a restarted call,
			// hanging again): the reader must get EIO.
			t.Errorf("%s: %v is a context error", op.name, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(warned) == 0 {
		t.Error("no WARN for the failed attempts")
	}
}
