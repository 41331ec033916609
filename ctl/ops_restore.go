package ctl

import (
	"context"
	"fmt"
	"maps"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/internal/cli"
	"github.com/cbfs/cbfs/internal/confined"

	"github.com/cbfs/cbfs/operations"
	"github.com/cbfs/cbfs/restore"
)

// DoExternalRestoreCmd is "backup doExternalRestore SOURCE_PATH [name value]...".
type DoExternalRestoreCmd struct {
	OpFlags
	operations.ExternalRestoreParams
	WaitFlag
}

// Help is the long help of doExternalRestore.
func (c *DoExternalRestoreCmd) Help() string {
	return `Restores a whole Backup Path into a target. Phase 1 provisions (domains, COS, distribution lists and accounts as records; each account's folder tree) and reports that phase (monitor shows it); phase 2 restores every account's messages and chats, in their latest state, into their folders, with their flags, tags and dates and their exact bytes. Nothing is ever deleted on the target, and nothing is written into SOURCE_PATH: the restore ledger lives in the state directory (backup getRestoreLedger shows it). A second run restores nothing twice (what was restored before is counted as skipped), and a stopped or killed run, run again, resumes. Items that cannot be restored are listed per account, classified as read error (unreadable), broken (corrupt) or invalid (refused by the target, or over max_file_size). With a running cbfs serve the restore is enqueued (--wait follows it); with none it runs here under the state directory's lock. Example: cbctl backup doExternalRestore /mnt/old-backup target imap://admin:secret@127.0.0.1:143 domains example.com concurrent_accounts 2`
}

func (c *DoExternalRestoreCmd) Run(ctx context.Context, g *Globals) error {
	return runOp(ctx, g, &c.OpFlags, c.Wait, &c.ExternalRestoreParams)
}

// DoRestoreOnNewAccountCmd is "backup doRestoreOnNewAccount SRC DST DATE|last".
type DoRestoreOnNewAccountCmd struct {
	OpFlags
	operations.RestoreOnNewAccountParams
	WaitFlag
}

// Help is the long help of doRestoreOnNewAccount.
func (c *DoRestoreOnNewAccountCmd) Help() string {
	return `Restores one account of the service's Backup Path (--backup-path), as it was at DATE, into a new account: the folder tree of that moment and every message in the state and folder it had then. Idempotent like every restore (the ledger skips what was restored before). Example: cbctl backup doRestoreOnNewAccount john@example.com john.old@example.com "01/03/2024 10:00:00"`
}

func (c *DoRestoreOnNewAccountCmd) Run(ctx context.Context, g *Globals) error {
	return runOp(ctx, g, &c.OpFlags, c.Wait, &c.RestoreOnNewAccountParams)
}

// DoUndeleteCmd is "backup doUndelete ACCOUNT START|first END|last".
type DoUndeleteCmd struct {
	OpFlags
	operations.UndeleteParams
	WaitFlag
}

// Help is the long help of doUndelete.
func (c *DoUndeleteCmd) Help() string {
	return `Brings back the items of an account of the service's Backup Path that were deleted between START and END, in the state they had just before, into the account of the same name on the target, tagged undelete_DD_MM_YY as Carbonio does; a folder that is gone is recreated under its last name (unknown_<id> if the backup never knew it). Example: cbctl backup doUndelete john@example.com "01/03/2024" last`
}

func (c *DoUndeleteCmd) Run(ctx context.Context, g *Globals) error {
	return runOp(ctx, g, &c.OpFlags, c.Wait, &c.UndeleteParams)
}

// DoItemRestoreCmd is "backup doItemRestore ACCOUNT ITEM [date D]".
type DoItemRestoreCmd struct {
	OpFlags
	operations.ItemRestoreParams
	WaitFlag
}

// Help is the long help of doItemRestore.
func (c *DoItemRestoreCmd) Help() string {
	return `Restores one item of an account of the service's Backup Path into the account of the same name on the target, in the folder of the restored state. Example: cbctl backup doItemRestore john@example.com 49965 date 01/03/2024`
}

func (c *DoItemRestoreCmd) Run(ctx context.Context, g *Globals) error {
	return runOp(ctx, g, &c.OpFlags, c.Wait, &c.ItemRestoreParams)
}

// GetMapCmd is "backup getMap FILE", Carbonio's: a map file of a Backup
// Path. Without FILE it is getRestoreLedger (what getMap was before).
type GetMapCmd struct {
	File string `arg:"" optional:"" name:"FILE" help:"A map file (map_<serverId> in a Backup Path): which source account became which account on the server an external restore went to."`
	GetRestoreLedgerCmd
}

// Help is the long help of getMap.
func (c *GetMapCmd) Help() string {
	return `Shows a map file, as Carbonio's getMap: the source server, when the restore that wrote it ran, and each source account id with the id it got on the destination. Without FILE, lists the restore ledger as getRestoreLedger does. Example: cbctl backup getMap /opt/zextras/backup/zextras/map_544d94c6-aaef-4736-8964-56a667f1fe12`
}

// mapOut is getMap FILE's JSON output.
type mapOut struct {
	File     string            `json:"file"`
	ServerID string            `json:"serverId"`
	Date     string            `json:"date,omitempty"` // RFC 3339, UTC
	Accounts map[string]string `json:"accounts"`
}

func (c *GetMapCmd) Run(ctx context.Context, g *Globals) error {
	if c.File == "" {
		return c.GetRestoreLedgerCmd.Run(ctx, g)
	}
	if c.Account != "" || c.Target != "" {
		return cli.Usagef("account and target filter the restore ledger (getRestoreLedger), not a map file")
	}
	abs, err := filepath.Abs(c.File)
	if err != nil {
		return err
	}
	name := filepath.Base(abs)
	if !strings.HasPrefix(name, backuppath.MapPrefix) || name == backuppath.MapPrefix {
		return cli.Usagef("%s is not a map file (want map_<serverId>)", c.File)
	}
	// Foreign input: read beneath its folder, bounded.
	raw, err := confined.ReadFile(filepath.Dir(abs), name, backuppath.MaxMetadataFile)
	if err != nil {
		return fmt.Errorf("map file %s: %w", abs, err)
	}
	m, err := backuppath.ParseMap(abs, raw)
	if err != nil {
		return fmt.Errorf("map file: %w", err)
	}
	out := mapOut{File: abs, ServerID: m.ServerID, Accounts: m.Accounts}
	if out.Accounts == nil {
		out.Accounts = map[string]string{}
	}
	if m.Date != 0 {
		out.Date = m.Date.Time().UTC().Format(time.RFC3339)
	}
	if g.JSON {
		return printJSON(g.Stdout, out)
	}
	kv(g.Stdout, "", "map file", abs)
	kv(g.Stdout, "", "source server", orDash(m.ServerID))
	if m.Date != 0 {
		kv(g.Stdout, "", "date", formatDate(m.Date.Time()))
	}
	fmt.Fprintf(g.Stdout, "%-36s  %s\n", "SOURCE ACCOUNT", "DESTINATION ACCOUNT")
	for _, k := range slices.Sorted(maps.Keys(out.Accounts)) {
		fmt.Fprintf(g.Stdout, "%-36s  %s\n", k, out.Accounts[k])
	}
	fmt.Fprintf(g.Stdout, "%d accounts\n", len(out.Accounts))
	return nil
}

// GetRestoreLedgerCmd is "backup getRestoreLedger [account A] [target URL]".
type GetRestoreLedgerCmd struct {
	OpFlags
	Account string `name:"account" placeholder:"ACCOUNT" help:"Only entries restored into this account."`
	Target  string `name:"target" placeholder:"URL" help:"Only entries of this target (as restores name it, without password)."`
}

// Help is the long help of getRestoreLedger.
func (c *GetRestoreLedgerCmd) Help() string {
	return `Lists the restore ledger of the state directory: for every item restored, the source (server id, account id, item id), the target and account it went to, its folder and its id there (Maildir file name, or IMAP mailbox, UIDVALIDITY and UID). Reads a copy of the ledger: a running restore is not disturbed.`
}

func (c *GetRestoreLedgerCmd) Run(ctx context.Context, g *Globals) error {
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
