package operations

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"golang.org/x/sys/unix"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/coherency"
	"github.com/cbfs/cbfs/internal/atomicfile"
	"github.com/cbfs/cbfs/internal/grammar"
	"github.com/cbfs/cbfs/internal/notify"
	"github.com/cbfs/cbfs/internal/pathlock"
	"github.com/cbfs/cbfs/mailbox"
	"github.com/cbfs/cbfs/opqueue"
	"github.com/cbfs/cbfs/purge"
	"github.com/cbfs/cbfs/scan"
	"github.com/cbfs/cbfs/toggles"
)

// ErrInvalid marks a request refused as invalid (bad parameters, a bad
// toggle): the service answers it with its code "invalid", cbctl exits 2.
// It is opqueue.ErrInvalid, the queue's own word for it.
var ErrInvalid = opqueue.ErrInvalid

// Runner runs the operations of one Backup Path with one set of Settings.
// The caller holds the state directory's lock (service.Open, or
// statedir.Dir.Lock in cbctl's foreground mode).
type Runner struct {
	s        Settings
	log      *slog.Logger
	toggles  *toggles.Store
	accounts []scan.AccountSpec
	now      func() time.Time
	// Prompt lets a missing IMAP password be asked on the terminal
	// (cbctl's foreground operations).
	Prompt bool

	smtp notify.Login // --smtp-user and its password, looked up once at New

	mu      sync.Mutex
	secrets map[string]map[string]string // operation id -> redacted URL -> password (Redact), guarded by mu
	// AfterWrite, if set, is called after an operation that may have
	// written the Backup Path has ended (cbfs serve refreshes its index and
	// remounts). It runs on the operation's goroutine.
	AfterWrite func(kind string)
	// OnSchedules, if set, is called with every scheduler's setting after
	// cbctl backup scheduler ... set saved one (cbfs serve applies them).
	OnSchedules func([]ScheduleSetting) error

	scheduleFlags map[string]ScheduleSetting // cbfs serve's schedule flags (SetScheduleFlag), guarded by mu
}

// New checks the settings (Normalize is called) and reads the account list
// and the toggles file. It creates the state directory (0700) if needed.
func New(s Settings, log *slog.Logger) (*Runner, error) {
	if err := s.Normalize(); err != nil {
		return nil, err
	}
	if s.BackupPath == "" {
		return nil, errors.New("no Backup Path given (--backup-path)")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// Backed-up mail is private (--umask): the mode of what atomicfile
	// writes, and of what everything else creates (buntdb files, folders).
	mask, _ := s.UmaskMode() // checked by Normalize
	atomicfile.SetUmask(mask)
	unix.Umask(int(mask))
	if err := os.MkdirAll(s.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	r := &Runner{s: s, log: log, now: time.Now}
	if s.SMTPUser != "" {
		pw, err := lookupSecret(s.SMTPPasswordFile, EnvSMTPPassword, CredentialSMTPPassword)
		if err != nil {
			return nil, fmt.Errorf("smtp: password of --smtp-user %s: %w (give it in --smtp-password-file, $%s or the systemd credential %s)",
				s.SMTPUser, err, EnvSMTPPassword, CredentialSMTPPassword)
		}
		r.smtp = notify.Login{User: s.SMTPUser, Password: pw}
	}
	if s.AccountsFile != "" {
		accts, err := ReadAccountsFile(s.AccountsFile)
		if err != nil {
			return nil, err
		}
		r.accounts = accts
	}
	if s.Source != "" {
		src, err := scan.ParseSource(s.Source)
		if err != nil {
			return nil, err
		}
		src.Close()
	}
	st, err := toggles.Open(s.Dir())
	if err != nil {
		return nil, err
	}
	r.toggles = st
	return r, nil
}

// Settings are the runner's settings, normalized.
func (r *Runner) Settings() Settings { return r.s }

// Handlers are the opqueue handlers of every kind.
func (r *Runner) Handlers() map[string]opqueue.Handler {
	m := map[string]opqueue.Handler{}
	for _, k := range Kinds {
		m[k] = r.handler(k)
	}
	return m
}

func (r *Runner) handler(kind string) opqueue.Handler {
	return func(ctx context.Context, op *opqueue.Op, progress opqueue.ProgressFunc) (string, error) {
		defer r.Forget(op.ID)
		return r.Run(withOpID(ctx, op.ID), kind, op.Params, progress)
	}
}

// Validate checks an operation's parameters (errors wrap ErrInvalid),
// so a bad request is refused when enqueued: Decode, then what the kind
// checks of its own (checker: a restore what it will open, a scan its
// source's password).
func (r *Runner) Validate(kind string, pairs map[string]string) error {
	p, err := Decode(kind, pairs)
	if c, ok := p.(checker); ok && err == nil {
		err = c.checks(r)
	}
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrInvalid, kind, err)
	}
	return nil
}

// Run runs one operation in the calling goroutine: the queue's handlers and
// cbctl's foreground mode both come here. It returns the report (also when
// stopped or failed: what was done so far) and, when stopped, an error
// wrapping ctx.Err().
func (r *Runner) Run(ctx context.Context, kind string, pairs map[string]string, progress opqueue.ProgressFunc) (report string, err error) {
	p, err := Decode(kind, pairs)
	if err != nil {
		return "", fmt.Errorf("%s: %w", kind, err)
	}
	if progress == nil {
		progress = func(opqueue.Progress) {}
	}
	w, isWriter := p.(writer)
	if isWriter {
		lock, err := w.lock(r)
		if err != nil {
			return "", err
		}
		defer lock.Release()
	}
	rep, err := p.run(ctx, r, progress)
	if isWriter && w.writesBackupPath() && r.AfterWrite != nil {
		r.AfterWrite(kind)
	}
	_, isRestore := p.(restorer)
	if n, ok := p.(interface{ addresses() []string }); ok && !isRestore { // a restore's report already carries its notification
		rep += r.notify(kind, rep, outcomeOf(ctx, err), append(slices.Clone(r.s.Notify), n.addresses()...))
	}
	if err != nil {
		r.log.Warn("operation ended with an error", "kind", kind, "err", err)
	}
	return rep, err
}

// lockPath takes the writer lock (internal/pathlock) of the service's
// Backup Path for an operation of kind, whatever state directory or
// process runs it (create: make the path first; else it must exist).
func (r *Runner) lockPath(kind string, create bool) (*pathlock.Lock, error) {
	root := r.s.BackupPath
	if create {
		if err := os.MkdirAll(root, atomicfile.Mode(0o755)); err != nil {
			return nil, fmt.Errorf("create backup path: %w", err)
		}
	}
	if _, err := os.Stat(root); err != nil {
		return nil, err
	}
	return pathlock.Acquire(root, kind)
}

// lockScan checks the Backup Path a scan writes, before the lock (which
// would write into the folder), then locks it, creating it.
func (r *Runner) lockScan(kind string) (*pathlock.Lock, error) {
	if err := CheckScanPath(r.s.BackupPath); err != nil {
		return nil, fmt.Errorf("%s: %w", kind, err)
	}
	return r.lockPath(kind, true)
}

// outcomeOf is how an operation that returned err ended, for its
// notification's subject.
func outcomeOf(ctx context.Context, err error) notify.Outcome {
	switch {
	case ctx.Err() != nil:
		return notify.Stopped
	case err == nil:
		return notify.Completed
	case errors.Is(err, ErrPartial):
		return notify.Partial
	}
	return notify.Failed
}

// notify mails an operation's report to the notification addresses when
// --smtp names a server, and says at the end of the report what became of
// them (sent, not sent and why, or only recorded).
func (r *Runner) notify(kind, report string, outcome notify.Outcome, addrs []string) string {
	if len(addrs) == 0 {
		return ""
	}
	head := "\n- notifications -\n" + strings.Join(addrs, "\n") + "\n"
	if r.s.SMTP == "" {
		return head + "(recorded only: no SMTP server configured, see --smtp)\n"
	}
	if err := notify.SendAs(r.smtp, r.s.SMTP, r.s.SMTPFrom, addrs, kind, outcome, report); err != nil {
		r.log.Warn("notification not sent", "err", err)
		return head + "(not sent: " + grammar.OneLine(err.Error()) + ")\n"
	}
	return head + "(sent through " + r.s.SMTP + ")\n"
}

// openPath opens the Backup Path for an operation that needs it to exist.
func (r *Runner) openPath() (*backuppath.Path, error) {
	return r.s.OpenPath(r.s.BackupPath)
}

// createPath opens the Backup Path, creating it if missing (scans).
func (r *Runner) createPath() (*backuppath.Path, error) {
	if bp, err := r.s.OpenPath(r.s.BackupPath); err == nil {
		return bp, nil
	}
	host, _ := os.Hostname()
	return backuppath.Create(r.s.BackupPath, backuppath.BackupStat{ServerID: uuid.NewString(), Hostname: host, FirstRun: mailbox.MillisOf(r.now())})
}

// policy reads the toggles afresh (a foreground cbctl may have changed
// them).
func (r *Runner) policy() (*toggles.Policy, error) { return r.toggles.Policy() }

// checkScan is Validate's check of a scan: its Backup Path, the source's
// password.
func (r *Runner) checkScan() error {
	if err := CheckScanPath(r.s.BackupPath); err != nil {
		return err
	}
	return r.ResolveSecrets(r.Prompt)
}

func (r *Runner) scan(ctx context.Context, account string, deep bool, progress opqueue.ProgressFunc) (string, error) {
	if err := r.ResolveSecrets(false); err != nil {
		return "", err
	}
	r.mu.Lock()
	source := r.s.Source
	r.mu.Unlock()
	if source == "" {
		return "", errors.New("no mail source configured (--source maildir:/path or imap://admin:pass@host:port)")
	}
	src, err := scan.ParseSource(source)
	if err != nil {
		return "", err
	}
	defer src.Close()
	accounts := r.accountList()
	if strings.HasPrefix(strings.ToLower(source), "imap") && len(accounts) == 0 {
		return "", errors.New("an IMAP source needs the account list (--accounts-file)")
	}
	bp, err := r.createPath()
	if err != nil {
		return "", err
	}
	pol, err := r.policy()
	if err != nil {
		return "", err
	}
	if _, err := pol.Apply(ctx, bp, r.now()); err != nil {
		return "", err
	}
	var last scan.Progress // called after each message: exact at the end
	opt := scan.Options{
		Accounts:           accounts,
		Disabled:           func(name, cos string) bool { return !pol.Enabled(name, cos) },
		ConfigPaths:        r.s.ConfigPaths,
		ReadErrorThreshold: r.s.ReadErrorThreshold,
		MaxFileSize:        r.s.ScanMaxFileSizeBytes(),
		Logger:             r.log,
		Deep:               deep,
		Progress: func(sp scan.Progress) {
			last = sp
			// Messages are what moves; their total is not known before
			// the folders are listed, so Total stays 0 (a count and a
			// rate, not a percentage).
			progress(opqueue.Progress{Done: int64(sp.Messages), Unit: "messages", Bytes: sp.Bytes,
				Phase: fmt.Sprintf("account %d/%d %s", sp.AccountsDone, sp.AccountsTotal, quoteName(sp.Account))})
		},
	}
	if account != "" {
		opt.Only = []string{account}
	}
	rep, err := scan.Run(ctx, bp, src, opt)
	text := ""
	if rep != nil {
		text = ScanReport(rep)
		if err == nil {
			n := int64(last.Messages)
			progress(opqueue.Progress{Done: n, Total: n, Unit: "messages", Bytes: last.Bytes, Phase: "done"})
			err = ScanOutcome(rep)
		}
	}
	if err != nil {
		return text, fmt.Errorf("scan: %w", err)
	}
	return text, nil
}

// ErrAccountsFailed is wrapped by the error of a scan in which some
// (ErrPartial too: recorded partial, cbctl exits 3) or all (recorded
// failed, cbctl exits 1) scanned accounts failed, so that a backup that
// did not happen is never reported as done. ErrPartial is the queue's own
// (opqueue.ErrPartial): an operation whose error wraps it is recorded
// partial.
var (
	ErrAccountsFailed = errors.New("accounts failed")
	ErrPartial        = opqueue.ErrPartial
	// ErrPartialRestore wraps ErrPartial: a restore that restored some
	// items and failed others.
	ErrPartialRestore = fmt.Errorf("%w restore", ErrPartial)
	errPartialBackup  = fmt.Errorf("%w backup", ErrPartial)
)

// IsPartial reports whether an operation's error (or its recorded
// message, for an operation run by the service) says it partly succeeded:
// cbctl exits 3 for it.
func IsPartial(err error, msg string) bool {
	return errors.Is(err, ErrPartial) || strings.Contains(msg, ErrPartialRestore.Error()) || strings.Contains(msg, errPartialBackup.Error())
}

// ScanOutcome is the error of a finished scan's report: nil when every
// scanned account was backed up, else one line saying how many failed and
// the first failure (account names escaped).
func ScanOutcome(rep *scan.Report) error {
	scanned, failed := 0, 0
	first := ""
	for _, a := range rep.PerAccount {
		if a.Skipped != "" {
			continue
		}
		scanned++
		if len(a.Errors) > 0 {
			if failed == 0 {
				first = quoteName(a.Name) + ": " + quoteControl(grammar.OneLine(a.Errors[0]))
			}
			failed++
		}
	}
	if failed == 0 {
		// Errors of the run itself (an account asked for that the source
		// lacks, a configuration file that could not be archived): a
		// scan that backed nothing up failed, one that did is partial.
		perAccount := map[string]bool{}
		for _, a := range rep.PerAccount {
			for _, e := range a.Errors {
				perAccount[a.Name+": "+e] = true
			}
		}
		for _, e := range rep.Errors {
			if perAccount[e] {
				continue
			}
			first = quoteControl(grammar.OneLine(e))
			if scanned == 0 {
				return fmt.Errorf("%w: nothing was backed up: %s", ErrAccountsFailed, first)
			}
			return fmt.Errorf("%w: %w: %s", errPartialBackup, ErrAccountsFailed, first)
		}
		return nil
	}
	switch {
	case failed == scanned:
		return fmt.Errorf("%w: every account failed (%d of %d), nothing was backed up; first: %s", ErrAccountsFailed, failed, scanned, first)
	}
	return fmt.Errorf("%w: %w: %d of %d accounts failed; first: %s", errPartialBackup, ErrAccountsFailed, failed, scanned, first)
}

// quoteName prints a name as is, or Go-quoted when it holds control or
// non-printable characters (a name from a hostile source must not drive
// the terminal or forge report lines).
func quoteName(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) < 0 && utf8.ValidString(s) {
		return s
	}
	return strconv.Quote(s)
}

// quoteControl escapes the control characters of a free-text line (error
// texts that embed an account name), keeping it on one line.
func quoteControl(s string) string {
	if strings.IndexFunc(s, unicode.IsControl) < 0 && utf8.ValidString(s) {
		return s
	}
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

// ScanReport is the human text of a scan report.
func ScanReport(r *scan.Report) string {
	var b strings.Builder
	b.WriteString("- stats -\n")
	fmt.Fprintf(&b, "Source: %s\n", quoteControl(r.Source))
	fmt.Fprintf(&b, "Accounts Scanned: %d\n", r.Accounts)
	fmt.Fprintf(&b, "Accounts Skipped: %d\n", r.AccountsSkipped)
	fmt.Fprintf(&b, "Accounts New: %d\n", r.AccountsNew)
	fmt.Fprintf(&b, "Accounts Deleted: %d\n", r.AccountsDeleted)
	fmt.Fprintf(&b, "Items New: %d\n", r.Items.New)
	fmt.Fprintf(&b, "Items Changed: %d\n", r.Items.Changed)
	fmt.Fprintf(&b, "Items Moved: %d\n", r.Items.Moved)
	fmt.Fprintf(&b, "Items Deleted: %d\n", r.Items.Deleted)
	fmt.Fprintf(&b, "Messages: %d\n", r.Messages)
	fmt.Fprintf(&b, "Bytes Read: %d\n", r.Bytes)
	fmt.Fprintf(&b, "Blobs New: %d\n", r.BlobsNew)
	fmt.Fprintf(&b, "Files Written: %d\n", r.Written)
	fmt.Fprintf(&b, "Read Errors: %d\n", r.ReadErrors)
	fmt.Fprintf(&b, "Errors: %d\n", len(r.Errors))
	if r.ServerConfig != "" {
		fmt.Fprintf(&b, "Server Config: %s\n", r.ServerConfig)
	}
	if r.Customizations != "" {
		fmt.Fprintf(&b, "Customizations: %s\n", r.Customizations)
	}
	if !r.Start.IsZero() && !r.End.IsZero() {
		fmt.Fprintf(&b, "Duration: %s\n", r.End.Sub(r.Start).Round(time.Millisecond))
	}
	if len(r.PerAccount) > 0 {
		b.WriteString("\n- accounts -\n")
		for _, a := range r.PerAccount {
			if a.Skipped != "" {
				fmt.Fprintf(&b, "%s: skipped (%s)\n", quoteName(a.Name), quoteControl(a.Skipped))
				continue
			}
			fmt.Fprintf(&b, "%s: new %d, changed %d, deleted %d, messages %d, read errors %d", quoteName(a.Name),
				a.Items.New, a.Items.Changed, a.Items.Deleted, a.Messages, a.ReadErrors)
			if a.Stopped {
				b.WriteString(", stopped by read_error_threshold")
			}
			b.WriteString("\n")
		}
	}
	if len(r.Errors) > 0 {
		b.WriteString("\n- errors -\n")
		for _, e := range r.Errors {
			b.WriteString(quoteControl(e) + "\n")
		}
	}
	return b.String()
}

func (r *Runner) purge(ctx context.Context, days int, progress opqueue.ProgressFunc) (string, error) {
	bp, err := r.openPath()
	if err != nil {
		return "", err
	}
	pol, err := r.policy()
	if err != nil {
		return "", err
	}
	res, err := purge.Run(ctx, bp, purge.Options{RetentionDays: days, Now: r.now(), Policy: pol, Progress: progressOf(progress)})
	text := ""
	if res != nil {
		text = res.Report()
	}
	if err != nil {
		return text, fmt.Errorf("purge: %w", err)
	}
	return text, nil
}

func (r *Runner) coherency(ctx context.Context, opt coherency.Options, progress opqueue.ProgressFunc) (string, error) {
	bp, err := r.openPath()
	if err != nil {
		return "", err
	}
	for _, a := range opt.Accounts {
		if _, err := bp.FindAccount(a); err != nil {
			return "", fmt.Errorf("accountIds: %w", err)
		}
	}
	opt.Progress = progressOf(progress)
	res, err := coherency.Check(ctx, bp, opt)
	text := ""
	if res != nil {
		text = res.Report()
	}
	if err != nil {
		return text, fmt.Errorf("coherency check: %w", err)
	}
	return text, nil
}

// progressOf adapts the libraries' (done, total, phase) callbacks: their
// phase names what they count ("accounts", "items", "blobs", "fix"), so
// it is the unit too.
func progressOf(progress opqueue.ProgressFunc) func(done, total int, phase string) {
	return func(done, total int, phase string) {
		progress(opqueue.Progress{Done: int64(done), Total: int64(total), Unit: phase, Phase: phase})
	}
}

// ConfigRequest is a change or query of a backupEnabled toggle: "config
// set cos NAME backupEnabled false" is {Action: "set", Scope: "cos", Name:
// "NAME", Key: "backupEnabled", Value: "false"}. (The service's
// ConfigRequest has the same fields.)
type ConfigRequest struct {
	Action, Scope, Name, Key, Value string
}

// Config answers the service's config command (and cbctl's foreground
// config): it changes or reads a backupEnabled toggle at once, and applies
// the toggles to the Backup Path (account_info statuses) after a change.
func (r *Runner) Config(ctx context.Context, req ConfigRequest) (string, error) {
	if req.Scope == ScheduleScope {
		return r.scheduleConfig(req)
	}
	scope, force := strings.CutPrefix(req.Scope, ForceScope)
	if strings.EqualFold(req.Action, "set") && !force {
		if _, err := toggles.ParseScope(scope); err == nil {
			if err := r.checkConfigName(scope, req.Name); err != nil {
				return "", fmt.Errorf("%w: %w", ErrInvalid, err)
			}
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	v, err := r.toggles.Config(req.Action, scope, req.Name, req.Key, req.Value)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if strings.EqualFold(req.Action, "get") {
		return v, nil
	}
	bp, err := r.openPath()
	if err != nil {
		return v, nil // nothing backed up yet: the toggles take effect at the first scan
	}
	lock, err := pathlock.Acquire(bp.Root, "config")
	if err != nil {
		// A writer runs (a scan or purge applies the toggles when it
		// starts): the change is saved and takes effect with the next one.
		r.log.Info("backup toggles saved, not applied now", "reason", err)
		return v, nil
	}
	defer lock.Release()
	pol, err := r.policy()
	if err != nil {
		return v, err
	}
	if _, err := pol.Apply(ctx, bp, r.now()); err != nil {
		return v, fmt.Errorf("apply backup toggles to %s: %w", bp.Root, err)
	}
	return v, nil
}

// customizations runs doBackupServerCustomizations: an archive of
// --config-path written into the Backup Path now.
func (r *Runner) customizations(ctx context.Context, progress opqueue.ProgressFunc) (string, error) {
	if len(r.s.ConfigPaths) == 0 {
		return "", errors.New("no --config-path configured: no server customization to back up")
	}
	bp, err := r.createPath()
	if err != nil {
		return "", err
	}
	rel, errs, err := scan.BackupCustomizations(bp, r.s.ConfigPaths, r.now())
	if err != nil {
		return "", fmt.Errorf("customizations: %w", err)
	}
	progress(opqueue.Progress{Done: 1, Total: 1, Unit: "archives", Phase: "done"})
	var b strings.Builder
	b.WriteString("- stats -\n")
	fmt.Fprintf(&b, "Customizations Archive: %s\n", rel)
	fmt.Fprintf(&b, "Paths: %s\n", strings.Join(r.s.ConfigPaths, ", "))
	if len(errs) > 0 {
		fmt.Fprintf(&b, "\n- left out -\n%s\n", strings.Join(errs, "\n"))
	}
	return b.String(), nil
}
