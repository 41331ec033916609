package ctl

import (
	"context"

	"github.com/cbfs/cbfs/operations"
)

// doAccountScanCmd is "backup doAccountScan ACCOUNT".
type doAccountScanCmd struct {
	OpFlags
	operations.AccountScanParams
	WaitFlag
}

// Help is the long help of doAccountScan.
func (c *doAccountScanCmd) Help() string {
	return `Like doSmartScan, for one account only; other accounts of the Backup Path are left as they are.`
}

func (c *doAccountScanCmd) Run(ctx context.Context, g *Globals) error {
	return runOp(ctx, g, &c.OpFlags, c.Wait, &c.AccountScanParams)
}
