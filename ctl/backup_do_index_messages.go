package ctl

import (
	"context"
	"path/filepath"

	"github.com/cbfs/cbfs/internal/cli"
	"github.com/cbfs/cbfs/operations"
)

// doIndexMessagesCmd is "backup doIndexMessages [BACKUP_PATH] [rebuild true]".
type doIndexMessagesCmd struct {
	Path string `arg:"" optional:"" name:"BACKUP_PATH" help:"The Backup Path to index; the same as backup_path / --backup-path."`
	OpFlags
	operations.IndexMessagesParams
	WaitFlag
}

// Help is the long help of doIndexMessages.
func (c *doIndexMessagesCmd) Help() string {
	return `Builds or refreshes the full-text index of every message of the Backup Path (headers, body text, attachment names; account, folder, flags and dates of every state), which doItemSearch query "..." searches. A refresh reads only the messages the index does not hold yet. The index is kept outside the Backup Path, which is only read. cbfs's own operation (Carbonio has none).

Example: cbctl backup doIndexMessages /opt/zextras/backup/zextras`
}

func (c *doIndexMessagesCmd) Run(ctx context.Context, g *Globals) error {
	if c.Path != "" {
		if g.BackupPath != "" && filepath.Clean(g.BackupPath) != filepath.Clean(c.Path) {
			return cli.Usagef("two Backup Paths: %s and backup_path %s", c.Path, g.BackupPath)
		}
		g.BackupPath = c.Path
	}
	return runOp(ctx, g, &c.OpFlags, c.Wait, &c.IndexMessagesParams)
}
