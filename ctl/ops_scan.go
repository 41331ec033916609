package ctl

import (
	"context"

	"github.com/cbfs/cbfs/operations"
)

// DoSmartScanCmd is "backup doSmartScan".
type DoSmartScanCmd struct {
	OpFlags
	operations.SmartScanParams
	WaitFlag
}

// Help is the long help of doSmartScan.
func (c *DoSmartScanCmd) Help() string {
	return `Backs the live mail source (--source) up into the Backup Path, incrementally: new messages become blobs and items, changed flags, moves and renames new states, messages gone from the source deleted states; accounts whose backup is disabled (config set cos|account ... backupEnabled false) are skipped. With a running cbfs serve the scan is enqueued and its id printed; with none, it runs here, under the state directory's lock, and its report is printed.`
}

func (c *DoSmartScanCmd) Run(ctx context.Context, g *Globals) error {
	return runOp(ctx, g, &c.OpFlags, c.Wait, &c.SmartScanParams)
}

// DoAccountScanCmd is "backup doAccountScan ACCOUNT".
type DoAccountScanCmd struct {
	OpFlags
	operations.AccountScanParams
	WaitFlag
}

// Help is the long help of doAccountScan.
func (c *DoAccountScanCmd) Help() string {
	return `Like doSmartScan, for one account only; other accounts of the Backup Path are left as they are.`
}

func (c *DoAccountScanCmd) Run(ctx context.Context, g *Globals) error {
	return runOp(ctx, g, &c.OpFlags, c.Wait, &c.AccountScanParams)
}
