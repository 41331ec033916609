// Package index keeps a buntdb index of one Backup Path: accounts (by name
// and id), items with every state, folders, so that listing a folder or an
// item's history never walks the disk. It is built on first use, refreshed
// incrementally (only changed files are re-read), persisted to a file
// outside the Backup Path, rebuildable at any time, and schema-versioned.
package index

import (
	"context"
	"errors"
	"time"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/blob"
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

// Account is an account as the index holds it.
type Account struct {
	Seq         uint32 // small number assigned when first indexed; stable for the index's life (inode numbers)
	ID          string
	Name        string // account_info name; the id if account_info is unreadable
	Status      string // backuppath.StatusActive / StatusDeleted
	DisplayName string
	COSID       string
	COSName     string
	Created     time.Time
	Deleted     time.Time
	Items       int    // item count
	Err         string // why account_info could not be read ("" if fine)
	ErrClass    string // "unreadable" or "broken" ("" if fine)
}

// State is one state of an item, as much as the tree and listings need. The
// full state (subject, unknown keys, ...) is in the item file (Item.RelPath).
type State struct {
	Start    time.Time
	Type     backuppath.ItemType
	FolderID int
	Flags    string
	Tags     []string
	Deleted  bool
	Digest   blob.Digest
	Size     int64     // uncompressed content size
	Date     time.Time // item date (mtime of the .eml)
	Name     string    // folders, documents, contacts
	ParentID int       // folders
}

// Item is an item with its states, oldest first.
type Item struct {
	AccountSeq uint32
	ID         int
	RelPath    string // item file, relative to the Backup Path root
	States     []State
	Err        string // why the item file could not be read or parsed
	ErrClass   string // "unreadable" or "broken"
}

// Latest is the newest state (nil for an unreadable item).
func (it *Item) Latest() *State {
	if len(it.States) == 0 {
		return nil
	}
	return &it.States[len(it.States)-1]
}

// StateAt is the state in force at t, or nil.
func (it *Item) StateAt(t time.Time) *State {
	var s *State
	for i := range it.States {
		if it.States[i].Start.After(t) {
			break
		}
		s = &it.States[i]
	}
	return s
}

// Folder is a folder of an account at some moment.
type Folder struct {
	ID       int
	ParentID int
	Name     string
	Path     string // "/"-separated from the root, e.g. "Inbox/Projects/2024"; "" for the root
}

// Index is an open index. Methods are safe for concurrent use.
type Index struct {
	// implementation fields
}

// Open opens the index file dbPath for the Backup Path bp, creating it if
// missing and rebuilding it if its schema version or Backup Path differs.
// It takes an exclusive lock (a lock file beside dbPath); if another process
// holds it, Open returns an error wrapping ErrLocked that names the file.
// dbPath ":memory:" keeps the index in RAM only. Open does not refresh: call
// Refresh (or Rebuild) before use.
func Open(bp *backuppath.Path, dbPath string) (*Index, error) { panic("unimplemented") }

// Refresh brings the index up to date with the Backup Path, re-reading only
// item files that changed (by folder and file modification time and size).
func (ix *Index) Refresh(ctx context.Context, progress func(Progress)) (RefreshStats, error) {
	panic("unimplemented")
}

// Rebuild drops everything and indexes the Backup Path from scratch.
func (ix *Index) Rebuild(ctx context.Context, progress func(Progress)) (RefreshStats, error) {
	panic("unimplemented")
}

// Close flushes and closes the index and releases the lock.
func (ix *Index) Close() error { panic("unimplemented") }

// BackupPath is the Backup Path this index describes.
func (ix *Index) BackupPath() *backuppath.Path { panic("unimplemented") }

// Accounts lists every account, sorted by name (ties by id).
func (ix *Index) Accounts() ([]Account, error) { panic("unimplemented") }

// Account finds an account by name (case-insensitive) or id.
func (ix *Index) Account(nameOrID string) (Account, error) { panic("unimplemented") }

// Item returns one item of an account.
func (ix *Index) Item(accountID string, itemID int) (Item, error) { panic("unimplemented") }

// Items calls fn for each item of an account in ascending id order, until fn
// returns false.
func (ix *Index) Items(accountID string, fn func(*Item) bool) error { panic("unimplemented") }

// FolderItems lists (ascending) the items whose latest state is not deleted
// and lies in folder folderID. Folder items themselves are not included.
func (ix *Index) FolderItems(accountID string, folderID int) ([]int, error) {
	panic("unimplemented")
}

// DeletedItems lists (ascending) the items whose latest state is deleted.
func (ix *Index) DeletedItems(accountID string) ([]int, error) { panic("unimplemented") }

// Folders is the account's folder tree as it was at t (the latest if t is
// zero), from the folder items' states, with system folders named by
// backuppath.SystemFolderNames when the backup holds no item for them.
// Sorted by Path.
func (ix *Index) Folders(accountID string, t time.Time) ([]Folder, error) { panic("unimplemented") }

// ChangeDays lists the UTC days (midnight) on which any state of the
// account's items started, ascending.
func (ix *Index) ChangeDays(accountID string) ([]time.Time, error) { panic("unimplemented") }
