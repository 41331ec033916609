package ctl

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/internal/atomicfile"
	"github.com/cbfs/cbfs/mailbox"
	"github.com/cbfs/cbfs/restore"
)

// getAvailableAccountsCmd is "backup getAvailableAccounts".
type getAvailableAccountsCmd struct {
	Date                 string   `name:"date" default:"last" placeholder:"last|DATE" help:"last (default): every account the Backup Path holds; DATE: the accounts that existed then (created before it, not yet deleted). ${date_help}; ${moment_help}."`
	Domains              []string `name:"domains" placeholder:"DOMAIN" help:"Only accounts of these domains (comma-separated). Default: all."`
	HideDeleted          bool     `name:"hide-deleted" help:"Leave out deleted accounts."`
	HideSystemAccounts   bool     `name:"hide-system-accounts" default:"true" negatable:"" help:"Leave out system accounts (spam/ham training, virus quarantine, GAL sync, ...); default true, as Carbonio (hide_system_accounts false shows them)."`
	HideExistingAccounts bool     `name:"hide-existing-accounts" help:"Carbonio hides the accounts that exist on its live server. Accepted for Carbonio's command lines: cbctl has no live server to compare with, so it hides nothing."`
	OutputFile           string   `name:"output-file" placeholder:"FILE" help:"Write the list to FILE (replaced atomically) instead of stdout."`
	OutputHeaders        []string `name:"output-headers" enum:"accountMap,accountList,accountIdList,accountAndIdList" placeholder:"HEADER" help:"Print these lists instead of the table, each under its header line (comma-separated): accountMap (name and id), accountList (names), accountIdList (ids), accountAndIdList (name:id). With --json, an object of those lists."`
}

// Help is the long help of getAvailableAccounts.
func (c *getAvailableAccountsCmd) Help() string {
	return `One line per account folder, sorted by name: name, id, status (active, deleted; or unreadable/broken when account_info cannot be read), COS and the number of item files. Deleted accounts are listed too unless hide_deleted true; system accounts are hidden unless hide_system_accounts false.

Example: cbctl backup getAvailableAccounts date last backup_path /opt/zextras/backup/zextras/ hide_deleted false`
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

// accountFilter is the selection getAvailableAccounts and
// getAvailableDomains share.
type accountFilter struct {
	at          time.Time // zero: last
	domains     []string
	hideDeleted bool
	hideSystem  bool
}

// keep says whether an account (nil: unreadable account_info) is listed.
func (f accountFilter) keep(a *mailbox.Account) bool {
	if a == nil {
		return len(f.domains) == 0 && f.at.IsZero()
	}
	switch {
	case len(f.domains) > 0 && !slices.ContainsFunc(f.domains, func(d string) bool { return strings.EqualFold(strings.TrimSpace(d), a.Domain()) }),
		f.hideDeleted && a.Status == mailbox.StatusDeleted,
		f.hideSystem && restore.IsSystemAccount(a):
		return false
	}
	if !f.at.IsZero() {
		at := mailbox.MillisOf(f.at)
		if a.Created != 0 && a.Created > at {
			return false // not created yet
		}
		if a.DeletedDate != 0 && a.DeletedDate <= at {
			return false // already deleted
		}
	}
	return true
}

// parseLastOrDate reads a date that may be "last" (the zero time).
func parseLastOrDate(s string) (time.Time, error) {
	sel, err := parseDateSel(s, selLast)
	if err != nil {
		return time.Time{}, err
	}
	return sel.At, nil
}

func (c *getAvailableAccountsCmd) Run(ctx context.Context, g *Globals) error {
	at, err := parseLastOrDate(c.Date)
	if err != nil {
		return err
	}
	filter := accountFilter{at: at, domains: c.Domains, hideDeleted: c.HideDeleted, hideSystem: c.HideSystemAccounts}
	p, err := g.Path()
	if err != nil {
		return err
	}
	rows, err := availableAccounts(ctx, g, p, filter)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	w := io.Writer(&buf)
	if c.OutputFile == "" {
		w = g.Stdout
	}
	if err := c.print(w, g.JSON, rows); err != nil {
		return err
	}
	if c.OutputFile != "" {
		return atomicfile.Write(c.OutputFile, 0o600, func(f io.Writer) error {
			_, err := f.Write(buf.Bytes())
			return err
		})
	}
	return nil
}

func availableAccounts(ctx context.Context, g *Globals, p *backuppath.Path, filter accountFilter) ([]accountRow, error) {
	accts, err := listAccounts(p)
	if err != nil {
		return nil, err
	}
	kept := accts[:0:0]
	for _, e := range accts {
		if filter.keep(e.Account) {
			kept = append(kept, e)
		}
	}
	// The ITEMS column: the item files counted by listing the bucket
	// folders, never reading or stat'ing an item file.
	counts := make([]int, len(kept))
	countErrs := make([]error, len(kept))
	backuppath.Parallel(len(kept), func(i int) {
		if ctx.Err() == nil {
			counts[i], countErrs[i] = p.ItemCount(kept[i].ID)
		}
	})
	rows := make([]accountRow, 0, len(kept))
	for i, e := range kept {
		if err := ctx.Err(); err != nil {
			return nil, err
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
		if countErrs[i] != nil {
			g.warnf("account %s: %v", e.ID, countErrs[i])
		}
		r.Items = counts[i]
		rows = append(rows, r)
	}
	sort.SliceStable(rows, func(i, j int) bool {
		if rows[i].Name != rows[j].Name {
			return rows[i].Name < rows[j].Name
		}
		return rows[i].ID < rows[j].ID
	})
	return rows, nil
}

func (c *getAvailableAccountsCmd) print(w io.Writer, asJSON bool, rows []accountRow) error {
	if len(c.OutputHeaders) > 0 {
		lists := map[string][]string{}
		for _, h := range c.OutputHeaders {
			l := []string{}
			for _, r := range rows {
				switch h {
				case "accountMap":
					l = append(l, r.Name+" "+r.ID)
				case "accountList":
					l = append(l, r.Name)
				case "accountIdList":
					l = append(l, r.ID)
				case "accountAndIdList":
					l = append(l, r.Name+":"+r.ID)
				}
			}
			lists[h] = l
		}
		if asJSON {
			return printJSON(w, lists)
		}
		for _, h := range c.OutputHeaders {
			fmt.Fprintln(w, h)
			for _, l := range lists[h] {
				fmt.Fprintln(w, configIndent+l)
			}
		}
		return nil
	}
	if asJSON {
		return printJSON(w, rows)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
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
