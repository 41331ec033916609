package ctl

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/internal/cli"
	"github.com/cbfs/cbfs/internal/pathlock"
	"github.com/cbfs/cbfs/purge"
)

// legalHoldCmd is "backup legalHold get|set|unset all|ACCOUNTS".
type legalHoldCmd struct {
	Get   legalHoldGetCmd   `cmd:"" name:"get" help:"Show whether accounts are under legal hold."`
	Set   legalHoldSetCmd   `cmd:"" name:"set" help:"Put accounts under legal hold: doPurge never removes anything of theirs."`
	Unset legalHoldUnsetCmd `cmd:"" name:"unset" help:"Release accounts from legal hold."`
}

// Help is the long help of legalHold.
func (c *legalHoldCmd) Help() string {
	return `An account under legal hold keeps every backed-up state forever: doPurge removes none of its states, items or blobs, and not the account itself once deleted, whatever the retention. The list is the file ` + purge.LegalHoldFile + ` at the root of the Backup Path (docs/FORMAT.md § 10.1), so every purge of that path honours it, from any service or copy. Each command takes all, or account names or ids, comma-separated.

Examples:
  cbctl backup legalHold get all
  cbctl backup legalHold set a1701296-7caa-4366-8886-f33bfb44267e,john.doe@example.com
  cbctl backup legalHold unset 924e1cf6-eaba-4aff-a10d-1f8e94fa85e4`
}

// legalHoldAccounts is the ACCOUNTS argument.
type legalHoldAccounts struct {
	Accounts []string `arg:"" name:"ACCOUNTS" help:"all, or account names or ids (comma-separated)."`
}

// resolve turns the argument into account entries (all: every readable
// account of the Backup Path).
func (a *legalHoldAccounts) resolve(p *backuppath.Path) ([]backuppath.AccountEntry, error) {
	all, err := listAccounts(p)
	if err != nil {
		return nil, err
	}
	var refs []string
	for _, x := range a.Accounts {
		refs = append(refs, strings.Split(x, ",")...)
	}
	a.Accounts = refs
	if len(a.Accounts) == 1 && strings.EqualFold(strings.TrimSpace(a.Accounts[0]), "all") {
		return all, nil
	}
	var out []backuppath.AccountEntry
	seen := map[string]bool{}
	for _, ref := range a.Accounts {
		if ref = strings.TrimSpace(ref); ref == "" {
			continue
		}
		if strings.EqualFold(ref, "all") {
			return nil, cli.Usagef("all stands alone, not in a list of accounts")
		}
		acct, err := findAccount(p, ref)
		if err != nil {
			return nil, err
		}
		if !seen[acct.ID] {
			seen[acct.ID] = true
			out = append(out, backuppath.AccountEntry{ID: acct.ID, Account: acct})
		}
	}
	if len(out) == 0 {
		return nil, cli.Usagef("no account given (all, or names or ids)")
	}
	return out, nil
}

// holdRow is one line of legalHold get.
type holdRow struct {
	Name   string    `json:"name"`
	ID     string    `json:"id"`
	Status string    `json:"status"` // set or unset
	Since  time.Time `json:"since,omitzero"`
}

func printHolds(g *Globals, entries []backuppath.AccountEntry, holds map[string]purge.Hold) error {
	rows := make([]holdRow, 0, len(entries))
	for _, e := range entries {
		r := holdRow{ID: e.ID, Status: "unset"}
		if e.Account != nil {
			r.Name = e.Account.Name
		}
		if h, ok := holds[e.ID]; ok {
			r.Status, r.Since = "set", h.Set.UTC()
			if r.Name == "" {
				r.Name = h.Name
			}
		}
		rows = append(rows, r)
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].Name < rows[j].Name })
	if g.JSON {
		return printJSON(g.Stdout, rows)
	}
	tw := tabwriter.NewWriter(g.Stdout, 0, 4, 1, ' ', 0)
	for _, r := range rows {
		name := r.Name
		if name == "" {
			name = "?"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", name, r.ID, r.Status)
	}
	return tw.Flush()
}

// legalHoldGetCmd is "backup legalHold get all|ACCOUNTS".
type legalHoldGetCmd struct{ legalHoldAccounts }

func (c *legalHoldGetCmd) Run(ctx context.Context, g *Globals) error {
	p, err := g.Path()
	if err != nil {
		return err
	}
	entries, err := c.resolve(p)
	if err != nil {
		return err
	}
	holds, err := purge.ReadLegalHold(p)
	if err != nil {
		return err
	}
	return printHolds(g, entries, holds)
}

// legalHoldSetCmd is "backup legalHold set all|ACCOUNTS".
type legalHoldSetCmd struct{ legalHoldAccounts }

func (c *legalHoldSetCmd) Run(ctx context.Context, g *Globals) error {
	return changeHolds(g, &c.legalHoldAccounts, true)
}

// legalHoldUnsetCmd is "backup legalHold unset all|ACCOUNTS".
type legalHoldUnsetCmd struct{ legalHoldAccounts }

func (c *legalHoldUnsetCmd) Run(ctx context.Context, g *Globals) error {
	return changeHolds(g, &c.legalHoldAccounts, false)
}

// changeHolds sets or unsets the hold of the accounts, under the Backup
// Path's writer lock (no purge runs meanwhile), and prints their status.
func changeHolds(g *Globals, a *legalHoldAccounts, set bool) error {
	p, err := g.Path()
	if err != nil {
		return err
	}
	entries, err := a.resolve(p)
	if err != nil {
		return err
	}
	lock, err := pathlock.Acquire(p.Root, "legalHold")
	if err != nil {
		return err
	}
	defer lock.Release()
	holds, err := purge.ReadLegalHold(p)
	if err != nil {
		return err
	}
	now := time.Now().UTC().Truncate(time.Second)
	for _, e := range entries {
		switch _, held := holds[e.ID]; {
		case set && !held:
			h := purge.Hold{ID: e.ID, Set: now}
			if e.Account != nil {
				h.Name = e.Account.Name
			}
			holds[e.ID] = h
		case !set:
			delete(holds, e.ID)
		}
	}
	if err := purge.WriteLegalHold(p, holds); err != nil {
		return fmt.Errorf("legal hold: %w", err)
	}
	return printHolds(g, entries, holds)
}
