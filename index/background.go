package index

import (
	"context"
	"log/slog"
	"sort"
	"time"
)

// IndexAll indexes, one account at a time, every account whose items are
// not current (never indexed, or not looked at since the account list was
// refreshed), smallest first (so most accounts are ready soonest), until
// done or ctx ends. It yields to on-demand work: while a reader waits for
// an account, its parsers pause. Each account indexed is logged; report,
// if not nil, is called after each.
func (ix *Index) IndexAll(ctx context.Context, report func(done, total int, st RefreshStats)) error {
	accts, err := ix.accountRecs()
	if err != nil {
		return err
	}
	sort.SliceStable(accts, func(i, j int) bool { return accts[i].Items < accts[j].Items })
	began := time.Now()
	items := 0
	for i, a := range accts {
		if err := ctx.Err(); err != nil {
			return err
		}
		if ix.isClosed() {
			return errClosed
		}
		sh := ix.shardFor(a)
		if sh.gen.Load() >= ix.gen.Load() {
			continue
		}
		t := time.Now()
		sh, _, err := ix.acquire(ctx, a, background)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			slog.Warn("index: background indexing: account skipped", "account", a.ID, "err", err)
			continue
		}
		ix.release(sh)
		st, _ := ix.Status(a.ID)
		items += st.Items
		if report != nil {
			report(i+1, len(accts), RefreshStats{Accounts: 1, Items: st.Items, Duration: time.Since(t)})
		}
	}
	slog.Info("index: every account indexed", "accounts", len(accts), "items", items, "took", time.Since(began).Round(time.Millisecond))
	return nil
}
