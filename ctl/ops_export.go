package ctl

import (
	"context"

	"github.com/cbfs/cbfs/operations"
)

// DoExportCmd is "backup doExport DEST_PATH [domains ...] [cos ...]".
type DoExportCmd struct {
	DestPath string `arg:"" name:"DEST_PATH" help:"Folder to write the exported Backup Path into."`
	OpFlags
	WaitFlag
	Domains       []string `name:"domains" placeholder:"DOMAIN" help:"Export only accounts of these domains (comma-separated)."`
	COS           []string `name:"cos" placeholder:"COS" help:"Export only accounts of these COS (comma-separated)."`
	Notifications []string `name:"notifications" placeholder:"ADDRESS" help:"Addresses to notify of the result (recorded in the report)."`
}

// Help is the long help of doExport.
func (c *DoExportCmd) Help() string {
	return `Writes a self-contained Backup Path of the selected accounts (all, or those of the given domains and COS) that doExternalRestore and cbfs mount accept. Accounts whose backup is disabled are left out.`
}

func (c *DoExportCmd) Run(ctx context.Context, g *Globals) error {
	return runOp(ctx, g, &c.OpFlags, c.Wait, operations.KindExport, map[string]string{
		operations.ParamDestPath:      absPath(c.DestPath),
		operations.ParamDomains:       operations.JoinList(c.Domains),
		operations.ParamCOS:           operations.JoinList(c.COS),
		operations.ParamNotifications: operations.JoinList(c.Notifications),
	})
}
