// Package backuppath reads and writes a Carbonio Backup Path: account
// metadata, per-item state histories, server configuration backups,
// customizations archives, backupstat and map files, exactly as
// docs/FORMAT.md describes. Blobs are the blob package's business; Path
// holds a blob.Store for them.
//
// Reading is tolerant: unknown JSON keys are kept (Extra), and a bad file is
// an error for that one account or item, never for the whole path. Errors
// are classified with the blob package's sentinels: errors.Is(err,
// blob.ErrUnreadable) when a file cannot be read, errors.Is(err,
// blob.ErrBroken) when it was read but is malformed.
//
// A Backup Path is foreign input, so every file of it is read confined
// (internal/confined): no symbolic link is followed, inside or out, only
// regular files are read (a FIFO is refused, never waited for), and at most
// MaxMetadataFile bytes of each.
//
// Every write is atomic (internal/atomicfile) and confined beneath the
// root (atomicfile.Options.Root, set by Open and Create): no symbolic link
// in accounts/, items/ or any folder below is written through, even one
// put there while the write runs.
package backuppath

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/internal/atomicfile"
	"github.com/cbfs/cbfs/internal/confined"
	"github.com/cbfs/cbfs/mailbox"
)

// ErrNotBackupPath is returned by Open for a folder that holds none of a
// Backup Path's landmarks.
var ErrNotBackupPath = errors.New("not a Backup Path")

// File and folder names of the layout.
const (
	AccountsDir     = "accounts"
	ItemsDir        = "items"
	ServerDir       = "server"
	BackupStatFile  = "backupstat"
	AccountInfoFile = "account_info"
	AccountStatFile = "account_stat"
	IDMapperFile    = "id_mapper.log"
	IDMapperAlt     = "id_mapper" // the Zimbra wiki's spelling, read when id_mapper.log is absent
	// QuarantineDir [cbfs] holds what doCoherencyCheck's fix moved aside
	// (docs/FORMAT.md § 15); readers ignore it.
	QuarantineDir = "quarantine"
	MapPrefix     = "map_"
)

// FormatVersion is the version of docs/FORMAT.md that this code writes.
const FormatVersion = 1

// Path is one Backup Path.
type Path struct {
	Root  string
	Blobs *blob.Store
	// Write says how metadata files are written (atomic always; durable
	// unless Write.NoSync, which only generated samples should set). Open
	// and Create set Write.Root to Root: every write is confined beneath
	// it (see writer).
	Write atomicfile.Options
	// Decoder reads item files and account_info (any dialect, and the
	// keymap if SetKeyMap was called).
	Decoder *mailbox.Decoder
	// KeyMapID names the keymap the Decoder follows ("" for none).
	KeyMapID string

	held *atomicfile.Held // Root opened once for writes (Writer)
}

// Open opens an existing Backup Path for reading (and writing). root must be
// a folder holding at least one of backupstat, accounts/, items/ or server/ (servers/).
func Open(root string) (*Path, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("backup path %s: %w", root, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("backup path %s: no such folder", root)
		}
		return nil, fmt.Errorf("backup path %s: %w", root, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("backup path %s: not a folder", root)
	}
	found := false
	for _, n := range []string{BackupStatFile, AccountsDir, ItemsDir, ServerDir, ServerDirAlt} {
		if _, err := os.Lstat(filepath.Join(abs, n)); err == nil {
			found = true
			break
		}
	}
	if !found {
		return nil, fmt.Errorf("%s: %w (no backupstat, accounts/, items/, server/ or servers/)", root, ErrNotBackupPath)
	}
	return newPath(abs), nil
}

func newPath(abs string) *Path {
	p := &Path{Root: abs, Blobs: blob.NewStore(abs), Write: atomicfile.Options{Root: abs}, held: atomicfile.Hold(abs)}
	p.Decoder = mailbox.Default.WithBlobs(p.blobExists)
	return p
}

// blobExists says whether a digest names a blob file of this path (the
// decoder's test for a digest found by value).
func (p *Path) blobExists(d blob.Digest) bool {
	_, err := p.Blobs.Stat(d)
	return err == nil
}

// SetKeyMap makes the path's decoder follow a keymap (--keymap FILE). id
// names the keymap (its file's content) for caches of decoded data: an
// index built with another keymap, or none, is rebuilt.
func (p *Path) SetKeyMap(km *mailbox.KeyMap, id string) {
	p.Decoder = mailbox.NewDecoder(km).WithBlobs(p.blobExists)
	p.KeyMapID = id
}

// OpenWithKeyMap opens a Backup Path (Open) whose item and account files
// are read with the keymap in kmFile ("" for none).
func OpenWithKeyMap(root, kmFile string) (*Path, error) {
	p, err := Open(root)
	if err != nil || kmFile == "" {
		return p, err
	}
	km, b, err := mailbox.ReadKeyMap(kmFile)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(b)
	p.SetKeyMap(km, hex.EncodeToString(sum[:8]))
	return p, nil
}

func (p *Path) decoder() *mailbox.Decoder {
	if p.Decoder == nil {
		return mailbox.Default
	}
	return p.Decoder
}

// Blobless reports whether the path holds no blob area (items/) at all:
// Carbonio's blobless mode, or blobs kept on external storage. Its items
// then have metadata but no content here.
func (p *Path) Blobless() bool {
	fi, err := os.Lstat(filepath.Join(p.Root, ItemsDir))
	return err != nil || !fi.IsDir()
}

// Create makes (or opens) a Backup Path at root for writing. If it has no
// backupstat yet, st is written as its backupstat.
func Create(root string, st BackupStat) (*Path, error) {
	return CreateWith(root, st, atomicfile.Options{})
}

// CreateWith is Create writing with w (its folders, its backupstat) and
// giving the Path (and its blob store) w as their Write; w.Root is the
// path's root unless w says otherwise (an export passes its destination
// opened once, and the owner to write as).
func CreateWith(root string, st BackupStat, w atomicfile.Options) (*Path, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	if w.Root == "" {
		w.Root = abs
	}
	dirs := []string{AccountsDir, ItemsDir, ServerDir}
	if fi, err := os.Lstat(filepath.Join(abs, ServerDirAlt)); err == nil && fi.IsDir() {
		dirs = dirs[:2] // a path whose server folder is spelled servers/ keeps that one alone
	}
	for _, d := range dirs {
		if err := w.MkdirAll(filepath.Join(abs, d)); err != nil {
			return nil, fmt.Errorf("create backup path: %w", err)
		}
	}
	p := newPath(abs)
	p.Write, p.Blobs.Write = w, w
	if _, err := confined.Stat(abs, BackupStatFile); errors.Is(err, fs.ErrNotExist) {
		if st.FormatVersion == 0 {
			st.FormatVersion = FormatVersion
		}
		// Not through the held root: a Path made only to be read (a
		// mount of a path nothing was backed up to yet) must not keep
		// the root open, which keeps its file system from unmounting.
		held := p.held
		p.held = nil
		err := p.WriteBackupStat(&st)
		p.held = held
		if err != nil {
			return nil, err
		}
	}
	return p, nil
}

// Writer is how to write files of the path: Write, confined beneath Root
// even if a caller replaced Write without a Root, and resolved from Root
// opened once (atomicfile.Held).
func (p *Path) Writer() atomicfile.Options {
	w := p.Write
	if w.Root == "" && w.Dir == nil {
		w.Root = p.Root
	}
	return p.held.Options(w)
}

// MaxMetadataFile is the largest metadata file (backupstat, account_info,
// account_stat, an item file, a map, a configuration backup,
// id_mapper.log) read from a Backup Path: a bigger one is broken. Real
// ones are kilobytes (a configuration backup a few megabytes); the cap keeps
// a planted huge file from exhausting memory.
const MaxMetadataFile = 64 << 20

// readFile reads the metadata file rel (relative to the root) the confined
// way (internal/confined): a symbolic link in any component of rel, inside
// or outside the Backup Path, is not followed, and anything but a regular
// file (a FIFO, a device) is refused without blocking. Those, like any
// failure to read, are blob.ErrUnreadable (blob.ErrMissing if there is no
// file); a file over MaxMetadataFile is blob.ErrBroken. No byte of a
// refused file is read, so none appears in the error.
func (p *Path) readFile(rel string) ([]byte, error) {
	b, err := confined.ReadFile(p.Root, rel, MaxMetadataFile)
	if err != nil {
		kind := blob.ErrUnreadable
		switch {
		case errors.Is(err, fs.ErrNotExist):
			kind = blob.ErrMissing
		case errors.Is(err, confined.ErrTooLarge):
			kind = blob.ErrBroken
		}
		return nil, fmt.Errorf("%s: %w: %w", filepath.Join(p.Root, rel), kind, err)
	}
	return b, nil
}

// decodeFile reads (see readFile) and decodes the JSON metadata file rel
// into v.
func (p *Path) decodeFile(rel string, v any) error {
	b, err := p.readFile(rel)
	if err != nil {
		return err
	}
	return decodeJSON(filepath.Join(p.Root, rel), b, v)
}

func decodeJSON(path string, b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w: malformed JSON: %w", path, blob.ErrBroken, err)
	}
	return nil
}

func (p *Path) writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	return p.Writer().WriteFile(path, append(b, '\n'), 0o644)
}

// listDir returns the sorted entries of the folder rel (relative to the
// root), without temporary files. The folder is opened the confined way: if
// rel or any folder above it is a symbolic link, it is an error (never
// followed). Entries have their own types: a symbolic link to a folder is a
// symbolic link, not a folder, so callers do not descend into it.
func (p *Path) listDir(rel string) ([]fs.DirEntry, error) {
	ents, err := confined.ReadDir(p.Root, rel)
	if err != nil {
		return nil, err
	}
	out := ents[:0]
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), atomicfile.TempPrefix) {
			out = append(out, e)
		}
	}
	return out, nil
}

// ---- backupstat ----

// ReadBackupStat reads backupstat.
func (p *Path) ReadBackupStat() (*BackupStat, error) {
	var s BackupStat
	if err := p.decodeFile(BackupStatFile, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// WriteBackupStat replaces backupstat.
func (p *Path) WriteBackupStat(s *BackupStat) error {
	return p.writeJSON(filepath.Join(p.Root, BackupStatFile), s)
}

// ---- accounts ----

// checkName rejects a name that cannot be one folder or file name inside
// the Backup Path (empty, ".", "..", or holding '/' or NUL), so an id from a
// command line or a file never reaches outside the tree.
func checkName(what, name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return fmt.Errorf("invalid %s %q", what, name)
	}
	return nil
}

// AccountDir is the folder of account id.
func (p *Path) AccountDir(id string) string { return filepath.Join(p.Root, AccountsDir, id) }

// AccountIDs lists the account folders under accounts/, sorted. Anything
// else there, a symbolic link to a folder included, is no account.
func (p *Path) AccountIDs() ([]string, error) {
	ents, err := p.listDir(AccountsDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	ids := make([]string, 0, len(ents))
	for _, e := range ents {
		if e.IsDir() {
			ids = append(ids, e.Name())
		}
	}
	return ids, nil
}

// ReadAccount reads accounts/<id>/account_info, in any dialect the
// model's decoder reads (mailbox.Decoder.ParseAccount).
func (p *Path) ReadAccount(id string) (*mailbox.Account, error) {
	if err := checkName("account id", id); err != nil {
		return nil, fmt.Errorf("read account: %w", err)
	}
	path := filepath.Join(p.AccountDir(id), AccountInfoFile)
	b, err := p.readFile(filepath.Join(AccountsDir, id, AccountInfoFile))
	if err != nil {
		return nil, err
	}
	a, err := p.decoder().ParseAccount(id, b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: malformed account_info: %w", path, blob.ErrBroken, err)
	}
	return a, nil
}

// WriteAccount replaces the account's account_info.
func (p *Path) WriteAccount(a *mailbox.Account) error {
	if err := checkName("account id", a.ID); err != nil {
		return fmt.Errorf("write account: %w", err)
	}
	return p.writeJSON(filepath.Join(p.AccountDir(a.ID), AccountInfoFile), a)
}

// ReadAccountStat reads accounts/<id>/account_stat.
func (p *Path) ReadAccountStat(id string) (*AccountStat, error) {
	if err := checkName("account id", id); err != nil {
		return nil, fmt.Errorf("read account stat: %w", err)
	}
	var s AccountStat
	if err := p.decodeFile(filepath.Join(AccountsDir, id, AccountStatFile), &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// WriteAccountStat replaces accounts/<id>/account_stat.
func (p *Path) WriteAccountStat(id string, s *AccountStat) error {
	if err := checkName("account id", id); err != nil {
		return fmt.Errorf("write account stat: %w", err)
	}
	return p.writeJSON(filepath.Join(p.AccountDir(id), AccountStatFile), s)
}

// ---- items ----

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
	files, _, err := p.ItemFiles(accountID)
	if err != nil {
		return "", err
	}
	i := sort.Search(len(files), func(i int) bool { return files[i].ItemID >= id })
	if i < len(files) && files[i].ItemID == id {
		return files[i].RelPath, nil
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

// ---- id_mapper.log ----

// AppendIDMap records that item orig of the source became restored on the
// destination, as one "orig restored" line in accounts/<id>/id_mapper.log.
// The file is rewritten atomically with the new line at its end.
func (p *Path) AppendIDMap(accountID string, orig, restored int) error {
	if err := checkName("account id", accountID); err != nil {
		return fmt.Errorf("append to %s: %w", IDMapperFile, err)
	}
	path := filepath.Join(p.AccountDir(accountID), IDMapperFile)
	old, err := p.readFile(filepath.Join(AccountsDir, accountID, IDMapperFile))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	line := fmt.Sprintf("%d %d\n", orig, restored)
	return p.Writer().WriteFile(path, append(old, line...), 0o644)
}

// ReadIDMap reads accounts/<id>/id_mapper.log, or id_mapper when that is
// absent (original id -> restored id), in any encoding ParseIDMap reads.
func (p *Path) ReadIDMap(accountID string) (map[int]int, error) {
	if err := checkName("account id", accountID); err != nil {
		return nil, fmt.Errorf("read %s: %w", IDMapperFile, err)
	}
	rel := filepath.Join(AccountsDir, accountID, IDMapperFile)
	b, err := p.readFile(rel)
	if errors.Is(err, fs.ErrNotExist) {
		// The wiki calls it id_mapper: read that spelling too.
		if b2, err2 := p.readFile(filepath.Join(AccountsDir, accountID, IDMapperAlt)); !errors.Is(err2, fs.ErrNotExist) {
			rel, b, err = filepath.Join(AccountsDir, accountID, IDMapperAlt), b2, err2
		}
	}
	if err != nil {
		return nil, err
	}
	return ParseIDMap(filepath.Join(p.Root, rel), b)
}

// ---- map_<serverId> ----

// MapFiles lists the map_<serverId> files at the root (server ids, sorted).
func (p *Path) MapFiles() ([]string, error) {
	ents, err := p.listDir(".")
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, e := range ents {
		if id, ok := strings.CutPrefix(e.Name(), MapPrefix); ok && !e.IsDir() && id != "" {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// ReadMap reads map_<serverID>, in any encoding ParseMap reads.
func (p *Path) ReadMap(serverID string) (*Map, error) {
	if err := checkName("server id", serverID); err != nil {
		return nil, fmt.Errorf("read map: %w", err)
	}
	b, err := p.readFile(MapPrefix + serverID)
	if err != nil {
		return nil, err
	}
	return ParseMap(filepath.Join(p.Root, MapPrefix+serverID), b)
}

// WriteMap replaces map_<m.ServerID>.
func (p *Path) WriteMap(m *Map) error {
	if err := checkName("server id", m.ServerID); err != nil {
		return fmt.Errorf("write map: %w", err)
	}
	return p.writeJSON(filepath.Join(p.Root, MapPrefix+m.ServerID), m)
}

// ---- server/ ----

// Server file kinds.
const (
	KindConfig         = "config"
	KindCustomizations = "customizations"
)

// serverTimeLayout is the DD_MM_YY#HH_MM_SS stamp in server file names (UTC).
const serverTimeLayout = "02_01_06#15_04_05"

// ServerFileName is the name of a server file of kind taken at t.
func ServerFileName(kind string, t time.Time) string {
	ext := ".json"
	if kind == KindCustomizations {
		ext = ".tar.gz"
	}
	return kind + "_" + t.UTC().Format(serverTimeLayout) + ext
}

// ParseServerFileName reads kind and date from a server file name.
func ParseServerFileName(name string) (kind string, t time.Time, ok bool) {
	for _, k := range []struct{ kind, ext string }{{KindConfig, ".json"}, {KindCustomizations, ".tar.gz"}} {
		rest, found := strings.CutPrefix(name, k.kind+"_")
		if !found {
			continue
		}
		stamp, found := strings.CutSuffix(rest, k.ext)
		if !found {
			continue
		}
		t, err := time.Parse(serverTimeLayout, stamp)
		// time.Parse takes a one-digit hour too ("#4_01_14"): accept only
		// the canonical zero-padded name, so a name and a date map one to one.
		if err != nil || t.Format(serverTimeLayout) != stamp {
			return "", time.Time{}, false
		}
		return k.kind, t, true
	}
	return "", time.Time{}, false
}

// ServerFile is a configuration backup or customizations archive in server/.
type ServerFile struct {
	Kind    string    // KindConfig or KindCustomizations
	Name    string    // file name
	RelPath string    // relative to the root
	Date    time.Time // from the name (UTC)
	Size    int64
	ModTime time.Time
}

// ServerFiles lists server/ (or servers/: ServerDirs), oldest first (ties
// by name). Files whose names do not follow the layout are skipped.
func (p *Path) ServerFiles() ([]ServerFile, error) {
	dir := p.serverDir()
	ents, err := p.listDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list server backups: %w", err)
	}
	var out []ServerFile
	for _, e := range ents {
		kind, t, ok := ParseServerFileName(e.Name())
		if !ok || e.IsDir() {
			continue
		}
		f := ServerFile{Kind: kind, Name: e.Name(), RelPath: filepath.Join(dir, e.Name()), Date: t}
		if info, err := e.Info(); err == nil {
			f.Size, f.ModTime = info.Size(), info.ModTime()
		}
		out = append(out, f)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Date.Equal(out[j].Date) {
			return out[i].Date.Before(out[j].Date)
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

// ReadServerConfig reads a configuration backup (path relative to the root,
// read the confined way like every Backup Path file; or absolute, read as
// ReadServerConfigFile reads it).
func (p *Path) ReadServerConfig(path string) (*ServerConfig, error) {
	if filepath.IsAbs(path) {
		return ReadServerConfigFile(path)
	}
	var c ServerConfig
	if err := p.decodeFile(path, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// ReadServerConfigFile reads a configuration backup file anywhere: a file
// the user names, so symbolic links are followed. It must be a regular
// file: a FIFO or device is refused (blob.ErrUnreadable) without blocking.
func ReadServerConfigFile(path string) (*ServerConfig, error) {
	b, err := readRegularFile(path)
	if err != nil {
		kind := blob.ErrUnreadable
		if errors.Is(err, fs.ErrNotExist) {
			kind = blob.ErrMissing
		}
		return nil, fmt.Errorf("%s: %w: %w", path, kind, err)
	}
	var c ServerConfig
	if err := decodeJSON(path, b, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// readRegularFile is os.ReadFile for a regular file only: the open does not
// block (a FIFO without a writer) and anything else is refused before it is
// read.
func readRegularFile(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, &fs.PathError{Op: "open", Path: path, Err: &confined.NotRegularError{Mode: fi.Mode().Type()}}
	}
	return io.ReadAll(f)
}

// WriteServerConfig writes c as server/config_<c.Date>.json and returns its
// relative path.
func (p *Path) WriteServerConfig(c *ServerConfig) (string, error) {
	if c.Date == 0 {
		return "", fmt.Errorf("write server config: no date")
	}
	rel := filepath.Join(p.serverDir(), ServerFileName(KindConfig, c.Date.Time()))
	return rel, p.writeJSON(filepath.Join(p.Root, rel), c)
}

// WriteCustomizations stores a customizations archive (a tar.gz of the
// configuration folders) taken at t and returns its relative path.
func (p *Path) WriteCustomizations(t time.Time, tgz []byte) (string, error) {
	rel := filepath.Join(p.serverDir(), ServerFileName(KindCustomizations, t))
	return rel, p.Writer().WriteFile(filepath.Join(p.Root, rel), tgz, 0o644)
}

// AccountEntry is one account folder and what could be read of it.
type AccountEntry struct {
	ID      string
	Account *mailbox.Account // nil when account_info could not be read
	Err     error
}

// Accounts reads every account_info. A bad file is an entry with its
// error, never fatal.
func (p *Path) Accounts() ([]AccountEntry, error) {
	ids, err := p.AccountIDs()
	if err != nil {
		return nil, err
	}
	out := make([]AccountEntry, 0, len(ids))
	for _, id := range ids {
		a, err := p.ReadAccount(id)
		out = append(out, AccountEntry{ID: id, Account: a, Err: err})
	}
	return out, nil
}

// ErrNoAccount: no account has that name or id.
var ErrNoAccount = errors.New("no account")

// FindAccount resolves an account reference (an id, a name, case
// insensitively, or the name the mount lists it under) by the model's one
// rule (mailbox.Resolve: an id first; among accounts sharing a name,
// mailbox.Prefer's choice; then mailbox.ListingNames). An account whose
// account_info cannot be read is that error (the mount lists it by its
// id, as ListingNames does an account without a name).
func (p *Path) FindAccount(ref string) (*mailbox.Account, error) {
	ref = strings.TrimSpace(ref)
	entries, err := p.Accounts()
	if err != nil {
		return nil, err
	}
	accts := make([]mailbox.Account, 0, len(entries))
	bad := map[string]error{}
	for _, e := range entries {
		if e.Account == nil {
			bad[e.ID] = e.Err
			accts = append(accts, mailbox.Account{ID: e.ID})
			continue
		}
		accts = append(accts, *e.Account)
	}
	if a := mailbox.Resolve(accts, ref); a != nil {
		if err, ok := bad[a.ID]; ok {
			return nil, fmt.Errorf("account %s: %w", a.ID, err)
		}
		return a, nil
	}
	return nil, fmt.Errorf("%w %q in %s (neither a name nor an id)", ErrNoAccount, ref, p.Root)
}
