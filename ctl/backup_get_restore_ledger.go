package ctl

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/cbfs/cbfs/operations"
	"github.com/cbfs/cbfs/restore"
)

// getRestoreLedgerCmd is "backup getRestoreLedger [account A] [target URL]".
type getRestoreLedgerCmd struct {
	OpFlags
	Account string `name:"account" placeholder:"ACCOUNT" help:"Only entries restored into this account."`
	Target  string `name:"target" placeholder:"URL" help:"Only entries of this target (as restores name it, without password)."`
}

// Help is the long help of getRestoreLedger.
func (c *getRestoreLedgerCmd) Help() string {
	return `Lists the restore ledger of the state directory: for every item restored, the source (server id, account id, item id), the target and account it went to, its folder and its id there (Maildir file name, or IMAP mailbox, UIDVALIDITY and UID). Reads a copy of the ledger: a running restore is not disturbed.`
}

func (c *getRestoreLedgerCmd) Run(ctx context.Context, g *Globals) error {
	s, err := c.settings(g)
	if err != nil {
		return err
	}
	entries, err := operations.LedgerMap(s.Dir())
	if err != nil {
		return err
	}
	want := strings.TrimSpace(c.Target)
	if u, err := url.Parse(want); err == nil && u.User != nil {
		u.User = url.User(u.User.Username()) // targets are recorded without password
		want = u.String()
	}
	out := []restore.Entry{}
	for _, e := range entries {
		if c.Account != "" && !strings.EqualFold(e.Account, c.Account) {
			continue
		}
		if want != "" && e.Target != want {
			continue
		}
		out = append(out, e)
	}
	if g.JSON {
		return printJSON(g.Stdout, out)
	}
	fmt.Fprintf(g.Stdout, "%-30s  %-36s  %-8s  %-24s  %-19s  %-30s  %s\n", "ACCOUNT", "SOURCE ACCOUNT", "ITEM", "FOLDER", "RESTORED", "TARGET", "RESTORED ID")
	for _, e := range out {
		fmt.Fprintf(g.Stdout, "%-30s  %-36s  %-8d  %-24s  %-19s  %-30s  %s\n", e.Account, e.SourceAccountID, e.ItemID,
			e.Folder, formatDate(e.At), e.Target, e.RestoredID)
	}
	fmt.Fprintf(g.Stdout, "%d entries\n", len(out))
	return nil
}
