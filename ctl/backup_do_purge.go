package ctl

import (
	"context"

	"github.com/cbfs/cbfs/operations"
)

// doPurgeCmd is "backup doPurge [purgeDays N]".
type doPurgeCmd struct {
	OpFlags
	operations.PurgeParams
	WaitFlag
}

// Help is the long help of doPurge.
func (c *doPurgeCmd) Help() string {
	return `Drops item states and deleted items older than the retention, accounts deleted (or with backup disabled) for longer than the retention, then the blobs no kept state names. A blob still named is never removed. Retention 0 keeps everything.`
}

func (c *doPurgeCmd) Run(ctx context.Context, g *Globals) error {
	return runOp(ctx, g, &c.OpFlags, c.Wait, &c.PurgeParams)
}
