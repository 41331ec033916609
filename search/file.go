package search

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"

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

// maxMeta bounds the meta section FileRoot reads.
const maxMeta = 64 << 20

// FileRoot is the Backup Path a search index file indexes (its meta's
// root), whatever its format version: what `cbfs cache prune` judges the
// file by. Only the trailer and the meta section are read.
func FileRoot(file string) (string, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%w: not a regular file", ErrCorrupt)
	}
	size := fi.Size()
	trailer := int64(nSections*16 + len(magic))
	if size < int64(len(magic))+trailer {
		return "", fmt.Errorf("%w: %d bytes", ErrCorrupt, size)
	}
	tr := make([]byte, trailer)
	if _, err := f.ReadAt(tr, size-trailer); err != nil {
		return "", err
	}
	if string(tr[len(tr)-len(magic):]) != magic {
		return "", fmt.Errorf("%w: no magic", ErrCorrupt)
	}
	off := binary.LittleEndian.Uint64(tr[secMeta*16:])
	n := binary.LittleEndian.Uint64(tr[secMeta*16+8:])
	if off > uint64(size) || n > uint64(size)-off || n > maxMeta {
		return "", fmt.Errorf("%w: meta out of the file", ErrCorrupt)
	}
	raw := make([]byte, n)
	if _, err := f.ReadAt(raw, int64(off)); err != nil {
		return "", err
	}
	var m struct {
		Root string `json:"root"`
	}
	if err := json.Unmarshal(raw, &m); err != nil || m.Root == "" {
		return "", fmt.Errorf("%w: no root in its meta", ErrCorrupt)
	}
	return m.Root, nil
}
