package operations

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/restore"
	"github.com/cbfs/cbfs/search"
)

// SearchRestore is doItemRestore's query (issue #23): restore every
// message item the search index finds instead of one item. Its dry run is
// every restore's (DryRun): the report of what would be restored.
type SearchRestore struct {
	Query string `pair:"query" name:"query" placeholder:"QUERY" help:"Restore every message item that this full-text query finds (doItemSearch query's language; the search index that doIndexMessages builds must exist), each in the state it found (a deleted one in its last state before the deletion), instead of one item."`
}

// checkQuery: query without itemId, a query that parses.
func (q *SearchRestore) checkQuery(item int, target func() error) error {
	if item != 0 {
		return errors.New("itemId and query: give one or the other")
	}
	if _, err := search.Parse(q.Query); err != nil {
		return fmt.Errorf("query: %w", err)
	}
	return target()
}

// hits runs the query on the search index of the Backup Path src.
func (q *SearchRestore) hits(src *backuppath.Path, account string) ([]search.Hit, error) {
	return searchHits(src, account, q.Query)
}

// searchHits runs query on the search index of the Backup Path src (of
// account's items only, when given): every hit, as doItemSearch query
// finds them (doItemRestore query, doExportMessages query).
func searchHits(src *backuppath.Path, account, q string) ([]search.Hit, error) {
	query, err := search.Parse(q)
	if err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	var opt search.SearchOptions
	if account != "" {
		a, err := src.FindAccount(account)
		if err != nil {
			return nil, err
		}
		opt.AccountIDs = []string{a.ID}
	}
	file, err := search.DefaultFile(src.Root)
	if err != nil {
		return nil, err
	}
	ix, err := search.Open(file)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no search index of %s: run doIndexMessages first", src.Root)
	}
	if err != nil {
		return nil, err
	}
	defer ix.Close()
	if ix.Meta().Root != src.Root {
		return nil, fmt.Errorf("%s indexes %s, not %s", file, ix.Meta().Root, src.Root)
	}
	hits, _, err := ix.Search(query, opt)
	return hits, err
}

func (q *SearchRestore) restoreQuery(ctx context.Context, src *backuppath.Path, account string, tgt restore.Target, l *restore.Ledger, opt restore.Options) (*restore.Report, error) {
	hits, err := q.hits(src, account)
	if err != nil {
		return nil, err
	}
	sel := make([]restore.Selected, len(hits))
	for i, h := range hits {
		sel[i] = restore.Selected{AccountID: h.AccountID, ItemID: h.ItemID, At: h.StateDate}
	}
	return restore.SelectedRestore(ctx, src, sel, tgt, l, opt)
}
