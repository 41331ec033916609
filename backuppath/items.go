package backuppath

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/internal/confined"
	"github.com/cbfs/cbfs/mailbox"
)

// ItemRelPath is where a writer puts item id of an account, relative to the
// Backup Path root. Readers discover item files (ItemFiles) instead.
func ItemRelPath(accountID string, id int) string {
	return filepath.Join(AccountsDir, accountID, ItemsDir, mailbox.Bucket(id), strconv.Itoa(id))
}

// ItemFile is an item file found on disk.
type ItemFile struct {
	ItemID  int
	RelPath string // relative to the Backup Path root
	Size    int64
	ModTime time.Time
}

// Bucket is the bucket folder the file is in.
func (f ItemFile) Bucket() string { return filepath.Base(filepath.Dir(f.RelPath)) }

// ItemFiles discovers the item files of an account: every file named by a
// decimal item id in any folder under accounts/<id>/items/, sorted by item
// id. Names that are not ids are returned in others (relative paths) so a
// caller can report them.
func (p *Path) ItemFiles(accountID string) (files []ItemFile, others []string, err error) {
	if err := checkName("account id", accountID); err != nil {
		return nil, nil, fmt.Errorf("list items: %w", err)
	}
	base := filepath.Join(AccountsDir, accountID, ItemsDir)
	buckets, err := p.listDir(base)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("list items of account %s: %w: %w", accountID, blob.ErrUnreadable, err)
	}
	for _, b := range buckets {
		if !b.IsDir() { // a file, or a symbolic link (not followed)
			others = append(others, filepath.Join(base, b.Name()))
			continue
		}
		bf, err := p.BucketFiles(accountID, b.Name())
		if err != nil {
			return nil, nil, err
		}
		for _, f := range bf {
			if f.ItemID < 0 {
				others = append(others, f.RelPath)
			} else {
				files = append(files, f)
			}
		}
	}
	// By id; when one id is in two buckets, the copy that counts
	// (mailbox.PreferFile) first.
	sort.Slice(files, func(i, j int) bool {
		if files[i].ItemID != files[j].ItemID {
			return files[i].ItemID < files[j].ItemID
		}
		return mailbox.PreferFile(files[i].ItemID, files[i].Bucket(), files[j].Bucket())
	})
	return files, others, nil
}

// ItemCount is len(files) of ItemFiles(accountID), found by listing the
// folders alone: no item file is opened or stat'ed (ItemFiles stats each
// for its size and time), so counting a 100,000-item account costs about
// 100 folder reads.
func (p *Path) ItemCount(accountID string) (int, error) {
	if err := checkName("account id", accountID); err != nil {
		return 0, fmt.Errorf("count items: %w", err)
	}
	base := filepath.Join(AccountsDir, accountID, ItemsDir)
	buckets, err := p.listDir(base)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("list items of account %s: %w: %w", accountID, blob.ErrUnreadable, err)
	}
	n := 0
	for _, b := range buckets {
		if !b.IsDir() {
			continue
		}
		// Names only, in the file system's order: a bucket of a big
		// account holds thousands, and sorting or a DirEntry each cost
		// more than reading them.
		err := confined.EachName(p.Root, filepath.Join(base, b.Name()), func(name []byte) {
			if _, ok := mailbox.ParseItemID(string(name)); ok {
				n++
			}
		})
		if err != nil {
			return 0, fmt.Errorf("list items of account %s: %w: %w", accountID, blob.ErrUnreadable, err)
		}
	}
	return n, nil
}

// BucketFiles lists one bucket folder (accounts/<id>/items/<bucket>). Entries
// whose name is not an item id (mailbox.ParseItemID: ids over
// mailbox.MaxItemID are not) have ItemID -1. Every entry is listed with
// its own size and time, a symbolic link or a FIFO too: reading it
// (ReadItemFile) reports it unreadable.
func (p *Path) BucketFiles(accountID, bucket string) ([]ItemFile, error) {
	if err := checkName("account id", accountID); err != nil {
		return nil, fmt.Errorf("list items: %w", err)
	}
	if err := checkName("item bucket", bucket); err != nil {
		return nil, fmt.Errorf("list items of account %s: %w", accountID, err)
	}
	rel := filepath.Join(AccountsDir, accountID, ItemsDir, bucket)
	ents, err := p.listDir(rel)
	if err != nil {
		return nil, fmt.Errorf("list items of account %s: %w: %w", accountID, blob.ErrUnreadable, err)
	}
	out := make([]ItemFile, 0, len(ents))
	for _, e := range ents {
		f := ItemFile{ItemID: -1, RelPath: filepath.Join(rel, e.Name())}
		if n, ok := mailbox.ParseItemID(e.Name()); ok {
			f.ItemID = n
		}
		if info, err := e.Info(); err == nil {
			f.Size, f.ModTime = info.Size(), info.ModTime()
		}
		out = append(out, f)
	}
	return out, nil
}

// ReadItemFile reads and parses the item file at rel (relative to the root;
// see readFile: a symbolic link or a FIFO there is unreadable).
func (p *Path) ReadItemFile(rel string, id int) (*mailbox.Item, error) {
	b, err := p.readFile(rel)
	if err != nil {
		return nil, err
	}
	it, err := p.decoder().ParseItem(id, b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %w", rel, blob.ErrBroken, err)
	}
	return it, nil
}

// FindItem returns the relative path of item id's file: the writer's usual
// place if it is there, else wherever discovery finds it.
func (p *Path) FindItem(accountID string, id int) (string, error) {
	if err := checkName("account id", accountID); err != nil {
		return "", fmt.Errorf("find item %d: %w", id, err)
	}
	if id < 0 || id > mailbox.MaxItemID {
		return "", fmt.Errorf("account %s: no item %d (id out of range): %w", accountID, id, fs.ErrNotExist)
	}
	rel := ItemRelPath(accountID, id)
	if _, err := os.Lstat(filepath.Join(p.Root, rel)); err == nil {
		return rel, nil
	}
	// Elsewhere: the copy ItemFiles would put first (mailbox.PreferFile),
	// found from the bucket listings alone, without a stat of every file.
	base := filepath.Join(AccountsDir, accountID, ItemsDir)
	buckets, err := p.listDir(base)
	if errors.Is(err, fs.ErrNotExist) {
		buckets, err = nil, nil
	}
	if err != nil {
		return "", fmt.Errorf("list items of account %s: %w: %w", accountID, blob.ErrUnreadable, err)
	}
	best := ""
	for _, b := range buckets {
		if !b.IsDir() {
			continue
		}
		ents, err := p.listDir(filepath.Join(base, b.Name()))
		if err != nil {
			return "", fmt.Errorf("list items of account %s: %w: %w", accountID, blob.ErrUnreadable, err)
		}
		for _, e := range ents {
			if n, ok := mailbox.ParseItemID(e.Name()); ok && n == id {
				if best == "" || mailbox.PreferFile(id, b.Name(), filepath.Base(filepath.Dir(best))) {
					best = filepath.Join(base, b.Name(), e.Name())
				}
			}
		}
	}
	if best != "" {
		return best, nil
	}
	return "", fmt.Errorf("account %s: no item %d: %w", accountID, id, fs.ErrNotExist)
}

// ReadItem finds and reads item id of an account.
func (p *Path) ReadItem(accountID string, id int) (*mailbox.Item, error) {
	rel, err := p.FindItem(accountID, id)
	if err != nil {
		return nil, err
	}
	return p.ReadItemFile(rel, id)
}

// WriteItem replaces the whole item file (atomically). Writers normally use
// AppendState: states are never rewritten.
func (p *Path) WriteItem(accountID string, it *mailbox.Item) error {
	if it.ID < 0 || len(it.States) == 0 {
		return fmt.Errorf("write item %d: want an id >= 0 and at least one state", it.ID)
	}
	rel, err := p.FindItem(accountID, it.ID)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		rel = ItemRelPath(accountID, it.ID)
	case err != nil:
		return fmt.Errorf("write item %d: %w", it.ID, err)
	}
	b, err := it.Encode()
	if err != nil {
		return fmt.Errorf("encode item %d: %w", it.ID, err)
	}
	return p.Writer().WriteFile(filepath.Join(p.Root, rel), b, 0o644)
}

// CreateItem writes a new item whose id the caller has just allocated (above
// account_stat's lastItemId), so it cannot exist anywhere yet: it goes to
// the usual bucket without the discovery WriteItem does for an item missing
// from there (listing every bucket, which makes writing n new items
// O(n^2)). It refuses to replace a file already at that place.
func (p *Path) CreateItem(accountID string, it *mailbox.Item) error {
	if err := checkName("account id", accountID); err != nil {
		return fmt.Errorf("create item %d: %w", it.ID, err)
	}
	if it.ID < 0 || len(it.States) == 0 {
		return fmt.Errorf("create item %d: want an id >= 0 and at least one state", it.ID)
	}
	rel := ItemRelPath(accountID, it.ID)
	if _, err := confined.Stat(p.Root, rel); !errors.Is(err, fs.ErrNotExist) {
		if err != nil {
			return fmt.Errorf("create item %d: %w", it.ID, err)
		}
		return fmt.Errorf("create item %d: %s already exists", it.ID, rel)
	}
	b, err := it.Encode()
	if err != nil {
		return fmt.Errorf("encode item %d: %w", it.ID, err)
	}
	return p.Writer().WriteFile(filepath.Join(p.Root, rel), b, 0o644)
}

// AppendState adds a new state to item id (creating the item file if it is
// new). Earlier states are kept as they are.
func (p *Path) AppendState(accountID string, id int, s mailbox.State) error {
	it, err := p.ReadItem(accountID, id)
	switch {
	case err == nil:
	case errors.Is(err, fs.ErrNotExist):
		it = &mailbox.Item{ID: id}
	default:
		return fmt.Errorf("append state to item %d: %w", id, err)
	}
	it.States = append(it.States, s)
	sort.SliceStable(it.States, func(i, j int) bool { return it.States[i].Start < it.States[j].Start })
	return p.WriteItem(accountID, it)
}
