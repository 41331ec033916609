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
	Items    int    // item count
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
	dbPath string // absolute, or ":memory:"
	db     *buntdb.DB
	lock   *pathlock.Lock

	// mu serialises Refresh, Rebuild and Close.
	mu     sync.Mutex
	closed bool

	// racy: files and folders modified less than this before a refresh
	// are recorded as "read again next time" (file times are coarse).
	racy    time.Duration
	workers int // item file parsers
	batch   int // items per write transaction
}

// schemaVersion is the version of the key layout and record encodings.
// Bump it (and add a migration, or let old indexes be rebuilt) whenever
// either changes.
const schemaVersion = 2

// migration turns schema version from into from+1 inside one transaction.
type migration struct {
	from  int
	apply func(tx *buntdb.Tx) error
}

// migrations is the ordered chain of schema upgrades (ergo's
// irc/database.go style). An index whose version has no path to
// schemaVersion through this chain is rebuilt instead.
//
//	v1 -> v2: per-item folder keys "folder:<seq>:<folderId>:<itemId>" become
//	          one packed list per folder "folder:<seq>:<folderId>".
var migrations = []migration{{from: 1, apply: packFolderKeys}}

// Defaults of an open Index.
const (
	defaultRacy      = 2 * time.Second
	defaultBatch     = 4096
	defaultWorkers   = 2
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
	if bp == nil || bp.Root == "" {
		return nil, errors.New("open index: no Backup Path")
	}
	ix := &Index{bp: bp, dbPath: dbPath, racy: defaultRacy, batch: defaultBatch, workers: defaultWorkers}
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

// checkSchema migrates the index to schemaVersion, or empties it if it is
// of an unknown version or describes another Backup Path.
func (ix *Index) checkSchema() error {
	return ix.db.Update(func(tx *buntdb.Tx) error {
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
			return wipe(tx, ix.bp)
		}
		return nil
	})
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

// Refresh brings the index up to date with the Backup Path, re-reading only
// item files that changed (by folder and file modification time and size).
func (ix *Index) Refresh(ctx context.Context, progress func(Progress)) (RefreshStats, error) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.closed {
		return RefreshStats{}, errClosed
	}
	return ix.sync(ctx, progress)
}

// Rebuild drops everything and indexes the Backup Path from scratch.
func (ix *Index) Rebuild(ctx context.Context, progress func(Progress)) (RefreshStats, error) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.closed {
		return RefreshStats{}, errClosed
	}
	if err := ix.db.Update(func(tx *buntdb.Tx) error { return wipe(tx, ix.bp) }); err != nil {
		return RefreshStats{}, fmt.Errorf("rebuild index: %w", err)
	}
	return ix.sync(ctx, progress)
}

var errClosed = errors.New("index is closed")

// Close flushes and closes the index and releases the lock.
func (ix *Index) Close() error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.closed {
		return nil
	}
	ix.closed = true
	err := ix.db.Close()
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

// view runs fn in a read transaction, with the index's own error words.
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

// Item returns one item of an account.
func (ix *Index) Item(accountID string, itemID int) (Item, error) {
	var it Item
	err := ix.view(func(tx *buntdb.Tx) error {
		a, err := findAccount(tx, accountID)
		if err != nil {
			return err
		}
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
	var a *acctRec
	start := ""
	for {
		var chunk []Item
		err := ix.view(func(tx *buntdb.Tx) error {
			if a == nil {
				var err error
				if a, err = findAccount(tx, accountID); err != nil {
					return err
				}
				start = itemKey(a.Seq, 0)
			}
			prefix := seqPrefix(tmplItem, a.Seq)
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
	err := ix.view(func(tx *buntdb.Tx) error {
		a, err := findAccount(tx, accountID)
		if err != nil {
			return err
		}
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
	err := ix.view(func(tx *buntdb.Tx) error {
		a, err := findAccount(tx, accountID)
		if err != nil {
			return err
		}
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
	err := ix.view(func(tx *buntdb.Tx) error {
		a, err := findAccount(tx, accountID)
		if err != nil {
			return err
		}
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
