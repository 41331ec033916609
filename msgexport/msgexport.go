package msgexport

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/mail"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/export"
	"github.com/cbfs/cbfs/internal/atomicfile"
	"github.com/cbfs/cbfs/internal/pathlock"
	"github.com/cbfs/cbfs/mailbox"
)

// Output formats.
const (
	FormatMbox = "mbox"
	FormatEML  = "eml"
)

// The files at the top of an export.
const (
	ManifestFile   = "MANIFEST.sha256"
	ReportFile     = "REPORT.txt"
	ReportJSONFile = "report.json"
)

// Selected is one item a search chose: its account (id), item id and the
// start of the state the search found.
type Selected struct {
	AccountID string
	ItemID    int
	At        time.Time
}

// Options of an export.
type Options struct {
	// Format is FormatMbox (default) or FormatEML.
	Format string
	// Search, if true, exports exactly the items of Selected (a search's
	// hits, possibly none) and ignores Accounts, Folder, At and Deleted.
	Search   bool
	Selected []Selected
	// Accounts are the ids of the accounts exported (empty: all).
	Accounts []string
	// Folder, if set (with one account), is the folder exported: its path
	// in the account's folder tree at At, "/"-separated, matched without
	// regard to case; its subfolders too unless NoSubfolders.
	Folder       string
	NoSubfolders bool
	// At is the moment whose states are exported (zero: the latest).
	At time.Time
	// Deleted exports items deleted at At in their last live state.
	Deleted bool
	// MaxFileSize, if positive, leaves out larger messages ("too large").
	MaxFileSize int64
	// NoSync skips the final flush to disk (tests).
	NoSync bool
	// Progress, if set, is called as messages are written: done of total
	// messages, total growing as each account is read.
	Progress func(done, total int)
}

// LeftOut is one message (or item file) not exported, and why.
type LeftOut struct {
	Account   string    `json:"account"`
	AccountID string    `json:"accountId"`
	ItemID    int       `json:"itemId"`
	Folder    string    `json:"folder,omitempty"`
	State     time.Time `json:"stateDate,omitzero"`
	Digest    string    `json:"digest,omitempty"`
	What      string    `json:"what"`  // blob, item
	Class     string    `json:"class"` // missing, broken, unreadable, too large
	Reason    string    `json:"reason"`
}

// File is one file written (besides the manifest and the reports).
type File struct {
	Path     string `json:"path"` // relative to the export, "/"-separated
	Messages int    `json:"messages"`
	Bytes    int64  `json:"bytes"`
	SHA256   string `json:"sha256"`
}

// Result says what an export did.
type Result struct {
	Dest     string    `json:"dest"`
	Format   string    `json:"format"`
	At       time.Time `json:"at,omitzero"` // zero: the latest states
	Query    string    `json:"query,omitempty"`
	Folder   string    `json:"folder,omitempty"`
	Accounts []string  `json:"accounts"`
	Messages int       `json:"messages"`
	Bytes    int64     `json:"bytes"` // message bytes exported
	Files    []File    `json:"files"`
	LeftOut  []LeftOut `json:"leftOut"`
	Stopped  bool      `json:"stopped,omitempty"`
}

// Report is the human text, in Carbonio's "- stats -" style.
func (r *Result) Report() string {
	var b strings.Builder
	b.WriteString("- stats -\n")
	fmt.Fprintf(&b, "Destination: %s\n", r.Dest)
	fmt.Fprintf(&b, "Format: %s\n", r.Format)
	if r.Query != "" {
		fmt.Fprintf(&b, "Query: %s\n", r.Query)
	}
	if r.Folder != "" {
		fmt.Fprintf(&b, "Folder: %s\n", r.Folder)
	}
	at := "latest"
	if !r.At.IsZero() {
		at = r.At.UTC().Format(time.RFC3339)
	}
	fmt.Fprintf(&b, "As Of: %s\n", at)
	fmt.Fprintf(&b, "Accounts: %d\n", len(r.Accounts))
	fmt.Fprintf(&b, "Messages Exported: %d\n", r.Messages)
	fmt.Fprintf(&b, "Bytes Exported: %d\n", r.Bytes)
	fmt.Fprintf(&b, "Files: %d\n", len(r.Files))
	fmt.Fprintf(&b, "Left Out: %d\n", len(r.LeftOut))
	if r.Stopped {
		b.WriteString("Stopped: true\n")
	}
	if len(r.LeftOut) > 0 {
		b.WriteString("\n- left out -\n")
		for _, l := range r.LeftOut {
			fmt.Fprintf(&b, "%s item %d", l.Account, l.ItemID)
			if l.Folder != "" {
				fmt.Fprintf(&b, " in %s", l.Folder)
			}
			if !l.State.IsZero() {
				fmt.Fprintf(&b, " state %s", l.State.UTC().Format(time.RFC3339))
			}
			fmt.Fprintf(&b, ": %s %s: %s\n", l.Class, l.What, l.Reason)
		}
	}
	return b.String()
}

// LockDest checks and makes dest as Run does and takes its writer lock
// (the same as doExport's, export.LockDest) for operation op.
func LockDest(srcRoot, dest, op string) (*pathlock.Lock, error) {
	return export.LockDest(srcRoot, dest, op)
}

// msg is one message to export.
type msg struct {
	itemID int
	st     *mailbox.State
	folder string // the folder's path in the export ("Inbox/Projects")
	date   time.Time
}

type exporter struct {
	src   *backuppath.Path
	res   *Result
	w     atomicfile.Options
	root  string
	opt   Options
	done  int
	total int
}

// Run exports the messages opt selects from src into dest, which must be
// missing or an empty folder outside src. On cancellation it stops at the
// next message and returns what it did and an error wrapping ctx.Err();
// the export then has no manifest: remove it and run again.
func Run(ctx context.Context, src *backuppath.Path, dest string, opt Options) (*Result, error) {
	if opt.Format == "" {
		opt.Format = FormatMbox
	}
	if opt.Format != FormatMbox && opt.Format != FormatEML {
		return nil, fmt.Errorf("export messages: format must be mbox or eml, not %q", opt.Format)
	}
	if opt.Folder != "" && len(opt.Accounts) != 1 {
		return nil, errors.New("export messages: a folder needs one account")
	}
	res := &Result{Accounts: []string{}, Files: []File{}, LeftOut: []LeftOut{}}
	accts, err := selectAccounts(ctx, src, opt)
	if err != nil {
		return nil, fmt.Errorf("export messages: %w", err)
	}
	// A folder that is not there is refused before DEST is made; other
	// accounts are read one at a time, as they are written.
	if opt.Folder != "" {
		if err := accts[0].plan(src, opt, res); err != nil {
			return nil, fmt.Errorf("export messages: %w", err)
		}
	}
	destAbs, dd, err := export.OpenDest(src.Root, dest)
	if err != nil {
		return nil, fmt.Errorf("export messages: %w", err)
	}
	defer dd.Close()
	owner, err := dd.Owner()
	if err != nil {
		return nil, fmt.Errorf("export messages: destination: %w", err)
	}
	res.Dest, res.Format = destAbs, opt.Format
	if !opt.Search {
		res.At, res.Folder = opt.At, opt.Folder
	}
	x := &exporter{src: src, res: res, root: destAbs, opt: opt,
		w: atomicfile.Options{NoSync: true, Root: destAbs, Dir: dd, As: owner}}
	for _, a := range accts {
		err := ctx.Err()
		if err == nil && !a.planned {
			err = a.plan(src, opt, res)
		}
		if err == nil {
			res.Accounts = append(res.Accounts, a.name)
			x.total += len(a.msgs)
			err = x.account(ctx, *a)
			a.msgs = nil
		}
		if err != nil {
			if ctx.Err() != nil {
				res.Stopped = true
				return res, fmt.Errorf("export messages: %w", ctx.Err())
			}
			return res, fmt.Errorf("export messages: %w", err)
		}
	}
	if err := x.finish(); err != nil {
		return res, fmt.Errorf("export messages: %w", err)
	}
	if !opt.NoSync {
		if err := dd.Syncfs(); err != nil {
			return res, fmt.Errorf("export messages: %w", err)
		}
	}
	return res, nil
}

// CheckFolder says whether the account (id) of src has folder (a path in
// its tree at at, as Options.Folder) with an error naming it if not: what
// Run refuses, for a caller that checks before it makes DEST.
func CheckFolder(src *backuppath.Path, accountID, folder string, at time.Time) error {
	name := accountID
	if a, err := src.ReadAccount(accountID); err == nil && a.Name != "" {
		name = a.Name
	}
	_, err := selectAccount(src, &plannedAccount{id: accountID, name: name}, Options{Folder: folder, At: at}, nil, &Result{})
	return err
}

// plannedAccount is one account exported: its folder in the export, the
// items a search chose (nil: all) and, once planned, its messages.
type plannedAccount struct {
	id, name, dir string
	only          map[int]time.Time
	planned       bool
	msgs          []msg
}

// plan reads the account's item files and chooses its messages.
func (a *plannedAccount) plan(src *backuppath.Path, opt Options, res *Result) error {
	msgs, err := selectAccount(src, a, opt, a.only, res)
	a.msgs, a.planned = msgs, true
	return err
}

// selectAccounts lists the accounts exported, each with its folder name
// in the export (its name, unique).
func selectAccounts(ctx context.Context, src *backuppath.Path, opt Options) ([]*plannedAccount, error) {
	bySearch := map[string]map[int]time.Time{}
	var ids []string
	switch {
	case opt.Search:
		for _, s := range opt.Selected {
			if bySearch[s.AccountID] == nil {
				bySearch[s.AccountID] = map[int]time.Time{}
				ids = append(ids, s.AccountID)
			}
			bySearch[s.AccountID][s.ItemID] = s.At
		}
		sort.Strings(ids)
	case len(opt.Accounts) > 0:
		ids = opt.Accounts
	default:
		var err error
		if ids, err = src.AccountIDs(); err != nil {
			return nil, err
		}
	}
	usedDirs := map[string]bool{ManifestFile: true, ReportFile: true, ReportJSONFile: true}
	var out []*plannedAccount
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		name := id
		if a, err := src.ReadAccount(id); err == nil && a.Name != "" {
			name = a.Name
		}
		dir := safeComponent(name)
		for n := 2; usedDirs[dir]; n++ {
			dir = safeComponent(name + " (" + id + ")")
			if n > 2 {
				dir = safeComponent(name + " (" + id + ") " + strconv.Itoa(n))
			}
		}
		usedDirs[dir] = true
		pa := &plannedAccount{id: id, name: name, dir: dir}
		if opt.Search {
			pa.only = bySearch[id]
		}
		out = append(out, pa)
	}
	return out, nil
}

// selectAccount chooses the messages of one account.
func selectAccount(src *backuppath.Path, pa *plannedAccount, opt Options, only map[int]time.Time, res *Result) ([]msg, error) {
	files, _, err := src.ItemFiles(pa.id)
	if err != nil {
		return nil, fmt.Errorf("account %s: %w", pa.name, err)
	}
	folders := map[int]*mailbox.Item{}
	var items []*mailbox.Item
	last := -1
	for _, f := range files {
		if f.ItemID == last {
			continue // the same id in a second bucket: the first one counts
		}
		last = f.ItemID
		if only != nil {
			if _, ok := only[f.ItemID]; !ok {
				continue
			}
		}
		it, err := src.ReadItemFile(f.RelPath, f.ItemID)
		if err != nil {
			res.LeftOut = append(res.LeftOut, LeftOut{Account: pa.name, AccountID: pa.id, ItemID: f.ItemID, What: "item",
				Class: blob.Class(err), Reason: strings.ReplaceAll(err.Error(), src.Root+string(filepath.Separator), "")})
			continue
		}
		if t := it.Latest().Type; t == mailbox.TypeFolder || t == mailbox.TypeSearchFolder {
			folders[it.ID] = it
			continue
		}
		items = append(items, it)
	}
	if only != nil {
		// The folder items too (the search only named messages).
		for _, f := range files {
			if _, ok := only[f.ItemID]; ok || folders[f.ItemID] != nil {
				continue
			}
			if it, err := src.ReadItemFile(f.RelPath, f.ItemID); err == nil {
				if t := it.Latest().Type; t == mailbox.TypeFolder || t == mailbox.TypeSearchFolder {
					folders[it.ID] = it
				}
			}
		}
	}
	at := opt.At
	if opt.Search {
		at = time.Time{}
	}
	var chosen []msg
	for _, it := range items {
		t, withDeleted := at, opt.Deleted
		if only != nil {
			t, withDeleted = only[it.ID], true
		}
		i := it.IndexAt(t)
		if i < 0 {
			continue
		}
		if it.States[i].Deleted {
			if !withDeleted {
				continue
			}
			if i = it.LiveBefore(i); i < 0 {
				continue
			}
		}
		st := &it.States[i]
		if (st.Type != mailbox.TypeMessage && st.Type != mailbox.TypeChat) || st.Digest == "" {
			continue
		}
		d := st.Date.Time()
		if st.Date == 0 {
			d = st.Start.Time()
		}
		chosen = append(chosen, msg{itemID: it.ID, st: st, date: d})
	}
	paths := folderPaths(folders, at, chosen)
	want := strings.Trim(opt.Folder, "/")
	if want != "" {
		found := false
		for _, p := range paths {
			if strings.EqualFold(p, want) {
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("account %s has no folder %q at that moment", pa.name, opt.Folder)
		}
	}
	out := chosen[:0]
	for _, m := range chosen {
		m.folder = paths[m.st.FolderID]
		if want != "" {
			in := strings.EqualFold(m.folder, want)
			if !in && !opt.NoSubfolders {
				in = len(m.folder) > len(want) && strings.EqualFold(m.folder[:len(want)], want) && m.folder[len(want)] == '/'
			}
			if !in {
				continue
			}
		}
		out = append(out, m)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].folder != out[j].folder {
			return out[i].folder < out[j].folder
		}
		if !out[i].date.Equal(out[j].date) {
			return out[i].date.Before(out[j].date)
		}
		return out[i].itemID < out[j].itemID
	})
	return out, nil
}

// folderPaths maps folder ids to their paths in the export: the tree at at
// (mailbox.FolderAt; the latest for zero), the folders the messages need
// that it lacks by their last live state (mailbox.LastFolderBefore), else
// unknown_<id>; names by mailbox.FolderTree, each component safe.
func folderPaths(folders map[int]*mailbox.Item, at time.Time, msgs []msg) map[int]string {
	need := make([]int, 0, len(msgs))
	for _, m := range msgs {
		need = append(need, m.st.FolderID)
	}
	list := mailbox.NeededFolders(folders, func(it *mailbox.Item) *mailbox.State { return mailbox.FolderAt(it, at) }, need)
	named := mailbox.FolderTree(list)
	sort.SliceStable(named, func(i, j int) bool {
		if named[i].Path != named[j].Path {
			return named[i].Path < named[j].Path
		}
		return named[i].ID < named[j].ID
	})
	out := map[int]string{}
	used := map[string]bool{}
	// Names FolderTree keeps apart may meet again once made safe (control
	// characters replaced, long names cut): the second folder gets its id,
	// or its mbox file would replace the first one's.
	place := func(id int, parts []string) {
		p := strings.Join(parts, "/")
		if used[p] {
			parts[len(parts)-1] = withID(parts[len(parts)-1], id)
			p = strings.Join(parts, "/")
		}
		used[p], out[id] = true, p
	}
	for _, f := range named {
		if f.Path == "" {
			continue
		}
		parts := strings.Split(f.Path, "/")
		for i := range parts {
			parts[i] = safeComponent(parts[i])
		}
		place(f.ID, parts)
	}
	for _, m := range msgs { // the root, or a folder FolderTree could not place
		if _, ok := out[m.st.FolderID]; !ok {
			place(m.st.FolderID, []string{"unknown_" + strconv.Itoa(m.st.FolderID)})
		}
	}
	return out
}

// withID is safe name s with " (<id>)" appended, within safeComponent's
// length.
func withID(s string, id int) string {
	suffix := " (" + strconv.Itoa(id) + ")"
	for len(s)+len(suffix) > maxComponent {
		_, n := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-n]
	}
	return s + suffix
}

// maxComponent is the longest name safeComponent makes, in bytes.
const maxComponent = 200

// safeComponent makes s one safe file name: control characters and a
// leading "." become "_", at most 200 bytes (room for ".mbox" and a
// temporary name's prefix), never empty.
func safeComponent(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f || r == '/' || r == utf8.RuneError {
			return '_'
		}
		return r
	}, s)
	if strings.HasPrefix(s, ".") || s == "" {
		s = "_" + s
	}
	for len(s) > maxComponent {
		_, n := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-n]
	}
	return s
}

// account writes one account's messages.
func (x *exporter) account(ctx context.Context, a plannedAccount) error {
	byFolder := map[string][]msg{}
	var order []string
	for _, m := range a.msgs {
		if _, ok := byFolder[m.folder]; !ok {
			order = append(order, m.folder)
		}
		byFolder[m.folder] = append(byFolder[m.folder], m)
	}
	// An mbox file named like a folder that holds subfolders' files
	// ("A.mbox" beside a folder really named "A.mbox"): the file gets the
	// folder's id.
	dirs := map[string]bool{}
	for _, f := range order {
		for d := path.Dir(f); d != "."; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	for _, folder := range order {
		msgs := byFolder[folder]
		var err error
		if x.opt.Format == FormatMbox {
			name := folder + ".mbox"
			if dirs[name] {
				name = folder + " (" + strconv.Itoa(msgs[0].st.FolderID) + ").mbox"
			}
			err = x.mbox(ctx, a, a.dir+"/"+name, msgs)
		} else {
			err = x.eml(ctx, a, a.dir+"/"+folder, msgs)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// read reads a message's content within its recorded size and
// MaxFileSize; a failure is recorded as left out and returns nil.
func (x *exporter) read(a plannedAccount, m msg) []byte {
	lim := blob.Limit{Size: max(m.st.Size, 0)}
	if x.opt.MaxFileSize > 0 {
		lim.Max = x.opt.MaxFileSize
	}
	b, err := x.src.Blobs.ReadLimit(m.st.Digest, lim)
	if err == nil {
		return b
	}
	class, reason := blob.Class(err), err.Error()
	if errors.Is(err, blob.ErrMissing) {
		class = "missing"
	}
	var be *blob.Error
	if errors.As(err, &be) {
		reason = be.Kind.Error()
		if be.Reason != "" {
			reason = be.Reason
		}
		if be.Err != nil {
			reason += ": " + strings.ReplaceAll(be.Err.Error(), x.src.Root+string(filepath.Separator), "")
		}
	}
	x.res.LeftOut = append(x.res.LeftOut, LeftOut{Account: a.name, AccountID: a.id, ItemID: m.itemID, Folder: m.folder,
		State: m.st.Start.Time(), Digest: string(m.st.Digest), What: "blob", Class: class, Reason: reason})
	return nil
}

func (x *exporter) progress() {
	x.done++
	if x.opt.Progress != nil {
		x.opt.Progress(x.done, x.total)
	}
}

// errEmpty aborts the write of a file none of whose messages could be read.
var errEmpty = errors.New("no message")

// write writes rel (beneath the export) with fill, recording its digest.
func (x *exporter) write(rel string, mtime time.Time, fill func(w io.Writer) (int, error)) error {
	full := filepath.Join(x.root, filepath.FromSlash(rel))
	if err := x.w.MkdirAll(filepath.Dir(full)); err != nil {
		return err
	}
	var h hash.Hash
	var n int64
	var msgs int
	err := x.w.Write(full, 0o644, func(w io.Writer) error {
		h = sha256.New()
		cw := &countWriter{w: io.MultiWriter(w, h)}
		var err error
		if msgs, err = fill(cw); err != nil {
			return err
		}
		if msgs == 0 {
			return errEmpty
		}
		n = cw.n
		if !mtime.IsZero() {
			_ = atomicfile.SetTimes(w, mtime, mtime)
		}
		return nil
	})
	if errors.Is(err, errEmpty) {
		return nil
	}
	if err != nil {
		return err
	}
	x.res.Files = append(x.res.Files, File{Path: rel, Messages: msgs, Bytes: n, SHA256: hex.EncodeToString(h.Sum(nil))})
	return nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// mbox writes one folder's messages as one mboxrd file. The blobs are
// read by another goroutine: the file is written with the destination
// owner's identity (atomicfile.Options.As switches the writing thread's),
// the Backup Path is read with the process's.
func (x *exporter) mbox(ctx context.Context, a plannedAccount, rel string, msgs []msg) error {
	type read struct {
		m msg
		b []byte
	}
	ch := make(chan read, 1)
	stop := make(chan struct{})
	go func() {
		defer close(ch)
		for _, m := range msgs {
			if ctx.Err() != nil {
				return
			}
			r := read{m, x.read(a, m)}
			select {
			case ch <- r:
			case <-stop:
				return
			}
		}
	}()
	defer func() {
		close(stop)
		for range ch {
		}
	}()
	return x.write(rel, time.Time{}, func(w io.Writer) (int, error) {
		n := 0
		for r := range ch {
			x.progress()
			if r.b == nil {
				continue
			}
			if err := WriteMboxMessage(w, Sender(r.b), r.m.date, r.b); err != nil {
				return n, err
			}
			n++
			x.res.Messages++
			x.res.Bytes += int64(len(r.b))
		}
		return n, ctx.Err()
	})
}

// eml writes one folder's messages as <id>.eml files in dir.
func (x *exporter) eml(ctx context.Context, a plannedAccount, dir string, msgs []msg) error {
	for _, m := range msgs {
		if err := ctx.Err(); err != nil {
			return err
		}
		b := x.read(a, m)
		x.progress()
		if b == nil {
			continue
		}
		err := x.write(dir+"/"+strconv.Itoa(m.itemID)+".eml", m.date, func(w io.Writer) (int, error) {
			_, err := w.Write(b)
			return 1, err
		})
		if err != nil {
			return err
		}
		x.res.Messages++
		x.res.Bytes += int64(len(b))
	}
	return nil
}

// finish writes the reports, then the manifest of every file.
func (x *exporter) finish() error {
	sort.SliceStable(x.res.LeftOut, func(i, j int) bool {
		a, b := x.res.LeftOut[i], x.res.LeftOut[j]
		if a.Account != b.Account {
			return a.Account < b.Account
		}
		return a.ItemID < b.ItemID
	})
	js, err := json.MarshalIndent(x.res, "", "  ")
	if err != nil {
		return err
	}
	reports := map[string][]byte{ReportJSONFile: append(js, '\n'), ReportFile: []byte(x.res.Report())}
	sums := map[string]string{}
	for _, f := range x.res.Files {
		sums[f.Path] = f.SHA256
	}
	for name, b := range reports {
		if err := x.w.WriteFile(filepath.Join(x.root, name), b, 0o644); err != nil {
			return err
		}
		sums[name] = sha256Hex(b)
	}
	names := make([]string, 0, len(sums))
	for n := range sums {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	for _, n := range names {
		buf.WriteString(ManifestLine(sums[n], n))
	}
	return x.w.WriteFile(filepath.Join(x.root, ManifestFile), buf.Bytes(), 0o644)
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// ManifestLine is one line of a sha256sum manifest: "<hex>  <name>\n",
// or, when name holds a backslash or a line break, coreutils' escaped
// form ("\<hex>  <name with \\ and \n>").
func ManifestLine(sum, name string) string {
	if !strings.ContainsAny(name, "\\\n") {
		return sum + "  " + name + "\n"
	}
	name = strings.ReplaceAll(name, `\`, `\\`)
	name = strings.ReplaceAll(name, "\n", `\n`)
	return `\` + sum + "  " + name + "\n"
}

// Sender is the address of an mbox "From " line for message b: its
// Return-Path, else its From address, else MAILER-DAEMON; never with a
// space or a control character.
func Sender(b []byte) string {
	const none = "MAILER-DAEMON"
	// The header only: up to the first empty line, at most 64 KiB.
	h := b[:min(len(b), 64<<10)]
	if i := bytes.Index(h, []byte("\n\r\n")); i >= 0 {
		h = h[:i+3]
	} else if i := bytes.Index(h, []byte("\n\n")); i >= 0 {
		h = h[:i+2]
	}
	m, err := mail.ReadMessage(io.MultiReader(bytes.NewReader(h), strings.NewReader("\r\n")))
	if err != nil {
		return none
	}
	addr := strings.Trim(strings.TrimSpace(m.Header.Get("Return-Path")), "<>")
	if addr == "" {
		if a, err := mail.ParseAddress(m.Header.Get("From")); err == nil {
			addr = a.Address
		}
	}
	if addr == "" || strings.ContainsFunc(addr, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return none
	}
	return addr
}

// WriteMboxMessage writes one mboxrd message: the "From sender date" line
// (the date in UTC, asctime form), the message with CRLF turned into LF
// and every line matching ^>*From  quoted with one more ">", a final line
// break if it lacked one, and an empty line.
func WriteMboxMessage(w io.Writer, sender string, date time.Time, b []byte) error {
	var buf bytes.Buffer
	buf.Grow(len(b) + len(b)/50 + 64)
	buf.WriteString("From " + sender + " " + date.UTC().Format(time.ANSIC) + "\n")
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = bytes.TrimSuffix(b[:i], []byte("\r")), b[i+1:]
		} else {
			b = nil // the last line, without a line break: a CR ending it is a lone one
		}
		if q := bytes.TrimLeft(line, ">"); bytes.HasPrefix(q, []byte("From ")) {
			buf.WriteByte('>')
		}
		buf.Write(line)
		buf.WriteByte('\n')
	}
	buf.WriteByte('\n')
	_, err := w.Write(buf.Bytes())
	return err
}
