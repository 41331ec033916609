package blob

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/cbfs/cbfs/internal/atomicfile"
	"github.com/cbfs/cbfs/internal/confined"
)

// Walk calls fn for every blob file under items/ in sorted order (folders,
// then names). name is the file's path relative to the Backup Path root
// (items/<xx>/<name>). Names that are not digests, digests in the wrong
// folder (not their first two characters) and stray entries directly in
// items/ are passed with ok=false (and d empty) so callers can report them;
// temporary files (atomicfile.TempPrefix) are skipped. An entry is passed
// whatever its type: a folder, FIFO or symbolic link with a digest's name is
// ok=true, and reading it reports it unreadable. Nothing is followed: a
// symlinked items/<xx> is a stray entry (ok=false), and a symlinked items/
// is an error. A missing items/ is an empty store. Walk stops at the first
// error from fn or ctx.
func (s *Store) Walk(ctx context.Context, fn func(name string, d Digest, ok bool) error) error {
	dirs, err := confined.ReadDir(s.root, "items")
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("list blobs: %w", err)
	}
	for _, de := range dirs {
		if err := ctx.Err(); err != nil {
			return err
		}
		dn := de.Name()
		if strings.HasPrefix(dn, atomicfile.TempPrefix) {
			continue
		}
		if !de.IsDir() {
			if err := fn("items/"+dn, "", false); err != nil {
				return err
			}
			continue
		}
		files, err := confined.ReadDir(s.root, "items/"+dn)
		if err != nil {
			return fmt.Errorf("list blobs: %w", err)
		}
		for i, fe := range files {
			if i%1024 == 1023 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			n := fe.Name()
			if strings.HasPrefix(n, atomicfile.TempPrefix) {
				continue
			}
			d := Digest(n)
			ok := len(n) >= 2 && n[:2] == dn && d.Valid()
			if !ok {
				d = ""
			}
			if err := fn("items/"+dn+"/"+n, d, ok); err != nil {
				return err
			}
		}
	}
	return nil
}
