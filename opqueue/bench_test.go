package opqueue

import (
	"context"
	"path/filepath"
	"testing"
)

// BenchmarkEnqueue measures one Enqueue (fsync'd commit) on a file.
func BenchmarkEnqueue(b *testing.B) {
	q, err := Open(filepath.Join(b.TempDir(), "queue.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer q.Close()
	q.Register("k", func(context.Context, *Op, ProgressFunc) (string, error) { return "", nil })
	b.ReportAllocs()
	for b.Loop() {
		if _, err := q.Enqueue("k", map[string]string{"account": "john@example.com"}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkProgress measures a handler's progress call (in memory; the
// default PersistEvery writes at most once a second).
func BenchmarkProgress(b *testing.B) {
	q, err := Open(filepath.Join(b.TempDir(), "queue.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer q.Close()
	start := make(chan ProgressFunc)
	done := make(chan struct{})
	q.Register("k", func(ctx context.Context, _ *Op, p ProgressFunc) (string, error) {
		start <- p
		<-done
		return "", nil
	})
	if _, err := q.Enqueue("k", nil); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go q.Run(ctx)
	p := <-start
	b.ReportAllocs()
	i := int64(0)
	for b.Loop() {
		i++
		p(Progress{Done: i, Total: 1 << 40, Phase: "items"})
	}
	close(done)
}
