package statedir

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
)

// CacheFile is where cbfs keeps a file it derives from the Backup Path
// root (the mount's index, ext ".db"; the search index, ".search") unless
// told otherwise: outside the Backup Path, in $XDG_CACHE_HOME/cbfs, else
// /var/cache/cbfs for root, else ~/.cache/cbfs, named from a hash of root
// so that two paths never share one. The one rule for both, so the search
// index lies beside the index cbfs serve keeps current.
func CacheFile(root, ext string) (string, error) {
	var dir string
	switch x := os.Getenv("XDG_CACHE_HOME"); {
	case x != "" && filepath.IsAbs(x):
		dir = filepath.Join(x, "cbfs")
	case os.Geteuid() == 0:
		dir = "/var/cache/cbfs"
	default:
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("no cache folder: %w", err)
		}
		dir = filepath.Join(home, ".cache", "cbfs")
	}
	sum := sha256.Sum256([]byte(root))
	return filepath.Join(dir, filepath.Base(root)+"-"+hex.EncodeToString(sum[:8])+ext), nil
}
