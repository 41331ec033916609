package ctl

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

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
	return `Compares the account as it was at the moment from with the account at the moment to (each item's state in force then, the rule of the mount's at/<day>/ and every restore) and lists, one line each: items added (live at to, not at from), deleted (live at from, not at to), moved (FOLDER -> FOLDER), reflagged (FLAGS -> FLAGS, "-" for none), and folders renamed, moved or deleted. Folders are shown by their path as the account's folder tree was at each date. What changed and changed back in between is not listed. Both dates follow the same rule: a bare date is the END of that day, so "from 01/03/2024 to 05/03/2024" lists the changes made on 02/03 to 05/03; to include the changes of 01/03, give from 29/02/2024 or a time (from "01/03/2024 00:00:00"). A from after to is a usage error (exit 2). Item files that cannot be read are skipped with a warning and make the exit status 1.

Example: cbctl backup getChanges john@example.com from 01/03/2024 to 05/03/2024 --json`
}

// changeOut is one change in getChanges's JSON output.
type changeOut struct {
	mailbox.Change
	Type string `json:"type"`
}

// changesOut is getChanges's JSON output.
type changesOut struct {
	Account string      `json:"account"`
	ID      string      `json:"accountId"`
	From    time.Time   `json:"from"`
	To      time.Time   `json:"to"`
	Changes []changeOut `json:"changes"`
	Skipped []int       `json:"skippedItems,omitempty"` // item files that could not be read
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
	changes, err := mailbox.Changes(items, from, to)
	if errors.Is(err, mailbox.ErrChangesOrder) {
		return cli.Usagef("from is after to")
	}
	if err != nil {
		return err
	}
	out := changesOut{Account: acct.Name, ID: acct.ID, From: from.UTC(), To: to.UTC(), Changes: []changeOut{}}
	for _, ch := range changes {
		out.Changes = append(out.Changes, changeOut{Change: ch, Type: ch.Type.String()})
	}
	for _, it := range bad {
		out.Skipped = append(out.Skipped, it.ID)
		g.warnf("account %s item %d: %s: %s", acct.Name, it.ID, it.ErrClass, it.Err)
	}
	if g.JSON {
		err = printJSON(g.Stdout, out)
	} else {
		err = printChanges(g, out)
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

// printChanges writes the text listing: a header line, then one line per
// change, aligned.
func printChanges(g *Globals, out changesOut) error {
	fmt.Fprintf(g.Stdout, "account %s: %d change(s) from %s to %s\n", out.Account, len(out.Changes), formatDateZ(out.From), formatDateZ(out.To))
	tw := tabwriter.NewWriter(g.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "KIND\tID\tTYPE\tWHAT\tSUBJECT\n")
	for _, ch := range out.Changes {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", ch.Kind, ch.ItemID, ch.Type, changeWhat(ch.Change), grammar.OneLine(ch.Subject))
	}
	return tw.Flush()
}

// changeWhat is the WHAT column: where the item was and went.
func changeWhat(ch mailbox.Change) string {
	folder := func(path string, id int) string {
		if path == "" {
			return fmt.Sprint(id)
		}
		return path
	}
	self := func(path, name string) string {
		if path == "" {
			return name
		}
		return path
	}
	isFolder := ch.Type == mailbox.TypeFolder
	switch ch.Kind {
	case mailbox.ChangeAdded:
		if isFolder {
			return self(ch.ToPath, ch.ToName)
		}
		return folder(ch.ToFolder, ch.ToFolderID)
	case mailbox.ChangeDeleted:
		if isFolder {
			return self(ch.FromPath, ch.FromName)
		}
		return folder(ch.FromFolder, ch.FromFolderID)
	case mailbox.ChangeReflagged:
		return fmt.Sprintf("%s: %s -> %s", folder(ch.ToFolder, ch.ToFolderID), orDash(*ch.FromFlags), orDash(*ch.ToFlags))
	}
	if isFolder { // renamed or moved
		return self(ch.FromPath, ch.FromName) + " -> " + self(ch.ToPath, ch.ToName)
	}
	return folder(ch.FromFolder, ch.FromFolderID) + " -> " + folder(ch.ToFolder, ch.ToFolderID)
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
