package ctl

import (
	"context"

	"github.com/cbfs/cbfs/operations"
)

// doItemRestoreCmd is "backup doItemRestore ACCOUNT ITEM [date D]".
type doItemRestoreCmd struct {
	OpFlags
	operations.ItemRestoreParams
	WaitFlag
}

// Help is the long help of doItemRestore.
func (c *doItemRestoreCmd) Help() string {
	return `Restores one item of an account of the service's Backup Path into the account of the same name on the target, in the folder of the restored state. Example: cbctl backup doItemRestore john@example.com 49965 date 01/03/2024`
}

func (c *doItemRestoreCmd) Run(ctx context.Context, g *Globals) error {
	return runOp(ctx, g, &c.OpFlags, c.Wait, &c.ItemRestoreParams)
}
