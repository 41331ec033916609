package ctl

import (
	"context"
	"fmt"
)

// doCheckSharesCmd is "backup doCheckShares [start]".
type doCheckSharesCmd struct {
	Action string `arg:"" optional:"" enum:"start," default:"" placeholder:"start" help:"Carbonio's action word; optional."`
}

// Help is the long help of doCheckShares.
func (c *doCheckSharesCmd) Help() string {
	return `Lists the shares (grants on folders) the Backup Path records and whether each grantee is an account of the Backup Path (a grantee that is not would be a dangling share after a restore). cbfs restores into Maildir or IMAP targets, which have no Carbonio shares: this reports, it changes nothing. When no folder records a grant it says so. Exit status 0 when every grantee is known, 1 when some is not.`
}

func (c *doCheckSharesCmd) Run(ctx context.Context, g *Globals) error {
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
