package restore

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cbfs/cbfs/blob"
)

// Classes of unrestored items, as Carbonio names them.
const (
	ClassReadError = "read error" // the item file or its blob cannot be read
	ClassBroken    = "broken"     // readable, but corrupt (bad gzip, digest mismatch, malformed metadata)
	ClassInvalid   = "invalid"    // sound, but the target refused it (IMAP NO, over max_file_size)
	// ClassNotFound is an account asked for by name that the Backup Path
	// does not hold (FailedAccount only).
	ClassNotFound = "not found"
)

// classOf is the class of a source-side error.
func classOf(err error) string {
	if errors.Is(err, blob.ErrBroken) {
		return ClassBroken
	}
	return ClassReadError
}

// Report is the outcome of a restore, kept with the operation.
type Report struct {
	Operation  string          `json:"operation"` // doExternalRestore, doRestoreOnNewAccount, ...
	Source     string          `json:"source"`
	Target     string          `json:"target"`
	Started    time.Time       `json:"started"`
	Finished   time.Time       `json:"finished"`
	Restored   int             `json:"restoredItems"`
	Skipped    int             `json:"skippedItems"`
	Unrestored int             `json:"unrestoredItems"`
	Bytes      int64           `json:"restoredBytes"`
	Accounts   []AccountReport `json:"accounts"`
	// Provisioning is phase 1 of an external restore (nil otherwise).
	Provisioning *ProvisioningReport `json:"provisioning,omitempty"`
	// FailedAccounts could not be restored at all (account_info unreadable,
	// login refused by the target).
	FailedAccounts []FailedAccount `json:"failedAccounts,omitempty"`
	// LeftOut are accounts asked for by name (accounts) that a filter
	// (domains, filter_deleted, skip_system_accounts) left out: not
	// restored, and said so with the filter that excluded them.
	LeftOut []LeftOutAccount `json:"leftOutAccounts,omitempty"`
	// Other counts items of kinds a mail target cannot hold (contacts,
	// appointments, tasks, documents), by type name: not restored, not
	// counted as unrestored.
	Other map[string]int `json:"otherItems,omitempty"`
	// Stopped is set when the operation ended early (stopped, the target
	// went away or is full, the login was refused).
	Stopped string `json:"stopped,omitempty"`
	// Resumable: a rerun as it is can finish it (it was stopped, the
	// target went away): the report says "run the restore again to resume
	// it" only then, not after a refused login or a full target, which a
	// rerun alone does not fix (their reasons say what does).
	Resumable bool `json:"resumable,omitempty"`
	// DryRun (dry_run true): nothing was written; Restored and Bytes are
	// what a restore would write, and each account's Planned lists it.
	DryRun bool `json:"dryRun,omitempty"`
}

// PlannedItem is an item a dry run would restore.
type PlannedItem struct {
	ID     int    `json:"id"`
	Folder string `json:"folder"` // the target folder, "/"-separated
	Bytes  int64  `json:"bytes"`
	// FromEarlier: its state to restore is damaged, and broken_fallback
	// would restore its newest earlier healthy state.
	FromEarlier bool `json:"fromEarlierState,omitempty"`
}

// AccountReport is one account's part of a Report.
type AccountReport struct {
	Account    string           `json:"account"`   // restored into
	AccountID  string           `json:"accountId"` // source account id
	Restored   int              `json:"restored"`
	Skipped    int              `json:"skipped"`
	Unrestored []UnrestoredItem `json:"unrestored,omitempty"`
	// FromEarlier (broken_fallback true) are items whose state to restore
	// had a damaged blob, restored in their newest earlier healthy state
	// (counted in Restored).
	FromEarlier []EarlierState `json:"restoredFromEarlierState,omitempty"`
	// EarlierHealthy (broken_fallback false) are unrestored items whose
	// damaged state has an earlier healthy one broken_fallback would restore.
	EarlierHealthy []EarlierState `json:"earlierHealthyState,omitempty"`
	// Planned (a dry run only) are the items a restore would write, by
	// id.
	Planned []PlannedItem `json:"wouldRestore,omitempty"`
}

// EarlierState is the newest earlier healthy state of an item whose state
// to restore is damaged (mailbox's Item.HealthyBefore).
type EarlierState struct {
	ID     int       `json:"id"`
	Date   time.Time `json:"date"` // the earlier state's start
	Digest string    `json:"digest"`
}

// earlierList renders "277 (21/07/2023 10:00:00), ..." (dates in UTC, as
// Carbonio writes them).
func earlierList(es []EarlierState) string {
	parts := make([]string, len(es))
	for i, x := range es {
		parts[i] = fmt.Sprintf("%d (%s)", x.ID, x.Date.UTC().Format("02/01/2006 15:04:05"))
	}
	return strings.Join(parts, ", ")
}

// UnrestoredItem is one item that could not be restored.
type UnrestoredItem struct {
	ID     int    `json:"id"`
	Class  string `json:"class"` // ClassReadError, ClassBroken, ClassInvalid
	Reason string `json:"reason"`
}

// FailedAccount is an account that could not be restored at all.
type FailedAccount struct {
	Account string `json:"account"`
	Class   string `json:"class"`
	Reason  string `json:"reason"`
}

// LeftOutAccount is an account asked for by name that a filter left out.
type LeftOutAccount struct {
	Account string `json:"account"`
	Reason  string `json:"reason"` // which filter, and how to include it
}

// ProvisioningReport is what phase 1 did.
type ProvisioningReport struct {
	Domains           int      `json:"domains"`
	COS               int      `json:"cos"`
	DistributionLists int      `json:"distributionLists"`
	Accounts          int      `json:"accounts"`
	Folders           int      `json:"folders"`
	Notes             []string `json:"notes,omitempty"` // e.g. no configuration backup found
}

// String is the provisioning phase's report.
func (p *ProvisioningReport) String() string {
	var b strings.Builder
	b.WriteString("- provisioning -\n")
	fmt.Fprintf(&b, "Domains: %d\nClasses of Service: %d\nDistribution Lists: %d\nAccounts: %d\nFolders: %d\n",
		p.Domains, p.COS, p.DistributionLists, p.Accounts, p.Folders)
	for _, n := range p.Notes {
		b.WriteString("note: " + n + "\n")
	}
	return b.String()
}

// String renders the report in Carbonio's shape: "- stats -", then
// "- unrestored items -" per account, then cbfs's additions (the class of
// each unrestored item; items restored from an earlier state, or unrestored
// ones that have an earlier healthy state, "items: 277 (21/07/2023
// 10:00:00)"; provisioning, failed accounts, other items).
func (r *Report) String() string {
	var b strings.Builder
	if r.DryRun {
		b.WriteString("- dry run -\nnothing was written (target, ledger): the counts are what this restore would do now\n\n")
	}
	b.WriteString("- stats -\n")
	fmt.Fprintf(&b, "Restored Items: %d\n", r.Restored)
	fmt.Fprintf(&b, "Skipped Items:  %d\n", r.Skipped)
	fmt.Fprintf(&b, "Unrestored Items: %d\n", r.Unrestored)
	var bad []AccountReport
	for _, a := range r.Accounts {
		if len(a.Unrestored) > 0 {
			bad = append(bad, a)
		}
	}
	if len(bad) > 0 {
		b.WriteString("\n- unrestored items -\n")
		for _, a := range bad {
			ids := make([]int, len(a.Unrestored))
			for i, u := range a.Unrestored {
				ids[i] = u.ID
			}
			fmt.Fprintf(&b, "account: %s\n", a.Account)
			writeIDs(&b, "unrestored items: ", ids)
		}
		b.WriteString("\n- unrestored items by class -\n")
		for _, a := range bad {
			fmt.Fprintf(&b, "account: %s\n", a.Account)
			for _, class := range []string{ClassReadError, ClassBroken, ClassInvalid} {
				var ids []int
				for _, u := range a.Unrestored {
					if u.Class == class {
						ids = append(ids, u.ID)
					}
				}
				if len(ids) > 0 {
					writeIDs(&b, class+": ", ids)
				}
			}
		}
	}
	for _, sec := range []struct {
		title string
		list  func(a AccountReport) []EarlierState
	}{
		{"- restored from an earlier state -", func(a AccountReport) []EarlierState { return a.FromEarlier }},
		{"- an earlier healthy state exists (broken_fallback true restores it) -", func(a AccountReport) []EarlierState { return a.EarlierHealthy }},
	} {
		head := false
		for _, a := range r.Accounts {
			if l := sec.list(a); len(l) > 0 {
				if !head {
					b.WriteString("\n" + sec.title + "\n")
					head = true
				}
				fmt.Fprintf(&b, "account: %s\nitems: %s\n", a.Account, earlierList(l))
			}
		}
	}
	if r.DryRun {
		r.writePlanned(&b)
	}
	if len(r.FailedAccounts) > 0 {
		b.WriteString("\n- accounts not restored -\n")
		for _, f := range r.FailedAccounts {
			fmt.Fprintf(&b, "account: %s\n%s: %s\n", f.Account, f.Class, f.Reason)
		}
	}
	if len(r.LeftOut) > 0 {
		b.WriteString("\n- accounts asked for but left out -\n")
		for _, l := range r.LeftOut {
			fmt.Fprintf(&b, "account: %s\n%s\n", l.Account, l.Reason)
		}
	}
	if r.Provisioning != nil {
		b.WriteString("\n")
		b.WriteString(r.Provisioning.String())
	}
	if len(r.Other) > 0 {
		b.WriteString("\n- items a mail target cannot hold (not restored) -\n")
		for _, k := range sortedKeys(r.Other) {
			fmt.Fprintf(&b, "%s: %d\n", k, r.Other[k])
		}
	}
	if r.Stopped != "" {
		fmt.Fprintf(&b, "\n- stopped -\n%s\n", r.Stopped)
		if r.Resumable {
			b.WriteString("run the restore again to resume it\n")
		}
	}
	return b.String()
}

// writePlanned writes a dry run's "- would restore -" section: per
// account, per target folder, the item ids.
func (r *Report) writePlanned(b *strings.Builder) {
	head := false
	for _, a := range r.Accounts {
		if len(a.Planned) == 0 {
			continue
		}
		if !head {
			b.WriteString("\n- would restore -\n")
			head = true
		}
		fmt.Fprintf(b, "account: %s\n", a.Account)
		byFolder := map[string][]int{}
		for _, p := range a.Planned {
			byFolder[p.Folder] = append(byFolder[p.Folder], p.ID)
		}
		for _, f := range sortedKeys(byFolder) {
			writeIDs(b, f+": ", byFolder[f])
		}
	}
}

// Item lists in a report: at most maxListedIDs ids, then how many more;
// lines wrapped at reportWidth columns, continued indented by two spaces.
const (
	maxListedIDs = 50
	reportWidth  = 78
)

// writeIDs writes head and ids, comma-separated as Carbonio writes them,
// wrapped, the first maxListedIDs only and then "and N more".
func writeIDs(b *strings.Builder, head string, ids []int) {
	line := head
	for i, id := range ids {
		if i == maxListedIDs {
			b.WriteString(line + "\n")
			fmt.Fprintf(b, "  and %d more\n", len(ids)-maxListedIDs)
			return
		}
		word := strconv.Itoa(id)
		if i < len(ids)-1 && i < maxListedIDs-1 {
			word += ","
		}
		if len(line)+len(word) > reportWidth && line != head && line != "  " {
			b.WriteString(line + "\n")
			line = "  "
		}
		line += word
	}
	b.WriteString(line + "\n")
}

// Details renders every unrestored item with its reason, one per line
// (for logs and `monitor`).
func (r *Report) Details() string {
	var b strings.Builder
	for _, a := range r.Accounts {
		for _, u := range a.Unrestored {
			fmt.Fprintf(&b, "%s %d %s: %s\n", a.Account, u.ID, u.Class, u.Reason)
		}
	}
	return b.String()
}

// sortAccounts orders the per-account parts by account name.
func (r *Report) sortAccounts() {
	sort.SliceStable(r.Accounts, func(i, j int) bool { return r.Accounts[i].Account < r.Accounts[j].Account })
	for i := range r.Accounts {
		u := r.Accounts[i].Unrestored
		sort.Slice(u, func(a, b int) bool { return u[a].ID < u[b].ID })
		for _, l := range [][]EarlierState{r.Accounts[i].FromEarlier, r.Accounts[i].EarlierHealthy} {
			sort.Slice(l, func(a, b int) bool { return l[a].ID < l[b].ID })
		}
		pl := r.Accounts[i].Planned
		sort.SliceStable(pl, func(a, b int) bool { return pl[a].ID < pl[b].ID })
	}
	sort.SliceStable(r.FailedAccounts, func(i, j int) bool { return r.FailedAccounts[i].Account < r.FailedAccounts[j].Account })
	sort.SliceStable(r.LeftOut, func(i, j int) bool { return r.LeftOut[i].Account < r.LeftOut[j].Account })
}
