package ctl

import (
	"context"
	"errors"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/internal/cli"
	"github.com/cbfs/cbfs/internal/grammar"
	"github.com/cbfs/cbfs/mailbox"
)

// getChangesCmd is "backup getChanges ACCOUNT from DATE to DATE".
type getChangesCmd struct {
	Account string `arg:"" help:"Account name (case-insensitive) or id."`
	From    string `name:"from" required:"" placeholder:"DATE" help:"The earlier moment (${date_help}; ${moment_help})."`
	To      string `name:"to" required:"" placeholder:"DATE" help:"The later moment (same forms; a bare date is the end of that day too)."`
}

// Help is the long help of getChanges.
func (c *getChangesCmd) Help() string {
	return `Compares the account as it was at the moment from with the account at the moment to (each item's state in force then, the rule of the mount's at/<day>/ and every restore) and lists, one line each: items added (live at to, not at from), deleted (live at from, not at to), moved (FOLDER -> FOLDER), reflagged (FLAGS -> FLAGS, "-" for none), and folders renamed, moved or deleted. Folders are shown by their path as the account's folder tree was at each date. What changed and changed back in between is not listed. Both dates follow the same rule: a bare date is the END of that day, so "from 01/03/2024 to 05/03/2024" lists the changes made on 02/03 to 05/03; to include the changes of 01/03, give from 29/02/2024 or a time (from "01/03/2024 00:00:00"). A from after to is a usage error (exit 2). Item files that cannot be read are skipped with a warning and make the exit status 1. A mount shows this report for each day on which the account changed: accounts/<name>/changes/<YYYY-MM-DD>/changes.txt (and changes.json) is getChanges from the end of the day before to the end of that day (UTC), beside the changed messages themselves.

Example: cbctl backup getChanges john@example.com from 01/03/2024 to 05/03/2024 --json`
}

func (c *getChangesCmd) Run(ctx context.Context, g *Globals) error {
	from, err := grammar.ParseMoment(c.From)
	if err != nil {
		return cli.Usagef("from: bad date %q: want %s", c.From, grammar.DateHelp)
	}
	to, err := grammar.ParseMoment(c.To)
	if err != nil {
		return cli.Usagef("to: bad date %q: want %s", c.To, grammar.DateHelp)
	}
	if from.After(to) {
		return cli.Usagef("from %s is after to %s", formatDateZ(from), formatDateZ(to))
	}
	p, err := g.Path()
	if err != nil {
		return err
	}
	acct, err := findAccount(p, c.Account)
	if err != nil {
		return err
	}
	items, bad, err := readAccountItems(ctx, p, acct.ID)
	if err != nil {
		return err
	}
	out, err := mailbox.NewChangeReport(acct.Name, acct.ID, append(items, bad...), from, to)
	if errors.Is(err, mailbox.ErrChangesOrder) {
		return cli.Usagef("from is after to")
	}
	if err != nil {
		return err
	}
	for _, it := range bad {
		g.warnf("account %s item %d: %s: %s", acct.Name, it.ID, it.ErrClass, it.Err)
	}
	if g.JSON {
		err = out.JSON(g.Stdout)
	} else {
		err = out.Text(g.Stdout)
	}
	if err != nil {
		return err
	}
	if len(bad) > 0 {
		g.warnf("account %s: %d item file(s) could not be read and were skipped", acct.Name, len(bad))
		return &exitError{code: ExitError}
	}
	return nil
}

// readAccountItems reads every item file of an account, ReadWorkers at a
// time, the copy that counts of an id found twice (backuppath.ItemFiles'
// order). Files that could not be read come back in bad (Err set), not in
// items.
func readAccountItems(ctx context.Context, p *backuppath.Path, accountID string) (items, bad []*mailbox.Item, err error) {
	files, _, err := p.ItemFiles(accountID)
	if err != nil {
		return nil, nil, err
	}
	res := make([]*mailbox.Item, len(files))
	backuppath.Parallel(len(files), func(i int) {
		if ctx.Err() != nil || (i > 0 && files[i-1].ItemID == files[i].ItemID) {
			return
		}
		it, err := p.ReadItemFile(files[i].RelPath, files[i].ItemID)
		if err != nil {
			it = &mailbox.Item{ID: files[i].ItemID, RelPath: files[i].RelPath, Err: itemReason(err), ErrClass: blob.Class(err)}
		}
		res[i] = it
	})
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	for _, it := range res {
		switch {
		case it == nil:
		case it.Err != "":
			bad = append(bad, it)
		default:
			items = append(items, it)
		}
	}
	return items, bad, nil
}
