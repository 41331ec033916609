package index

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cbfs/cbfs/mailbox"
	"github.com/tidwall/buntdb"
)

// Folders is the account's folder tree as it was at t (the latest if t is
// zero), from the folder items' states, with system folders named by
// mailbox.SystemFolderNames when the backup holds no item for them.
// Sorted by Path.
func (ix *Index) Folders(accountID string, t time.Time) ([]Folder, error) {
	var found []Folder
	err := ix.view(func(tx *buntdb.Tx) error {
		a, err := findAccount(tx, accountID)
		if err != nil {
			return err
		}
		var ids []int
		if err := scanPrefix(tx, seqPrefix(tmplTree, a.Seq), func(k, _ string) bool {
			if id, ok := idOfKey(k); ok {
				ids = append(ids, id)
			}
			return true
		}); err != nil {
			return err
		}
		for _, id := range ids {
			v, err := tx.Get(itemKey(a.Seq, id))
			if err != nil {
				continue
			}
			r, err := decodeItem(v)
			if err != nil {
				return fmt.Errorf("account %s: item %d: %w", accountID, id, err)
			}
			it := Item{ID: id, States: r.States}
			s := it.Latest()
			if !t.IsZero() {
				s = it.StateAt(t)
			}
			if s == nil || s.Deleted || s.Type != mailbox.TypeFolder {
				continue
			}
			found = append(found, Folder{ID: id, ParentID: s.ParentID, Name: s.Name})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return buildTree(found), nil
}

// buildTree adds the missing system folders and computes every Path.
//
// Names are made safe for a path: "/" becomes "_", and an empty, "." or ".."
// name becomes the folder id. The root (id 1) has Path "". A folder whose
// parent is missing, or which sits on a parent cycle, is hung under the root
// with " (<id>)" appended to its name; so is a folder whose name another
// folder under the same parent already has (the lowest id keeps the plain
// name). A folder that records no parent (0) is under the root. Every Path
// is therefore unique.
func buildTree(found []Folder) []Folder {
	byID := make(map[int]*Folder, len(found)+len(mailbox.SystemFolderNames))
	for i := range found {
		f := found[i]
		if f.ParentID == 0 { // no parent recorded: under the root
			f.ParentID = mailbox.FolderRoot
		}
		byID[f.ID] = &f
	}
	for id, name := range mailbox.SystemFolderNames {
		if _, ok := byID[id]; !ok && id != mailbox.FolderRoot {
			byID[id] = &Folder{ID: id, ParentID: mailbox.FolderRoot, Name: name}
		}
	}
	root := &Folder{ID: mailbox.FolderRoot}
	byID[mailbox.FolderRoot] = root

	ids := make([]int, 0, len(byID))
	for id, f := range byID {
		ids = append(ids, id)
		if id != mailbox.FolderRoot {
			f.Name = safeName(f.Name, id)
		}
	}
	sort.Ints(ids)

	// Re-root folders whose chain does not reach the root.
	const (
		unknown = iota
		visiting
		ok
	)
	stateOf := make(map[int]int, len(byID))
	stateOf[mailbox.FolderRoot] = ok
	for _, id := range ids {
		var chain []int
		cur := id
		for stateOf[cur] == unknown {
			stateOf[cur] = visiting
			chain = append(chain, cur)
			p, exists := byID[byID[cur].ParentID]
			if !exists || p.ID == cur {
				reroot(byID[cur])
				break
			}
			if stateOf[p.ID] == visiting { // a cycle: break it at its lowest id
				low := p.ID
				for i := len(chain) - 1; i >= 0 && chain[i] != p.ID; i-- {
					low = min(low, chain[i])
				}
				reroot(byID[low])
				break
			}
			cur = p.ID
		}
		for _, c := range chain {
			stateOf[c] = ok
		}
	}

	// Unique names among siblings, lowest id first.
	taken := make(map[string]bool, len(byID))
	for _, id := range ids {
		f := byID[id]
		if id == mailbox.FolderRoot {
			continue
		}
		k := strconv.Itoa(f.ParentID) + "/" + f.Name
		for taken[k] {
			f.Name += " (" + strconv.Itoa(id) + ")"
			k = strconv.Itoa(f.ParentID) + "/" + f.Name
		}
		taken[k] = true
	}

	out := make([]Folder, 0, len(byID))
	for _, id := range ids {
		f := byID[id]
		if id != mailbox.FolderRoot {
			var parts []string
			for c := f; c.ID != mailbox.FolderRoot; c = byID[c.ParentID] {
				parts = append(parts, c.Name)
			}
			for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
				parts[i], parts[j] = parts[j], parts[i]
			}
			f.Path = strings.Join(parts, "/")
		}
		out = append(out, *f)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return out[i].ID < out[j].ID
	})
	return out
}

func reroot(f *Folder) {
	f.ParentID = mailbox.FolderRoot
	f.Name += " (" + strconv.Itoa(f.ID) + ")"
}

func safeName(name string, id int) string {
	name = strings.ReplaceAll(name, "/", "_")
	if name == "" || name == "." || name == ".." {
		return strconv.Itoa(id)
	}
	return name
}
