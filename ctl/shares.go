package ctl

import (
	"context"
	"sort"
	"strings"

	"github.com/cbfs/cbfs/backuppath"
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
