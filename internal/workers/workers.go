// Package workers runs one function over a list with a few goroutines and
// reports progress: the shape of doCoherencyCheck's blob verification and
// doExport's blob copies.
package workers

import (
	"context"
	"sync"
)

// Each calls fn for every item of items with n goroutines (at least one),
// and progress(done, total) after each (never from two goroutines at once;
// nil: none). It stops feeding items when ctx ends and returns ctx's error
// then; otherwise it returns the first error fn returned, after every item
// was tried.
func Each[T any](ctx context.Context, n int, items []T, fn func(T) error, progress func(done, total int)) error {
	if progress == nil {
		progress = func(int, int) {}
	}
	jobs := make(chan T)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		once  sync.Once
		first error
		done  int
	)
	progress(0, len(items))
	for range max(n, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range jobs {
				if err := fn(it); err != nil {
					once.Do(func() { first = err })
				}
				mu.Lock()
				done++
				progress(done, len(items))
				mu.Unlock()
			}
		}()
	}
	var err error
feed:
	for _, it := range items {
		select {
		case jobs <- it:
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if err != nil {
		return err
	}
	return first
}
