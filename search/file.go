package search

import (
	"fmt"

	"github.com/cbfs/cbfs/statedir"
)

// DefaultFile is where the search index of the Backup Path root lives
// unless told otherwise: beside the mount's index (statedir.CacheFile, the
// one rule), <base>-<hash>.search.
func DefaultFile(root string) (string, error) {
	f, err := statedir.CacheFile(root, ".search")
	if err != nil {
		return "", fmt.Errorf("%w: name the search index (index_file)", err)
	}
	return f, nil
}

// Summary is the report's text: what an operation's result shows.
func (r *Report) Summary(file string) string {
	return fmt.Sprintf(`- search index -
File: %s
Accounts: %d (%d left out: unreadable)
Message items: %d (%d item files unreadable), states: %d
Messages (distinct blobs): %d: %d read now, %d already indexed, %d dropped (no state names them)
Truncated (bounds): %d, broken or unreadable: %d (read again next time)
Read: %.1f MB; index: %.1f MB, %d terms; %.1f s`,
		file, r.Accounts, r.AccountErrors, r.Items, r.ItemErrors, r.States,
		r.Messages, r.Indexed, r.Reused, r.Dropped, r.Truncated, r.Broken,
		float64(r.BytesRead)/1e6, float64(r.IndexBytes)/1e6, r.Terms, float64(r.ElapsedMillis)/1000)
}
