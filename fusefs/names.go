package fusefs

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cbfs/cbfs/index"
	"github.com/cbfs/cbfs/mailbox"
)

// stateTimeLayout names server config folders (UTC), as states' folders
// are (mailbox.StateDirNames).
const stateTimeLayout = mailbox.StateDirTimeLayout

// contentName is the file name of a state's content in its state folder.
func contentName(t mailbox.ItemType) string {
	switch t {
	case mailbox.TypeMessage:
		return "message.eml"
	case mailbox.TypeContact:
		return "contact.vcf"
	case mailbox.TypeAppointment:
		return "appointment.ics"
	case mailbox.TypeTask:
		return "task.ics"
	case mailbox.TypeDocument:
		return "document.bin"
	case mailbox.TypeChat:
		return "chat.eml"
	}
	return "content." + t.Extension()
}

// partialName is the salvage sibling of a content file name:
// message.eml -> message.partial.eml.
func partialName(content string) string {
	if i := strings.LastIndexByte(content, '.'); i > 0 {
		return content[:i] + ".partial" + content[i:]
	}
	return content + ".partial"
}

// itemFileName is an item's name in folders/, deleted/ and at/: "<id>.<ext>".
func itemFileName(id int, t mailbox.ItemType) string {
	return strconv.Itoa(id) + "." + t.Extension()
}

// parseItemFileName reads "<id>.<ext>" (the id by mailbox.ParseItemID).
func parseItemFileName(name string) (id int, ext string, ok bool) {
	base, ext, found := strings.Cut(name, ".")
	if !found || ext == "" {
		return 0, "", false
	}
	id, ok = mailbox.ParseItemID(base)
	if !ok {
		return 0, "", false
	}
	return id, ext, true
}

// atDayLayout names the entries of at/.
const atDayLayout = "2006-01-02"

// parseAt reads the name of an at/ folder: an ISO 8601 date or date-time.
// A date alone means the end of that day (UTC): the account as it was after
// every change of that day, which is what listing at/ offers. A date-time
// without a zone is UTC. Accepted: 2024-03-05, 2024-03-05T10:20,
// 2024-03-05T10:20:30, 2024-03-05T10:20:30.123, each with an optional "Z" or
// "+01:00" zone, and a space instead of the "T".
func parseAt(name string) (time.Time, error) {
	if t, err := time.Parse(atDayLayout, name); err == nil {
		return t.Add(24*time.Hour - time.Millisecond), nil
	}
	s := strings.Replace(name, " ", "T", 1)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04Z07:00"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	for _, layout := range []string{"2006-01-02T15:04:05.999999999", "2006-01-02T15:04"} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not an ISO 8601 date or date-time (e.g. 2024-03-05 or 2024-03-05T10:20:30Z)", name)
}

// folderNode is one folder of a folder tree as the mount shows it.
type folderNode struct {
	id       int
	name     string        // file name in its parent ("" for the root)
	children []*folderNode // sorted by name
}

// folderTree arranges folders (from index.Folders, already completed and
// named by mailbox.FolderTree: unique, path-safe names, orphans and cycles
// hung under the root) by ParentID, children sorted by name.
func folderTree(folders []index.Folder) (root *folderNode, byID map[int]*folderNode) {
	byID = make(map[int]*folderNode, len(folders)+1)
	for _, f := range folders {
		if _, dup := byID[f.ID]; !dup {
			byID[f.ID] = &folderNode{id: f.ID, name: f.Name}
		}
	}
	root, ok := byID[mailbox.FolderRoot]
	if !ok {
		root = &folderNode{id: mailbox.FolderRoot}
		byID[root.id] = root
	}
	root.name = ""
	for _, f := range folders { // sorted by path: parents before children
		if f.ID == root.id {
			continue
		}
		p := byID[f.ParentID]
		if p == nil {
			p = root
		}
		p.children = append(p.children, byID[f.ID])
	}
	for _, n := range byID {
		sort.Slice(n.children, func(i, j int) bool { return n.children[i].name < n.children[j].name })
	}
	return root, byID
}

// joinPath joins a folder path and a name (either may be "").
func joinPath(dir, name string) string {
	switch {
	case dir == "":
		return name
	case name == "":
		return dir
	}
	return dir + "/" + name
}

// accountNames gives each account its name in accounts/ (mailbox's one
// rule, ListingNames), sorted.
func accountNames(accts []index.Account) (names []string, byName map[string]index.Account) {
	model := make([]mailbox.Account, len(accts))
	for i, a := range accts {
		model[i] = a.Account
		if a.Err != "" {
			model[i].Name = "" // unreadable account_info: shown by its id
		}
	}
	listed := mailbox.ListingNames(model)
	byName = make(map[string]index.Account, len(accts))
	for i, n := range listed {
		byName[n] = accts[i]
	}
	names = make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, byName
}
