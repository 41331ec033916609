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
	"io/fs"
	"os"
	"path/filepath"
	"strings"

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
