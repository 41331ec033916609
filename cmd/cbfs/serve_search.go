package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"sync"

	"github.com/cbfs/cbfs/operations"
	"github.com/cbfs/cbfs/search"
)

// searchRefresher keeps the full-text search index (issue #23) of the
// served Backup Path current after each operation that wrote it, in the
// background: the queue never waits for it, and a mount never does. Only
// an index that exists is refreshed: the first one is doIndexMessages's
// to build (it reads every message). Writes that come while a refresh
// runs make one more refresh after it.
type searchRefresher struct {
	mu             sync.Mutex
	running, again bool
	done           chan struct{} // closed when the current run ends (tests)
}

func (r *searchRefresher) kick(ctx context.Context, s operations.Settings, log *slog.Logger) {
	r.mu.Lock()
	if r.running {
		r.again = true
		r.mu.Unlock()
		return
	}
	r.running = true
	done := make(chan struct{})
	r.done = done
	r.mu.Unlock()
	go func() {
		defer close(done)
		for {
			refreshSearchIndex(ctx, s, log)
			r.mu.Lock()
			if !r.again || ctx.Err() != nil {
				r.running, r.again = false, false
				r.mu.Unlock()
				return
			}
			r.again = false
			r.mu.Unlock()
		}
	}()
}

// refreshSearchIndex refreshes the search index of s's Backup Path if
// there is one: only the blobs it does not hold yet are read.
func refreshSearchIndex(ctx context.Context, s operations.Settings, log *slog.Logger) {
	bp, err := s.OpenPath(s.BackupPath)
	if err != nil {
		return
	}
	file, err := search.DefaultFile(bp.Root)
	if err != nil {
		return
	}
	if _, err := os.Stat(file); errors.Is(err, os.ErrNotExist) {
		return // never built: doIndexMessages builds it
	}
	rep, err := search.Build(ctx, bp, file, search.Options{})
	if err != nil {
		if ctx.Err() == nil {
			log.Warn("refresh search index", "index", file, "err", err)
		}
		return
	}
	log.Info("search index refreshed", "index", file, "messages", rep.Messages, "read", rep.Indexed, "ms", rep.ElapsedMillis)
}
