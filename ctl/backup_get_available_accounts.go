package ctl

import (
	"context"
	"fmt"
	"sort"
	"text/tabwriter"

	"github.com/cbfs/cbfs/blob"
)

// GetAvailableAccountsCmd is "backup getAvailableAccounts".
type GetAvailableAccountsCmd struct{}

// Help is the long help of getAvailableAccounts.
func (c *GetAvailableAccountsCmd) Help() string {
	return `One line per account folder, sorted by name: name, id, status (active, deleted; or unreadable/broken when account_info cannot be read), COS and the number of item files. Deleted accounts are listed too.`
}

// accountRow is one getAvailableAccounts row.
type accountRow struct {
	Name   string `json:"name"`
	ID     string `json:"id"`
	Status string `json:"status"`
	COS    string `json:"cos,omitempty"`
	Items  int    `json:"items"`
	Error  string `json:"error,omitempty"`
}

func (c *GetAvailableAccountsCmd) Run(ctx context.Context, g *Globals) error {
	p, err := g.Path()
	if err != nil {
		return err
	}
	accts, err := listAccounts(p)
	if err != nil {
		return err
	}
	rows := make([]accountRow, 0, len(accts))
	for _, e := range accts {
		if err := ctx.Err(); err != nil {
			return err
		}
		r := accountRow{ID: e.ID}
		if e.Account != nil {
			r.Name, r.Status = e.Account.Name, e.Account.Status
			r.COS = e.Account.COSName
			if r.COS == "" {
				r.COS = e.Account.COSID
			}
		} else {
			r.Status, r.Error = blob.Class(e.Err), itemReason(e.Err)
			g.warnf("account %s: account_info is %s: %s", e.ID, r.Status, r.Error)
		}
		files, _, err := p.ItemFiles(e.ID)
		if err != nil {
			g.warnf("account %s: %v", e.ID, err)
		}
		r.Items = len(files)
		rows = append(rows, r)
	}
	sort.SliceStable(rows, func(i, j int) bool {
		if rows[i].Name != rows[j].Name {
			return rows[i].Name < rows[j].Name
		}
		return rows[i].ID < rows[j].ID
	})
	if g.JSON {
		return printJSON(g.Stdout, rows)
	}
	tw := tabwriter.NewWriter(g.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tID\tSTATUS\tCOS\tITEMS")
	for _, r := range rows {
		name, cos := r.Name, r.COS
		if name == "" {
			name = "?"
		}
		if cos == "" {
			cos = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", name, r.ID, r.Status, cos, r.Items)
	}
	return tw.Flush()
}
