package ctl

import (
	"context"

	"github.com/cbfs/cbfs/operations"
)

// DoPurgeCmd is "backup doPurge [purgeDays N]".
type DoPurgeCmd struct {
	OpFlags
	WaitFlag
	PurgeDays     string   `name:"purge-days" placeholder:"N" help:"Retention in days for this purge (default: --retention-days; 0 keeps everything)."`
	Notifications []string `name:"notifications" placeholder:"ADDRESS" help:"Addresses to notify of the result (recorded in the report)."`
}

// Help is the long help of doPurge.
func (c *DoPurgeCmd) Help() string {
	return `Drops item states and deleted items older than the retention, accounts deleted (or with backup disabled) for longer than the retention, then the blobs no kept state names. A blob still named is never removed. Retention 0 keeps everything.`
}

func (c *DoPurgeCmd) Run(ctx context.Context, g *Globals) error {
	return runOp(ctx, g, &c.OpFlags, c.Wait, operations.KindPurge, map[string]string{
		operations.ParamPurgeDays:     c.PurgeDays,
		operations.ParamNotifications: operations.JoinList(c.Notifications),
	})
}
