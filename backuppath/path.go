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
// Every write is atomic (internal/atomicfile).
package backuppath

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/internal/atomicfile"
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
	MapPrefix       = "map_"
)

// FormatVersion is the version of docs/FORMAT.md that this code writes.
const FormatVersion = 1

// Path is one Backup Path.
type Path struct {
	Root  string
	Blobs *blob.Store
	// Write says how metadata files are written (atomic always; durable
	// unless Write.NoSync, which only generated samples should set).
	Write atomicfile.Options
}

// Open opens an existing Backup Path for reading (and writing). root must be
// a folder holding at least one of backupstat, accounts/, items/ or server/.
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
	for _, n := range []string{BackupStatFile, AccountsDir, ItemsDir, ServerDir} {
		if _, err := os.Lstat(filepath.Join(abs, n)); err == nil {
			found = true
			break
		}
	}
	if !found {
		return nil, fmt.Errorf("%s: %w (no backupstat, accounts/, items/ or server/)", root, ErrNotBackupPath)
	}
	return &Path{Root: abs, Blobs: blob.NewStore(abs)}, nil
}

// Create makes (or opens) a Backup Path at root for writing. If it has no
// backupstat yet, st is written as its backupstat.
func Create(root string, st BackupStat) (*Path, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	for _, d := range []string{AccountsDir, ItemsDir, ServerDir} {
		if err := os.MkdirAll(filepath.Join(abs, d), atomicfile.Mode(0o755)); err != nil {
			return nil, fmt.Errorf("create backup path: %w", err)
		}
	}
	p := &Path{Root: abs, Blobs: blob.NewStore(abs)}
	if _, err := os.Stat(filepath.Join(abs, BackupStatFile)); errors.Is(err, fs.ErrNotExist) {
		if st.FormatVersion == 0 {
			st.FormatVersion = FormatVersion
		}
		if err := p.WriteBackupStat(&st); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// readFile reads a metadata file, classifying failures as unreadable.
func readFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		kind := blob.ErrUnreadable
		if errors.Is(err, fs.ErrNotExist) {
			kind = blob.ErrMissing
		}
		return nil, fmt.Errorf("%s: %w: %w", path, kind, err)
	}
	return b, nil
}

// decodeFile reads and decodes a JSON metadata file into v.
func decodeFile(path string, v any) error {
	b, err := readFile(path)
	if err != nil {
		return err
	}
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
	return p.Write.WriteFile(path, append(b, '\n'), 0o644)
}

// listDir returns the sorted names in dir, without temporary files.
func listDir(dir string) ([]fs.DirEntry, error) {
	ents, err := os.ReadDir(dir)
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
	if err := decodeFile(filepath.Join(p.Root, BackupStatFile), &s); err != nil {
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

// AccountIDs lists the account folders under accounts/, sorted.
func (p *Path) AccountIDs() ([]string, error) {
	ents, err := listDir(filepath.Join(p.Root, AccountsDir))
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

// ReadAccount reads accounts/<id>/account_info. The id in the file must
// match the folder's; if the file has none, the folder's is used.
func (p *Path) ReadAccount(id string) (*Account, error) {
	if err := checkName("account id", id); err != nil {
		return nil, fmt.Errorf("read account: %w", err)
	}
	var a Account
	path := filepath.Join(p.AccountDir(id), AccountInfoFile)
	if err := decodeFile(path, &a); err != nil {
		return nil, err
	}
	if a.ID == "" {
		a.ID = id
	}
	if a.ID != id {
		return nil, fmt.Errorf("%s: %w: account id %q does not match its folder", path, blob.ErrBroken, a.ID)
	}
	if a.Name == "" {
		return nil, fmt.Errorf("%s: %w: account has no name", path, blob.ErrBroken)
	}
	if a.Status == "" {
		a.Status = StatusActive
	}
	return &a, nil
}

// WriteAccount replaces the account's account_info.
func (p *Path) WriteAccount(a *Account) error {
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
	if err := decodeFile(filepath.Join(p.AccountDir(id), AccountStatFile), &s); err != nil {
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

// ItemBucket is the folder a writer puts item id in: its last two digits.
func ItemBucket(id int) string { return fmt.Sprintf("%02d", id%100) }

// ItemRelPath is where a writer puts item id of an account, relative to the
// Backup Path root. Readers discover item files (ItemFiles) instead.
func ItemRelPath(accountID string, id int) string {
	return filepath.Join(AccountsDir, accountID, ItemsDir, ItemBucket(id), strconv.Itoa(id))
}

// ItemFile is an item file found on disk.
type ItemFile struct {
	ItemID  int
	RelPath string // relative to the Backup Path root
	Size    int64
	ModTime time.Time
}

// ItemFiles discovers the item files of an account: every file named by a
// decimal item id in any folder under accounts/<id>/items/, sorted by item
// id. Names that are not ids are returned in others (relative paths) so a
// caller can report them.
func (p *Path) ItemFiles(accountID string) (files []ItemFile, others []string, err error) {
	if err := checkName("account id", accountID); err != nil {
		return nil, nil, fmt.Errorf("list items: %w", err)
	}
	base := filepath.Join(AccountsDir, accountID, ItemsDir)
	buckets, err := listDir(filepath.Join(p.Root, base))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("list items of account %s: %w: %w", accountID, blob.ErrUnreadable, err)
	}
	for _, b := range buckets {
		if !b.IsDir() {
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
	// Stable order even when one id is in two buckets: by id, then path.
	sort.Slice(files, func(i, j int) bool {
		if files[i].ItemID != files[j].ItemID {
			return files[i].ItemID < files[j].ItemID
		}
		return files[i].RelPath < files[j].RelPath
	})
	return files, others, nil
}

// BucketFiles lists one bucket folder (accounts/<id>/items/<bucket>). Entries
// whose name is not an item id have ItemID -1.
func (p *Path) BucketFiles(accountID, bucket string) ([]ItemFile, error) {
	if err := checkName("account id", accountID); err != nil {
		return nil, fmt.Errorf("list items: %w", err)
	}
	if err := checkName("item bucket", bucket); err != nil {
		return nil, fmt.Errorf("list items of account %s: %w", accountID, err)
	}
	rel := filepath.Join(AccountsDir, accountID, ItemsDir, bucket)
	ents, err := listDir(filepath.Join(p.Root, rel))
	if err != nil {
		return nil, fmt.Errorf("list items of account %s: %w: %w", accountID, blob.ErrUnreadable, err)
	}
	out := make([]ItemFile, 0, len(ents))
	for _, e := range ents {
		f := ItemFile{ItemID: -1, RelPath: filepath.Join(rel, e.Name())}
		if n, err := strconv.Atoi(e.Name()); err == nil && n >= 0 && strconv.Itoa(n) == e.Name() {
			f.ItemID = n
		}
		if info, err := e.Info(); err == nil {
			f.Size, f.ModTime = info.Size(), info.ModTime()
		}
		out = append(out, f)
	}
	return out, nil
}

// ReadItemFile reads and parses the item file at rel (relative to the root).
func (p *Path) ReadItemFile(rel string, id int) (*Item, error) {
	b, err := readFile(filepath.Join(p.Root, rel))
	if err != nil {
		return nil, err
	}
	it, err := ParseItem(id, b)
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
func (p *Path) ReadItem(accountID string, id int) (*Item, error) {
	rel, err := p.FindItem(accountID, id)
	if err != nil {
		return nil, err
	}
	return p.ReadItemFile(rel, id)
}

// WriteItem replaces the whole item file (atomically). Writers normally use
// AppendState: states are never rewritten.
func (p *Path) WriteItem(accountID string, it *Item) error {
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
	return p.Write.WriteFile(filepath.Join(p.Root, rel), b, 0o644)
}

// CreateItem writes a new item whose id the caller has just allocated (above
// account_stat's lastItemId), so it cannot exist anywhere yet: it goes to
// the usual bucket without the discovery WriteItem does for an item missing
// from there (listing every bucket, which makes writing n new items
// O(n^2)). It refuses to replace a file already at that place.
func (p *Path) CreateItem(accountID string, it *Item) error {
	if err := checkName("account id", accountID); err != nil {
		return fmt.Errorf("create item %d: %w", it.ID, err)
	}
	if it.ID < 0 || len(it.States) == 0 {
		return fmt.Errorf("create item %d: want an id >= 0 and at least one state", it.ID)
	}
	rel := ItemRelPath(accountID, it.ID)
	if _, err := os.Lstat(filepath.Join(p.Root, rel)); err == nil {
		return fmt.Errorf("create item %d: %s already exists", it.ID, rel)
	}
	b, err := it.Encode()
	if err != nil {
		return fmt.Errorf("encode item %d: %w", it.ID, err)
	}
	return p.Write.WriteFile(filepath.Join(p.Root, rel), b, 0o644)
}

// AppendState adds a new state to item id (creating the item file if it is
// new). Earlier states are kept as they are.
func (p *Path) AppendState(accountID string, id int, s State) error {
	it, err := p.ReadItem(accountID, id)
	switch {
	case err == nil:
	case errors.Is(err, fs.ErrNotExist):
		it = &Item{ID: id}
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
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	line := fmt.Sprintf("%d %d\n", orig, restored)
	return p.Write.WriteFile(path, append(old, line...), 0o644)
}

// ReadIDMap reads accounts/<id>/id_mapper.log (original id -> restored id).
func (p *Path) ReadIDMap(accountID string) (map[int]int, error) {
	if err := checkName("account id", accountID); err != nil {
		return nil, fmt.Errorf("read %s: %w", IDMapperFile, err)
	}
	path := filepath.Join(p.AccountDir(accountID), IDMapperFile)
	b, err := readFile(path)
	if err != nil {
		return nil, err
	}
	m := map[int]int{}
	// Split rather than bufio.Scanner: a Scanner stops silently at a line
	// longer than its buffer, which would drop the rest of the file.
	for n, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		var a, c int
		var err1, err2 error
		if len(f) == 2 {
			a, err1 = strconv.Atoi(f[0])
			c, err2 = strconv.Atoi(f[1])
		}
		if len(f) != 2 || err1 != nil || err2 != nil {
			return nil, fmt.Errorf("%s line %d: %w: want \"ORIGINAL_ID RESTORED_ID\"", path, n+1, blob.ErrBroken)
		}
		m[a] = c
	}
	return m, nil
}

// ---- map_<serverId> ----

// MapFiles lists the map_<serverId> files at the root (server ids, sorted).
func (p *Path) MapFiles() ([]string, error) {
	ents, err := listDir(p.Root)
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

// ReadMap reads map_<serverID>.
func (p *Path) ReadMap(serverID string) (*Map, error) {
	if err := checkName("server id", serverID); err != nil {
		return nil, fmt.Errorf("read map: %w", err)
	}
	var m Map
	if err := decodeFile(filepath.Join(p.Root, MapPrefix+serverID), &m); err != nil {
		return nil, err
	}
	return &m, nil
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

// ServerFiles lists server/, oldest first (ties by name). Files whose names
// do not follow the layout are skipped.
func (p *Path) ServerFiles() ([]ServerFile, error) {
	ents, err := listDir(filepath.Join(p.Root, ServerDir))
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
		f := ServerFile{Kind: kind, Name: e.Name(), RelPath: filepath.Join(ServerDir, e.Name()), Date: t}
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
// or absolute).
func (p *Path) ReadServerConfig(path string) (*ServerConfig, error) {
	if !filepath.IsAbs(path) {
		path = filepath.Join(p.Root, path)
	}
	return ReadServerConfigFile(path)
}

// ReadServerConfigFile reads a configuration backup file anywhere.
func ReadServerConfigFile(path string) (*ServerConfig, error) {
	var c ServerConfig
	if err := decodeFile(path, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// WriteServerConfig writes c as server/config_<c.Date>.json and returns its
// relative path.
func (p *Path) WriteServerConfig(c *ServerConfig) (string, error) {
	if c.Date == 0 {
		return "", fmt.Errorf("write server config: no date")
	}
	rel := filepath.Join(ServerDir, ServerFileName(KindConfig, c.Date.Time()))
	return rel, p.writeJSON(filepath.Join(p.Root, rel), c)
}

// WriteCustomizations stores a customizations archive (a tar.gz of the
// configuration folders) taken at t and returns its relative path.
func (p *Path) WriteCustomizations(t time.Time, tgz []byte) (string, error) {
	rel := filepath.Join(ServerDir, ServerFileName(KindCustomizations, t))
	return rel, p.Write.WriteFile(filepath.Join(p.Root, rel), tgz, 0o644)
}
