package operations

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/coherency"
	"github.com/cbfs/cbfs/export"
	"github.com/cbfs/cbfs/internal/pathlock"
	"github.com/cbfs/cbfs/opqueue"
	"github.com/cbfs/cbfs/restore"
)

// The kinds' parameter structs (see Params for the tags). cbctl's
// commands embed them after their own flags, so each field's kong tags
// are its --help.

// The operation kinds, with Carbonio's names.
const (
	KindSmartScan           = "doSmartScan"
	KindAccountScan         = "doAccountScan"
	KindPurge               = "doPurge"
	KindExport              = "doExport"
	KindCoherencyCheck      = "doCoherencyCheck"
	KindExternalRestore     = restore.OpExternalRestore
	KindRestoreOnNewAccount = restore.OpRestoreOnNewAccount
	KindUndelete            = restore.OpUndelete
	KindItemRestore         = restore.OpItemRestore

	KindBackupServerCustomizations = "doBackupServerCustomizations"
)

// Notify is the notifications parameter of the kinds that are not
// restores.
type Notify struct {
	Notifications []string `pair:"notifications" name:"notifications" placeholder:"ADDRESS" help:"Addresses to notify of the result (recorded in the report)."`
}

func (n *Notify) addresses() []string { return n.Notifications }

// ReportTo is the notifications parameter of the restores.
type ReportTo struct {
	Notifications []string `pair:"notifications" name:"notifications" placeholder:"ADDRESS" help:"Addresses the report goes to (mailed when the service has --smtp; recorded in the report otherwise)."`
}

func (n *ReportTo) addresses() []string { return n.Notifications }

// Deep is the deep parameter of the scans.
type Deep struct {
	Deep bool `pair:"deep" name:"deep" help:"Re-read every message of every folder and re-verify its blob (a missing or damaged one is written again from the source), not only what changed since the last scan."`
}

// SmartScanParams: doSmartScan [start] [deep B], scan.Run over the whole source.
type SmartScanParams struct {
	Action string `pair:"action" arg:"" optional:"" enum:"start," default:"" placeholder:"start" help:"Carbonio's action word (doSmartScan start); optional: the scan starts either way."`
	Deep
	Notify
}

func (*SmartScanParams) Kind() string { return KindSmartScan }
func (*SmartScanParams) Check() error { return nil }
func (p *SmartScanParams) run(ctx context.Context, r *Runner, progress opqueue.ProgressFunc) (string, error) {
	return r.scan(ctx, "", p.Deep.Deep, progress)
}
func (*SmartScanParams) checks(r *Runner) error                   { return r.checkScan() }
func (p *SmartScanParams) lock(r *Runner) (*pathlock.Lock, error) { return r.lockScan(p.Kind()) }
func (*SmartScanParams) writesBackupPath() bool                   { return true }

// AccountScanParams: doAccountScan ACCOUNT, scan.Run of one account.
type AccountScanParams struct {
	Account string `pair:"account" required:"" arg:"" help:"The account to scan (name@domain)."`
	Deep
	Notify
}

func (*AccountScanParams) Kind() string { return KindAccountScan }
func (*AccountScanParams) Check() error { return nil }
func (p *AccountScanParams) run(ctx context.Context, r *Runner, progress opqueue.ProgressFunc) (string, error) {
	return r.scan(ctx, p.Account, p.Deep.Deep, progress)
}
func (*AccountScanParams) checks(r *Runner) error                   { return r.checkScan() }
func (p *AccountScanParams) lock(r *Runner) (*pathlock.Lock, error) { return r.lockScan(p.Kind()) }
func (*AccountScanParams) writesBackupPath() bool                   { return true }

// PurgeParams: doPurge [purgeDays N], purge.Run (default: --retention-days).
type PurgeParams struct {
	PurgeDays string `pair:"purgeDays" name:"purge-days" placeholder:"N" help:"Retention in days for this purge (default: --retention-days; 0 keeps everything)."`
	Notify
}

func (*PurgeParams) Kind() string { return KindPurge }
func (p *PurgeParams) Check() error {
	_, _, err := p.days()
	return err
}

// days is purgeDays, if given.
func (p *PurgeParams) days() (int, bool, error) {
	if p.PurgeDays == "" {
		return 0, false, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(p.PurgeDays))
	if err != nil || n < 0 {
		return 0, false, fmt.Errorf("purgeDays must be a number of days (0 or more), not %q", p.PurgeDays)
	}
	return n, true, nil
}

func (p *PurgeParams) run(ctx context.Context, r *Runner, progress opqueue.ProgressFunc) (string, error) {
	days := r.s.RetentionDays
	if n, ok, _ := p.days(); ok {
		days = n
	}
	return r.purge(ctx, days, progress)
}
func (p *PurgeParams) lock(r *Runner) (*pathlock.Lock, error) { return r.lockPath(p.Kind(), false) }
func (*PurgeParams) writesBackupPath() bool                   { return true }

// ExportParams: doExport DEST_PATH [domains d1,d2] [cos c1,c2], export.Run.
type ExportParams struct {
	DestPath string   `pair:"destPath" required:"" what:"destination path" arg:"" name:"DEST_PATH" help:"Folder to write the exported Backup Path into."`
	Domains  []string `pair:"domains" name:"domains" placeholder:"DOMAIN" help:"Export only accounts of these domains (comma-separated)."`
	COS      []string `pair:"cos" name:"cos" placeholder:"COS" help:"Export only accounts of these COS (comma-separated)."`
	// Threshold in MB, as Carbonio's.
	Threshold int  `pair:"threshold" name:"threshold" placeholder:"MB" help:"Free space, in MB, the destination must keep: the export does not start when the destination's file system has less free space than this (0: no check)."`
	SkipItems bool `pair:"skip_items" name:"skip-items" help:"Export the accounts' metadata only (account_info, account_stat, an empty items folder): no item, no blob."`
	Notify
}

func (*ExportParams) Kind() string { return KindExport }
func (p *ExportParams) Check() error {
	if p.Threshold < 0 {
		return fmt.Errorf("threshold must be a number of MB (0 or more), not %d", p.Threshold)
	}
	return nil
}
func (p *ExportParams) Localize() { p.DestPath = absPath(p.DestPath) }
func (p *ExportParams) run(ctx context.Context, r *Runner, progress opqueue.ProgressFunc) (string, error) {
	return r.export(ctx, p, progress)
}

// lock locks the destination, checked and made as export.Run does
// (outside the source, no link at its name, as the owner of the folder
// above it), and locked as its owner.
func (p *ExportParams) lock(r *Runner) (*pathlock.Lock, error) {
	return export.LockDest(r.s.BackupPath, p.DestPath, p.Kind())
}

// writesBackupPath: an export writes its destination, not the Backup Path.
func (*ExportParams) writesBackupPath() bool { return false }

// CoherencyCheckParams: doCoherencyCheck [accountIds A,B] [fixBackup true] [fixDoubleGzip skip|check|fix], coherency.Check.
type CoherencyCheckParams struct {
	AccountIDs    []string `pair:"accountIds" name:"account-ids" placeholder:"ID" help:"Check only these accounts (ids or names, comma-separated): their account and item files and the blobs their states name; orphan blobs and leftovers, which are no account's, are then not looked for. Default: all."`
	FixBackup     bool     `pair:"fixBackup" name:"fix-backup" help:"Move bad files into the quarantine folder inside the Backup Path (nothing is ever deleted)."`
	FixDoubleGzip string   `pair:"fixDoubleGzip" name:"fix-double-gzip" enum:"skip,check,fix," default:"" placeholder:"skip|check|fix" help:"Double-gzipped blobs: check (report them) or fix (rewrite them gzipped once). skip, Carbonio's default, is check here: verifying a blob's digest finds the double gzip at no extra cost, so it is always reported."`
	Notify
}

func (*CoherencyCheckParams) Kind() string { return KindCoherencyCheck }
func (p *CoherencyCheckParams) Check() error {
	_, err := coherency.ParseDoubleGzip(p.doubleGzip())
	return err
}

// doubleGzip is fixDoubleGzip for coherency: skip reads as check.
func (p *CoherencyCheckParams) doubleGzip() string {
	if strings.EqualFold(strings.TrimSpace(p.FixDoubleGzip), "skip") {
		return ""
	}
	return p.FixDoubleGzip
}

func (p *CoherencyCheckParams) run(ctx context.Context, r *Runner, progress opqueue.ProgressFunc) (string, error) {
	m, _ := coherency.ParseDoubleGzip(p.doubleGzip()) // checked
	return r.coherency(ctx, coherency.Options{FixBackup: p.FixBackup, DoubleGzip: m, Accounts: p.AccountIDs}, progress)
}

// lock: only a check that fixes writes, and locks.
func (p *CoherencyCheckParams) lock(r *Runner) (*pathlock.Lock, error) {
	m, _ := coherency.ParseDoubleGzip(p.doubleGzip())
	if !p.FixBackup && m != coherency.DoubleGzipFix {
		return nil, nil
	}
	return r.lockPath(p.Kind(), false)
}

// writesBackupPath: any check, as it may fix (AfterWrite follows it).
func (*CoherencyCheckParams) writesBackupPath() bool { return true }

// The restore kinds (package restore does the work) read the Backup Path
// at sourcePath (doExternalRestore; nothing is written into it) or the
// service's own, and go to the target URL, or --restore-target, or the
// --source when it is an IMAP server (the mail server this service backs
// up). The restore ledger is statedir.Dir.Ledger: a second run restores
// nothing twice, and a stopped run resumes.

// Target is the target parameter of the restores.
type Target struct {
	Target       string `pair:"target" name:"target" placeholder:"URL" help:"Where to restore: maildir:/path (one Maildir++ tree per account) or imap://admin@host:port (any IMAP server, through its master login; imaps:// for TLS; the password from password_file, $CBFS_IMAP_PASSWORD, the systemd credential imap-password or a prompt). Default: the service's --restore-target, else its IMAP --source."`
	PasswordFile string `pair:"password_file" name:"password-file" placeholder:"FILE" help:"File holding the password of an imap:// target given without one (its first line), read by whoever runs the restore."`
}

// Check parses the URL, if given.
func (t *Target) Check() error {
	if t.PasswordFile != "" && strings.HasPrefix(t.Target, "maildir:") {
		return fmt.Errorf("password_file is for imap:// targets, not %s", t.Target)
	}
	if t.Target == "" {
		return nil
	}
	_, err := restore.ParseTarget(t.Target)
	return err
}

// Localize makes a maildir: target's path absolute.
func (t *Target) Localize() {
	if p, ok := strings.CutPrefix(t.Target, "maildir:"); ok {
		t.Target = "maildir:" + absPath(strings.TrimPrefix(p, "//"))
	}
	if t.PasswordFile != "" {
		t.PasswordFile = absPath(t.PasswordFile)
	}
}

func (t *Target) target() string { return t.Target }

// DryRun is the restores' dry_run parameter (cbfs's own; Carbonio's
// restores have none): see restore.Options.DryRun.
type DryRun struct {
	DryRun bool `pair:"dry_run" name:"dry-run" help:"Write nothing (no folder, message or provisioning record on the target, no ledger entry) and report what the restore would do now: its counts and, per account and folder, the items it would restore."`
}

func (d *DryRun) dryRun() bool { return d.DryRun }

// ExternalRestoreParams: doExternalRestore SOURCE_PATH [target URL] [accounts a,b] [input_file F] [domains d,e]
// [filter_deleted true] [skip_system_accounts B] [skip_distribution_lists B]
// [skip_coses B] [provisioning_only B] [concurrent_accounts N] [max_file_size SIZE].
type ExternalRestoreParams struct {
	SourcePath string `pair:"sourcePath" required:"" what:"source path" arg:"" name:"SOURCE_PATH" help:"The Backup Path to restore from: any copy (rsync'd, exported, on read-only media); nothing is written into it."`
	Target
	Accounts                []string `pair:"accounts" name:"accounts" placeholder:"ACCOUNT" help:"Restore only these accounts (names or ids, comma-separated)."`
	InputFile               string   `pair:"input_file" name:"input-file" placeholder:"FILE" help:"A file of accounts to restore, one name or id a line (added to --accounts)."`
	Domains                 []string `pair:"domains" name:"domains" placeholder:"DOMAIN" help:"Restore only accounts, and provision only domains and distribution lists, of these domains (comma-separated)."`
	FilterDeleted           bool     `pair:"filter_deleted" name:"filter-deleted" default:"true" negatable:"" help:"Leave out deleted accounts and items whose latest state is deleted (filter_deleted false restores them, in their last state before the deletion)."`
	SkipSystemAccounts      bool     `pair:"skip_system_accounts" name:"skip-system-accounts" default:"true" negatable:"" help:"Leave out system accounts (spam/ham training, virus quarantine, GAL sync, ...); default true, as Carbonio (skip_system_accounts false restores them)."`
	SkipAliases             bool     `pair:"skip_aliases" name:"skip-aliases" help:"Do not provision aliases. Accepted for Carbonio's command lines: cbfs provisions no alias (a Maildir or IMAP target has none), so it changes nothing."`
	SkipDistributionLists   bool     `pair:"skip_distribution_lists" name:"skip-distribution-lists" help:"Do not provision distribution lists."`
	SkipCOSes               bool     `pair:"skip_coses" name:"skip-coses" help:"Do not provision classes of service."`
	SkipAccountProvisioning bool     `pair:"skip_account_provisioning" name:"skip-account-provisioning" help:"Do not record the accounts in the provisioning (they must exist on the target); their folder trees are still created and their messages restored."`
	SkipDomainProvisioning  bool     `pair:"skip_domain_provisioning" name:"skip-domain-provisioning" help:"Do not record the domains in the provisioning."`
	ForceAsExternalRestore  bool     `pair:"force_as_external_restore" name:"force-as-external-restore" help:"Accepted for Carbonio's command lines: every cbfs restore from SOURCE_PATH is already external (new ids on the target, nothing written into the source), so it changes nothing."`
	ProvisioningOnly        bool     `pair:"provisioning_only" name:"provisioning-only" help:"Run phase 1 only: domains, COS, distribution lists, accounts and their folder trees."`
	ConcurrentAccounts      int      `pair:"concurrent_accounts" name:"concurrent-accounts" default:"1" help:"Accounts restored at once (1 to 64)."`
	MaxFileSize             Size     `pair:"max_file_size" name:"max-file-size" placeholder:"SIZE" help:"Leave out (as invalid) messages larger than SIZE: bytes, or a number with K, M or G (powers of 1024), e.g. 50M; 0 for no limit. Default: 25M."`
	BrokenFallback          bool     `pair:"broken_fallback" name:"broken-fallback" help:"An item whose state to restore has a broken or unreadable blob is restored in its newest earlier state with a sound blob (the report lists it); without it such an item stays unrestored and the report says whether an earlier healthy state exists."`
	DryRun
	ReportTo

	accounts []string // Accounts and input_file's, read by Check
}

func (*ExternalRestoreParams) Kind() string { return KindExternalRestore }

// Check reads input_file.
func (p *ExternalRestoreParams) Check() error {
	if err := p.Target.Check(); err != nil {
		return err
	}
	if !filepath.IsAbs(p.SourcePath) && !strings.HasPrefix(p.SourcePath, "s3://") {
		return fmt.Errorf("source path %q must be absolute (or an s3:// URL)", p.SourcePath)
	}
	if p.ConcurrentAccounts < 1 || p.ConcurrentAccounts > 64 {
		return fmt.Errorf("concurrent_accounts must be a number from 1 to 64, not %d", p.ConcurrentAccounts)
	}
	p.accounts = p.Accounts
	if p.InputFile != "" {
		names, err := ReadAccountNames(p.InputFile)
		if err != nil {
			return err
		}
		p.accounts = append(append([]string(nil), p.Accounts...), names...)
	}
	return nil
}

func (p *ExternalRestoreParams) Localize() {
	p.SourcePath = absPath(p.SourcePath)
	if p.InputFile != "" {
		p.InputFile = absPath(p.InputFile)
	}
	p.Target.Localize()
}

func (p *ExternalRestoreParams) source(r *Runner) string { return p.SourcePath }

func (p *ExternalRestoreParams) options() restore.Options {
	opt := restore.DefaultOptions()
	opt.Accounts, opt.Domains = p.accounts, p.Domains
	opt.FilterDeleted, opt.SkipSystemAccounts, opt.SkipDistributionLists = p.FilterDeleted, p.SkipSystemAccounts, p.SkipDistributionLists
	opt.SkipCOSes, opt.ProvisioningOnly, opt.ConcurrentAccounts = p.SkipCOSes, p.ProvisioningOnly, p.ConcurrentAccounts
	opt.SkipAccountProvisioning, opt.SkipDomainProvisioning = p.SkipAccountProvisioning, p.SkipDomainProvisioning
	opt.MaxFileSize, opt.BrokenFallback = p.MaxFileSize.Bytes(), p.BrokenFallback
	return opt
}

func (p *ExternalRestoreParams) restore(ctx context.Context, src *backuppath.Path, tgt restore.Target, l *restore.Ledger, opt restore.Options) (*restore.Report, error) {
	return restore.ExternalRestore(ctx, src, tgt, l, opt)
}

func (p *ExternalRestoreParams) run(ctx context.Context, r *Runner, progress opqueue.ProgressFunc) (string, error) {
	return r.restore(ctx, p, progress)
}
func (p *ExternalRestoreParams) checks(r *Runner) error { return r.checkRestore(p) }

// RestoreOnNewAccountParams: doRestoreOnNewAccount SOURCE_ACCOUNT DESTINATION_ACCOUNT DATE|last [undelete B].
type RestoreOnNewAccountParams struct {
	SourceAccount string     `pair:"sourceAccount" required:"" what:"source account" arg:"" name:"SOURCE_ACCOUNT" help:"The account in the Backup Path (name or id; a deleted account too)."`
	DestAccount   string     `pair:"destAccount" required:"" what:"destination account" arg:"" name:"DESTINATION_ACCOUNT" help:"The new account on the target to restore into."`
	Date          DateOrLast `pair:"date" arg:"" name:"DATE" help:"The moment to restore the account as it was then, or last (its latest state; for a deleted account, just before its deletion). ${date_help}; ${moment_help}."`
	Target
	Undelete          bool        `pair:"undelete" name:"undelete" help:"Also bring back the items already deleted at DATE, in their last state before the deletion."`
	UndeleteStartDate DateOrFirst `pair:"undelete_start_date" name:"undelete-start-date" aliases:"undelete-start-time" placeholder:"DATE|first" help:"With undelete true: only items deleted at or after this date come back (default first: all); undelete_start_time, as Carbonio's example writes it, is the same. ${date_help}."`
	BrokenFallback    bool        `pair:"broken_fallback" name:"broken-fallback" help:"An item whose state at DATE has a broken or unreadable blob is restored in its newest earlier state with a sound blob (the report lists it)."`
	DryRun
	ReportTo
}

func (*RestoreOnNewAccountParams) Kind() string { return KindRestoreOnNewAccount }
func (p *RestoreOnNewAccountParams) Check() error {
	if strings.EqualFold(p.SourceAccount, p.DestAccount) {
		return fmt.Errorf("the destination account must be a new account, not %s itself", p.SourceAccount)
	}
	if !p.UndeleteStartDate.Time().IsZero() && !p.Undelete {
		return fmt.Errorf("undelete_start_date needs undelete true")
	}
	return p.Target.Check()
}
func (p *RestoreOnNewAccountParams) Localize()               { p.Target.Localize() }
func (p *RestoreOnNewAccountParams) source(r *Runner) string { return r.s.BackupPath }
func (p *RestoreOnNewAccountParams) options() restore.Options {
	opt := restore.DefaultOptions()
	opt.BrokenFallback, opt.UndeleteStart = p.BrokenFallback, p.UndeleteStartDate.Time()
	return opt
}
func (p *RestoreOnNewAccountParams) restore(ctx context.Context, src *backuppath.Path, tgt restore.Target, l *restore.Ledger, opt restore.Options) (*restore.Report, error) {
	at := p.Date.Time()
	if at.IsZero() && !p.Undelete && !activeAccount(src, p.SourceAccount) {
		// "last" of a deleted account: as it was just before its deletion.
		return restore.RestoreDeletedAccount(ctx, src, p.SourceAccount, p.DestAccount, tgt, l, opt)
	}
	return restore.RestoreOnNewAccount(ctx, src, p.SourceAccount, p.DestAccount, at, p.Undelete, tgt, l, opt)
}
func (p *RestoreOnNewAccountParams) run(ctx context.Context, r *Runner, progress opqueue.ProgressFunc) (string, error) {
	return r.restore(ctx, p, progress)
}
func (p *RestoreOnNewAccountParams) checks(r *Runner) error { return r.checkRestore(p) }

// UndeleteParams: doUndelete ACCOUNT START|first END|last [target_original_folder B].
type UndeleteParams struct {
	Account string      `pair:"account" required:"" arg:"" name:"ACCOUNT" help:"The account (name or id)."`
	Start   DateOrFirst `pair:"start" arg:"" name:"START" help:"Start of the window, or first. ${date_help}."`
	End     EndOrLast   `pair:"end" arg:"" name:"END" help:"End of the window, or last; a bare date (dd/MM/yyyy) includes that whole day."`
	Target
	TargetOriginalFolder bool `pair:"target_original_folder" name:"target-original-folder" default:"true" negatable:"" help:"Put each item back in the folder it was in before it was deleted (target_original_folder false: under one folder undelete_DD_MM_YY)."`
	DryRun
	ReportTo
}

func (*UndeleteParams) Kind() string { return KindUndelete }
func (p *UndeleteParams) Check() error {
	start, end := p.Start.Time(), p.End.Time()
	if !start.IsZero() && !end.IsZero() && end.Before(start) {
		return fmt.Errorf("end %s is before start %s", end.Format(time.RFC3339), start.Format(time.RFC3339))
	}
	return p.Target.Check()
}
func (p *UndeleteParams) Localize()               { p.Target.Localize() }
func (p *UndeleteParams) source(r *Runner) string { return r.s.BackupPath }
func (p *UndeleteParams) options() restore.Options {
	opt := restore.DefaultOptions()
	opt.DedicatedFolder = !p.TargetOriginalFolder
	return opt
}
func (p *UndeleteParams) restore(ctx context.Context, src *backuppath.Path, tgt restore.Target, l *restore.Ledger, opt restore.Options) (*restore.Report, error) {
	return restore.Undelete(ctx, src, p.Account, p.Start.Time(), p.End.Time(), tgt, l, opt)
}
func (p *UndeleteParams) run(ctx context.Context, r *Runner, progress opqueue.ProgressFunc) (string, error) {
	return r.restore(ctx, p, progress)
}
func (p *UndeleteParams) checks(r *Runner) error { return r.checkRestore(p) }

// ItemRestoreParams: doItemRestore ACCOUNT ITEM [date D], or doItemRestore
// [ACCOUNT] query Q (search_restore.go); dry_run true for either.
type ItemRestoreParams struct {
	Account string `pair:"account" arg:"" optional:"" name:"ACCOUNT" help:"The account (name or id); with query, optional: only its items."`
	Item    int    `pair:"itemId" what:"item id" arg:"" optional:"" name:"ITEM" help:"The item id (not with query)."`
	SearchRestore
	Target
	Date           DateOrLast `pair:"date" name:"date" placeholder:"DATE" help:"Restore the item as it was at DATE (default: its latest state; a deleted item in its last state before the deletion). ${date_help}; ${moment_help}."`
	RestoreFolder  string     `pair:"restore_folder" name:"restore-folder" placeholder:"FOLDER" help:"Restore the item into this folder (a/b for a subfolder; created if missing) instead of the folder of its state."`
	BrokenFallback bool       `pair:"broken_fallback" name:"broken-fallback" help:"If the item's state at DATE has a broken or unreadable blob, restore its newest earlier state with a sound blob (the report lists it)."`
	DryRun
	ReportTo
}

func (*ItemRestoreParams) Kind() string { return KindItemRestore }
func (p *ItemRestoreParams) Check() error {
	if p.Query != "" {
		return p.checkQuery(p.Item, p.Target.Check)
	}
	if p.Account == "" {
		return fmt.Errorf("account is required (or query)")
	}
	if p.Item <= 0 {
		return fmt.Errorf("item id must be a positive number, not %d", p.Item)
	}
	return p.Target.Check()
}
func (p *ItemRestoreParams) Localize()               { p.Target.Localize() }
func (p *ItemRestoreParams) source(r *Runner) string { return r.s.BackupPath }
func (p *ItemRestoreParams) options() restore.Options {
	opt := restore.DefaultOptions()
	opt.Folder, opt.BrokenFallback = p.RestoreFolder, p.BrokenFallback
	return opt
}
func (p *ItemRestoreParams) restore(ctx context.Context, src *backuppath.Path, tgt restore.Target, l *restore.Ledger, opt restore.Options) (*restore.Report, error) {
	if p.Query != "" {
		return p.restoreQuery(ctx, src, p.Account, tgt, l, opt)
	}
	return restore.ItemRestore(ctx, src, p.Account, p.Item, p.Date.Time(), tgt, l, opt)
}
func (p *ItemRestoreParams) run(ctx context.Context, r *Runner, progress opqueue.ProgressFunc) (string, error) {
	return r.restore(ctx, p, progress)
}
func (p *ItemRestoreParams) checks(r *Runner) error { return r.checkRestore(p) }

// BackupServerCustomizationsParams: doBackupServerCustomizations [start]:
// a customizations archive of --config-path now.
type BackupServerCustomizationsParams struct {
	Action string `pair:"action" arg:"" optional:"" enum:"start," default:"" placeholder:"start" help:"Carbonio's action word; optional: the backup starts either way."`
	Notify
}

func (*BackupServerCustomizationsParams) Kind() string { return KindBackupServerCustomizations }
func (*BackupServerCustomizationsParams) Check() error { return nil }
func (p *BackupServerCustomizationsParams) run(ctx context.Context, r *Runner, progress opqueue.ProgressFunc) (string, error) {
	return r.customizations(ctx, progress)
}
func (p *BackupServerCustomizationsParams) lock(r *Runner) (*pathlock.Lock, error) {
	return r.lockPath(p.Kind(), true)
}
func (*BackupServerCustomizationsParams) writesBackupPath() bool { return true }

// restorer is a restore kind.
type restorer interface {
	Params
	target() string          // "" : the settings' default
	source(r *Runner) string // the Backup Path read
	options() restore.Options
	restore(ctx context.Context, src *backuppath.Path, tgt restore.Target, l *restore.Ledger, opt restore.Options) (*restore.Report, error)
	addresses() []string
	dryRun() bool
}

// What each kind is, checked when compiled: a method with a wrong
// signature would otherwise make a writer that silently locks nothing.
var (
	_, _ checker  = (*SmartScanParams)(nil), (*AccountScanParams)(nil)
	_, _ writer   = (*SmartScanParams)(nil), (*AccountScanParams)(nil)
	_, _ writer   = (*PurgeParams)(nil), (*ExportParams)(nil)
	_    writer   = (*ExportMessagesParams)(nil)
	_, _ writer   = (*CoherencyCheckParams)(nil), (*BackupServerCustomizationsParams)(nil)
	_, _ restorer = (*ExternalRestoreParams)(nil), (*RestoreOnNewAccountParams)(nil)
	_, _ restorer = (*UndeleteParams)(nil), (*ItemRestoreParams)(nil)
	_, _ checker  = (*ExternalRestoreParams)(nil), (*RestoreOnNewAccountParams)(nil)
	_, _ checker  = (*UndeleteParams)(nil), (*ItemRestoreParams)(nil)
)

// checker is a kind that Validate checks beyond its parameters, when it
// is enqueued: what it will open (a restore's target and source, a scan's
// Backup Path and source password).
type checker interface {
	checks(r *Runner) error
}

// writer is a kind that writes a Backup Path (the service's own, or an
// export's destination): Run holds that path's writer lock
// (internal/pathlock) while it runs, whatever state directory or process
// runs it, so writers exclude each other per path. Kinds that are not
// writers (restores) only read and take nothing.
type writer interface {
	// lock takes the writer lock of what this run writes (nil: nothing
	// this time, a coherency check that does not fix).
	lock(r *Runner) (*pathlock.Lock, error)
	// writesBackupPath says whether the run may have written the
	// service's own Backup Path, so Runner.AfterWrite follows it.
	writesBackupPath() bool
}
