package search

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
)

// DefaultFile is where the search index of the Backup Path root lives
// unless told otherwise: beside the mount's index (cmd/cbfs
// defaultIndexPath, the same folder rule), outside the Backup Path, named
// from a hash of root so that two paths never share one:
// $XDG_CACHE_HOME/cbfs, else /var/cache/cbfs for root, else
// ~/.cache/cbfs; the file <base>-<hash>.search.
func DefaultFile(root string) (string, error) {
	var dir string
	switch x := os.Getenv("XDG_CACHE_HOME"); {
	case x != "" && filepath.IsAbs(x):
		dir = filepath.Join(x, "cbfs")
	case os.Geteuid() == 0:
		dir = "/var/cache/cbfs"
	default:
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("no cache folder for the search index (%w): name one (index_file)", err)
		}
		dir = filepath.Join(home, ".cache", "cbfs")
	}
	sum := sha256.Sum256([]byte(root))
	return filepath.Join(dir, filepath.Base(root)+"-"+hex.EncodeToString(sum[:8])+".search"), nil
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
