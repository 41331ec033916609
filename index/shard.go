package index

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tidwall/buntdb"
)

// A shard is one account's part of the index: its items, folder lists,
// deleted and folder-item keys, change days and bucket folder times, in a
// buntdb file of its own (<index>.d/<seq>.db). A shard is loaded into RAM
// when its account is first used, refreshed then if the account list was
// refreshed since (the on-demand refresh), and closed again when the loaded
// shards hold more items than the index's budget and nobody uses it.
type shard struct {
	seq uint32
	id  string // the account's id (the shard file holds it in keyShardAcct)

	// mu is held while the shard is opened, refreshed or closed; readers
	// hold a reference (refs, under Index.shardsMu) instead, so that an
	// eviction never closes a database a reader is in.
	mu  sync.Mutex
	db  *buntdb.DB    // nil when not loaded
	gen atomic.Uint64 // the Index.gen it was last refreshed at (0: never in this process)

	// Under Index.shardsMu:
	refs    int
	lastUse uint64 // Index.clock when last released
	items   int    // item records in the shard (its RAM weight)

	// wanted counts on-demand readers waiting for mu: a background
	// refresh holding it then stops yielding.
	wanted atomic.Int32

	// Progress of the refresh under way (atomic: read by Status).
	indexing atomic.Bool
	done     atomic.Int64
	total    atomic.Int64
	lastErr  atomic.Pointer[string]
	lastTook atomic.Int64 // ns
	lastRead atomic.Int64 // item files the last refresh read
}

// Shard keys (in the shard's own file).
const (
	// keyShardAcct holds the account id the shard describes.
	keyShardAcct = "meta:account"
	// keyShardItems and keyShardBad hold the shard's item count and how
	// many of them are unreadable or broken (decimal).
	keyShardItems = "meta:items"
	keyShardBad   = "meta:bad"
)

// shardsDirSuffix names the folder of shard files beside the index file.
const shardsDirSuffix = ".d"

// memoryShard is a shard "path" that keeps the shard in RAM only.
const memoryShard = memoryPath

// shardPath is where a shard's file lives (":memory:" for a RAM index).
func (ix *Index) shardPath(seq uint32) string {
	if ix.dbPath == memoryPath {
		return memoryShard
	}
	return filepath.Join(ix.dbPath+shardsDirSuffix, strconv.FormatUint(uint64(seq), 10)+".db")
}

// shardFor returns the shard entry of an account, made on first use.
func (ix *Index) shardFor(a *acctRec) *shard {
	ix.shardsMu.Lock()
	defer ix.shardsMu.Unlock()
	sh := ix.shards[a.Seq]
	if sh == nil || sh.id != a.ID {
		sh = &shard{seq: a.Seq, id: a.ID}
		ix.shards[a.Seq] = sh
	}
	return sh
}

// priority says who asks for a shard.
type priority int

const (
	// onDemand: a reader (a listing, a lookup, an operation) waits.
	onDemand priority = iota
	// background: the background indexer; it yields to on-demand work.
	background
	// eager: a full Refresh; nothing waits for it but its caller.
	eager
)

// acquire returns the account's shard loaded and (when the account list was
// refreshed since it last was) refreshed, with a reference the caller
// gives back with release. An on-demand refresh of one account never waits
// for another account's refresh.
func (ix *Index) acquire(ctx context.Context, a *acctRec, p priority) (*shard, *buntdb.DB, error) {
	if ix.isClosed() {
		return nil, nil, errClosed
	}
	sh := ix.shardFor(a)
	ix.shardsMu.Lock()
	sh.refs++
	ix.shardsMu.Unlock()

	if p == onDemand {
		sh.wanted.Add(1)
	}
	sh.mu.Lock()
	if p == onDemand {
		sh.wanted.Add(-1)
	}
	err := ix.prepareShard(ctx, sh, p)
	db := sh.db
	sh.mu.Unlock()
	if err != nil {
		ix.release(sh)
		return nil, nil, err
	}
	return sh, db, nil
}

// prepareShard opens sh's database if needed and refreshes it if stale
// (sh.mu held).
func (ix *Index) prepareShard(ctx context.Context, sh *shard, p priority) error {
	if sh.db == nil {
		if err := ix.openShard(sh); err != nil {
			return err
		}
	}
	gen := ix.gen.Load()
	if sh.gen.Load() >= gen {
		return nil
	}
	if p == onDemand {
		ix.demand.Add(1)
		defer ix.demand.Add(-1)
	}
	if ix.prepare != nil {
		if err := ix.prepare(ctx, sh.id); err != nil {
			// The account's files could not be brought here (an archive
			// on external storage): serve what the shard has.
			msg := err.Error()
			sh.lastErr.Store(&msg)
			slog.Warn("index: account not prepared; showing what the index has", "account", sh.id, "err", err)
			sh.gen.Store(gen)
			return nil
		}
	}
	st, err := ix.refreshShard(ctx, sh, p, nil)
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		msg := err.Error()
		sh.lastErr.Store(&msg)
		slog.Warn("index: account not refreshed; showing what the index has", "account", sh.id, "err", err)
	} else {
		sh.lastErr.Store(nil)
		if st.ItemsRead > 0 || st.ItemsRemoved > 0 {
			slog.Info("index: account indexed", "account", sh.id, "items", st.Items, "read", st.ItemsRead,
				"removed", st.ItemsRemoved, "took", st.Duration.Round(time.Millisecond))
		}
	}
	sh.gen.Store(gen)
	return nil
}

// openShard loads a shard's file (sh.mu held). A damaged file is only a
// cache: it is removed and the shard starts empty (its bucket times are
// gone, so the refresh reads the account again).
func (ix *Index) openShard(sh *shard) error {
	path := ix.shardPath(sh.seq)
	if path != memoryShard {
		if err := os.MkdirAll(filepath.Dir(path), indexDirMode); err != nil {
			return fmt.Errorf("open index shard: %w", err)
		}
	}
	db, err := openDB(path)
	if errors.Is(err, buntdb.ErrInvalid) {
		if rerr := os.Remove(path); rerr == nil {
			db, err = openDB(path)
		}
	}
	if err != nil {
		return fmt.Errorf("open index shard %s: %w", path, err)
	}
	_ = db.SetConfig(buntdb.Config{SyncPolicy: buntdb.Never, AutoShrinkPercentage: 100, AutoShrinkMinSize: 32 << 20})
	items := 0
	err = db.Update(func(tx *buntdb.Tx) error {
		if id, err := tx.Get(keyShardAcct); err != nil || id != sh.id {
			// New, or left by an account that had this Seq before a
			// Rebuild: start afresh.
			if err := tx.DeleteAll(); err != nil {
				return err
			}
			_, _, err := tx.Set(keyShardAcct, sh.id, nil)
			return err
		}
		items = getInt(tx, keyShardItems)
		return nil
	})
	if err != nil {
		db.Close()
		return fmt.Errorf("open index shard %s: %w", path, err)
	}
	sh.db = db
	ix.shardsMu.Lock()
	sh.items = items
	ix.loaded += items
	ix.shardsMu.Unlock()
	return nil
}

// getInt reads a decimal key (0 if missing or not a number).
func getInt(tx *buntdb.Tx, k string) int {
	v, err := tx.Get(k)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(v)
	return n
}

// release gives back a reference and closes unused shards while the loaded
// ones hold more items than the budget, least recently used first.
func (ix *Index) release(sh *shard) {
	ix.shardsMu.Lock()
	sh.refs--
	ix.clock++
	sh.lastUse = ix.clock
	ix.shardsMu.Unlock()
	ix.evict()
}

// setItems records a loaded shard's item count (its RAM weight).
func (ix *Index) setItems(sh *shard, n int) {
	ix.shardsMu.Lock()
	ix.loaded += n - sh.items
	sh.items = n
	ix.shardsMu.Unlock()
}

// evict closes unused shards, least recently used first, until the loaded
// shards hold at most the budget of items. A RAM-only index keeps
// everything (a closed RAM shard would be lost).
func (ix *Index) evict() {
	if ix.dbPath == memoryPath || ix.budget <= 0 {
		return
	}
	for {
		ix.shardsMu.Lock()
		if ix.loaded <= ix.budget {
			ix.shardsMu.Unlock()
			return
		}
		var victim *shard
		for _, s := range ix.shards {
			if s.refs == 0 && s.db != nil && (victim == nil || s.lastUse < victim.lastUse) {
				victim = s
			}
		}
		if victim == nil || !victim.mu.TryLock() {
			ix.shardsMu.Unlock()
			return
		}
		db := victim.db
		victim.db = nil
		ix.loaded -= victim.items
		victim.items = 0
		ix.shardsMu.Unlock()
		if err := db.Close(); err != nil {
			slog.Warn("index: close shard", "account", victim.id, "err", err)
		}
		victim.mu.Unlock()
	}
}

// dropShard closes a shard and removes its file (an account gone from the
// Backup Path, or a Rebuild).
func (ix *Index) dropShard(seq uint32) error {
	ix.shardsMu.Lock()
	sh := ix.shards[seq]
	delete(ix.shards, seq)
	ix.shardsMu.Unlock()
	if sh != nil {
		sh.mu.Lock()
		if sh.db != nil {
			sh.db.Close()
			sh.db = nil
			ix.shardsMu.Lock()
			ix.loaded -= sh.items
			ix.shardsMu.Unlock()
		}
		sh.mu.Unlock()
	}
	if p := ix.shardPath(seq); p != memoryShard {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// closeShards closes every loaded shard (Close, Rebuild).
func (ix *Index) closeShards() error {
	ix.shardsMu.Lock()
	shards := make([]*shard, 0, len(ix.shards))
	for _, s := range ix.shards {
		shards = append(shards, s)
	}
	ix.shards = map[uint32]*shard{}
	ix.loaded = 0
	ix.shardsMu.Unlock()
	var first error
	for _, s := range shards {
		s.mu.Lock()
		if s.db != nil {
			if err := s.db.Close(); err != nil && first == nil {
				first = err
			}
			s.db = nil
		}
		s.mu.Unlock()
	}
	return first
}

// AccountStatus says how far an account is indexed in this process.
type AccountStatus struct {
	// State is "indexed" (refreshed since the account list last was),
	// "indexing" (a refresh is under way) or "waiting" (not yet looked at
	// since the account list was refreshed: its first use, or the
	// background indexer, will).
	State       string
	Done, Total int    // item files read so far of those to read (indexing)
	Items       int    // items indexed (as of the last refresh)
	Read        int    // item files the last refresh in this process read
	Err         string // why the last refresh failed ("" if it did not)
	Took        time.Duration
}

// Status reports an account's indexing state (for the mount's
// user.cbfs.index attribute and logs). It never waits for a refresh.
func (ix *Index) Status(accountID string) (AccountStatus, error) {
	var a *acctRec
	err := ix.view(func(tx *buntdb.Tx) error {
		var err error
		a, err = findAccount(tx, accountID)
		return err
	})
	if err != nil {
		return AccountStatus{}, err
	}
	st := AccountStatus{State: "waiting", Items: a.Items}
	ix.shardsMu.Lock()
	sh := ix.shards[a.Seq]
	ix.shardsMu.Unlock()
	if sh == nil {
		if ix.gen.Load() == 0 {
			st.State = "indexed"
		}
		return st, nil
	}
	if e := sh.lastErr.Load(); e != nil {
		st.Err = *e
	}
	st.Took = time.Duration(sh.lastTook.Load())
	st.Read = int(sh.lastRead.Load())
	switch {
	case sh.indexing.Load():
		st.State, st.Done, st.Total = "indexing", int(sh.done.Load()), int(sh.total.Load())
	case sh.gen.Load() >= ix.gen.Load():
		st.State = "indexed"
	}
	return st, nil
}
