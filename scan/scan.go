package scan

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/internal/atomicfile"
	"github.com/cbfs/cbfs/mailbox"
)

// AccountSpec is one line of the account list: an account and its COS.
type AccountSpec struct {
	Name string
	COS  string
}

// Options tune a scan. The zero value scans every account of the source.
type Options struct {
	// Accounts is the account list. An IMAP source scans exactly these; a
	// Maildir source discovers its accounts and takes only their COS from
	// here.
	Accounts []AccountSpec
	// Only restricts the scan to these accounts (doAccountScan). Accounts
	// of the Backup Path are then never marked deleted.
	Only []string
	// Disabled reports accounts whose backup is off (COS or account
	// backupEnabled false): they are skipped and left as they are. An
	// account_info with backupEnabled false is skipped as well.
	Disabled func(name, cos string) bool
	// Progress is called after each message and at account boundaries.
	Progress func(Progress)
	// ConfigPaths are files and folders snapshotted once a day as the
	// day's customizations archive; a server configuration backup is
	// written once a day in any case.
	ConfigPaths []string
	// ServerID and Hostname name the server in a new backupstat and in
	// the configuration backup (defaults: backupstat's, then a new UUID
	// and os.Hostname).
	ServerID, Hostname string
	// ReadErrorThreshold stops an account after that many messages could
	// not be read (0: never stop).
	ReadErrorThreshold int
	// CheckpointEvery saves the scan state (and account_stat) after that
	// many written items, so a killed scan redoes little (default 1000).
	CheckpointEvery int
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
	// Logger receives per-message problems (default: discard).
	Logger *slog.Logger
	// MaxFileSize is the largest message a scan reads, in bytes: a larger
	// one is a read error naming its size, and is not read (a Maildir's
	// file is measured by fstat, never by the ",S=" of its name). 0 is
	// DefaultMaxFileSize; negative, no limit.
	MaxFileSize int64
	// Deep (doSmartScan/doAccountScan deep true) lists every folder, even
	// one whose change token says it is unchanged, and re-reads every
	// message: a message whose content changed gets a new state, and the
	// blob of one that did not is checked and written again when it is
	// missing or damaged.
	Deep bool
}

// DefaultMaxFileSize is Options.MaxFileSize when none is given: 1 GiB,
// above any real message (mail servers refuse messages of a few tens of
// MB; Carbonio's default is 10 MB), so that no real mail is left out,
// while a planted file of gigabytes (a sparse file costs its owner
// nothing) is not read. A large message is streamed into its blob, never
// held in memory, so the limit bounds time and disk, not memory.
const DefaultMaxFileSize = 1 << 30

// Progress is a snapshot passed to Options.Progress.
type Progress struct {
	Account       string
	AccountsDone  int
	AccountsTotal int
	Messages      int   // messages looked at in this run
	Bytes         int64 // content bytes read from the source in this run
}

// Counts are item counts (messages and folders).
type Counts struct {
	New     int `json:"new"`
	Changed int `json:"changed"` // new states of existing items: flags, moves, renames
	Moved   int `json:"moved"`   // of Changed: messages that moved folder
	Deleted int `json:"deleted"` // deleted states written
}

// AccountReport is one account's part of a Report.
type AccountReport struct {
	Name       string   `json:"name"`
	ID         string   `json:"id,omitempty"`
	Items      Counts   `json:"items"`
	Messages   int      `json:"messages"` // messages in the source
	Bytes      int64    `json:"bytes"`    // content bytes read from the source
	BlobsNew   int      `json:"blobsNew"` // blobs created (not already in the path)
	ReadErrors int      `json:"readErrors"`
	Skipped    string   `json:"skipped,omitempty"` // why the account was not scanned
	Stopped    bool     `json:"stopped,omitempty"` // stopped by the read error threshold
	Errors     []string `json:"errors,omitempty"`
	Written    int      `json:"filesWritten"` // metadata and blob files written
	// FoldersSkipped: folders the source listed but could not back up
	// (Folder.Err, or their listing failed); each is in Errors.
	FoldersSkipped int `json:"foldersSkipped,omitempty"`
}

// Report is the result of Run.
type Report struct {
	Source          string           `json:"source"`
	Start           time.Time        `json:"start"`
	End             time.Time        `json:"end"`
	Accounts        int              `json:"accounts"` // scanned
	AccountsSkipped int              `json:"accountsSkipped"`
	AccountsNew     int              `json:"accountsNew"`
	AccountsDeleted int              `json:"accountsDeleted"` // marked deleted: gone from the source
	Items           Counts           `json:"items"`
	Messages        int              `json:"messages"`
	Bytes           int64            `json:"bytes"`
	BlobsNew        int              `json:"blobsNew"`
	ReadErrors      int              `json:"readErrors"`
	Errors          []string         `json:"errors,omitempty"`
	Written         int              `json:"filesWritten"`
	ServerConfig    string           `json:"serverConfig,omitempty"`   // written this run (relative path)
	Customizations  string           `json:"customizations,omitempty"` // written this run (relative path)
	PerAccount      []*AccountReport `json:"perAccount"`
}

// Err summarises the report's errors (nil if none).
func (r *Report) Err() error {
	if len(r.Errors) == 0 {
		return nil
	}
	if len(r.Errors) == 1 {
		return errors.New(r.Errors[0])
	}
	return fmt.Errorf("%s (and %d more errors)", r.Errors[0], len(r.Errors)-1)
}

// Run backs the source up into bp: see the package documentation. It
// returns a report also when it fails; per-account read problems are in
// the report, not the error. The error is non-nil when ctx was cancelled
// (the work done so far is kept and a later Run completes it), when the
// source cannot list its accounts, or when the Backup Path cannot be
// written.
func Run(ctx context.Context, bp *backuppath.Path, src Source, opt Options) (*Report, error) {
	r := &runner{bp: bp, src: src, opt: opt, now: opt.Now}
	if r.now == nil {
		r.now = time.Now
	}
	if r.opt.CheckpointEvery <= 0 {
		r.opt.CheckpointEvery = 1000
	}
	if r.opt.Logger == nil {
		r.opt.Logger = slog.New(slog.DiscardHandler)
	}
	r.rep = &Report{Source: src.String(), Start: r.now()}
	err := r.run(ctx)
	r.rep.End = r.now()
	for _, a := range r.rep.PerAccount {
		r.rep.Items.New += a.Items.New
		r.rep.Items.Changed += a.Items.Changed
		r.rep.Items.Moved += a.Items.Moved
		r.rep.Items.Deleted += a.Items.Deleted
		r.rep.Messages += a.Messages
		r.rep.Bytes += a.Bytes
		r.rep.BlobsNew += a.BlobsNew
		r.rep.ReadErrors += a.ReadErrors
		r.rep.Written += a.Written
		for _, e := range a.Errors {
			r.rep.Errors = append(r.rep.Errors, a.Name+": "+e)
		}
	}
	// An error that stopped the run (the Backup Path cannot be written, the
	// source cannot list its accounts) is one of the report's errors too:
	// a report that says "Errors: 0" must mean it.
	if err != nil && ctx.Err() == nil {
		said := false
		for _, e := range r.rep.Errors {
			said = said || strings.HasSuffix(e, err.Error())
		}
		if !said {
			r.rep.Errors = append(r.rep.Errors, err.Error())
		}
	}
	return r.rep, err
}

type runner struct {
	bp   *backuppath.Path
	src  Source
	opt  Options
	now  func() time.Time
	rep  *Report
	prog Progress
}

func (r *runner) progress() {
	if r.opt.Progress != nil {
		r.opt.Progress(r.prog)
	}
}

func (r *runner) run(ctx context.Context) error {
	// The accounts to scan.
	cos := map[string]string{}
	for _, a := range r.opt.Accounts {
		cos[strings.ToLower(a.Name)] = a.COS
	}
	if l, ok := r.src.(interface{ limitFileSize(int64) }); ok {
		l.limitFileSize(r.opt.MaxFileSize)
	}
	names, err := r.src.Accounts(ctx)
	if err != nil {
		return fmt.Errorf("scan %s: %w", r.src, err)
	}
	if u, ok := r.src.(interface{ Unlisted() []string }); ok && len(r.opt.Only) == 0 {
		// What the source could not search for accounts (a Maildir
		// domain folder that is a symbolic link): their accounts are
		// not backed up, which the report of a full scan must say.
		r.rep.Errors = append(r.rep.Errors, u.Unlisted()...)
	}
	listed := names != nil || len(r.opt.Accounts) > 0 // we know which accounts exist
	if names == nil {
		for _, a := range r.opt.Accounts {
			names = append(names, strings.ToLower(a.Name))
		}
		if len(names) == 0 && len(r.opt.Only) == 0 {
			return fmt.Errorf("scan %s: the source cannot list its accounts: give an account list", r.src)
		}
	}
	full := len(r.opt.Only) == 0
	if !full {
		have := map[string]bool{}
		for _, n := range names {
			have[n] = true
		}
		names = nil
		for _, n := range r.opt.Only {
			n = strings.ToLower(n)
			if !have[n] && listed {
				r.rep.Errors = append(r.rep.Errors, fmt.Sprintf("%s: no such account in %s", n, r.src))
				continue
			}
			names = append(names, n)
		}
	}
	known, err := r.knownAccounts()
	if err != nil {
		return err
	}
	r.prog.AccountsTotal = len(names)
	inSource := map[string]bool{}
	for _, name := range names {
		inSource[name] = true
		if err := ctx.Err(); err != nil {
			return err
		}
		ar := &AccountReport{Name: name}
		r.rep.PerAccount = append(r.rep.PerAccount, ar)
		r.prog.Account = name
		r.progress()
		info := known[name]
		c := cos[name]
		if (info != nil && info.BackupEnabled != nil && !*info.BackupEnabled) ||
			(r.opt.Disabled != nil && r.opt.Disabled(name, c)) {
			ar.Skipped = "backup disabled"
			r.rep.AccountsSkipped++
			if info != nil {
				ar.ID = info.ID
			}
			r.prog.AccountsDone++
			continue
		}
		err := r.account(ctx, ar, name, c, info)
		r.prog.AccountsDone++
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			var we *writeError
			if errors.As(err, &we) {
				// The Backup Path cannot be written: the run stops here, and
				// the report says so for this account (it was scanned up to
				// the failure; what it counts was written).
				ar.Errors = append(ar.Errors, err.Error())
				r.rep.Accounts++
				return err
			}
			ar.Errors = append(ar.Errors, err.Error())
		}
		r.rep.Accounts++
	}
	// Accounts gone from the source are marked deleted (full scans only).
	if full {
		for name, info := range known {
			if inSource[name] || info.Status == mailbox.StatusDeleted {
				continue
			}
			if (info.BackupEnabled != nil && !*info.BackupEnabled) || (r.opt.Disabled != nil && r.opt.Disabled(name, info.COSName)) {
				continue // disabled accounts are the toggles' business
			}
			info.Status = mailbox.StatusDeleted
			info.DeletedDate = mailbox.MillisOf(r.now())
			if err := r.bp.WriteAccount(info); err != nil {
				return &writeError{err}
			}
			r.rep.AccountsDeleted++
			r.rep.Written++
		}
	}
	if err := r.serverConfig(names, cos); err != nil {
		return err
	}
	if r.rep.Written > 0 || r.wroteAny() {
		if err := r.touchBackupStat(); err != nil {
			return err
		}
	}
	return nil
}

func (r *runner) wroteAny() bool {
	for _, a := range r.rep.PerAccount {
		if a.Written > 0 {
			return true
		}
	}
	return false
}

// writeError marks a failure to write the Backup Path: it stops the run.
type writeError struct{ err error }

func (e *writeError) Error() string { return e.err.Error() }
func (e *writeError) Unwrap() error { return e.err }

// knownAccounts maps account names (lower case) to their account_info;
// with several accounts of one name, the active one wins, then the newest.
func (r *runner) knownAccounts() (map[string]*mailbox.Account, error) {
	ids, err := r.bp.AccountIDs()
	if err != nil {
		return nil, err
	}
	out := map[string]*mailbox.Account{}
	for _, id := range ids {
		a, err := r.bp.ReadAccount(id)
		if err != nil {
			continue
		}
		n := strings.ToLower(a.Name)
		if old := out[n]; old != nil {
			oldActive := old.Status != mailbox.StatusDeleted
			newActive := a.Status != mailbox.StatusDeleted
			if oldActive && !newActive || (oldActive == newActive && old.Created >= a.Created) {
				continue
			}
		}
		out[n] = a
	}
	return out, nil
}

func (r *runner) touchBackupStat() error {
	st, err := r.bp.ReadBackupStat()
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, blob.ErrMissing) {
			return &writeError{fmt.Errorf("backupstat: %w", err)}
		}
		st = &backuppath.BackupStat{ServerID: r.serverID(nil), Hostname: r.hostname(nil),
			FirstRun: mailbox.MillisOf(r.rep.Start), FormatVersion: backuppath.FormatVersion}
	}
	st.LastScan = mailbox.MillisOf(r.now())
	if err := r.bp.WriteBackupStat(st); err != nil {
		return &writeError{err}
	}
	r.rep.Written++
	return nil
}

func (r *runner) serverID(st *backuppath.BackupStat) string {
	if r.opt.ServerID != "" {
		return r.opt.ServerID
	}
	if st != nil && st.ServerID != "" {
		return st.ServerID
	}
	return uuid.NewString()
}

func (r *runner) hostname(st *backuppath.BackupStat) string {
	if r.opt.Hostname != "" {
		return r.opt.Hostname
	}
	if st != nil && st.Hostname != "" {
		return st.Hostname
	}
	h, _ := os.Hostname()
	return h
}

// ---- one account ----

type acctScan struct {
	r      *runner
	rep    *AccountReport
	id     string
	name   string
	st     *state
	mb     Mailbox
	nextID int
	sinceC int  // items written since the last checkpoint
	wrote  bool // any item written
	dirty  bool // scan state differs from the file
	curs   []*cur

	// Group commit: blobs and item files are written without fsync; a
	// barrier syncs the file system (syncfs) once for many files. New
	// items wait in pending until their blobs are durable, so an item
	// never reaches the disk before its blob, crash or power loss alike.
	durable bool
	store   *blob.Store
	wopt    atomicfile.Options
	pending []*mailbox.Item

	// Blobs of new messages are compressed and written by up to
	// writeWorkers goroutines (putAsync) while the next messages are
	// read; flush waits for them before the sync that makes them durable,
	// so the order blob, sync, item file is kept.
	putWG   *sync.WaitGroup // the puts of the current group
	putSem  chan struct{}
	putMu   sync.Mutex
	putErr  error
	putNew  int                  // blobs created by putAsync
	putting map[blob.Digest]bool // digests put in the current group

	// One group at a time is committed in the background (its blobs
	// awaited, synced, then its item files written) while the next one
	// is read and compressed; commits run in order.
	inflight chan commitResult
}

// commitResult is the outcome of a group's commit.
type commitResult struct {
	items int // item files written
	err   error
}

// pendingMax is how many new items wait for one blob sync.
const pendingMax = 1024

// writeWorkers is how many blobs (and, in flush, item files) are written
// at once: compression takes a core each, and file creation in the kernel
// overlaps with it.
var writeWorkers = max(2, runtime.GOMAXPROCS(0))

// cur is one folder of the source as seen in this scan.
type cur struct {
	f      *Folder
	id     int
	prior  *FolderEntry
	msgs   []*Message
	listed bool
	broken bool // a message of it could not be read: list again next time
}

func (r *runner) account(ctx context.Context, ar *AccountReport, name, cos string, info *mailbox.Account) error {
	now := r.now()
	if info == nil {
		info = &mailbox.Account{ID: uuid.NewString(), Name: name, Status: mailbox.StatusActive,
			COSName: cos, Created: mailbox.MillisOf(now)}
		r.rep.AccountsNew++
		ar.ID = info.ID
		if err := r.bp.WriteAccount(info); err != nil {
			return &writeError{err}
		}
		ar.Written++
	} else {
		ar.ID = info.ID
		changed := false
		if info.Status == mailbox.StatusDeleted {
			info.Status, info.DeletedDate, changed = mailbox.StatusActive, 0, true
		}
		if cos != "" && info.COSName != cos {
			info.COSName, changed = cos, true
		}
		if changed {
			if err := r.bp.WriteAccount(info); err != nil {
				return &writeError{err}
			}
			ar.Written++
		}
	}
	st, err := loadState(r.bp, info.ID)
	if err != nil {
		return err
	}
	mb, err := r.src.Open(ctx, name)
	if err != nil {
		return err
	}
	defer mb.Close()
	a := &acctScan{r: r, rep: ar, id: info.ID, name: name, st: st, mb: mb, nextID: st.maxItemID + 1,
		durable: !r.bp.Write.NoSync || !r.bp.Blobs.Write.NoSync, store: blob.NewStore(r.bp.Root),
		wopt: r.bp.Writer().WithNoSync(), putWG: &sync.WaitGroup{}, putSem: make(chan struct{}, writeWorkers), putting: map[blob.Digest]bool{}}
	a.store.Write.NoSync = true
	a.dirty = st.repaired > 0
	err = a.scan(ctx)
	// Whatever happened, keep what was done.
	if serr := a.save(err == nil && !ar.Stopped); serr != nil && err == nil {
		err = serr
	}
	return err
}

func (a *acctScan) when() mailbox.Millis {
	return mailbox.MillisOf(a.r.now())
}

// after returns a start date for a new state of an item whose latest
// state started at prev: now, or just after prev.
func (a *acctScan) after(prev mailbox.Millis) mailbox.Millis {
	t := a.when()
	if t <= prev {
		t = prev + 1
	}
	return t
}

func (a *acctScan) scan(ctx context.Context) error {
	all, err := a.mb.Folders(ctx)
	if err != nil {
		return err
	}
	folders := all[:0:0]
	for _, f := range all {
		if f.Err != nil {
			a.skipFolder(f, f.Err)
			continue
		}
		folders = append(folders, f)
	}
	folders = withParents(folders)
	curs, err := a.resolveFolders(ctx, folders)
	if err != nil {
		return err
	}
	a.curs = curs
	if err := a.writeFolders(curs); err != nil {
		return err
	}
	return a.messages(ctx, curs)
}

// resolveFolders gives every source folder its folder id: system folders
// by their special use; others by their stable key, then by path, then (a
// renamed folder on a source without keys) by the messages they hold.
func (a *acctScan) resolveFolders(ctx context.Context, folders []*Folder) ([]*cur, error) {
	used := map[int]bool{}
	byKey := map[string]*FolderEntry{}
	byPath := map[string]*FolderEntry{}
	for _, e := range a.st.folders {
		if e.Key != "" {
			byKey[e.Key] = e
		}
		byPath[e.Path] = e
	}
	var curs []*cur
	for _, f := range folders {
		c := &cur{f: f}
		switch {
		case f.Special != 0 && !used[f.Special]:
			c.id = f.Special
			c.prior = a.st.folders[f.Special]
		case f.Key != "" && byKey[f.Key] != nil && !used[byKey[f.Key].ID]:
			c.prior = byKey[f.Key]
		case byPath[f.PathString()] != nil && !used[byPath[f.PathString()].ID] &&
			(f.Key == "" || byPath[f.PathString()].Key == ""):
			c.prior = byPath[f.PathString()]
		}
		if c.prior != nil && c.id == 0 {
			c.id = c.prior.ID
		}
		if c.id != 0 {
			used[c.id] = true
		}
		curs = append(curs, c)
	}
	// List what changed (and every unmatched folder: needed below).
	for _, c := range curs {
		if !a.r.opt.Deep && c.prior != nil && c.prior.Token != "" && c.prior.Token == c.f.Token {
			continue
		}
		if c.f.NoSelect {
			c.listed = true // holds no messages
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		msgs, err := a.mb.Messages(ctx, c.f, c.prior)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			// This folder only: not listed, so none of its messages is
			// taken for deleted, and its token is not kept.
			a.skipFolder(c.f, fmt.Errorf("list: %w", err))
			c.broken = true
			continue
		}
		c.msgs, c.listed = msgs, true
	}
	// Renames on sources without folder keys: an unmatched folder holding
	// most of a vanished folder's messages is that folder.
	for _, c := range curs {
		if c.id != 0 || len(c.msgs) == 0 {
			continue
		}
		count := map[int]int{}
		for _, m := range c.msgs {
			if e := a.st.byKey[m.Key]; e != nil && !used[e.FolderID] {
				count[e.FolderID]++
			}
		}
		best, bestN := 0, 0
		for fid, n := range count {
			if n > bestN || (n == bestN && fid < best) {
				best, bestN = fid, n
			}
		}
		if best == 0 || a.st.folders[best] == nil || best < 256 {
			continue
		}
		total := 0
		for _, e := range a.st.byItem {
			if e.FolderID == best {
				total++
			}
		}
		if bestN*2 >= total {
			c.id, c.prior = best, a.st.folders[best]
			used[best] = true
		}
	}
	// New folders get new ids.
	for _, c := range curs {
		if c.id == 0 {
			c.id = a.alloc()
		}
	}
	return curs, nil
}

// skipFolder reports a folder that is not backed up this run. While any
// folder is skipped, nothing of the account is marked deleted: a message
// not seen may be in that folder.
func (a *acctScan) skipFolder(f *Folder, err error) {
	a.rep.FoldersSkipped++
	a.rep.Errors = append(a.rep.Errors, fmt.Sprintf("folder %q skipped: %v", f.PathString(), err))
	a.r.opt.Logger.Warn("folder skipped", "account", a.name, "folder", f.PathString(), "err", err)
}

func (a *acctScan) alloc() int {
	id := a.nextID
	a.nextID++
	return id
}

// writeFolders writes the states of new, renamed and moved folders (not
// of system folders, which readers name themselves).
func (a *acctScan) writeFolders(curs []*cur) error {
	byPath := map[string]int{}
	for _, c := range curs {
		byPath[c.f.PathString()] = c.id
	}
	for _, c := range curs {
		parent := mailbox.FolderRoot
		if len(c.f.Path) > 1 {
			if p, ok := byPath[strings.Join(c.f.Path[:len(c.f.Path)-1], "/")]; ok {
				parent = p
			}
		}
		name := c.f.Path[len(c.f.Path)-1]
		e := &FolderEntry{ID: c.id, Key: c.f.Key, Path: c.f.PathString(), Name: name, ParentID: parent}
		if c.prior != nil {
			e.Token = c.prior.Token
		}
		if c.f.Special != 0 && c.id == c.f.Special {
			if c.prior == nil || c.prior.Path != e.Path || c.prior.Key != e.Key {
				a.dirty = true
			}
			a.st.folders[c.id] = e
			continue
		}
		if c.prior != nil && c.prior.Name == name && c.prior.ParentID == parent {
			if c.prior.Path != e.Path || c.prior.Key != e.Key {
				a.dirty = true
			}
			a.st.folders[c.id] = e
			continue
		}
		s := mailbox.State{Type: mailbox.TypeFolder, FolderID: parent, ParentID: parent, Name: name}
		s.Extra = mailbox.Extra{}
		setExtra(s.Extra, extraSource, "folder:"+firstNonEmpty(c.f.Key, e.Path))
		setExtra(s.Extra, extraSourcePath, e.Path)
		if c.prior == nil {
			s.Start = a.when()
			if err := a.newItem(c.id, s); err != nil {
				return err
			}
			a.rep.Items.New++
		} else {
			if err := a.changeItem(c.id, func(ns *mailbox.State) {
				ns.FolderID, ns.ParentID, ns.Name = parent, parent, name
				ns.Deleted = false
				for k, v := range s.Extra {
					ns.Extra[k] = v
				}
			}); err != nil {
				return err
			}
			a.rep.Items.Changed++
		}
		a.st.folders[c.id] = e
		a.dirty = true
	}
	return nil
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func setExtra(e mailbox.Extra, k, v string) {
	b, _ := json.Marshal(v)
	e[k] = b
}

// newItem writes the first state of a new item. Items with a blob wait
// for the next flush (see acctScan.pending).
func (a *acctScan) newItem(id int, s mailbox.State) error {
	it := &mailbox.Item{ID: id, States: []mailbox.State{s}}
	rel := backuppath.ItemRelPath(a.id, id)
	a.st.itemPaths[id] = rel
	if s.Digest != "" {
		a.pending = append(a.pending, it)
		if len(a.pending) >= pendingMax {
			return a.flush()
		}
		return nil
	}
	return a.writeItem(rel, it)
}

// putAsync stores content, whose digest is d, in the background; the
// next waitPuts (flush) waits for it and reports its error.
func (a *acctScan) putAsync(d blob.Digest, content []byte) error {
	a.putMu.Lock()
	err, dup := a.putErr, a.putting[d]
	a.putting[d] = true
	a.putMu.Unlock()
	if err != nil || dup {
		return err
	}
	a.putSem <- struct{}{}
	wg := a.putWG
	wg.Add(1)
	go func() {
		defer func() { <-a.putSem; wg.Done() }()
		got, created, err := a.store.Put(content)
		if err == nil && got != d {
			err = fmt.Errorf("store blob %s: content changed while it was stored (now %s)", d, got)
		}
		a.putMu.Lock()
		defer a.putMu.Unlock()
		if err != nil && a.putErr == nil {
			a.putErr = &writeError{err}
		}
		if created {
			a.putNew++
		}
	}()
	return nil
}

// takePutErr counts the blobs putAsync created so far and returns its
// first error.
func (a *acctScan) takePutErr() error {
	a.putMu.Lock()
	defer a.putMu.Unlock()
	a.rep.BlobsNew += a.putNew
	a.rep.Written += a.putNew
	a.putNew = 0
	return a.putErr
}

// flush hands the current group (its blobs being written, its pending
// items) to a background commit: wait for the blobs, make them durable,
// then write the items (writeWorkers at a time). The previous group's
// commit is collected first, so at most one is in flight.
func (a *acctScan) flush() error {
	if err := a.collect(); err != nil {
		return err
	}
	if err := a.takePutErr(); err != nil {
		return err
	}
	if len(a.pending) == 0 {
		return nil
	}
	items := a.pending
	paths := make([]string, len(items))
	for i, it := range items {
		paths[i] = a.st.itemPaths[it.ID]
	}
	puts := a.putWG
	a.pending, a.putWG = nil, &sync.WaitGroup{}
	clear(a.putting)
	done := make(chan commitResult, 1)
	a.inflight = done
	go func() { done <- a.commit(puts, items, paths) }()
	return nil
}

// drain flushes and waits for every commit: the items pending so far
// are on disk afterwards (or the error says why not).
func (a *acctScan) drain() error {
	if err := a.flush(); err != nil {
		return err
	}
	if err := a.collect(); err != nil {
		return err
	}
	a.putWG.Wait() // puts of messages whose items were not queued (none normally)
	return a.takePutErr()
}

// collect waits for the commit in flight, if any, and counts its items.
func (a *acctScan) collect() error {
	if a.inflight == nil {
		return nil
	}
	r := <-a.inflight
	a.inflight = nil
	for range r.items {
		a.counted()
		a.rep.Items.New++ // pending items are new messages (add)
	}
	return r.err
}

// commit writes a group: blobs (awaited), one sync, item files.
func (a *acctScan) commit(puts *sync.WaitGroup, items []*mailbox.Item, paths []string) commitResult {
	puts.Wait()
	a.putMu.Lock()
	err := a.putErr
	a.putMu.Unlock()
	if err != nil {
		return commitResult{err: err}
	}
	if err := a.sync(); err != nil {
		return commitResult{err: err}
	}
	errs := make([]error, len(items))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(writeWorkers, len(items)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				errs[i] = a.writeItemFile(paths[i], items[i])
			}
		}()
	}
	for i := range items {
		next <- i
	}
	close(next)
	wg.Wait()
	r := commitResult{}
	for _, err := range errs {
		if err == nil {
			r.items++
		} else if r.err == nil {
			r.err = err
		}
	}
	return r
}

// sync flushes the Backup Path's file system (durable mode only).
func (a *acctScan) sync() error {
	if !a.durable {
		return nil
	}
	if err := syncFS(a.r.bp.Root); err != nil {
		return &writeError{fmt.Errorf("sync %s: %w", a.r.bp.Root, err)}
	}
	return nil
}

func (a *acctScan) writeItem(rel string, it *mailbox.Item) error {
	if err := a.writeItemFile(rel, it); err != nil {
		return err
	}
	a.counted()
	return nil
}

// writeItemFile writes an item file (safe for concurrent use).
func (a *acctScan) writeItemFile(rel string, it *mailbox.Item) error {
	b, err := it.Encode()
	if err != nil {
		return fmt.Errorf("encode item %d: %w", it.ID, err)
	}
	if err := a.wopt.WriteFile(filepath.Join(a.r.bp.Root, rel), b, 0o644); err != nil {
		return &writeError{fmt.Errorf("write item %d of %s: %w", it.ID, a.name, err)}
	}
	return nil
}

// counted counts an item file written.
func (a *acctScan) counted() {
	a.rep.Written++
	a.wrote = true
	a.sinceC++
}

// changeItem appends a new state: a copy of the latest, changed by fn.
// Earlier states are kept as they are.
func (a *acctScan) changeItem(id int, fn func(s *mailbox.State)) error {
	rel, ok := a.st.itemPaths[id]
	if !ok {
		return fmt.Errorf("item %d: no item file", id)
	}
	it, err := a.r.bp.ReadItemFile(rel, id)
	if err != nil {
		return err
	}
	l := *it.Latest()
	extra := mailbox.Extra{}
	for k, v := range l.Extra {
		extra[k] = v
	}
	l.Extra = extra
	l.Tags = append([]string(nil), l.Tags...)
	fn(&l)
	l.Start = a.after(it.Latest().Start)
	it.States = append(it.States, l)
	return a.writeItem(rel, it)
}

// checkpoint saves the scan state every CheckpointEvery written items.
func (a *acctScan) checkpoint() error {
	// The state file holds every message of the account: rewriting it
	// every CheckpointEvery items costs O(n²) on a big first scan (100,000
	// messages: ~1 GB of JSON). So the interval grows with the state, to
	// a quarter of it: the writes stay O(n), and a killed scan still
	// loses nothing (loadState takes the items written after the state
	// from their files), it only re-reads at most that quarter.
	if a.sinceC < max(a.r.opt.CheckpointEvery, len(a.st.byItem)/4) {
		return nil
	}
	return a.save(false)
}

// save writes the scan state and account_stat if anything changed. With
// final, folder tokens of completely listed folders are taken as the new
// ones; otherwise the old tokens stay, so a resumed scan lists them again.
func (a *acctScan) save(final bool) error {
	if err := a.drain(); err != nil {
		return err
	}
	a.sinceC = 0
	if final {
		for _, c := range a.curs {
			tok := c.f.Token
			if c.broken {
				tok = ""
			}
			if e := a.st.folders[c.id]; e != nil && e.Token != tok {
				e.Token = tok
				a.dirty = true
			}
		}
	}
	if !a.dirty && !a.wrote {
		return nil
	}
	if a.wrote {
		if err := a.sync(); err != nil { // items before the state that names them
			return err
		}
	}
	now := a.r.now()
	b, err := a.st.encode(a.r.src.String(), a.name, now, a.nextID-1)
	if err != nil {
		return err
	}
	if err := a.r.bp.Write.WriteFile(filepath.Join(a.r.bp.AccountDir(a.id), StateFile), b, 0o644); err != nil {
		return &writeError{fmt.Errorf("write scan state of %s: %w", a.name, err)}
	}
	a.rep.Written++
	a.dirty = false
	if a.wrote {
		var bytes int64
		for _, e := range a.st.byItem {
			bytes += e.Size
		}
		stat := &backuppath.AccountStat{LastItemID: a.nextID - 1, LastScan: mailbox.MillisOf(now),
			ItemCount: len(a.st.itemPaths), BlobBytes: bytes}
		if old, err := a.r.bp.ReadAccountStat(a.id); err == nil {
			stat.Extra = old.Extra
			if old.LastItemID > stat.LastItemID {
				stat.LastItemID = old.LastItemID
			}
		}
		if err := a.r.bp.WriteAccountStat(a.id, stat); err != nil {
			return &writeError{err}
		}
		a.rep.Written++
		a.wrote = false
	}
	return nil
}
