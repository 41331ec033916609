package mailbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/cbfs/cbfs/internal/grammar"
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

// ChangeReport is what changed in one account between two moments, as
// cbctl's getChanges prints it and the mount's changes/<day>/ serves it
// (changes.txt: Text; changes.json: JSON), so both say the same thing
// in the same bytes.
type ChangeReport struct {
	Account string           `json:"account"`
	ID      string           `json:"accountId"`
	From    time.Time        `json:"from"`
	To      time.Time        `json:"to"`
	Changes []ReportedChange `json:"changes"`
	Skipped []int            `json:"skippedItems,omitempty"` // item files that could not be read
}

// ReportedChange is one change of a ChangeReport, its item's type named.
type ReportedChange struct {
	Change
	Type string `json:"type"`
}

// NewChangeReport runs Changes over an account's items (items with Err
// set are listed in Skipped, by id) and names the account.
func NewChangeReport(account, accountID string, items []*Item, from, to time.Time) (*ChangeReport, error) {
	changes, err := Changes(items, from, to)
	if err != nil {
		return nil, err
	}
	r := &ChangeReport{Account: account, ID: accountID, From: from.UTC(), To: to.UTC(), Changes: []ReportedChange{}}
	for _, ch := range changes {
		r.Changes = append(r.Changes, ReportedChange{Change: ch, Type: ch.Type.String()})
	}
	for _, it := range items {
		if it != nil && it.Err != "" {
			r.Skipped = append(r.Skipped, it.ID)
		}
	}
	sort.Ints(r.Skipped)
	return r, nil
}

// JSON writes the report as JSON, indented by two spaces, HTML left
// unescaped, one final newline (cbctl's --json form).
func (r *ChangeReport) JSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("encode JSON output: %w", err)
	}
	return nil
}

// Text writes the report as text: a header line, then one line per
// change, aligned: KIND, ID, TYPE, WHAT (ChangeWhat), SUBJECT (one line).
// Dates are in the local zone (grammar.FormatDateZ).
func (r *ChangeReport) Text(w io.Writer) error {
	if _, err := fmt.Fprintf(w, "account %s: %d change(s) from %s to %s\n", r.Account, len(r.Changes), grammar.FormatDateZ(r.From), grammar.FormatDateZ(r.To)); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "KIND\tID\tTYPE\tWHAT\tSUBJECT\n")
	for _, ch := range r.Changes {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", ch.Kind, ch.ItemID, ch.Type, ChangeWhat(ch.Change), grammar.OneLine(ch.Subject))
	}
	return tw.Flush()
}

// ChangeWhat is a change's WHAT column: where the item was and went (a
// folder by its path, or its id when the tree of that moment lacks it),
// the flags before and after ("-" for none), or a folder's own path
// before and after.
func ChangeWhat(ch Change) string {
	folder := func(path string, id int) string {
		if path == "" {
			return fmt.Sprint(id)
		}
		return path
	}
	self := func(path, name string) string {
		if path == "" {
			return name
		}
		return path
	}
	orDash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	isFolder := ch.Type == TypeFolder
	switch ch.Kind {
	case ChangeAdded:
		if isFolder {
			return self(ch.ToPath, ch.ToName)
		}
		return folder(ch.ToFolder, ch.ToFolderID)
	case ChangeDeleted:
		if isFolder {
			return self(ch.FromPath, ch.FromName)
		}
		return folder(ch.FromFolder, ch.FromFolderID)
	case ChangeReflagged:
		return fmt.Sprintf("%s: %s -> %s", folder(ch.ToFolder, ch.ToFolderID), orDash(*ch.FromFlags), orDash(*ch.ToFlags))
	}
	if isFolder { // renamed or moved
		return self(ch.FromPath, ch.FromName) + " -> " + self(ch.ToPath, ch.ToName)
	}
	return folder(ch.FromFolder, ch.FromFolderID) + " -> " + folder(ch.ToFolder, ch.ToFolderID)
}
