package ctl

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/internal/cli"
	"github.com/cbfs/cbfs/internal/confined"
	"github.com/cbfs/cbfs/mailbox"
)

// doItemSearchCmd is "backup doItemSearch ACCOUNT".
type doItemSearchCmd struct {
	Account      string `arg:"" optional:"" help:"Account name (case-insensitive) or id; with query, optional (default: every account)."`
	SearchString string `name:"search-string" placeholder:"TEXT" help:"Text to find, case-sensitively (as Carbonio), in the subject, from, to or name of any state."`
	Type         string `name:"type" default:"message" placeholder:"TYPE" help:"Item type: message (default, as Carbonio), contact, appointment, task, document, folder, search, tag, conversation, chat, or all."`
	After        string `name:"after" placeholder:"DATE" help:"Only items with a state that started at or after this date (${date_help})."`
	Before       string `name:"before" placeholder:"DATE" help:"Only items with a state that started before this date; a bare date (dd/MM/yyyy) includes that whole day, so after D before D is the day D."`
	ID           []int  `name:"id" placeholder:"ITEM" help:"Only these item ids (comma-separated)."`
	RawMetadata  bool   `name:"raw-metadata" help:"Also print each hit's item file as it is in the Backup Path (its raw metadata), after its row; with --json, as rawMetadata."`
	SearchFilter string `name:"search-filter" default:"" enum:"all,deleted,not_deleted," placeholder:"deleted|not_deleted|all" help:"Deleted state of the item's latest state: deleted (default, as Carbonio: what a restore brings back), not_deleted or all. With query: default all."`
	queryFlags
}

// Help is the long help of doItemSearch.
func (c *doItemSearchCmd) Help() string {
	return `Reads every item of the account. Prints one line per matching item, sorted by id: id, type, start date of the latest state (in the zone of TZ, UTC when unset), deleted, folder, subject (or name). Items whose file cannot be read are reported on stderr and skipped.

Example: cbctl backup doItemSearch john@example.com search_string invoice type message after 01/01/2024 search_filter deleted

` + queryHelp
}

// searchHit is one doItemSearch result.
type searchHit struct {
	ID         int    `json:"id"`
	Type       string `json:"type"`
	LatestDate string `json:"latestStartDate"` // RFC 3339, UTC
	Deleted    bool   `json:"deleted"`
	FolderID   int    `json:"folderId"`
	Folder     string `json:"folderPath,omitempty"`
	Subject    string `json:"subject,omitempty"`
	States     int    `json:"states"`
	Raw        any    `json:"rawMetadata,omitempty"`
	latest     time.Time
}

func (c *doItemSearchCmd) Run(ctx context.Context, g *Globals) error {
	if c.Query != "" {
		return c.runQuery(g)
	}
	if c.Account == "" {
		return cli.Usagef("an account is required (or query \"...\" for a full-text search of every account)")
	}
	if c.Limit != 0 || c.IndexFile != "" {
		return cli.Usagef("limit and index_file go with query")
	}
	var wantType mailbox.ItemType
	if t := strings.ToLower(strings.TrimSpace(c.Type)); t != "all" && t != "" {
		var err error
		if wantType, err = mailbox.ParseItemType(t); err != nil {
			return cli.Usagef("type: %w", err)
		}
	}
	after, err := parseOptDate("after", c.After)
	if err != nil {
		return err
	}
	before, err := parseEndDate("before", c.Before)
	if err != nil {
		return err
	}
	if !after.IsZero() && !before.IsZero() && !before.After(after) {
		return cli.Usagef("before (%s) must be later than after (%s)", formatDate(before), formatDate(after))
	}
	p, err := g.Path()
	if err != nil {
		return err
	}
	acct, err := findAccount(p, c.Account)
	if err != nil {
		return err
	}
	files, _, err := p.ItemFiles(acct.ID)
	if err != nil {
		return err
	}
	// One pass over the item files, read ReadWorkers at a time (a cold
	// disk serves several reads together), each result in its file's slot
	// so that hits and warnings keep the files' order. The folder tree is
	// built from the same reads: no second pass.
	type result struct {
		hit    *searchHit
		folder *mailbox.Folder
		err    error
	}
	res := make([]result, len(files))
	backuppath.Parallel(len(files), func(i int) {
		f := files[i]
		if ctx.Err() != nil || (len(c.ID) > 0 && !slices.Contains(c.ID, f.ItemID)) {
			return
		}
		it, err := p.ReadItemFile(f.RelPath, f.ItemID)
		if err != nil {
			res[i].err = err
			return
		}
		if fo, ok := folderOf(it); ok {
			res[i].folder = &fo
		}
		res[i].hit = c.match(p, f, it, wantType, after, before)
	})
	if err := ctx.Err(); err != nil {
		return err
	}
	var found []mailbox.Folder
	for i, r := range res {
		if r.folder != nil && (i == 0 || files[i-1].ItemID != files[i].ItemID) { // a duplicate: the first is the copy that counts
			found = append(found, *r.folder)
		}
	}
	fold := newFolders(p, acct.ID)
	if len(c.ID) == 0 {
		fold.setTree(found) // every folder was read
	}
	hits := []searchHit{}
	bad := 0
	for i, r := range res {
		if r.err != nil {
			bad++
			g.warnf("account %s item %d: %s: %s", acct.Name, files[i].ItemID, blob.Class(r.err), itemReason(r.err))
		}
		if r.hit != nil {
			r.hit.Folder = fold.Path(r.hit.FolderID)
			hits = append(hits, *r.hit)
		}
	}
	if bad > 0 {
		g.warnf("account %s: %d item file(s) could not be read and were skipped", acct.Name, bad)
	}
	if g.JSON {
		return printJSON(g.Stdout, hits)
	}
	tw := tabwriter.NewWriter(g.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "ID\tTYPE\tLATEST START (%s)\tDELETED\tFOLDER\tSUBJECT\n", zoneName())
	for _, h := range hits {
		folder := h.Folder
		if folder == "" {
			folder = fmt.Sprint(h.FolderID)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%t\t%s\t%s\n", h.ID, h.Type, formatDate(h.latest), h.Deleted, folder, h.Subject)
		if h.Raw != nil {
			if err := tw.Flush(); err != nil {
				return err
			}
			raw := h.Raw
			if r, ok := raw.(json.RawMessage); ok {
				raw = strings.TrimSpace(string(r))
			}
			fmt.Fprintf(g.Stdout, "%s\n", raw)
		}
	}
	return tw.Flush()
}

// match is the hit item it makes (its Folder not yet named), or nil.
func (c *doItemSearchCmd) match(p *backuppath.Path, f backuppath.ItemFile, it *mailbox.Item, wantType mailbox.ItemType, after, before time.Time) *searchHit {
	last := it.Latest()
	if wantType != 0 && last.Type != wantType {
		return nil
	}
	switch c.SearchFilter {
	case "deleted", "":
		if !last.Deleted {
			return nil
		}
	case "not_deleted":
		if last.Deleted {
			return nil
		}
	}
	if !matchDates(it, after, before) || !matchText(it, c.SearchString) {
		return nil
	}
	h := &searchHit{ID: it.ID, Type: last.Type.String(), Deleted: last.Deleted, FolderID: last.FolderID,
		Subject: itemTitle(it), States: len(it.States), latest: last.Start.Time()}
	if !h.latest.IsZero() {
		h.LatestDate = h.latest.Format(time.RFC3339)
	}
	if c.RawMetadata {
		raw, err := confined.ReadFile(p.Root, f.RelPath, backuppath.MaxMetadataFile)
		switch {
		case err != nil:
			h.Raw = "unreadable: " + errReason(err)
		case json.Valid(raw):
			h.Raw = json.RawMessage(raw)
		default:
			h.Raw = string(raw)
		}
	}
	return h
}

// matchDates: some state started in [after, before).
func matchDates(it *mailbox.Item, after, before time.Time) bool {
	if after.IsZero() && before.IsZero() {
		return true
	}
	for _, s := range it.States {
		t := s.Start.Time()
		if (after.IsZero() || !t.Before(after)) && (before.IsZero() || t.Before(before)) {
			return true
		}
	}
	return false
}

// matchText: needle, case-sensitively (Carbonio's search_string is), in
// subject, from, to or name of any state.
func matchText(it *mailbox.Item, needle string) bool {
	if needle == "" {
		return true
	}
	for _, s := range it.States {
		for _, f := range []string{s.Subject, s.From, s.To, s.Name} {
			if strings.Contains(f, needle) {
				return true
			}
		}
	}
	return false
}

// itemTitle is the latest non-empty subject or name.
func itemTitle(it *mailbox.Item) string {
	for i := len(it.States) - 1; i >= 0; i-- {
		if s := it.States[i]; s.Subject != "" {
			return s.Subject
		} else if s.Name != "" {
			return s.Name
		}
	}
	return ""
}
