package ctl

import (
	"context"

	"github.com/cbfs/cbfs/operations"
)

// doBackupServerCustomizationsCmd is "backup doBackupServerCustomizations [start]".
type doBackupServerCustomizationsCmd struct {
	OpFlags
	operations.BackupServerCustomizationsParams
	WaitFlag
}

// Help is the long help of doBackupServerCustomizations.
func (c *doBackupServerCustomizationsCmd) Help() string {
	return `Archives the server's configuration files and folders (--config-path, e.g. /opt/zextras/conf) into the Backup Path now, as server/customizations_DD_MM_YY#HH_MM_SS.tar.gz (a scan does it once a day); getServerConfig customizations lists them. Files that cannot be read are left out and listed in the report. Without --config-path it fails: there is nothing to back up.`
}

func (c *doBackupServerCustomizationsCmd) Run(ctx context.Context, g *Globals) error {
	return runOp(ctx, g, &c.OpFlags, c.Wait, &c.BackupServerCustomizationsParams)
}
