package mailbox

import (
	"errors"
	"sort"
	"time"
)

// Kinds of Change.
const (
	ChangeAdded     = "added"     // live at to, not at from
	ChangeDeleted   = "deleted"   // live at from, not at to
	ChangeMoved     = "moved"     // another folder (an item) or parent (a folder)
	ChangeReflagged = "reflagged" // other flags
	ChangeRenamed   = "renamed"   // a folder with another name
)

// kindOrder orders the changes of one item.
var kindOrder = map[string]int{ChangeAdded: 0, ChangeDeleted: 1, ChangeMoved: 2, ChangeRenamed: 3, ChangeReflagged: 4}

// Change is one difference of one item between two moments. Folders are
// "/"-separated paths from the root ("/Inbox/Projects"), each as the
// account's folder tree was at that moment (FolderTree); a folder missing
// from that tree is "" and FromFolderID/ToFolderID still say it.
type Change struct {
	Kind         string   `json:"kind"`
	ItemID       int      `json:"item"`
	Type         ItemType `json:"-"`                 // output names it (String)
	Subject      string   `json:"subject,omitempty"` // messages: the subject (at to, else at from)
	FromFolderID int      `json:"fromFolderId,omitempty"`
	FromFolder   string   `json:"fromFolder,omitempty"` // where it was at from (not for added)
	ToFolderID   int      `json:"toFolderId,omitempty"`
	ToFolder     string   `json:"toFolder,omitempty"`  // where it is at to (not for deleted)
	FromFlags    *string  `json:"fromFlags,omitempty"` // reflagged: the flags at from ("" none)
	ToFlags      *string  `json:"toFlags,omitempty"`   // reflagged: the flags at to
	FromName     string   `json:"fromName,omitempty"`  // folders: the name at from
	ToName       string   `json:"toName,omitempty"`    // folders: the name at to
	FromPath     string   `json:"fromPath,omitempty"`  // folders: their own path at from
	ToPath       string   `json:"toPath,omitempty"`    // folders: their own path at to
}

// ErrChangesOrder is the error of Changes when from is after to.
var ErrChangesOrder = errors.New("the first date is after the second")

// Changes lists what changed among items between the moments from and to
// (from <= to), by the model's one rule for a moment: each item's state in
// force then (StateAt). An item live at to and not at from was added; live
// at from and not at to, deleted; live at both, it moved if its folder
// differs and was reflagged if its flags differ (compared as CanonFlags).
// A folder item live at both was renamed if its name differs and moved if
// its parent differs. What changed and changed back in between is no
// change. Items whose file could not be read (Err set) are skipped: the
// caller reports them. Sorted by item id, then kind.
func Changes(items []*Item, from, to time.Time) ([]Change, error) {
	if from.After(to) {
		return nil, ErrChangesOrder
	}
	pathFrom, pathTo := folderPaths(items, from), folderPaths(items, to)
	out := []Change{}
	for _, it := range items {
		if it == nil || it.Err != "" || len(it.States) == 0 {
			continue
		}
		a, b := it.LiveAt(from), it.LiveAt(to)
		if a == nil && b == nil {
			continue
		}
		c := Change{ItemID: it.ID}
		if a != nil {
			c.Type, c.Subject = a.Type, a.Subject
			c.FromFolderID, c.FromFolder = a.FolderID, pathFrom[a.FolderID]
			if a.Type == TypeFolder {
				c.FromName, c.FromPath = a.Name, pathFrom[it.ID]
			}
		}
		if b != nil {
			c.Type = b.Type
			if b.Subject != "" {
				c.Subject = b.Subject
			}
			c.ToFolderID, c.ToFolder = b.FolderID, pathTo[b.FolderID]
			if b.Type == TypeFolder {
				c.ToName, c.ToPath = b.Name, pathTo[it.ID]
			}
		}
		switch {
		case a == nil:
			c.Kind = ChangeAdded
			out = append(out, c)
			continue
		case b == nil:
			c.Kind = ChangeDeleted
			out = append(out, c)
			continue
		}
		if a.Type == TypeFolder && b.Type == TypeFolder {
			if a.Name != b.Name {
				r := c
				r.Kind = ChangeRenamed
				out = append(out, r)
			}
			if parentOf(a) != parentOf(b) {
				m := c
				m.Kind = ChangeMoved
				out = append(out, m)
			}
		} else if a.FolderID != b.FolderID {
			m := c
			m.Kind = ChangeMoved
			out = append(out, m)
		}
		if fa, fb := CanonFlags(a.Flags), CanonFlags(b.Flags); fa != fb {
			r := c
			r.Kind = ChangeReflagged
			r.FromFlags, r.ToFlags = &fa, &fb
			out = append(out, r)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].ItemID != out[j].ItemID {
			return out[i].ItemID < out[j].ItemID
		}
		return kindOrder[out[i].Kind] < kindOrder[out[j].Kind]
	})
	return out, nil
}

// parentOf is a folder state's parent, FolderTree's rule: none recorded
// (0) is the root.
func parentOf(s *State) int {
	if s.ParentID == 0 {
		return FolderRoot
	}
	return s.ParentID
}

// folderPaths names the account's folders as they were at t: "/" + their
// FolderTree path ("/" the root), by folder id.
func folderPaths(items []*Item, t time.Time) map[int]string {
	var found []Folder
	for _, it := range items {
		if it == nil || it.Err != "" || len(it.States) == 0 {
			continue
		}
		if s := FolderAt(it, t); s != nil {
			found = append(found, Folder{ID: it.ID, ParentID: s.ParentID, Name: s.Name})
		}
	}
	paths := map[int]string{}
	for _, f := range FolderTree(found) {
		paths[f.ID] = "/" + f.Path
	}
	return paths
}
