package backuppath

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/cbfs/cbfs/internal/atomicfile"
	"github.com/cbfs/cbfs/internal/confined"
)

// LeftoverMinAge is how old a leftover temporary file must be before
// doCoherencyCheck's fix or doPurge removes it. Writers hold the Backup
// Path's writer lock (internal/pathlock), so a younger one can only be a
// write of another program or host in progress: never touched.
const LeftoverMinAge = time.Hour

// Leftover is a temporary file (or folder) of an interrupted write: a name
// starting with atomicfile.TempPrefix (".cbfs-tmp-") anywhere under the
// Backup Path but quarantine/. Readers skip such names; a kill -9 between
// the temp file's creation and its rename leaves one behind.
type Leftover struct {
	RelPath string    // relative to the root, slash-separated
	ModTime time.Time // its own (not followed) mtime
	Size    int64
	Dir     bool // a folder (doPurge renames accounts to a temp name first)
}

// Age is how old the leftover is at now.
func (l Leftover) Age(now time.Time) time.Duration { return now.Sub(l.ModTime) }

// Leftovers finds every leftover temporary file, walking the whole Backup
// Path (confined: no symbolic link is followed), sorted by path. Folders
// that cannot be listed are skipped.
func (p *Path) Leftovers(ctx context.Context) ([]Leftover, error) {
	var out []Leftover
	var walk func(rel string) error
	walk = func(rel string) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		ents, err := confined.ReadDir(p.Root, rel)
		if err != nil {
			return nil // unreadable folders are other checks' business
		}
		for _, e := range ents {
			child := filepath.Join(rel, e.Name())
			if strings.HasPrefix(e.Name(), atomicfile.TempPrefix) {
				l := Leftover{RelPath: filepath.ToSlash(child), Dir: e.IsDir()}
				if fi, err := e.Info(); err == nil {
					l.ModTime, l.Size = fi.ModTime(), fi.Size()
				}
				out = append(out, l)
				continue
			}
			if e.IsDir() && !(rel == "." && e.Name() == "quarantine") {
				if err := walk(child); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk("."); err != nil {
		return out, err
	}
	return out, nil
}

// RemoveLeftover removes a leftover found by Leftovers (a folder with its
// contents). It refuses a name that is not a temporary name, and a path
// whose folders are no longer plain folders (a symbolic link put there
// since). The removal itself works on folder descriptors opened beneath
// the root (unlinkat): a folder swapped for a link while it runs is
// never descended into, a link is removed itself.
func (p *Path) RemoveLeftover(l Leftover) error {
	rel := filepath.FromSlash(l.RelPath)
	if !strings.HasPrefix(filepath.Base(rel), atomicfile.TempPrefix) {
		return fmt.Errorf("remove leftover %s: not a temporary name", l.RelPath)
	}
	if err := confined.RemoveAll(p.Root, rel); err != nil {
		return fmt.Errorf("remove leftover: %s", strings.ReplaceAll(err.Error(), p.Root+string(filepath.Separator), ""))
	}
	return nil
}
