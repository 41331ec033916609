package ctl

import (
	"context"
	"errors"
	"fmt"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/mailbox"
)

// getAccountInfoCmd is "backup getAccountInfo ACCOUNT".
type getAccountInfoCmd struct {
	Account     string `arg:"" help:"Account name (case-insensitive) or id."`
	Date        string `name:"date" default:"most_recent" placeholder:"most_recent|least_recent|all|DATE" help:"Which account information: most_recent (default), least_recent, all, or the one in force at DATE. A Backup Path keeps one account_info per account (the latest), so all three words show it; DATE shows it if the account existed then (created before DATE, not yet deleted) and fails otherwise. ${date_help}; ${moment_help}."`
	BackupStats bool   `name:"backupstats" help:"Also count by reading the account's items: items, states, damaged items (item file unreadable or malformed, or a blob of any state broken or unreadable). Every blob is read and its digest checked, so this takes as long as reading the account's mail."`
}

// Help is the long help of getAccountInfo.
func (c *getAccountInfoCmd) Help() string {
	return `Prints account_info and account_stat; with backupstats true, then counts made by reading the account's items. Dates are in the zone of TZ (UTC when unset).

Example: cbctl backup getAccountInfo john@example.com backupstats true`
}

// accountInfoOut is getAccountInfo's JSON output.
type accountInfoOut struct {
	Account   *mailbox.Account        `json:"accountInfo"`
	Stat      *backuppath.AccountStat `json:"accountStat,omitempty"`
	StatError string                  `json:"accountStatError,omitempty"`
	// Counted with backupstats true only (absent otherwise).
	Items      *int     `json:"items,omitempty"`
	States     *int     `json:"states,omitempty"`
	Damaged    *int     `json:"damagedItems,omitempty"`
	DamagedIDs []int    `json:"damagedItemIds,omitempty"`
	OtherFiles []string `json:"otherFiles,omitempty"` // files under items/ that are not item files
}

func (c *getAccountInfoCmd) Run(ctx context.Context, g *Globals) error {
	p, err := g.Path()
	if err != nil {
		return err
	}
	acct, err := findAccount(p, c.Account)
	if err != nil {
		return err
	}
	sel, err := parseDateSel(c.Date, "most_recent", "least_recent", selAll)
	if err != nil {
		return err
	}
	if sel.Kind == selAt {
		at := mailbox.MillisOf(sel.At)
		switch {
		case acct.Created != 0 && acct.Created > at:
			return fmt.Errorf("account %s did not exist yet at %s (created %s)", acct.Name, formatDate(sel.At), formatDate(acct.Created.Time()))
		case acct.DeletedDate != 0 && acct.DeletedDate <= at:
			return fmt.Errorf("account %s was already deleted at %s (deleted %s)", acct.Name, formatDate(sel.At), formatDate(acct.DeletedDate.Time()))
		}
	}
	out := accountInfoOut{Account: acct}
	if st, err := p.ReadAccountStat(acct.ID); err == nil {
		out.Stat = st
	} else if !errors.Is(err, blob.ErrMissing) {
		out.StatError = errReason(err)
	}
	if c.BackupStats {
		if err := c.count(ctx, p, acct, &out); err != nil {
			return err
		}
	}
	if g.JSON {
		return printJSON(g.Stdout, out)
	}
	w := g.Stdout
	a := acct
	kv(w, configIndent, "name", a.Name)
	kv(w, configIndent, "id", a.ID)
	kv(w, configIndent, "status", a.Status)
	if a.DisplayName != "" {
		kv(w, configIndent, "display name", a.DisplayName)
	}
	kv(w, configIndent, "cos", cosLabel(a))
	if a.Created != 0 {
		kv(w, configIndent, "created date", formatDate(a.Created.Time()))
	}
	if a.DeletedDate != 0 {
		kv(w, configIndent, "deleted date", formatDate(a.DeletedDate.Time()))
	}
	if a.BackupEnabled != nil {
		kv(w, configIndent, "backup enabled", *a.BackupEnabled)
	}
	for _, k := range sortedKeys(a.Attrs) {
		kv(w, configIndent, k, rawString(a.Attrs[k]))
	}
	for _, k := range sortedKeys(a.Extra) {
		kv(w, configIndent, k, rawString(a.Extra[k]))
	}
	if out.Stat != nil {
		kv(w, configIndent, "last item id", out.Stat.LastItemID)
		if out.Stat.LastScan != 0 {
			kv(w, configIndent, "last scan date", formatDate(out.Stat.LastScan.Time()))
		}
		kv(w, configIndent, "item count (account_stat)", out.Stat.ItemCount)
		kv(w, configIndent, "blob bytes (account_stat)", out.Stat.BlobBytes)
	}
	if out.StatError != "" {
		kv(w, configIndent, "account_stat", out.StatError)
	}
	if out.Items != nil {
		kv(w, configIndent, "items", *out.Items)
		kv(w, configIndent, "states", *out.States)
		kv(w, configIndent, "damaged items", *out.Damaged)
		if len(out.DamagedIDs) > 0 {
			kv(w, configIndent, "damaged item ids", joinInts(out.DamagedIDs))
		}
	}
	for _, o := range out.OtherFiles {
		g.warnf("%s: not an item file", o)
	}
	return nil
}

// count reads the account's items (backupstats true).
func (c *getAccountInfoCmd) count(ctx context.Context, p *backuppath.Path, acct *mailbox.Account, out *accountInfoOut) error {
	files, others, err := p.ItemFiles(acct.ID)
	if err != nil {
		return err
	}
	out.OtherFiles = others
	items, states := 0, 0
	out.DamagedIDs = []int{}
	chk := newChecker(p)
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		items++
		it, err := p.ReadItemFile(f.RelPath, f.ItemID)
		if err != nil {
			out.DamagedIDs = append(out.DamagedIDs, f.ItemID)
			continue
		}
		states += len(it.States)
		for _, s := range it.States {
			if st := chk.Check(s.Digest, s.Size); st.Status != "ok" && st.Status != "none" {
				out.DamagedIDs = append(out.DamagedIDs, f.ItemID)
				break
			}
		}
	}
	damaged := len(out.DamagedIDs)
	out.Items, out.States, out.Damaged = &items, &states, &damaged
	return nil
}

func cosLabel(a *mailbox.Account) string {
	switch {
	case a.COSName != "" && a.COSID != "":
		return fmt.Sprintf("%s (%s)", a.COSName, a.COSID)
	case a.COSName != "":
		return a.COSName
	case a.COSID != "":
		return a.COSID
	}
	return "-"
}

func joinInts(ids []int) string {
	s := ""
	for i, id := range ids {
		if i > 0 {
			s += ","
		}
		s += fmt.Sprint(id)
	}
	return s
}
