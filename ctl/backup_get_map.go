package ctl

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/internal/cli"
	"github.com/cbfs/cbfs/internal/confined"
)

// getMapCmd is "backup getMap FILE", Carbonio's: a map file of a Backup
// Path. Without FILE it is getRestoreLedger (what getMap was before).
type getMapCmd struct {
	File string `arg:"" optional:"" name:"FILE" help:"A map file (map_<serverId> in a Backup Path): which source account became which account on the server an external restore went to."`
	getRestoreLedgerCmd
}

// Help is the long help of getMap.
func (c *getMapCmd) Help() string {
	return `Shows a map file, as Carbonio's getMap: the source server, when the restore that wrote it ran, and each source account id with the id it got on the destination. Without FILE, lists the restore ledger as getRestoreLedger does. Example: cbctl backup getMap /opt/zextras/backup/zextras/map_544d94c6-aaef-4736-8964-56a667f1fe12`
}

// mapOut is getMap FILE's JSON output.
type mapOut struct {
	File     string            `json:"file"`
	ServerID string            `json:"serverId"`
	Date     string            `json:"date,omitempty"` // RFC 3339, UTC
	Accounts map[string]string `json:"accounts"`
}

func (c *getMapCmd) Run(ctx context.Context, g *Globals) error {
	if c.File == "" {
		return c.getRestoreLedgerCmd.Run(ctx, g)
	}
	if c.Account != "" || c.Target != "" {
		return cli.Usagef("account and target filter the restore ledger (getRestoreLedger), not a map file")
	}
	abs, err := filepath.Abs(c.File)
	if err != nil {
		return err
	}
	name := filepath.Base(abs)
	if !strings.HasPrefix(name, backuppath.MapPrefix) || name == backuppath.MapPrefix {
		return cli.Usagef("%s is not a map file (want map_<serverId>)", c.File)
	}
	// Foreign input: read beneath its folder, bounded.
	raw, err := confined.ReadFile(filepath.Dir(abs), name, backuppath.MaxMetadataFile)
	if err != nil {
		return fmt.Errorf("map file %s: %w", abs, err)
	}
	m, err := backuppath.ParseMap(abs, raw)
	if err != nil {
		return fmt.Errorf("map file: %w", err)
	}
	out := mapOut{File: abs, ServerID: m.ServerID, Accounts: m.Accounts}
	if out.Accounts == nil {
		out.Accounts = map[string]string{}
	}
	if m.Date != 0 {
		out.Date = m.Date.Time().UTC().Format(time.RFC3339)
	}
	if g.JSON {
		return printJSON(g.Stdout, out)
	}
	kv(g.Stdout, "", "map file", abs)
	kv(g.Stdout, "", "source server", orDash(m.ServerID))
	if m.Date != 0 {
		kv(g.Stdout, "", "date", formatDate(m.Date.Time()))
	}
	fmt.Fprintf(g.Stdout, "%-36s  %s\n", "SOURCE ACCOUNT", "DESTINATION ACCOUNT")
	for _, k := range slices.Sorted(maps.Keys(out.Accounts)) {
		fmt.Fprintf(g.Stdout, "%-36s  %s\n", k, out.Accounts[k])
	}
	fmt.Fprintf(g.Stdout, "%d accounts\n", len(out.Accounts))
	return nil
}
