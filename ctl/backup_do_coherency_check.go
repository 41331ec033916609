package ctl

import (
	"context"
	"path/filepath"

	"github.com/cbfs/cbfs/internal/cli"
	"github.com/cbfs/cbfs/operations"
)

// doCoherencyCheckCmd is "backup doCoherencyCheck [fixBackup true] [fixDoubleGzip check|fix]".
type doCoherencyCheckCmd struct {
	Path string `arg:"" optional:"" name:"BACKUP_PATH" help:"The Backup Path to check (Carbonio's first positional); the same as backup_path / --backup-path."`
	OpFlags
	operations.CoherencyCheckParams
	WaitFlag
}

// Help is the long help of doCoherencyCheck.
func (c *doCoherencyCheckCmd) Help() string {
	return `Verifies every blob against its digest and every item against its blobs, and reports orphan, broken, unreadable and missing files.`
}

func (c *doCoherencyCheckCmd) Run(ctx context.Context, g *Globals) error {
	if c.Path != "" {
		if g.BackupPath != "" && filepath.Clean(g.BackupPath) != filepath.Clean(c.Path) {
			return cli.Usagef("two Backup Paths: %s and backup_path %s", c.Path, g.BackupPath)
		}
		g.BackupPath = c.Path
	}
	return runOp(ctx, g, &c.OpFlags, c.Wait, &c.CoherencyCheckParams)
}
