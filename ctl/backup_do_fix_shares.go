package ctl

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/internal/confined"
)

// doFixSharesCmd is "backup doFixShares [MAP_FILE]".
type doFixSharesCmd struct {
	File string `arg:"" optional:"" name:"IMPORT_IDMAP_FILE" help:"A map file (map_<serverId>); default (or the word import_idmap_file, as Carbonio's example writes it): every map file of the Backup Path."`
}

// Help is the long help of doFixShares.
func (c *doFixSharesCmd) Help() string {
	return `After an external restore, Carbonio rewrites the grantees of shares from the source's account ids to the destination's, by the map file. cbfs restores into Maildir or IMAP targets, which have no Carbonio shares: this reports what Carbonio would change (each grant whose grantee the map renames), and changes nothing. When no folder records a grant, or no map file exists, it says so.`
}

func (c *doFixSharesCmd) Run(ctx context.Context, g *Globals) error {
	p, err := g.Path()
	if err != nil {
		return err
	}
	maps := map[string]string{}
	var sources []string
	if c.File != "" && !strings.EqualFold(c.File, "import_idmap_file") {
		abs, err := filepath.Abs(c.File)
		if err != nil {
			return err
		}
		if fi, err := os.Stat(abs); err != nil || fi.IsDir() {
			return fmt.Errorf("map file %s: not a file", c.File)
		}
		raw, err := confined.ReadFile(filepath.Dir(abs), filepath.Base(abs), backuppath.MaxMetadataFile)
		if err != nil {
			return fmt.Errorf("map file %s: %w", abs, err)
		}
		m, err := backuppath.ParseMap(abs, raw)
		if err != nil {
			return fmt.Errorf("map file: %w", err)
		}
		for k, v := range m.Accounts {
			maps[strings.ToLower(k)] = v
		}
		sources = append(sources, abs)
	} else {
		ids, err := p.MapFiles()
		if err != nil {
			return err
		}
		for _, id := range ids {
			m, err := p.ReadMap(id)
			if err != nil {
				return fmt.Errorf("map file %s: %w", backuppath.MapPrefix+id, err)
			}
			for k, v := range m.Accounts {
				maps[strings.ToLower(k)] = v
			}
			sources = append(sources, filepath.Join(p.Root, backuppath.MapPrefix+id))
		}
	}
	grants, err := findGrants(ctx, g, p)
	if err != nil {
		return err
	}
	var fixes []shareGrant
	for _, gr := range grants {
		if nid, ok := maps[strings.ToLower(gr.Grantee)]; ok && !strings.EqualFold(nid, gr.Grantee) {
			gr.NewID = nid
			fixes = append(fixes, gr)
		}
	}
	if g.JSON {
		if fixes == nil {
			fixes = []shareGrant{}
		}
		return printJSON(g.Stdout, map[string]any{"mapFiles": sources, "shares": len(grants), "wouldChange": fixes})
	}
	switch {
	case len(sources) == 0:
		fmt.Fprintf(g.Stdout, "No map file in %s: no account was renumbered, no share to fix.\n", p.Root)
	case len(grants) == 0:
		fmt.Fprintf(g.Stdout, "No shares: no folder of %s records a grant. A Maildir or IMAP restore target has no Carbonio shares either: nothing to fix.\n", p.Root)
	default:
		for _, f := range fixes {
			fmt.Fprintf(g.Stdout, "%s  %s  grantee %s -> %s\n", f.Account, orDash(f.Folder), f.Grantee, f.NewID)
		}
		fmt.Fprintf(g.Stdout, "%d of %d shares would change; nothing changed: a Maildir or IMAP target has no Carbonio shares.\n", len(fixes), len(grants))
	}
	return nil
}
