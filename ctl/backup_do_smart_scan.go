package ctl

import (
	"context"

	"github.com/cbfs/cbfs/operations"
)

// doSmartScanCmd is "backup doSmartScan".
type doSmartScanCmd struct {
	OpFlags
	operations.SmartScanParams
	WaitFlag
}

// Help is the long help of doSmartScan.
func (c *doSmartScanCmd) Help() string {
	return `Backs the live mail source (--source) up into the Backup Path, incrementally: new messages become blobs and items, changed flags, moves and renames new states, messages gone from the source deleted states; accounts whose backup is disabled (config set cos|account ... backupEnabled false) are skipped. With a running cbfs serve the scan is enqueued and its id printed; with none, it runs here, under the state directory's lock, and its report is printed.`
}

func (c *doSmartScanCmd) Run(ctx context.Context, g *Globals) error {
	return runOp(ctx, g, &c.OpFlags, c.Wait, &c.SmartScanParams)
}
