package ctl

import (
	"context"

	"github.com/cbfs/cbfs/operations"
)

// doExportCmd is "backup doExport DEST_PATH [domains ...] [cos ...]".
type doExportCmd struct {
	OpFlags
	operations.ExportParams
	WaitFlag
}

// Help is the long help of doExport.
func (c *doExportCmd) Help() string {
	return `Writes a self-contained Backup Path of the selected accounts (all, or those of the given domains and COS) that doExternalRestore and cbfs mount accept. Accounts whose backup is disabled are left out.`
}

func (c *doExportCmd) Run(ctx context.Context, g *Globals) error {
	return runOp(ctx, g, &c.OpFlags, c.Wait, &c.ExportParams)
}
