package ctl

import (
	"context"

	"github.com/cbfs/cbfs/operations"
)

// doUndeleteCmd is "backup doUndelete ACCOUNT START|first END|last".
type doUndeleteCmd struct {
	OpFlags
	operations.UndeleteParams
	WaitFlag
}

// Help is the long help of doUndelete.
func (c *doUndeleteCmd) Help() string {
	return `Brings back the items of an account of the service's Backup Path that were deleted between START and END, in the state they had just before, into the account of the same name on the target, tagged undelete_DD_MM_YY as Carbonio does; a folder that is gone is recreated under its last name (unknown_<id> if the backup never knew it). Example: cbctl backup doUndelete john@example.com "01/03/2024" last`
}

func (c *doUndeleteCmd) Run(ctx context.Context, g *Globals) error {
	return runOp(ctx, g, &c.OpFlags, c.Wait, &c.UndeleteParams)
}
