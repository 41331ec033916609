package ctl

import (
	"context"

	"github.com/cbfs/cbfs/operations"
)

// doRestoreOnNewAccountCmd is "backup doRestoreOnNewAccount SRC DST DATE|last".
type doRestoreOnNewAccountCmd struct {
	OpFlags
	operations.RestoreOnNewAccountParams
	WaitFlag
}

// Help is the long help of doRestoreOnNewAccount.
func (c *doRestoreOnNewAccountCmd) Help() string {
	return `Restores one account of the service's Backup Path (--backup-path), as it was at DATE, into a new account: the folder tree of that moment and every message in the state and folder it had then. Idempotent like every restore (the ledger skips what was restored before). Example: cbctl backup doRestoreOnNewAccount john@example.com john.old@example.com "01/03/2024 10:00:00"`
}

func (c *doRestoreOnNewAccountCmd) Run(ctx context.Context, g *Globals) error {
	return runOp(ctx, g, &c.OpFlags, c.Wait, &c.RestoreOnNewAccountParams)
}
