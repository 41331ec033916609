package restore

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/mailbox"
)

// Selected is one item a search chose (doItemRestore query): its account
// (id) and the start of the state the search found.
type Selected struct {
	AccountID string
	ItemID    int
	At        time.Time
}

// SelectedRestore restores exactly the items of sel (doItemRestore
// query, issue #23), each as ItemRestore restores one: the state that
// started at At (a deleted state: the item's last live state before it),
// into the account of the same name, in that state's folder. Like every
// restore it goes through the ledger: a second run restores nothing
// twice, a stopped one resumes.
func SelectedRestore(ctx context.Context, src *backuppath.Path, sel []Selected, tgt Target, ledger *Ledger, opt Options) (*Report, error) {
	e, err := newEngine(OpItemRestore, src, tgt, ledger, opt)
	if err != nil {
		return nil, err
	}
	e.seen = map[int]bool{} // runAccount records the items of only it found
	byAccount := map[string]map[int]time.Time{}
	for _, s := range sel {
		if byAccount[s.AccountID] == nil {
			byAccount[s.AccountID] = map[int]time.Time{}
		}
		byAccount[s.AccountID][s.ItemID] = s.At
	}
	ids := make([]string, 0, len(byAccount))
	for id := range byAccount {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var jobs []*job
	for _, id := range ids {
		acct, err := findAccount(src, id)
		if err != nil {
			return nil, fmt.Errorf("item restore: %w", err)
		}
		at := byAccount[id]
		only := make(map[int]bool, len(at))
		for item := range at {
			only[item] = true
		}
		jobs = append(jobs, &job{acct: acct, dst: acct.Name, primary: liveAt(0), only: only,
			pick: func(it *mailbox.Item) (selection, bool) { return pickAt(at[it.ID], true)(it) }})
	}
	return e.finish(e.runJobs(ctx, jobs, "restoring", e.runAccount))
}
