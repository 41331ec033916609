package ctl

import (
	"context"

	"github.com/cbfs/cbfs/operations"
)

// doExternalRestoreCmd is "backup doExternalRestore SOURCE_PATH [name value]...".
type doExternalRestoreCmd struct {
	OpFlags
	operations.ExternalRestoreParams
	WaitFlag
}

// Help is the long help of doExternalRestore.
func (c *doExternalRestoreCmd) Help() string {
	return `Restores a whole Backup Path into a target. Phase 1 provisions (domains, COS, distribution lists and accounts as records; each account's folder tree) and reports that phase (monitor shows it); phase 2 restores every account's messages and chats, in their latest state, into their folders, with their flags, tags and dates and their exact bytes. Nothing is ever deleted on the target, and nothing is written into SOURCE_PATH: the restore ledger lives in the state directory (backup getRestoreLedger shows it). A second run restores nothing twice (what was restored before is counted as skipped), and a stopped or killed run, run again, resumes. Items that cannot be restored are listed per account, classified as read error (unreadable), broken (corrupt) or invalid (refused by the target, or over max_file_size). With a running cbfs serve the restore is enqueued (--wait follows it); with none it runs here under the state directory's lock. Example: cbctl backup doExternalRestore /mnt/old-backup target imap://admin:secret@127.0.0.1:143 domains example.com concurrent_accounts 2`
}

func (c *doExternalRestoreCmd) Run(ctx context.Context, g *Globals) error {
	return runOp(ctx, g, &c.OpFlags, c.Wait, &c.ExternalRestoreParams)
}
