package ctl

import (
	"context"
	"path/filepath"
	"strconv"

	"github.com/cbfs/cbfs/operations"
)

// DoCoherencyCheckCmd is "backup doCoherencyCheck [fixBackup true] [fixDoubleGzip check|fix]".
type DoCoherencyCheckCmd struct {
	OpFlags
	WaitFlag
	FixBackup     bool     `name:"fix-backup" help:"Move bad files into the quarantine folder inside the Backup Path (nothing is ever deleted)."`
	FixDoubleGzip string   `name:"fix-double-gzip" enum:"check,fix," default:"" placeholder:"check|fix" help:"Double-gzipped blobs: check (report them) or fix (rewrite them gzipped once)."`
	Notifications []string `name:"notifications" placeholder:"ADDRESS" help:"Addresses to notify of the result (recorded in the report)."`
}

// Help is the long help of doCoherencyCheck.
func (c *DoCoherencyCheckCmd) Help() string {
	return `Verifies every blob against its digest and every item against its blobs, and reports orphan, broken, unreadable and missing files.`
}

func (c *DoCoherencyCheckCmd) Run(ctx context.Context, g *Globals) error {
	return runOp(ctx, g, &c.OpFlags, c.Wait, operations.KindCoherencyCheck, map[string]string{
		operations.ParamFixBackup:     strconv.FormatBool(c.FixBackup),
		operations.ParamFixDoubleGzip: c.FixDoubleGzip,
		operations.ParamNotifications: operations.JoinList(c.Notifications),
	})
}

// absPath makes a path given on cbctl's command line absolute: the service
// has another working directory.
func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}
