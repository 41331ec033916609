package index

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/internal/pathlock"
	"github.com/cbfs/cbfs/mailbox"
	"github.com/tidwall/buntdb"
)

var (
	// ErrLocked: another process has the index file open.
	ErrLocked = errors.New("index is in use by another process")
	// ErrNotFound: no such account or item in the index.
	ErrNotFound = errors.New("not found")
)

// Progress reports index building.
type Progress struct {
	Accounts, AccountsDone int
	ItemsDone              int // item files (re)read so far
}

// RefreshStats says what a Refresh or Rebuild did.
type RefreshStats struct {
	Accounts     int // accounts in the index afterwards
	Items        int // items in the index afterwards
	ItemsRead    int // item files parsed by this refresh
	ItemsRemoved int // items whose file disappeared
	Unreadable   int // items/accounts unreadable or broken
	Duration     time.Duration
}

// Account is an account as the index holds it: the model's account (its
// name, status, COS and dates; not its attributes) and the index's own
// facts about it.
type Account struct {
	mailbox.Account
	Seq      uint32 // small number assigned when first indexed; stable for the index's life (inode numbers)
	Items    int    // item count as of the account's last indexing (0 before it: see Indexed, ItemCount)
	Indexed  bool   // its items were indexed once
	Err      string // why account_info could not be read ("" if fine); Name is the id then
	ErrClass string // "unreadable" or "broken" ("" if fine)
}

// Item is the model's item; the index keeps its states compactly (every
// concept the tree and listings need, not the summaries or unknown keys:
// those are in the item file, Item.RelPath).
type Item = mailbox.Item

// State is the model's state.
type State = mailbox.State

// Folder is a folder of an account at some moment.
type Folder = mailbox.Folder

// Index is an open index. Methods are safe for concurrent use.
type Index struct {
	bp     *backuppath.Path
	dbPath string     // absolute, or ":memory:"
	db     *buntdb.DB // the root: meta and account records; items are in shards
	lock   *pathlock.Lock

	// mu serialises Refresh, Rebuild and Close.
	mu     sync.Mutex
	closed atomic.Bool
	// life ends at Close: on-demand refreshes run under it, so Close does
	// not wait for a big account's indexing to finish.
	life    context.Context
	endLife context.CancelFunc

	// gen counts the account list's refreshes; a shard refreshed at an
	// older generation is refreshed again when next used.
	gen atomic.Uint64
	// demand counts on-demand shard refreshes under way, lastDemand is
	// when a reader last used a shard (Unix ns); the background indexer
	// waits while there are any and for yieldQuiet after the last use, so
	// a user browsing is not slowed by it.
	demand     atomic.Int64
	lastDemand atomic.Int64

	shardsMu sync.Mutex
	shards   map[uint32]*shard // by Seq: every shard used in this process
	loaded   int               // items in loaded shards
	clock    uint64            // use counter for the LRU
	budget   int               // loaded items above which unused shards are closed (0: no limit)
	prepare  func(ctx context.Context, accountID string) error

	// racy: files and folders modified less than this before a refresh
	// are recorded as "read again next time" (file times are coarse).
	racy    time.Duration
	workers int // item file readers and parsers per account refresh
	batch   int // items per write transaction
}

// Options tune an open index.
type Options struct {
	// MaxLoadedItems bounds the items of the shards kept in RAM: past it,
	// shards nobody uses are closed, least recently used first (about
	// 250 bytes each; 0: DefaultMaxLoadedItems, <0: no bound).
	MaxLoadedItems int
	// Workers read and parse an account's item files (0:
	// DefaultWorkers). Reading item files cold is bound by the disk's
	// queue depth, not the CPU: more readers than cores pay.
	Workers int
	// Prepare, if set, is called before an account's items are indexed
	// (its first use, and after each Refresh): a Backup Path on external
	// storage fetches the account's metadata there.
	Prepare func(ctx context.Context, accountID string) error
}

// Defaults of Options.
const (
	DefaultMaxLoadedItems = 400_000
	DefaultWorkers        = 16
)

// schemaVersion is the version of the key layout and record encodings.
// Bump it (and add a migration, or let old indexes be rebuilt) whenever
// either changes.
//
//	v3: items moved from the one file to per-account shard files.
const schemaVersion = 3

// migration turns schema version from into from+1 inside one transaction.
type migration struct {
	from  int
	apply func(tx *buntdb.Tx) error
}

// migrations is the ordered chain of schema upgrades (ergo's
// irc/database.go style). An index whose version has no path to
// schemaVersion through this chain is rebuilt instead: versions 1 and 2
// held every item in one file; an index is a cache, and building v3's
// shards from scratch costs no more than moving them.
var migrations = []migration{}

// Defaults of an open Index.
const (
	defaultRacy      = 2 * time.Second
	defaultBatch     = 4096
	memoryPath       = ":memory:"
	indexDirMode     = 0o700
	schemaKeyMissing = -1
)

// Open opens the index file dbPath for the Backup Path bp, creating it if
// missing and rebuilding it if its schema version or Backup Path differs.
// It takes an exclusive lock (a lock file beside dbPath); if another process
// holds it, Open returns an error wrapping ErrLocked that names the file.
// dbPath ":memory:" keeps the index in RAM only. Open does not refresh: call
// Refresh (or Rebuild) before use.
func Open(bp *backuppath.Path, dbPath string) (*Index, error) {
	return OpenWith(bp, dbPath, Options{})
}

// OpenWith is Open with options.
func OpenWith(bp *backuppath.Path, dbPath string, o Options) (*Index, error) {
	if bp == nil || bp.Root == "" {
		return nil, errors.New("open index: no Backup Path")
	}
	ix := &Index{bp: bp, dbPath: dbPath, racy: defaultRacy, batch: defaultBatch, workers: o.Workers,
		budget: o.MaxLoadedItems, prepare: o.Prepare, shards: map[uint32]*shard{}}
	ix.life, ix.endLife = context.WithCancel(context.Background())
	if ix.workers <= 0 {
		ix.workers = DefaultWorkers
	}
	switch {
	case ix.budget == 0:
		ix.budget = DefaultMaxLoadedItems
	case ix.budget < 0:
		ix.budget = 0
	}
	if dbPath != memoryPath {
		abs, err := filepath.Abs(dbPath)
		if err != nil {
			return nil, fmt.Errorf("open index %s: %w", dbPath, err)
		}
		if within(bp.Root, abs) {
			return nil, fmt.Errorf("open index %s: the index file must be outside the Backup Path %s", dbPath, bp.Root)
		}
		ix.dbPath = abs
		if err := os.MkdirAll(filepath.Dir(abs), indexDirMode); err != nil {
			return nil, fmt.Errorf("open index %s: %w", dbPath, err)
		}
		if ix.lock, err = lockFile(abs); err != nil {
			return nil, err
		}
	}
	db, err := openDB(ix.dbPath)
	if errors.Is(err, buntdb.ErrInvalid) {
		// A damaged index file is only a cache: start afresh.
		if rerr := os.Remove(ix.dbPath); rerr == nil {
			db, err = openDB(ix.dbPath)
		}
	}
	if err != nil {
		unlockFile(ix.lock)
		return nil, fmt.Errorf("open index %s: %w", dbPath, err)
	}
	ix.db = db
	_ = db.SetConfig(buntdb.Config{SyncPolicy: buntdb.EverySecond, AutoShrinkPercentage: 100, AutoShrinkMinSize: 8 << 20})
	if err := ix.checkSchema(); err != nil {
		db.Close()
		unlockFile(ix.lock)
		return nil, fmt.Errorf("open index %s: %w", dbPath, err)
	}
	return ix, nil
}

// openDB opens the buntdb file, which replays its whole append-only log
// into RAM. The replay allocates two strings per key and little garbage
// that outlives it, so the collector's repeated marking is wasted work: with
// GOGC raised to 400 for the replay, opening a 1M-item index took 3.2 s
// instead of 5.4 s (GC off: 3.1 s, at the cost of a higher peak). The
// previous setting is restored afterwards.
func openDB(path string) (*buntdb.DB, error) {
	old := debug.SetGCPercent(400)
	defer debug.SetGCPercent(old)
	return buntdb.Open(path)
}

// within reports whether path is root or below it.
func within(root, path string) bool {
	rel, err := filepath.Rel(root, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// checkSchema migrates the index to schemaVersion, or empties it (and
// removes its shards) if it is of an unknown version or describes another
// Backup Path.
func (ix *Index) checkSchema() error {
	wiped := false
	err := ix.db.Update(func(tx *buntdb.Tx) error {
		v := schemaKeyMissing
		if s, err := tx.Get(keySchema); err == nil {
			if n, err := strconv.Atoi(s); err == nil {
				v = n
			}
		} else if n, _ := tx.Len(); n == 0 {
			return initMeta(tx, ix.bp)
		}
		ok, err := migrate(tx, v)
		if err != nil {
			return err
		}
		root, _ := tx.Get(keyRoot)
		km, _ := tx.Get(keyKeyMap)
		if !ok || root != ix.bp.Root || km != ix.bp.KeyMapID {
			wiped = true
			return wipe(tx, ix.bp)
		}
		return nil
	})
	if err == nil && wiped {
		err = ix.removeShardFiles()
	}
	return err
}

// removeShardFiles removes the folder of shard files (a wiped index).
func (ix *Index) removeShardFiles() error {
	if ix.dbPath == memoryPath {
		return nil
	}
	if err := os.RemoveAll(ix.dbPath + shardsDirSuffix); err != nil {
		return fmt.Errorf("remove index shards: %w", err)
	}
	return nil
}

// migrate applies the chain from version v; ok is false when there is none.
func migrate(tx *buntdb.Tx, v int) (ok bool, err error) {
	for v < schemaVersion {
		i := sort.Search(len(migrations), func(i int) bool { return migrations[i].from >= v })
		if v < 1 || i == len(migrations) || migrations[i].from != v {
			return false, nil
		}
		if err := migrations[i].apply(tx); err != nil {
			return false, fmt.Errorf("migrate index from schema %d: %w", v, err)
		}
		v++
		if _, _, err := tx.Set(keySchema, strconv.Itoa(v), nil); err != nil {
			return false, err
		}
	}
	return v == schemaVersion, nil
}

func initMeta(tx *buntdb.Tx, bp *backuppath.Path) error {
	for k, v := range map[string]string{keySchema: strconv.Itoa(schemaVersion), keyRoot: bp.Root, keyNextSeq: "1", keyKeyMap: bp.KeyMapID} {
		if _, _, err := tx.Set(k, v, nil); err != nil {
			return err
		}
	}
	return nil
}

// wipe empties the index (account Seqs start again at 1).
func wipe(tx *buntdb.Tx, bp *backuppath.Path) error {
	if err := tx.DeleteAll(); err != nil {
		return err
	}
	return initMeta(tx, bp)
}

// Refresh brings the whole index up to date with the Backup Path, every
// account's items included, re-reading only item files that changed (by
// folder and file modification time and size).
func (ix *Index) Refresh(ctx context.Context, progress func(Progress)) (RefreshStats, error) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.isClosed() {
		return RefreshStats{}, errClosed
	}
	return ix.sync(ctx, progress, false)
}

// RefreshAccounts brings the account list up to date (new, vanished and
// renamed accounts: account_info files only) and reads no item file: each
// account's items are brought up to date when the account is next used
// (any read method), or by IndexAll. A never-seen Backup Path of any size
// is ready after this. Stats count items as last indexed.
func (ix *Index) RefreshAccounts(ctx context.Context) (RefreshStats, error) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.isClosed() {
		return RefreshStats{}, errClosed
	}
	return ix.sync(ctx, nil, true)
}

// Rebuild drops everything and indexes the Backup Path from scratch.
func (ix *Index) Rebuild(ctx context.Context, progress func(Progress)) (RefreshStats, error) {
	return ix.rebuild(ctx, progress, false)
}

// RebuildAccounts drops everything and lists the accounts again; items
// are indexed on use, as after RefreshAccounts.
func (ix *Index) RebuildAccounts(ctx context.Context) (RefreshStats, error) {
	return ix.rebuild(ctx, nil, true)
}

func (ix *Index) rebuild(ctx context.Context, progress func(Progress), lazy bool) (RefreshStats, error) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.isClosed() {
		return RefreshStats{}, errClosed
	}
	if err := ix.closeShards(); err != nil {
		return RefreshStats{}, fmt.Errorf("rebuild index: %w", err)
	}
	if err := ix.db.Update(func(tx *buntdb.Tx) error { return wipe(tx, ix.bp) }); err != nil {
		return RefreshStats{}, fmt.Errorf("rebuild index: %w", err)
	}
	if err := ix.removeShardFiles(); err != nil {
		return RefreshStats{}, fmt.Errorf("rebuild index: %w", err)
	}
	return ix.sync(ctx, progress, lazy)
}

var errClosed = errors.New("index is closed")

func (ix *Index) isClosed() bool { return ix.closed.Load() }

// Close flushes and closes the index and releases the lock. Refreshes
// under way stop.
func (ix *Index) Close() error {
	ix.endLife()
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.closed.Swap(true) {
		return nil
	}
	err := ix.closeShards()
	if cerr := ix.db.Close(); err == nil {
		err = cerr
	}
	if uerr := unlockFile(ix.lock); err == nil {
		err = uerr
	}
	if err != nil {
		return fmt.Errorf("close index %s: %w", ix.dbPath, err)
	}
	return nil
}

// BackupPath is the Backup Path this index describes.
func (ix *Index) BackupPath() *backuppath.Path { return ix.bp }

// view runs fn in a read transaction of the root, with the index's own
// error words.
func (ix *Index) view(fn func(tx *buntdb.Tx) error) error {
	err := ix.db.View(fn)
	if errors.Is(err, buntdb.ErrDatabaseClosed) {
		return errClosed
	}
	return err
}

// Accounts lists every account, sorted by name (ties by id).
func (ix *Index) Accounts() ([]Account, error) {
	var out []Account
	err := ix.view(func(tx *buntdb.Tx) error {
		var derr error
		err := scanPrefix(tx, tmplAcct, func(_, v string) bool {
			a, err := decodeAcct(v)
			if err != nil {
				derr = err
				return false
			}
			out = append(out, a.account())
			return true
		})
		if err != nil {
			return err
		}
		return derr
	})
	if err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// Account finds an account by name (case-insensitive) or id.
func (ix *Index) Account(nameOrID string) (Account, error) {
	var a *acctRec
	err := ix.view(func(tx *buntdb.Tx) error {
		var err error
		a, err = findAccount(tx, nameOrID)
		return err
	})
	if err != nil {
		return Account{}, err
	}
	return a.account(), nil
}

// findAccount resolves an id or a name; among accounts sharing a name, the
// one mailbox.Prefer prefers.
func findAccount(tx *buntdb.Tx, nameOrID string) (*acctRec, error) {
	if s, err := tx.Get(acctIDKey(nameOrID)); err == nil {
		v, err := tx.Get(tmplAcct + s)
		if err != nil {
			return nil, fmt.Errorf("account %s: %w: id entry without record", nameOrID, errCorrupt)
		}
		return decodeAcct(v)
	}
	var best *acctRec
	var derr error
	err := scanPrefix(tx, acctNamePrefix(nameOrID), func(k, _ string) bool {
		v, err := tx.Get(tmplAcct + k[strings.LastIndexByte(k, ':')+1:])
		if err != nil {
			return true
		}
		a, err := decodeAcct(v)
		if err != nil {
			derr = err
			return false
		}
		if best == nil || betterAccount(a, best) {
			best = a
		}
		return true
	})
	if err == nil {
		err = derr
	}
	if err != nil {
		return nil, fmt.Errorf("account %s: %w", nameOrID, err)
	}
	if best == nil {
		return nil, fmt.Errorf("account %s: %w", nameOrID, ErrNotFound)
	}
	return best, nil
}

// betterAccount: the model's one rule for which account a shared name means.
func betterAccount(a, b *acctRec) bool {
	x, y := a.account(), b.account()
	return mailbox.Prefer(&x.Account, &y.Account)
}

// inShard runs fn in a read transaction of the account's shard, loaded and
// brought up to date first if needed (an on-demand refresh: this caller
// waits for this account only).
func (ix *Index) inShard(nameOrID string, fn func(a *acctRec, tx *buntdb.Tx) error) error {
	a, err := ix.account(nameOrID)
	if err != nil {
		return err
	}
	sh, db, err := ix.acquire(ix.life, a, onDemand)
	if err != nil {
		return err
	}
	defer ix.release(sh)
	defer ix.used()
	err = db.View(func(tx *buntdb.Tx) error { return fn(a, tx) })
	if errors.Is(err, buntdb.ErrDatabaseClosed) {
		return errClosed
	}
	return err
}

// used records that a reader used a shard now (the background yields).
func (ix *Index) used() { ix.lastDemand.Store(time.Now().UnixNano()) }

// busy reports whether readers are waiting or were served less than
// yieldQuiet ago.
func (ix *Index) busy() bool {
	return ix.demand.Load() > 0 || time.Since(time.Unix(0, ix.lastDemand.Load())) < yieldQuiet
}

// account resolves a name or id in the root.
func (ix *Index) account(nameOrID string) (*acctRec, error) {
	var a *acctRec
	err := ix.view(func(tx *buntdb.Tx) error {
		var err error
		a, err = findAccount(tx, nameOrID)
		return err
	})
	return a, err
}

// ItemCount is the number of items of an account, indexing it first if
// needed (Account's Items is as of the last indexing).
func (ix *Index) ItemCount(accountID string) (int, error) {
	n := 0
	err := ix.inShard(accountID, func(_ *acctRec, tx *buntdb.Tx) error {
		n = getInt(tx, keyShardItems)
		return nil
	})
	return n, err
}

// Item returns one item of an account.
func (ix *Index) Item(accountID string, itemID int) (Item, error) {
	var it Item
	err := ix.inShard(accountID, func(a *acctRec, tx *buntdb.Tx) error {
		v, err := tx.Get(itemKey(a.Seq, itemID))
		if errors.Is(err, buntdb.ErrNotFound) {
			return fmt.Errorf("account %s: item %d: %w", accountID, itemID, ErrNotFound)
		}
		if err != nil {
			return err
		}
		it, err = makeItem(a, itemID, v)
		return err
	})
	return it, err
}

// makeItem decodes an item record.
func makeItem(a *acctRec, id int, v string) (Item, error) {
	r, err := decodeItem(v)
	if err != nil {
		return Item{}, fmt.Errorf("account %s: item %d: %w", a.ID, id, err)
	}
	bucket := r.Bucket
	if bucket == "" {
		bucket = mailbox.Bucket(id)
	}
	return Item{
		ID:       id,
		RelPath:  filepath.Join(backuppath.AccountsDir, a.ID, backuppath.ItemsDir, bucket, strconv.Itoa(id)),
		States:   r.States,
		Err:      r.Err,
		ErrClass: r.ErrClass,
	}, nil
}

// itemsChunk is how many items Items decodes per read transaction: fn is
// called outside any transaction, so it may use the index itself.
const itemsChunk = 512

// Items calls fn for each item of an account in ascending id order, until fn
// returns false.
func (ix *Index) Items(accountID string, fn func(*Item) bool) error {
	a, err := ix.account(accountID)
	if err != nil {
		return fmt.Errorf("list items: %w", err)
	}
	sh, db, err := ix.acquire(ix.life, a, onDemand)
	if err != nil {
		return fmt.Errorf("list items: %w", err)
	}
	defer ix.release(sh)
	defer ix.used()
	start := itemKey(a.Seq, 0)
	prefix := seqPrefix(tmplItem, a.Seq)
	for {
		var chunk []Item
		err := db.View(func(tx *buntdb.Tx) error {
			var derr error
			err := tx.AscendGreaterOrEqual("", start, func(k, v string) bool {
				if !strings.HasPrefix(k, prefix) {
					return false
				}
				if len(chunk) == itemsChunk {
					start = k
					return false
				}
				id, _ := idOfKey(k)
				it, err := makeItem(a, id, v)
				if err != nil {
					derr = err
					return false
				}
				chunk = append(chunk, it)
				return true
			})
			if err == nil {
				err = derr
			}
			return err
		})
		if errors.Is(err, buntdb.ErrDatabaseClosed) {
			err = errClosed
		}
		if err != nil {
			return fmt.Errorf("list items: %w", err)
		}
		for i := range chunk {
			if !fn(&chunk[i]) {
				return nil
			}
		}
		if len(chunk) < itemsChunk {
			return nil
		}
	}
}

// ids collects the trailing ids of the keys with a prefix that depends on
// the account.
func (ix *Index) ids(accountID string, prefix func(seq uint32) string) ([]int, error) {
	var out []int
	err := ix.inShard(accountID, func(a *acctRec, tx *buntdb.Tx) error {
		return scanPrefix(tx, prefix(a.Seq), func(k, _ string) bool {
			if id, ok := idOfKey(k); ok {
				out = append(out, id)
			}
			return true
		})
	})
	return out, err
}

// FolderItems lists (ascending) the items whose latest state is not deleted
// and lies in folder folderID. Folder items themselves are not included.
func (ix *Index) FolderItems(accountID string, folderID int) ([]int, error) {
	var out []int
	err := ix.inShard(accountID, func(a *acctRec, tx *buntdb.Tx) error {
		v, err := tx.Get(folderKey(a.Seq, folderID))
		if errors.Is(err, buntdb.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		out, err = decodeIDList(v)
		return err
	})
	return out, err
}

// DeletedItems lists (ascending) the items whose latest state is deleted.
func (ix *Index) DeletedItems(accountID string) ([]int, error) {
	return ix.ids(accountID, func(seq uint32) string { return seqPrefix(tmplDel, seq) })
}

// ChangeDays lists the UTC days (midnight) on which any state of the
// account's items started, ascending.
func (ix *Index) ChangeDays(accountID string) ([]time.Time, error) {
	var out []time.Time
	err := ix.inShard(accountID, func(a *acctRec, tx *buntdb.Tx) error {
		prefix := seqPrefix(tmplDay, a.Seq)
		return scanPrefix(tx, prefix, func(k, _ string) bool {
			if d, err := time.Parse(dayLayout, k[len(prefix):]); err == nil {
				out = append(out, d)
			}
			return true
		})
	})
	return out, err
}

// dayLayout names a UTC day in day keys (sorts like the days).
const dayLayout = "2006-01-02"
