package ctl

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cbfs/cbfs/operations"
	"github.com/cbfs/cbfs/restore"
)

// TargetFlag is --target of the restores.
type TargetFlag struct {
	Target string `name:"target" placeholder:"URL" help:"Where to restore: maildir:/path (one Maildir++ tree per account) or imap://admin:password@host:port (any IMAP server, through its master login; imaps:// for TLS). Default: the service's --restore-target, else its IMAP --source."`
}

// target checks the URL and makes a maildir: path absolute (the service
// has another working directory).
func (f *TargetFlag) target() (string, error) {
	t := strings.TrimSpace(f.Target)
	if t == "" {
		return "", nil
	}
	if _, err := restore.ParseTarget(t); err != nil {
		return "", usagef("%w", err)
	}
	if p, ok := strings.CutPrefix(t, "maildir:"); ok {
		return "maildir:" + absPath(strings.TrimPrefix(p, "//")), nil
	}
	return t, nil
}

// restoreDate checks a date argument and passes it on as RFC 3339 (UTC),
// or as the open word (first, last).
func restoreDate(name, s, open string) (string, error) {
	sel, err := parseDateSel(s, open)
	if err != nil {
		return "", usagef("%s: %w", name, err)
	}
	if sel.Kind == open {
		return open, nil
	}
	return sel.At.UTC().Format(time.RFC3339Nano), nil
}

// DoExternalRestoreCmd is "backup doExternalRestore SOURCE_PATH [name value]...".
type DoExternalRestoreCmd struct {
	SourcePath string `arg:"" name:"SOURCE_PATH" help:"The Backup Path to restore from: any copy (rsync'd, exported, on read-only media); nothing is written into it."`
	OpFlags
	WaitFlag
	TargetFlag
	Accounts              []string `name:"accounts" placeholder:"ACCOUNT" help:"Restore only these accounts (names or ids, comma-separated)."`
	InputFile             string   `name:"input-file" placeholder:"FILE" help:"A file of accounts to restore, one name or id a line (added to --accounts)."`
	Domains               []string `name:"domains" placeholder:"DOMAIN" help:"Restore only accounts, and provision only domains and distribution lists, of these domains (comma-separated)."`
	FilterDeleted         bool     `name:"filter-deleted" default:"true" negatable:"" help:"Leave out deleted accounts and items whose latest state is deleted (filter_deleted false restores them, in their last state before the deletion)."`
	SkipSystemAccounts    bool     `name:"skip-system-accounts" help:"Leave out system accounts (spam/ham training, virus quarantine, GAL sync, ...)."`
	SkipDistributionLists bool     `name:"skip-distribution-lists" help:"Do not provision distribution lists."`
	SkipCoses             bool     `name:"skip-coses" help:"Do not provision classes of service."`
	ProvisioningOnly      bool     `name:"provisioning-only" help:"Run phase 1 only: domains, COS, distribution lists, accounts and their folder trees."`
	ConcurrentAccounts    int      `name:"concurrent-accounts" default:"1" help:"Accounts restored at once (1 to 64)."`
	MaxFileSize           string   `name:"max-file-size" placeholder:"SIZE" help:"Leave out (as invalid) messages larger than SIZE: bytes, or a number with K, M or G (powers of 1024), e.g. 50M; 0 for no limit. Default: 25M."`
	Notifications         []string `name:"notifications" placeholder:"ADDRESS" help:"Addresses the report goes to (mailed when the service has --smtp; recorded in the report otherwise)."`
}

// Help is the long help of doExternalRestore.
func (c *DoExternalRestoreCmd) Help() string {
	return `Restores a whole Backup Path into a target. Phase 1 provisions (domains, COS, distribution lists and accounts as records; each account's folder tree) and reports that phase (monitor shows it); phase 2 restores every account's messages and chats, in their latest state, into their folders, with their flags, tags and dates and their exact bytes. Nothing is ever deleted on the target, and nothing is written into SOURCE_PATH: the restore ledger lives in the state directory (backup getMap shows it). A second run restores nothing twice (what was restored before is counted as skipped), and a stopped or killed run, run again, resumes. Items that cannot be restored are listed per account, classified as read error (unreadable), broken (corrupt) or invalid (refused by the target, or over max_file_size). With a running cbfs serve the restore is enqueued (--wait follows it); with none it runs here under the state directory's lock. Example: cbctl backup doExternalRestore /mnt/old-backup target imap://admin:secret@127.0.0.1:143 domains example.com concurrent_accounts 2`
}

func (c *DoExternalRestoreCmd) Run(ctx context.Context, g *Globals) error {
	tgt, err := c.target()
	if err != nil {
		return err
	}
	if _, err := operations.ParseMaxFileSize(c.MaxFileSize); err != nil {
		return usagef("max-file-size: %w", err)
	}
	if c.ConcurrentAccounts < 1 || c.ConcurrentAccounts > 64 {
		return usagef("concurrent-accounts: want 1 to 64, got %d", c.ConcurrentAccounts)
	}
	inputFile := ""
	if c.InputFile != "" {
		inputFile = absPath(c.InputFile)
	}
	return runOp(ctx, g, &c.OpFlags, c.Wait, operations.KindExternalRestore, map[string]string{
		operations.ParamSourcePath:            absPath(c.SourcePath),
		operations.ParamTarget:                tgt,
		operations.ParamAccounts:              operations.JoinList(c.Accounts),
		operations.ParamInputFile:             inputFile,
		operations.ParamDomains:               operations.JoinList(c.Domains),
		operations.ParamFilterDeleted:         strconv.FormatBool(c.FilterDeleted),
		operations.ParamSkipSystemAccounts:    strconv.FormatBool(c.SkipSystemAccounts),
		operations.ParamSkipDistributionLists: strconv.FormatBool(c.SkipDistributionLists),
		operations.ParamSkipCOSes:             strconv.FormatBool(c.SkipCoses),
		operations.ParamProvisioningOnly:      strconv.FormatBool(c.ProvisioningOnly),
		operations.ParamConcurrentAccounts:    strconv.Itoa(c.ConcurrentAccounts),
		operations.ParamMaxFileSize:           c.MaxFileSize,
		operations.ParamNotifications:         operations.JoinList(c.Notifications),
	})
}

// DoRestoreOnNewAccountCmd is "backup doRestoreOnNewAccount SRC DST DATE|last".
type DoRestoreOnNewAccountCmd struct {
	SourceAccount string `arg:"" name:"SOURCE_ACCOUNT" help:"The account in the Backup Path (name or id; a deleted account too)."`
	DestAccount   string `arg:"" name:"DESTINATION_ACCOUNT" help:"The new account on the target to restore into."`
	Date          string `arg:"" name:"DATE" help:"The moment to restore the account as it was then, or last (its latest state; for a deleted account, just before its deletion). ${date_help}."`
	OpFlags
	WaitFlag
	TargetFlag
	Undelete      bool     `name:"undelete" help:"Also bring back the items already deleted at DATE, in their last state before the deletion."`
	Notifications []string `name:"notifications" placeholder:"ADDRESS" help:"Addresses the report goes to (mailed when the service has --smtp; recorded in the report otherwise)."`
}

// Help is the long help of doRestoreOnNewAccount.
func (c *DoRestoreOnNewAccountCmd) Help() string {
	return `Restores one account of the service's Backup Path (--backup-path), as it was at DATE, into a new account: the folder tree of that moment and every message in the state and folder it had then. Idempotent like every restore (the ledger skips what was restored before). Example: cbctl backup doRestoreOnNewAccount john@example.com john.old@example.com "01/03/2024 10:00:00"`
}

func (c *DoRestoreOnNewAccountCmd) Run(ctx context.Context, g *Globals) error {
	tgt, err := c.target()
	if err != nil {
		return err
	}
	date, err := restoreDate("DATE", c.Date, selLast)
	if err != nil {
		return err
	}
	return runOp(ctx, g, &c.OpFlags, c.Wait, operations.KindRestoreOnNewAccount, map[string]string{
		operations.ParamSourceAccount: c.SourceAccount,
		operations.ParamDestAccount:   c.DestAccount,
		operations.ParamDate:          date,
		operations.ParamUndelete:      strconv.FormatBool(c.Undelete),
		operations.ParamTarget:        tgt,
		operations.ParamNotifications: operations.JoinList(c.Notifications),
	})
}

// DoUndeleteCmd is "backup doUndelete ACCOUNT START|first END|last".
type DoUndeleteCmd struct {
	Account string `arg:"" name:"ACCOUNT" help:"The account (name or id)."`
	Start   string `arg:"" name:"START" help:"Start of the window, or first. ${date_help}."`
	End     string `arg:"" name:"END" help:"End of the window, or last."`
	OpFlags
	WaitFlag
	TargetFlag
	TargetOriginalFolder bool     `name:"target-original-folder" default:"true" negatable:"" help:"Put each item back in the folder it was in before it was deleted (target_original_folder false: under one folder undelete_DD_MM_YY)."`
	Notifications        []string `name:"notifications" placeholder:"ADDRESS" help:"Addresses the report goes to (mailed when the service has --smtp; recorded in the report otherwise)."`
}

// Help is the long help of doUndelete.
func (c *DoUndeleteCmd) Help() string {
	return `Brings back the items of an account of the service's Backup Path that were deleted between START and END, in the state they had just before, into the account of the same name on the target, tagged undelete_DD_MM_YY as Carbonio does; a folder that is gone is recreated under its last name (unknown_<id> if the backup never knew it). Example: cbctl backup doUndelete john@example.com "01/03/2024" last`
}

func (c *DoUndeleteCmd) Run(ctx context.Context, g *Globals) error {
	tgt, err := c.target()
	if err != nil {
		return err
	}
	start, err := restoreDate("START", c.Start, selFirst)
	if err != nil {
		return err
	}
	end, err := restoreDate("END", c.End, selLast)
	if err != nil {
		return err
	}
	return runOp(ctx, g, &c.OpFlags, c.Wait, operations.KindUndelete, map[string]string{
		operations.ParamAccount:              c.Account,
		operations.ParamStart:                start,
		operations.ParamEnd:                  end,
		operations.ParamTargetOriginalFolder: strconv.FormatBool(c.TargetOriginalFolder),
		operations.ParamTarget:               tgt,
		operations.ParamNotifications:        operations.JoinList(c.Notifications),
	})
}

// DoItemRestoreCmd is "backup doItemRestore ACCOUNT ITEM [date D]".
type DoItemRestoreCmd struct {
	Account string `arg:"" name:"ACCOUNT" help:"The account (name or id)."`
	Item    int    `arg:"" name:"ITEM" help:"The item id."`
	OpFlags
	WaitFlag
	TargetFlag
	Date          string   `name:"date" placeholder:"DATE" help:"Restore the item as it was at DATE (default: its latest state; a deleted item in its last state before the deletion). ${date_help}."`
	Notifications []string `name:"notifications" placeholder:"ADDRESS" help:"Addresses the report goes to (mailed when the service has --smtp; recorded in the report otherwise)."`
}

// Help is the long help of doItemRestore.
func (c *DoItemRestoreCmd) Help() string {
	return `Restores one item of an account of the service's Backup Path into the account of the same name on the target, in the folder of the restored state. Example: cbctl backup doItemRestore john@example.com 49965 date 01/03/2024`
}

func (c *DoItemRestoreCmd) Run(ctx context.Context, g *Globals) error {
	tgt, err := c.target()
	if err != nil {
		return err
	}
	if c.Item <= 0 {
		return usagef("ITEM: want a positive item id, got %d", c.Item)
	}
	date := ""
	if c.Date != "" {
		if date, err = restoreDate("date", c.Date, selLast); err != nil {
			return err
		}
	}
	return runOp(ctx, g, &c.OpFlags, c.Wait, operations.KindItemRestore, map[string]string{
		operations.ParamAccount:       c.Account,
		operations.ParamItemID:        strconv.Itoa(c.Item),
		operations.ParamDate:          date,
		operations.ParamTarget:        tgt,
		operations.ParamNotifications: operations.JoinList(c.Notifications),
	})
}

// GetMapCmd is "backup getMap [account A] [target URL]".
type GetMapCmd struct {
	OpFlags
	Account string `name:"account" placeholder:"ACCOUNT" help:"Only entries restored into this account."`
	Target  string `name:"target" placeholder:"URL" help:"Only entries of this target (as restores name it, without password)."`
}

// Help is the long help of getMap.
func (c *GetMapCmd) Help() string {
	return `Lists the restore ledger of the state directory: for every item restored, the source (server id, account id, item id), the target and account it went to, its folder and its id there (Maildir file name, or IMAP mailbox, UIDVALIDITY and UID). Reads a copy of the ledger: a running restore is not disturbed.`
}

func (c *GetMapCmd) Run(ctx context.Context, g *Globals) error {
	s, err := c.settings(g)
	if err != nil {
		return err
	}
	entries, err := operations.LedgerMap(s.Dir())
	if err != nil {
		return err
	}
	want := strings.TrimSpace(c.Target)
	if u, err := url.Parse(want); err == nil && u.User != nil {
		u.User = url.User(u.User.Username()) // targets are recorded without password
		want = u.String()
	}
	out := []restore.Entry{}
	for _, e := range entries {
		if c.Account != "" && !strings.EqualFold(e.Account, c.Account) {
			continue
		}
		if want != "" && e.Target != want {
			continue
		}
		out = append(out, e)
	}
	if g.JSON {
		return printJSON(g.Stdout, out)
	}
	fmt.Fprintf(g.Stdout, "%-30s  %-36s  %-8s  %-24s  %-19s  %-30s  %s\n", "ACCOUNT", "SOURCE ACCOUNT", "ITEM", "FOLDER", "RESTORED", "TARGET", "RESTORED ID")
	for _, e := range out {
		fmt.Fprintf(g.Stdout, "%-30s  %-36s  %-8d  %-24s  %-19s  %-30s  %s\n", e.Account, e.SourceAccountID, e.ItemID,
			e.Folder, formatDate(e.At), e.Target, e.RestoredID)
	}
	fmt.Fprintf(g.Stdout, "%d entries\n", len(out))
	return nil
}

// redactParam hides the password of a URL parameter (a restore's target)
// in operation listings.
func redactParam(v string) string {
	if !strings.Contains(v, "://") || !strings.Contains(v, "@") {
		return v
	}
	u, err := url.Parse(v)
	if err != nil || u.User == nil {
		return v
	}
	if _, has := u.User.Password(); !has {
		return v
	}
	return u.Redacted()
}
