package mailbox

import (
	"sort"
	"strconv"
	"strings"
	"time"
)

// Folder is a folder of an account at some moment.
type Folder struct {
	ID       int
	ParentID int
	Name     string
	Path     string // "/"-separated from the root, e.g. "Inbox/Projects/2024"; "" for the root
}

// FolderAt is the state that puts folder item it in the account's folder
// tree at t (the latest if t is zero): its state then, if it is a live
// folder. nil when the folder is not part of that tree.
func FolderAt(it *Item, t time.Time) *State {
	s := it.Latest()
	if !t.IsZero() {
		s = it.StateAt(t)
	}
	if s == nil || s.Deleted || s.Type != TypeFolder {
		return nil
	}
	return s
}

// LastFolderBefore is the folder's last live state at or before t (any
// time if zero): the folder as it was last seen, for putting items back
// into a folder that has been deleted since (undelete).
func LastFolderBefore(it *Item, t time.Time) *State {
	ms := MillisOf(t)
	for i := len(it.States) - 1; i >= 0; i-- {
		s := &it.States[i]
		if (ms == 0 || s.Start <= ms) && !s.Deleted && s.Type == TypeFolder {
			return s
		}
	}
	return nil
}

// NeededFolders is the list of folders a restore or an export names its
// folders from: each folder item's state chosen by primary (nil: not in
// that tree), plus the folders that need a name (need: the folders of the
// items being placed) and their parents where primary gives none: from
// their last live state (LastFolderBefore), else "unknown_<id>" under the
// root, as Carbonio's undelete names them. System folders the backup
// holds no item for are left to FolderTree, which names them.
func NeededFolders(folders map[int]*Item, primary func(*Item) *State, need []int) []Folder {
	found := map[int]Folder{}
	add := func(id int, s *State) { found[id] = Folder{ID: id, ParentID: s.ParentID, Name: s.Name} }
	for id, it := range folders {
		if s := primary(it); s != nil {
			add(id, s)
		}
	}
	queue := append([]int(nil), need...)
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		if _, ok := found[id]; ok || id == FolderRoot || id == 0 {
			continue
		}
		it, held := folders[id]
		if _, system := SystemFolderNames[id]; system && !held {
			continue // FolderTree names it
		}
		if held {
			if s := LastFolderBefore(it, time.Time{}); s != nil {
				add(id, s)
				queue = append(queue, s.ParentID)
				continue
			}
		}
		found[id] = Folder{ID: id, ParentID: FolderRoot, Name: "unknown_" + strconv.Itoa(id)}
	}
	list := make([]Folder, 0, len(found))
	for _, f := range found {
		list = append(list, f)
	}
	return list
}

// FolderTree completes and names a folder tree from the folders found
// (ID, ParentID and Name set; Path ignored), with the one naming rule every
// part of cbfs shows: the mount, cbctl and the restores.
//
// System folders missing from found are added with SystemFolderNames.
// Names are made safe for a path (SafeName: "/" becomes "_", an empty, "."
// or ".." name becomes the folder id). The root (id 1) has Path "". A
// folder whose parent is missing, or which sits on a parent cycle, is hung
// under the root with " (<id>)" appended to its name. A folder that
// records no parent (0) is under the root. A folder whose name another
// folder under the same parent already has gets " (<id>)" appended (again
// until the name is free): the folders whose names needed no change (by
// SafeName or the re-rooting) keep theirs first, lowest id first, then the
// others, lowest id first; so an "a/b" shown as "a_b" never takes the name
// of a sibling really named "a_b". Every Path is therefore unique. Sorted
// by Path.
func FolderTree(found []Folder) []Folder {
	byID := make(map[int]*Folder, len(found)+len(SystemFolderNames))
	for i := range found {
		f := found[i]
		if f.ParentID == 0 { // no parent recorded: under the root
			f.ParentID = FolderRoot
		}
		byID[f.ID] = &f
	}
	for id, name := range SystemFolderNames {
		if _, ok := byID[id]; !ok && id != FolderRoot {
			byID[id] = &Folder{ID: id, ParentID: FolderRoot, Name: name}
		}
	}
	root := &Folder{ID: FolderRoot}
	byID[FolderRoot] = root

	ids := make([]int, 0, len(byID))
	changed := make(map[int]bool)
	for id, f := range byID {
		ids = append(ids, id)
		if id != FolderRoot {
			safe := SafeName(f.Name, id)
			if safe != f.Name {
				changed[id] = true
			}
			f.Name = safe
		}
	}
	sort.Ints(ids)
	reroot := func(f *Folder) {
		f.ParentID = FolderRoot
		f.Name += " (" + strconv.Itoa(f.ID) + ")"
		changed[f.ID] = true
	}

	// Re-root folders whose chain does not reach the root.
	const (
		unknown = iota
		visiting
		ok
	)
	stateOf := make(map[int]int, len(byID))
	stateOf[FolderRoot] = ok
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

	// Unique names among siblings: unchanged names first, each by id.
	order := make([]int, 0, len(ids))
	for _, id := range ids {
		if !changed[id] {
			order = append(order, id)
		}
	}
	for _, id := range ids {
		if changed[id] {
			order = append(order, id)
		}
	}
	taken := make(map[string]bool, len(byID))
	for _, id := range order {
		f := byID[id]
		if id == FolderRoot {
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
		if id != FolderRoot {
			var parts []string
			for c := f; c.ID != FolderRoot; c = byID[c.ParentID] {
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

// SafeName makes a name usable as one path component: "/" becomes "_", NUL
// is dropped, and an empty, "." or ".." name becomes id (when id > 0).
func SafeName(name string, id int) string {
	name = strings.ReplaceAll(name, "/", "_")
	name = strings.ReplaceAll(name, "\x00", "")
	if name == "" || name == "." || name == ".." {
		if id <= 0 {
			return "_"
		}
		return strconv.Itoa(id)
	}
	return name
}
