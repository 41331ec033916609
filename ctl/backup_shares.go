package ctl

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/internal/confined"
	"github.com/cbfs/cbfs/mailbox"
)

// Shares: cbfs's restores go to Maildir or IMAP targets, which have no
// Carbonio shares, so what doCheckShares and doFixShares can do here is
// report the grants the model reads (mailbox.State.Grantees).

// shareGrant is one grant found in a folder's latest state.
type shareGrant struct {
	Account   string `json:"account"`
	AccountID string `json:"accountId"`
	FolderID  int    `json:"folderId"`
	Folder    string `json:"folderPath,omitempty"`
	Grantee   string `json:"grantee"`                // the grantee's id (or name) as recorded
	Known     bool   `json:"granteeInBackup"`        // the grantee is an account of the Backup Path
	NewID     string `json:"newGranteeId,omitempty"` // doFixShares: the id the map gives it
}

// findGrants lists the grants of every folder's latest state.
func findGrants(ctx context.Context, g *Globals, p *backuppath.Path) ([]shareGrant, error) {
	accts, err := listAccounts(p)
	if err != nil {
		return nil, err
	}
	known := map[string]bool{}
	for _, e := range accts {
		known[strings.ToLower(e.ID)] = true
		if e.Account != nil {
			known[strings.ToLower(e.Account.Name)] = true
		}
	}
	var out []shareGrant
	for _, e := range accts {
		if e.Account == nil {
			continue
		}
		files, _, err := p.ItemFiles(e.ID)
		if err != nil {
			g.warnf("account %s: %v", e.Account.Name, err)
			continue
		}
		fold := newFolders(p, e.ID)
		for _, f := range files {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			it, err := p.ReadItemFile(f.RelPath, f.ItemID)
			if err != nil {
				continue
			}
			last := it.Latest()
			if last.Type != mailbox.TypeFolder || last.Deleted {
				continue
			}
			for _, gr := range last.Grantees() {
				out = append(out, shareGrant{Account: e.Account.Name, AccountID: e.ID, FolderID: it.ID,
					Folder: fold.Path(it.ID), Grantee: gr, Known: known[strings.ToLower(gr)]})
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Account != out[j].Account {
			return out[i].Account < out[j].Account
		}
		return out[i].FolderID < out[j].FolderID
	})
	return out, nil
}

// DoCheckSharesCmd is "backup doCheckShares [start]".
type DoCheckSharesCmd struct {
	Action string `arg:"" optional:"" enum:"start," default:"" placeholder:"start" help:"Carbonio's action word; optional."`
}

// Help is the long help of doCheckShares.
func (c *DoCheckSharesCmd) Help() string {
	return `Lists the shares (grants on folders) the Backup Path records and whether each grantee is an account of the Backup Path (a grantee that is not would be a dangling share after a restore). cbfs restores into Maildir or IMAP targets, which have no Carbonio shares: this reports, it changes nothing. When no folder records a grant it says so. Exit status 0 when every grantee is known, 1 when some is not.`
}

func (c *DoCheckSharesCmd) Run(ctx context.Context, g *Globals) error {
	p, err := g.Path()
	if err != nil {
		return err
	}
	grants, err := findGrants(ctx, g, p)
	if err != nil {
		return err
	}
	unknown := 0
	for _, gr := range grants {
		if !gr.Known {
			unknown++
		}
	}
	if g.JSON {
		if grants == nil {
			grants = []shareGrant{}
		}
		if err := printJSON(g.Stdout, grants); err != nil {
			return err
		}
	} else if len(grants) == 0 {
		fmt.Fprintf(g.Stdout, "No shares: no folder of %s records a grant. A Maildir or IMAP restore target has no Carbonio shares either: nothing to check.\n", p.Root)
	} else {
		for _, gr := range grants {
			status := "ok"
			if !gr.Known {
				status = "grantee not in the backup"
			}
			fmt.Fprintf(g.Stdout, "%s  %s  grantee %s  %s\n", gr.Account, orDash(gr.Folder), gr.Grantee, status)
		}
		fmt.Fprintf(g.Stdout, "%d shares, %d with a grantee not in the backup\n", len(grants), unknown)
	}
	if unknown > 0 {
		return fmt.Errorf("%d of %d shares name a grantee that is not an account of the backup", unknown, len(grants))
	}
	return nil
}

// DoFixSharesCmd is "backup doFixShares [MAP_FILE]".
type DoFixSharesCmd struct {
	File string `arg:"" optional:"" name:"IMPORT_IDMAP_FILE" help:"A map file (map_<serverId>); default (or the word import_idmap_file, as Carbonio's example writes it): every map file of the Backup Path."`
}

// Help is the long help of doFixShares.
func (c *DoFixSharesCmd) Help() string {
	return `After an external restore, Carbonio rewrites the grantees of shares from the source's account ids to the destination's, by the map file. cbfs restores into Maildir or IMAP targets, which have no Carbonio shares: this reports what Carbonio would change (each grant whose grantee the map renames), and changes nothing. When no folder records a grant, or no map file exists, it says so.`
}

func (c *DoFixSharesCmd) Run(ctx context.Context, g *Globals) error {
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
