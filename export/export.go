// Package export implements doExport: it writes a self-contained Backup
// Path holding the selected accounts of another one, which
// doExternalRestore, the index and `cbfs mount` accept like any Backup
// Path.
//
// The export holds, for every selected account, its whole folder as it is
// (account_info, account_stat, id_mapper.log and every item file, byte for
// byte, damaged ones included), every blob those item files name (the
// compressed file copied as is: never hard-linked, so the two Backup Paths
// stay independent), a backupstat of its own (the source's serverId,
// hostname and dates), and the latest server configuration backup and the
// latest customizations archive.
//
// Selection: every account, or those whose domain is one of Domains and
// (when COS is given too) whose COS (name or id) is one of COS; names are
// matched without regard to case. Accounts whose backup is disabled are
// left out, as Carbonio does: by the Policy if one is given, else by
// account_info's backupEnabled false.
//
// Damage is copied, never hidden, and never fails the export: an item file
// that cannot be parsed is copied as is (and the blobs it still mentions
// with it), a broken blob is copied as is, a missing one stays missing;
// every case is listed in the result.
//
// Every file is written atomically (temporary name, rename). The whole
// export is flushed to disk once at the end (syncfs), not file by file.
//
// The destination may belong to someone else (a user's folder): DEST is
// opened once, without following a symbolic link at its name, and every
// folder and file beneath it is made through that descriptor, none of them
// following a symbolic link (atomicfile.Options with Dir and Root), so a
// user who swaps accounts/, items/ or any folder below for a link while
// the export runs makes it fail, never write elsewhere. Everything is
// written with the file-system identity of DEST's owner (of its nearest
// existing parent when DEST is made): the exported files are theirs, and
// the kernel refuses what they could not write themselves.
package export

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/internal/atomicfile"
	"github.com/cbfs/cbfs/internal/confined"
	"github.com/cbfs/cbfs/internal/pathlock"
	"github.com/cbfs/cbfs/internal/workers"
	"github.com/cbfs/cbfs/mailbox"
	"github.com/cbfs/cbfs/toggles"
)

// Options of an export.
type Options struct {
	// Domains and COS select accounts (empty: no filter). Carbonio's
	// "domains d1,d2" and "cos c1,c2"; see SplitList.
	Domains []string
	COS     []string
	// Policy, if set, says whose backup is disabled (those are left out).
	Policy *toggles.Policy
	// NoSync skips the final flush to disk (tests, benchmarks).
	NoSync bool
	// Workers copying and verifying blobs (0: 2).
	Workers int
	// Progress, if set, is called as the export advances (phase
	// "accounts", then "blobs").
	Progress func(done, total int, phase string)
	// SkipItems (Carbonio's skip_items true) exports the accounts'
	// metadata only: account_info, account_stat and an empty items
	// folder; no item and no blob.
	SkipItems bool
}

// SplitList splits Carbonio's comma-separated list parameter ("d1,d2").
func SplitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// Damage is one damaged file met (and copied, where there was something to
// copy).
type Damage struct {
	Class     string `json:"class"` // broken, unreadable, missing
	What      string `json:"what"`  // blob, item, account, file
	Path      string `json:"path"`  // relative to the Backup Path
	AccountID string `json:"accountId,omitempty"`
	Account   string `json:"account,omitempty"`
	ItemID    int    `json:"itemId,omitempty"`
	Reason    string `json:"reason,omitempty"`
	Copied    bool   `json:"copied"`
}

// LeftOut is an account not exported because of the backup toggles.
type LeftOut struct {
	AccountID string `json:"accountId"`
	Account   string `json:"account"`
	Reason    string `json:"reason"`
}

// Result says what an export did.
type Result struct {
	Dest        string    `json:"dest"`
	ServerID    string    `json:"serverId,omitempty"`
	Accounts    []string  `json:"accounts"` // names (ids if unreadable) exported
	NotSelected int       `json:"notSelected"`
	LeftOut     []LeftOut `json:"leftOut,omitempty"`
	Items       int       `json:"items"`
	Blobs       int       `json:"blobs"` // blob files copied
	Bytes       int64     `json:"bytes"` // bytes copied (as stored: compressed)
	ServerFiles []string  `json:"serverFiles,omitempty"`
	Damaged     []Damage  `json:"damaged,omitempty"`
	Stopped     bool      `json:"stopped,omitempty"`
}

// Report is the human text, in Carbonio's "- stats -" style.
func (r *Result) Report() string {
	var b strings.Builder
	b.WriteString("- stats -\n")
	fmt.Fprintf(&b, "Destination: %s\n", r.Dest)
	fmt.Fprintf(&b, "Exported Accounts: %d\n", len(r.Accounts))
	fmt.Fprintf(&b, "Accounts Not Selected: %d\n", r.NotSelected)
	fmt.Fprintf(&b, "Accounts Left Out (backup disabled): %d\n", len(r.LeftOut))
	fmt.Fprintf(&b, "Items: %d\n", r.Items)
	fmt.Fprintf(&b, "Blobs: %d\n", r.Blobs)
	fmt.Fprintf(&b, "Bytes Copied: %d\n", r.Bytes)
	fmt.Fprintf(&b, "Server Files: %d\n", len(r.ServerFiles))
	fmt.Fprintf(&b, "Damaged Files: %d\n", len(r.Damaged))
	if r.Stopped {
		b.WriteString("Stopped: true\n")
	}
	if len(r.Accounts) > 0 {
		fmt.Fprintf(&b, "\n- exported accounts -\n%s\n", strings.Join(r.Accounts, "\n"))
	}
	if len(r.LeftOut) > 0 {
		b.WriteString("\n- left out -\n")
		for _, l := range r.LeftOut {
			fmt.Fprintf(&b, "%s: %s\n", l.Account, l.Reason)
		}
	}
	if len(r.Damaged) > 0 {
		b.WriteString("\n- damaged -\n")
		for _, d := range r.Damaged {
			copied := "copied as is"
			if !d.Copied {
				copied = "not copied"
			}
			who := ""
			if d.Account != "" {
				who = " account " + d.Account
				if d.ItemID != 0 {
					who += fmt.Sprintf(" item %d", d.ItemID)
				}
			}
			fmt.Fprintf(&b, "%s %s %s%s: %s (%s)\n", d.Class, d.What, d.Path, who, d.Reason, copied)
		}
	}
	return b.String()
}

// Run exports the selected accounts of src into dest, which must be missing
// or an empty folder, outside src. On cancellation it stops at the next
// file and returns what it did and an error wrapping ctx.Err(); dest is then
// a partial (but valid) Backup Path: remove it and run again.
func Run(ctx context.Context, src *backuppath.Path, dest string, opt Options) (*Result, error) {
	destAbs, dd, err := openDest(src.Root, dest)
	if err != nil {
		return nil, err
	}
	defer dd.Close()
	owner, err := dd.Owner()
	if err != nil {
		return nil, fmt.Errorf("export: destination: %w", err)
	}
	progress := opt.Progress
	if progress == nil {
		progress = func(int, int, string) {}
	}
	res := &Result{Dest: destAbs}
	w := atomicfile.Options{NoSync: true, Root: destAbs, Dir: dd, As: owner}
	x := &exporter{src: src, res: res, w: w, digests: map[blob.Digest][]ref{}, recorded: map[blob.Digest]int64{}, skipItems: opt.SkipItems}
	stopped := func(err error) (*Result, error) {
		res.Stopped = true
		return res, fmt.Errorf("export: %w", err)
	}

	st, err := src.ReadBackupStat()
	out := backuppath.BackupStat{FormatVersion: backuppath.FormatVersion}
	if err != nil {
		x.damage(Damage{Class: blob.Class(err), What: "file", Path: backuppath.BackupStatFile, Reason: x.rel(err)})
	} else {
		out.ServerID, out.Hostname, out.FirstRun, out.LastScan = st.ServerID, st.Hostname, st.FirstRun, st.LastScan
		res.ServerID = st.ServerID
	}
	dst, err := backuppath.CreateWith(destAbs, out, w)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	x.dst = dst

	// Accounts.
	ids, err := src.AccountIDs()
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	var chosen []string
	for _, id := range ids {
		if ok := x.selectAccount(id, opt); ok {
			chosen = append(chosen, id)
		}
	}
	for n, id := range chosen {
		if err := ctx.Err(); err != nil {
			return stopped(err)
		}
		progress(n, len(chosen), "accounts")
		if err := x.copyAccount(ctx, id); err != nil {
			if ctx.Err() != nil {
				return stopped(ctx.Err())
			}
			return res, fmt.Errorf("export: %w", err)
		}
	}
	progress(len(chosen), len(chosen), "accounts")

	// Blobs.
	if err := x.copyBlobs(ctx, opt.Workers, progress); err != nil {
		if ctx.Err() != nil {
			return stopped(ctx.Err())
		}
		return res, fmt.Errorf("export: %w", err)
	}

	// Server: the latest configuration backup and customizations archive.
	files, err := src.ServerFiles()
	if err != nil {
		x.damage(Damage{Class: blob.Class(err), What: "file", Path: serverDirOf(src), Reason: x.rel(err)})
	}
	latest := map[string]backuppath.ServerFile{}
	for _, f := range files {
		latest[f.Kind] = f // oldest first: the last one wins
	}
	for _, kind := range []string{backuppath.KindConfig, backuppath.KindCustomizations} {
		f, ok := latest[kind]
		if !ok {
			continue
		}
		if _, err := x.copyFile(f.RelPath, false); err != nil {
			if !isSourceErr(err) {
				return res, fmt.Errorf("export: %w", err)
			}
			x.damage(Damage{Class: blob.Class(err), What: "file", Path: f.RelPath, Reason: x.rel(err)})
			continue
		}
		res.ServerFiles = append(res.ServerFiles, filepath.ToSlash(f.RelPath))
	}

	if !opt.NoSync {
		if err := dd.Syncfs(); err != nil {
			return res, fmt.Errorf("export: %w", err)
		}
	}
	return res, nil
}

// LockDest checks the destination dest of an export from the Backup Path
// at srcRoot and makes it if it is missing, as Run does, and takes its
// writer lock (pathlock) for operation op: for a caller that holds the
// lock around Run. The lock file is looked up in DEST opened without
// following a link, and made (if missing) as DEST's owner.
func LockDest(srcRoot, dest, op string) (*pathlock.Lock, error) {
	_, d, err := openDest(srcRoot, dest)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	owner, err := d.Owner()
	if err != nil {
		return nil, fmt.Errorf("export: destination: %w", err)
	}
	return pathlock.AcquireDir(d, op, owner)
}

// OpenDest checks the destination dest of a writer from the Backup Path at
// srcRoot (doExport, doExportMessages) and opens it, as Run does: given,
// outside srcRoot, no symbolic link at its name, a folder holding nothing
// but .cbfs- names (the caller's writer lock), made as the owner of its
// nearest existing parent when missing. It returns dest made absolute and
// the folder held open; the caller closes it.
func OpenDest(srcRoot, dest string) (string, *confined.Dir, error) { return openDest(srcRoot, dest) }

// openDest checks dest (given, not inside src, not a symbolic link, a
// folder holding nothing but .cbfs- names) and opens it, making it first
// if it is missing: DEST and any missing folder above it are made with
// mkdirat beneath DEST's nearest existing parent, as that parent's owner.
// The parent (the path up to it) is trusted as given; DEST itself and what
// is made beneath the parent are never followed if they are links.
func openDest(srcRoot, dest string) (string, *confined.Dir, error) {
	if strings.TrimSpace(dest) == "" {
		return "", nil, errors.New("export: no destination path given")
	}
	abs, err := filepath.Abs(dest)
	if err != nil {
		return "", nil, fmt.Errorf("export: destination %s: %w", dest, err)
	}
	if rel, err := filepath.Rel(srcRoot, abs); err == nil && (rel == "." || !strings.HasPrefix(rel, "..")) {
		return "", nil, fmt.Errorf("export: destination %s is inside the Backup Path %s", dest, srcRoot)
	}
	if abs == "/" {
		return "", nil, fmt.Errorf("export: destination %s is not empty", dest)
	}
	// The nearest existing folder above DEST.
	anc := filepath.Dir(abs)
	for {
		_, err := os.Stat(anc)
		if err == nil || !errors.Is(err, fs.ErrNotExist) || anc == "/" {
			break
		}
		anc = filepath.Dir(anc)
	}
	ad, err := confined.OpenDir(anc, ".")
	if err != nil {
		return "", nil, fmt.Errorf("export: destination %s: %w", dest, err)
	}
	defer ad.Close()
	rel, _ := filepath.Rel(anc, abs)
	var d *confined.Dir
	fi, err := ad.Stat(rel)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		owner, oerr := ad.Owner()
		if oerr != nil {
			return "", nil, fmt.Errorf("export: destination %s: %w", dest, oerr)
		}
		err = owner.Do(func() (err error) {
			d, err = ad.MkdirAll(rel, atomicfile.Mode(0o755))
			return err
		})
		if err != nil {
			return "", nil, fmt.Errorf("export: create destination %s: %w", dest, err)
		}
		return abs, d, nil
	case err != nil:
		return "", nil, fmt.Errorf("export: destination %s: %w", dest, err)
	case fi.Mode()&fs.ModeSymlink != 0:
		return "", nil, fmt.Errorf("export: destination %s is a symbolic link: give the folder it points to", dest)
	case !fi.IsDir():
		return "", nil, fmt.Errorf("export: destination %s is not a folder", dest)
	}
	if d, err = ad.OpenDir(rel); err != nil {
		return "", nil, fmt.Errorf("export: destination %s: %w", dest, err)
	}
	ents, err := d.ReadDir(".")
	switch {
	case err != nil:
		d.Close()
		return "", nil, fmt.Errorf("export: destination: %w", err)
	case slices.ContainsFunc(ents, func(e fs.DirEntry) bool { return !strings.HasPrefix(e.Name(), ".cbfs-") }):
		// .cbfs-writer.lock: the caller's lock on the destination.
		d.Close()
		return "", nil, fmt.Errorf("export: destination %s is not empty", dest)
	}
	return abs, d, nil
}

type ref struct {
	accountID, account string
	itemID             int
}

type exporter struct {
	src, dst  *backuppath.Path
	res       *Result
	w         atomicfile.Options
	mu        sync.Mutex // res.Damaged, res.Blobs, res.Bytes during copyBlobs
	digests   map[blob.Digest][]ref
	recorded  map[blob.Digest]int64 // the largest size a state records for a blob; -1: a state records none
	skipItems bool
}

func (x *exporter) rel(err error) string {
	return strings.ReplaceAll(err.Error(), x.src.Root+string(filepath.Separator), "")
}

func (x *exporter) damage(d Damage) {
	x.mu.Lock()
	x.res.Damaged = append(x.res.Damaged, d)
	x.mu.Unlock()
}

func matchAny(v string, list []string) bool {
	for _, l := range list {
		if strings.EqualFold(strings.TrimSpace(l), v) {
			return true
		}
	}
	return false
}

// selectAccount decides whether account id is exported.
func (x *exporter) selectAccount(id string, opt Options) bool {
	a, err := x.src.ReadAccount(id)
	if err != nil {
		if len(opt.Domains) > 0 || len(opt.COS) > 0 {
			x.damage(Damage{Class: blob.Class(err), What: "account", Path: accountInfoRel(id), AccountID: id,
				Reason: x.rel(err) + "; its domain and COS are unknown, so it is not exported", Copied: false})
			return false
		}
		return true // copied as is; copyAccount reports the damage
	}
	if len(opt.Domains) > 0 && !matchAny(a.Domain(), opt.Domains) {
		x.res.NotSelected++
		return false
	}
	if len(opt.COS) > 0 && !matchAny(a.COSName, opt.COS) && !matchAny(a.COSID, opt.COS) {
		x.res.NotSelected++
		return false
	}
	disabled, why := false, ""
	if opt.Policy != nil {
		disabled, why = !opt.Policy.AccountEnabled(a), "backupEnabled false (toggles)"
	} else if a.BackupEnabled != nil && !*a.BackupEnabled {
		disabled, why = true, "backupEnabled false (account_info)"
	}
	if disabled {
		x.res.LeftOut = append(x.res.LeftOut, LeftOut{AccountID: id, Account: a.Name, Reason: why})
		return false
	}
	return true
}

func accountInfoRel(id string) string {
	return backuppath.AccountsDir + "/" + id + "/" + backuppath.AccountInfoFile
}

// copyAccount copies accounts/<id>/ as it is and records the blobs its item
// files name.
func (x *exporter) copyAccount(ctx context.Context, id string) error {
	name := id
	if a, err := x.src.ReadAccount(id); err == nil {
		name = a.Name
	} else {
		x.damage(Damage{Class: blob.Class(err), What: "account", Path: accountInfoRel(id), AccountID: id,
			Reason: x.rel(err), Copied: !errors.Is(err, blob.ErrMissing)})
	}
	x.res.Accounts = append(x.res.Accounts, name)
	srcDir := x.src.AccountDir(id)
	itemsDir := filepath.Join(srcDir, backuppath.ItemsDir)
	return filepath.WalkDir(srcDir, func(path string, d fs.DirEntry, err error) error {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		rel, _ := filepath.Rel(x.src.Root, path)
		if err != nil {
			// A folder that cannot be listed: make it, report it.
			x.damage(Damage{Class: "unreadable", What: "file", Path: filepath.ToSlash(rel), AccountID: id, Account: name, Reason: x.rel(err)})
			if d != nil && d.IsDir() {
				_ = x.w.MkdirAll(filepath.Join(x.dst.Root, rel))
				return fs.SkipDir
			}
			return nil
		}
		if strings.HasPrefix(d.Name(), atomicfile.TempPrefix) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		isItem := filepath.Dir(filepath.Dir(path)) == itemsDir
		itemID := -1
		if isItem {
			itemID = itemIDOf(d.Name())
		}
		if d.IsDir() {
			if err := x.w.MkdirAll(filepath.Join(x.dst.Root, rel)); err != nil {
				return err
			}
			if x.skipItems && path == itemsDir {
				return fs.SkipDir
			}
			if itemID >= 0 {
				// A folder where an item file should be: copied as a
				// folder, so the export shows the same damage.
				x.res.Items++
				x.damage(Damage{Class: "unreadable", What: "item", Path: filepath.ToSlash(rel), AccountID: id, Account: name,
					ItemID: itemID, Reason: "a folder where the item file should be", Copied: true})
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			// A symlink, FIFO or device in the source: never followed or
			// copied, but reported (it may be an item the export lacks).
			x.damage(Damage{Class: "unreadable", What: "file", Path: filepath.ToSlash(rel), AccountID: id, Account: name,
				Reason: "not a regular file (" + d.Type().String() + "): not read"})
			return nil
		}
		b, err := x.copyFile(rel, true)
		if err != nil {
			if !isSourceErr(err) {
				return err
			}
			what := "file"
			if itemID >= 0 {
				what = "item"
				x.res.Items++
			}
			x.damage(Damage{Class: "unreadable", What: what, Path: filepath.ToSlash(rel), AccountID: id, Account: name,
				ItemID: max(itemID, 0), Reason: x.rel(err)})
			return nil
		}
		if itemID < 0 {
			return nil
		}
		x.res.Items++
		r := ref{accountID: id, account: name, itemID: itemID}
		it, perr := x.src.Decoder.ParseItem(itemID, b)
		if perr != nil {
			x.damage(Damage{Class: "broken", What: "item", Path: filepath.ToSlash(rel), AccountID: id, Account: name,
				ItemID: itemID, Reason: perr.Error(), Copied: true})
			for _, dg := range mailbox.DigestsIn(b) {
				x.digests[dg] = append(x.digests[dg], r)
			}
			return nil
		}
		for _, dg := range it.Digests() {
			x.digests[dg] = append(x.digests[dg], r)
		}
		it.RecordSizes(x.recorded)
		return nil
	})
}

func itemIDOf(name string) int {
	n := 0
	if name == "" || len(name) > 18 || (name[0] == '0' && name != "0") {
		return -1
	}
	for _, c := range name {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// sourceErr marks a failure to read the source (damage), as opposed to a
// failure to write the export (fatal).
type sourceErr struct{ err error }

func (e *sourceErr) Error() string { return e.err.Error() }
func (e *sourceErr) Unwrap() error { return e.err }
func (e *sourceErr) Is(target error) bool {
	if target == blob.ErrUnreadable {
		return true
	}
	return target == blob.ErrMissing && errors.Is(e.err, fs.ErrNotExist)
}

func isSourceErr(err error) bool {
	var se *sourceErr
	return errors.As(err, &se)
}

// copyFile copies root-relative rel from the source to the export,
// atomically, keeping its modification time. The source is read confined
// (no symlink followed, no FIFO waited on: internal/confined) and streamed;
// with keep (item and account files) it is at most
// backuppath.MaxMetadataFile and its bytes are returned. Errors reading the
// source are *sourceErr, the destination's are not.
func (x *exporter) copyFile(rel string, keep bool) ([]byte, error) {
	f, err := confined.Open(x.src.Root, rel)
	if err != nil {
		return nil, &sourceErr{err}
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, &sourceErr{err}
	}
	if keep && fi.Size() > backuppath.MaxMetadataFile {
		return nil, &sourceErr{fmt.Errorf("%s: larger than %d bytes", rel, backuppath.MaxMetadataFile)}
	}
	var kept bytes.Buffer
	var src io.Reader = sourceReader{f}
	if keep {
		src = io.TeeReader(io.LimitReader(src, backuppath.MaxMetadataFile), &kept)
	}
	var n int64
	dstPath := filepath.Join(x.dst.Root, rel)
	err = x.w.Write(dstPath, 0o644, func(w io.Writer) error {
		var cerr error
		if n, cerr = io.Copy(w, src); cerr != nil {
			return cerr
		}
		_ = atomicfile.SetTimes(w, fi.ModTime(), fi.ModTime())
		return nil
	})
	if err != nil {
		var se *sourceErr
		if errors.As(err, &se) {
			return nil, se
		}
		return nil, err
	}
	x.mu.Lock()
	x.res.Bytes += n
	x.mu.Unlock()
	return kept.Bytes(), nil
}

// sourceReader marks its read errors as the source's.
type sourceReader struct{ r io.Reader }

func (s sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		err = &sourceErr{err}
	}
	return n, err
}

// copyBlobs copies every blob the exported items name, then verifies the
// copy, with workers goroutines.
func (x *exporter) copyBlobs(ctx context.Context, n int, progress func(int, int, string)) error {
	if n <= 0 {
		n = 2
	}
	ds := make([]blob.Digest, 0, len(x.digests))
	for d := range x.digests {
		ds = append(ds, d)
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	err := workers.Each(ctx, n, ds, x.copyBlob, func(done, total int) { progress(done, total, "blobs") })
	if ctx.Err() != nil {
		return err
	}
	slices.SortStableFunc(x.res.Damaged, func(a, b Damage) int { return strings.Compare(a.Path, b.Path) })
	return err
}

// copyBlob copies one blob as it is and reports it if it is damaged.
func (x *exporter) copyBlob(d blob.Digest) error {
	refs := x.digests[d]
	dmg := func(class, reason string, copied bool) {
		for _, r := range refs {
			x.damage(Damage{Class: class, What: "blob", Path: d.RelPath(), AccountID: r.accountID, Account: r.account,
				ItemID: r.itemID, Reason: reason, Copied: copied})
		}
	}
	if !d.Valid() {
		dmg("missing", "states name an invalid digest", false)
		return nil
	}
	// No stat first: the confined open says what is there (one lookup
	// per blob).
	if _, err := x.copyFile(d.RelPath(), false); err != nil {
		switch {
		case !isSourceErr(err):
			return err
		case errors.Is(err, fs.ErrNotExist):
			dmg("missing", "no blob file", false)
		case errors.Is(err, syscall.EISDIR):
			// Mirror the damage: a folder where the blob should be.
			if err := x.w.MkdirAll(x.dst.Blobs.Path(d)); err != nil {
				return err
			}
			dmg("unreadable", "a folder where the blob file should be", true)
		case errors.Is(err, confined.ErrNotRegular):
			dmg("unreadable", "not a regular file", false)
		default:
			dmg("unreadable", x.rel(err), false)
		}
		return nil
	}
	x.mu.Lock()
	x.res.Blobs++
	x.mu.Unlock()
	// Verify the copy (it is the same bytes as the source), within the
	// largest size its states record: a gzip bomb is broken.
	lim := blob.Limit{}
	x.mu.Lock()
	if r := x.recorded[d]; r > 0 {
		lim.Size = r
	}
	x.mu.Unlock()
	if err := x.dst.Blobs.CheckLimit(d, lim); err != nil {
		reason := strings.ReplaceAll(err.Error(), x.dst.Root+string(filepath.Separator), "")
		var be *blob.Error
		if errors.As(err, &be) && be.Reason != "" {
			reason = be.Reason
			if be.Err != nil {
				reason += ": " + be.Err.Error()
			}
		}
		dmg(blob.Class(err), reason, true)
	}
	return nil
}

// serverDirOf is the server folder src's server files are read from.
func serverDirOf(src *backuppath.Path) string {
	d, _ := src.ServerDirs()
	return d
}
