package workers

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
)

func TestEach(t *testing.T) {
	items := make([]int, 100)
	for i := range items {
		items[i] = i
	}
	var sum atomic.Int64
	last, calls := 0, 0
	err := Each(context.Background(), 3, items, func(i int) error { sum.Add(int64(i)); return nil },
		func(done, total int) {
			calls++
			if done < last || total != 100 {
				t.Errorf("progress %d/%d after %d", done, total, last)
			}
			last = done
		})
	if err != nil || sum.Load() != 4950 || last != 100 || calls != 101 {
		t.Fatalf("err %v sum %d last %d calls %d", err, sum.Load(), last, calls)
	}

	boom := errors.New("boom")
	var tried atomic.Int64
	err = Each(context.Background(), 2, items, func(i int) error {
		tried.Add(1)
		if i%10 == 3 {
			return boom
		}
		return nil
	}, nil)
	if !errors.Is(err, boom) || tried.Load() != 100 {
		t.Fatalf("err %v after %d items; want boom after all 100", err, tried.Load())
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Each(ctx, 2, items, func(int) error { return nil }, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}
