package ctl

import (
	"context"

	"github.com/cbfs/cbfs/operations"
)

// DoCoherencyCheckCmd is "backup doCoherencyCheck [fixBackup true] [fixDoubleGzip check|fix]".
type DoCoherencyCheckCmd struct {
	OpFlags
	WaitFlag
	operations.CoherencyCheckParams
}

// Help is the long help of doCoherencyCheck.
func (c *DoCoherencyCheckCmd) Help() string {
	return `Verifies every blob against its digest and every item against its blobs, and reports orphan, broken, unreadable and missing files.`
}

func (c *DoCoherencyCheckCmd) Run(ctx context.Context, g *Globals) error {
	return runOp(ctx, g, &c.OpFlags, c.Wait, &c.CoherencyCheckParams)
}
