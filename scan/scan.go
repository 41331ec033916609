package scan

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/blob"
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
