// Package ctl is the cbctl command line: one Globals struct, one struct per
// command (each in its own file, with a Run method), and the rewriting that
// lets Carbonio's positional "name value" pairs stand for flags.
//
// Exit status: 0 on success, 1 for operational errors (no such path or
// account, damaged data, I/O, a target that refuses the login or cannot be
// reached, an operation that did nothing because everything it tried
// failed), 2 for usage errors (unknown command or parameter, bad date, bad
// type), 3 for a partial success (a scan in which some accounts failed, a
// restore that restored some items and not others), its report printed
// first. Every error is one line on stderr, "cbctl: error: ...", or with
// --json one JSON object, {"error": "...", "exitStatus": N} (a stop by
// Ctrl-C or SIGTERM: {"stopped": true, "exitStatus": 1}).
package ctl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/alecthomas/kong"

	"github.com/cbfs/cbfs/internal/cli"
	"github.com/cbfs/cbfs/internal/grammar"
	"github.com/cbfs/cbfs/operations"
)

// CLI is the root of the command tree.
type CLI struct {
	Globals

	Backup backupCmd `cmd:"" help:"Carbonio's backup verbs: inspect a Backup Path, run and manage operations."`
	Config configCmd `cmd:"" help:"COS- and account-level backup toggles (backupEnabled), applied at once."`
	Sample sampleCmd `cmd:"" help:"Generate a deterministic sample Backup Path, damaged items included."`
	// Carbonio's documentation also writes "carbonio set cos NAME backupEnabled false".
	SetAlias   configSetCmd   `cmd:"" name:"set" hidden:"" help:"Same as config set."`
	UnsetAlias configUnsetCmd `cmd:"" name:"unset" hidden:"" help:"Same as config unset."`
	Version    versionCmd     `cmd:"" help:"Print cbctl's version."`
	Options    optionsCmd     `cmd:"" help:"List the service flags every operation command accepts (--source, --smtp, --retention-days, ...)."`
}

// backupCmd groups Carbonio's "backup" verbs.
type backupCmd struct {
	GetItem              getItemCmd                     `cmd:"" name:"getItem" help:"Show every state of one item (or the state at a date), its blob and the blob's status."`
	GetChanges           getChangesCmd                  `cmd:"" name:"getChanges" help:"List what changed in one account between two dates: items added, deleted, moved, reflagged; folders renamed, moved, deleted."`
	DoItemSearch         doItemSearchCmd                `cmd:"" name:"doItemSearch" help:"Search an account's items by text, type, date range and deleted state; or every message's full text (query)."`
	GetServerConfig      getServerConfigCmd             `cmd:"" name:"getServerConfig" help:"Show backed-up server/global configuration or customizations archives."`
	GetAccountInfo       getAccountInfoCmd              `cmd:"" name:"getAccountInfo" help:"Show one account's metadata, statistics and damage count."`
	GetAvailableAccounts getAvailableAccountsCmd        `cmd:"" name:"getAvailableAccounts" help:"List the accounts a Backup Path holds."`
	GetAvailableDomains  getAvailableDomainsCmd         `cmd:"" name:"getAvailableDomains" help:"List the domains a Backup Path holds (at a date)."`
	GetBackupInfo        getBackupInfoCmd               `cmd:"" name:"getBackupInfo" help:"Show what a Backup Path holds: backupstat and counts."`
	RetrieveMetadata     retrieveMetadataFromArchiveCmd `cmd:"" name:"retrieveMetadataFromArchive" help:"Rebuild a local metadata tree from the archives of a Backup Path on external storage (S3)."`
	GetFormatInfo        getFormatInfoCmd               `cmd:"" name:"getFormatInfo" help:"Show what cbfs understood of a Backup Path's files: state keys, account names, blob naming, what it could not read."`

	DoSmartScan                  doSmartScanCmd                  `cmd:"" name:"doSmartScan" help:"Back the live mail source up into the Backup Path (an operation)."`
	DoAccountScan                doAccountScanCmd                `cmd:"" name:"doAccountScan" help:"Back one account of the live mail source up (an operation)."`
	DoPurge                      doPurgeCmd                      `cmd:"" name:"doPurge" help:"Drop what the retention says has expired (an operation)."`
	DoExport                     doExportCmd                     `cmd:"" name:"doExport" help:"Export selected accounts as a self-contained Backup Path (an operation)."`
	DoBackupServerCustomizations doBackupServerCustomizationsCmd `cmd:"" name:"doBackupServerCustomizations" help:"Archive the server's configuration folders (--config-path) into the Backup Path now (an operation)."`
	DoCoherencyCheck             doCoherencyCheckCmd             `cmd:"" name:"doCoherencyCheck" help:"Verify digests, find orphan, broken, unreadable and missing files (an operation)."`
	DoIndexMessages              doIndexMessagesCmd              `cmd:"" name:"doIndexMessages" help:"Build or refresh the full-text index of every message, which doItemSearch query searches (an operation)."`
	DoExportMessages             doExportMessagesCmd             `cmd:"" name:"doExportMessages" help:"Export messages (a query, a folder, an account; as of a date) as mbox or .eml files with a SHA-256 manifest and a report (an operation)."`

	DoExternalRestore     doExternalRestoreCmd     `cmd:"" name:"doExternalRestore" help:"Restore a whole Backup Path into a Maildir or IMAP target (an operation)."`
	DoRestoreOnNewAccount doRestoreOnNewAccountCmd `cmd:"" name:"doRestoreOnNewAccount" help:"Restore one account, as it was at a date, into a new account (an operation)."`
	DoUndelete            doUndeleteCmd            `cmd:"" name:"doUndelete" help:"Bring back an account's items deleted in a time window (an operation)."`
	DoItemRestore         doItemRestoreCmd         `cmd:"" name:"doItemRestore" help:"Restore one item (an operation)."`
	GetMap                getMapCmd                `cmd:"" name:"getMap" help:"Show a map file (map_<serverId>): which source account became which (without FILE: getRestoreLedger)."`
	GetRestoreLedger      getRestoreLedgerCmd      `cmd:"" name:"getRestoreLedger" help:"List the restore ledger: which item went where."`

	DoCheckShares doCheckSharesCmd `cmd:"" name:"doCheckShares" help:"Report the shares (folder grants) the Backup Path records and any grantee missing from it."`
	DoFixShares   doFixSharesCmd   `cmd:"" name:"doFixShares" help:"Report which share grantees a map file renumbers (a Maildir or IMAP target has no shares to change)."`
	LegalHold     legalHoldCmd     `cmd:"" name:"legalHold" help:"Get, set or unset accounts' legal hold: doPurge never removes anything of a held account."`

	GetAllOperations    getAllOperationsCmd    `cmd:"" name:"getAllOperations" help:"List the operation queue, oldest first."`
	DoStopOperation     doStopOperationCmd     `cmd:"" name:"doStopOperation" help:"Stop one operation (remove it from the queue)."`
	DoStopAllOperations doStopAllOperationsCmd `cmd:"" name:"doStopAllOperations" help:"Stop the running operation and empty the queue."`
	Monitor             monitorCmd             `cmd:"" name:"monitor" help:"Follow one operation to its end."`

	Scheduler   schedulerCmd   `cmd:"" name:"scheduler" help:"Show or change when doSmartScan, doPurge and doCoherencyCheck run (cbfs serve's schedules)."`
	GetServices getServicesCmd `cmd:"" name:"getServices" help:"Show whether the backup service (cbfs serve) runs."`

	// Carbonio's verbs that have no meaning here: they say why.
	CheckLDAPDump       notApplicableCmd `cmd:"" name:"check-ldap-dump" group:"na" help:"Does not apply (says why)."`
	DoBackupLDAP        notApplicableCmd `cmd:"" name:"doBackupLDAP" group:"na" help:"Does not apply (says why)."`
	DoBackupCluster     notApplicableCmd `cmd:"" name:"doBackupCluster" group:"na" help:"Does not apply (says why)."`
	DoRestoreBlobs      notApplicableCmd `cmd:"" name:"doRestoreBlobs" group:"na" help:"Does not apply (says why)."`
	DoStartService      notApplicableCmd `cmd:"" name:"doStartService" group:"na" help:"Does not apply (says why)."`
	DoStopService       notApplicableCmd `cmd:"" name:"doStopService" group:"na" help:"Does not apply (says why)."`
	DoRestartService    notApplicableCmd `cmd:"" name:"doRestartService" group:"na" help:"Does not apply (says why)."`
	MigrateBackupVolume notApplicableCmd `cmd:"" name:"migrateBackupVolume" group:"na" help:"Does not apply (says why)."`
	SetBackupVolume     notApplicableCmd `cmd:"" name:"setBackupVolume" group:"na" help:"Does not apply (says why)."`
	UpdateBackupVolume  notApplicableCmd `cmd:"" name:"updateBackupVolume" group:"na" help:"Does not apply (says why)."`
}

// Exit codes.
const (
	ExitOK      = 0
	ExitError   = 1 // operational error; an operation that did nothing
	ExitUsage   = 2 // bad command line
	ExitPartial = 3 // an operation that partly succeeded (its report says what failed)
)

// exitError carries an exit status for a failure whose message was already
// printed (e.g. dump_blob of a damaged blob after printing the salvage).
type exitError struct{ code int }

func (e *exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// exitCodeOf is the exit status for err.
func exitCodeOf(err error) int {
	var pe *kong.ParseError
	var ee *exitError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ee):
		return ee.code
	case cli.IsUsage(err), errors.As(err, &pe):
		return ExitUsage
	case operations.IsPartial(err, ""):
		return ExitPartial
	}
	return ExitError
}

// hijackedExit is what the kong Exit hook panics with when a caller does
// not want the process to end (tests); Main recovers it.
type hijackedExit int

// New builds the kong parser for root.
func New(root *CLI, options ...kong.Option) (*kong.Kong, error) {
	site, err := cli.SiteConfigPaths()
	if err != nil {
		return nil, err
	}
	opts := []kong.Option{
		kong.Name("cbctl"),
		kong.Description("cbctl reads and restores Carbonio Backup Paths. Carbonio's command lines work as they are, " +
			"with \"carbonio\" replaced by \"cbctl\": positional \"name value\" pairs (dump_blob true) and flags (--dump-blob) are both accepted. " +
			"Dates are shown, and read when typed without a zone, in the zone of TZ (UTC when unset); --json dates are UTC. Exit status: 0 success, 1 operational error (no such path, account or item; damaged data; a target that refuses the login or cannot be reached; an operation that did nothing because all it tried failed), 2 usage error (bad command, parameter, date or type), 3 partial success (a scan or restore that failed some accounts or items; its report says which)."),
		kong.Vars{"default_backup_path": cli.DefaultBackupPath, "date_help": grammar.DateHelp, "moment_help": grammar.MomentHelp},
		kong.ConfigureHelp(kong.HelpOptions{Compact: true, NoExpandSubcommands: false}),
		kong.ExplicitGroups([]kong.Group{{Key: "na", Title: "Carbonio verbs that do not apply to cbfs (each says why, exit status 2):"}}),
		cli.Configuration(site...),
		kong.Help(helpPrinter),
	}
	k, err := kong.New(root, append(opts, options...)...)
	if err == nil {
		hideServiceFlags(k.Model.Node)
	}
	return k, err
}

// Main runs cbctl with args (without the program name) and returns the exit
// status. It never panics on bad input: every failure is one line on stderr.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) (code int) {
	root := &CLI{}
	root.Stdout, root.Stderr = stdout, stderr

	jsonErrors := wantsJSON(args)
	fail := func(msg string, code int) int {
		printError(stderr, jsonErrors, msg, code)
		return code
	}
	defer func() {
		if r := recover(); r != nil {
			if c, ok := r.(hijackedExit); ok {
				code = int(c)
				return
			}
			code = fail(fmt.Sprintf("internal error: %v", r), ExitError)
		}
	}()

	k, err := New(root,
		kong.Writers(stdout, stderr),
		kong.Exit(func(c int) { panic(hijackedExit(c)) }),
		kong.BindTo(ctx, (*context.Context)(nil)),
		kong.Bind(&root.Globals),
	)
	if err != nil { // the site configuration file ($CBFS_CONFIG) is bad
		return fail(grammar.OneLine(err.Error()), ExitUsage)
	}
	args, err = RewritePairs(k.Model, hoistLeadingFlags(k.Model, args))
	if err != nil {
		return fail(grammar.OneLine(err.Error()), ExitUsage)
	}
	jsonErrors = jsonErrors || wantsJSON(args)
	kctx, err := k.Parse(args)
	if err != nil {
		return fail(grammar.OneLine(err.Error()), ExitUsage)
	}
	jsonErrors = root.JSON
	level := slog.LevelWarn
	if root.Debug {
		level = slog.LevelDebug
	}
	root.Log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	root.Log.Debug("command", "path", kctx.Command(), "args", args)

	err = kctx.Run()
	if err != nil && ctx.Err() != nil && errors.Is(err, context.Canceled) {
		// Ctrl-C or SIGTERM: what the user did, not "context canceled".
		if jsonErrors {
			writeJSONLine(stderr, map[string]any{"stopped": true, "exitStatus": ExitError})
		} else {
			fmt.Fprintln(stderr, "cbctl: stopped")
		}
		return ExitError
	}
	if err != nil {
		var ee *exitError
		if !errors.As(err, &ee) {
			printError(stderr, jsonErrors, grammar.OneLine(err.Error()), exitCodeOf(err))
		}
	}
	return exitCodeOf(err)
}

// wantsJSON reports whether the command line asks for --json (before
// parsing: a usage error of a --json command line is JSON too).
func wantsJSON(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		if a == "--json" || a == "--json=true" {
			return true
		}
	}
	return false
}

// printError prints an error: "cbctl: error: msg", or with --json the
// object {"error": msg, "exitStatus": code}, one line on stderr.
func printError(w io.Writer, asJSON bool, msg string, code int) {
	if asJSON {
		writeJSONLine(w, map[string]any{"error": msg, "exitStatus": code})
		return
	}
	fmt.Fprintf(w, "cbctl: error: %s\n", msg)
}

// writeJSONLine writes v as one line of JSON.
func writeJSONLine(w io.Writer, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(`{"error":"internal error: unprintable error"}`)
	}
	w.Write(append(b, '\n'))
}

// Run is Main for the real process.
func Run(ctx context.Context) int {
	return Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
}
