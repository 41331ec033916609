package ctl

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cbfs/cbfs/internal/cli"
	"github.com/cbfs/cbfs/search"
)

// queryFlags are doItemSearch's full-text search (issue #23): the query
// runs on the search index that doIndexMessages builds.
type queryFlags struct {
	Query     string `name:"query" placeholder:"QUERY" help:"Full-text search of every message state in the search index (build it with doIndexMessages): words, \"phrases\", from: to: cc: subject: body: attachment: message-id: account: folder: before: after: on: has:attachment is:deleted is:unread is:read is:flagged, AND (default), OR, NOT or -, parentheses. Case and accents are ignored."`
	Limit     int    `name:"limit" placeholder:"N" help:"With query: show the N best hits (default 100; 0: the default, -1: all)."`
	IndexFile string `name:"index-file" placeholder:"FILE" help:"With query: the search index (default: the one doIndexMessages keeps for this Backup Path)."`
}

const queryHelp = `With query "...", searches the full text of every message of every account (or of ACCOUNT) in the search index that doIndexMessages builds, and prints the best hits first, one line per item (its latest matching state): account, id, state date (in the zone of TZ, UTC when unset), deleted, folder, subject, and the path of that state's message under a cbfs mount. search_filter deleted or not_deleted keeps the items whose latest state is deleted, or is not (default: all; is:deleted in the query asks of the matching state instead). before/after/on compare the message's Date (the state's start when it has none), in the date forms of after. search_string, type, after, before, id and raw_metadata are the account search's: with query, say it in the query.

Example: cbctl backup doItemSearch query 'from:john invoice after:2024-03-01 before:2024-04-01'`

// queryResult is doItemSearch query's --json.
type queryResult struct {
	Query string       `json:"query"`
	Index string       `json:"index"`
	Built time.Time    `json:"indexBuilt"`
	Total int          `json:"total"`
	Hits  []search.Hit `json:"hits"`
}

func (c *doItemSearchCmd) runQuery(g *Globals) error {
	if c.SearchString != "" || c.After != "" || c.Before != "" || len(c.ID) > 0 || c.RawMetadata ||
		!strings.EqualFold(strings.TrimSpace(c.Type), "message") {
		return cli.Usagef("query searches messages on its own terms: say search_string, type, after, before and id in the query (before:, after:, ...), and leave raw_metadata out")
	}
	q, err := search.Parse(c.Query)
	if err != nil {
		return cli.Usagef("query: %w", err)
	}
	p, err := g.Path()
	if err != nil {
		return err
	}
	opt := search.SearchOptions{Latest: c.SearchFilter}
	if c.Account != "" {
		acct, err := findAccount(p, c.Account)
		if err != nil {
			return err
		}
		opt.AccountIDs = []string{acct.ID}
	}
	switch {
	case c.Limit == 0:
		opt.Limit = 100
	case c.Limit > 0:
		opt.Limit = c.Limit
	}
	file := c.IndexFile
	if file == "" {
		if file, err = search.DefaultFile(p.Root); err != nil {
			return err
		}
	}
	ix, err := search.Open(file)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("no search index of %s (%s): build it with cbctl backup doIndexMessages", p.Root, file)
	case errors.Is(err, search.ErrCorrupt):
		return fmt.Errorf("%w: rebuild it with cbctl backup doIndexMessages rebuild true", err)
	case err != nil:
		return err
	}
	defer ix.Close()
	if m := ix.Meta(); m.Root != p.Root {
		return fmt.Errorf("%s is the search index of %s, not of %s", file, m.Root, p.Root)
	}
	hits, total, err := ix.Search(q, opt)
	if err != nil {
		return err
	}
	if g.JSON {
		if hits == nil {
			hits = []search.Hit{}
		}
		return printJSON(g.Stdout, queryResult{Query: c.Query, Index: file, Built: ix.Meta().Built, Total: total, Hits: hits})
	}
	tw := tabwriter.NewWriter(g.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "ACCOUNT\tID\tSTATE (%s)\tDELETED\tFOLDER\tSUBJECT\tPATH\n", zoneName())
	for _, h := range hits {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%t\t%s\t%s\t%s\n", h.Account, h.ItemID, formatDate(h.StateDate), h.Deleted, h.Folder, oneLine(h.Subject, 60), h.MountPath)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if total > len(hits) {
		g.warnf("%d of %d matching items shown (limit N, -1 for all)", len(hits), total)
	}
	return nil
}

// oneLine is s without control characters, at most n runes.
func oneLine(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
