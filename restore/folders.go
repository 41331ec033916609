package restore

import (
	"strings"

	"github.com/cbfs/cbfs/mailbox"
)

// InboxName is the first path component of the account's inbox and its
// subfolders, whatever the source called folder 2: targets map ["INBOX"] to
// the Maildir's own cur/new and to IMAP's INBOX.
const InboxName = "INBOX"

// folderRule picks the state of a folder item that names it in a tree, or
// nil when the folder is not part of that tree.
type folderRule func(it *mailbox.Item) *mailbox.State

// lastLiveBefore is the folder's last live state at or before t (any time
// if 0): the folder as it was last seen (mailbox.LastFolderBefore).
func lastLiveBefore(t mailbox.Millis) folderRule {
	return func(it *mailbox.Item) *mailbox.State { return mailbox.LastFolderBefore(it, t.Time()) }
}

// liveAt is the folder's state at t (the latest if 0) if it is a live
// folder then: the folder tree as it was at t (mailbox.FolderAt).
func liveAt(t mailbox.Millis) folderRule {
	return func(it *mailbox.Item) *mailbox.State { return mailbox.FolderAt(it, t.Time()) }
}

// tree maps folder ids to target folder paths.
type tree struct {
	paths map[int][]string
	all   [][]string // the primary tree's folders, parents first
}

// buildTree makes the folder tree of an account from its folder items:
// primary picks each folder's state; folders that items need (need) but
// primary does not give are added from their last live state, or as
// "unknown_<id>" under the root when the backup knows nothing of them (as
// Carbonio's undelete names them). Names and paths follow mailbox.FolderTree,
// so a restored folder has the same path as in the mounted tree.
func buildTree(folders map[int]*mailbox.Item, primary folderRule, need map[int]bool) *tree {
	inPrimary := map[int]bool{}
	for id, it := range folders {
		if primary(it) != nil {
			inPrimary[id] = true
		}
	}
	ids := make([]int, 0, len(need))
	for id := range need {
		ids = append(ids, id)
	}
	list := mailbox.NeededFolders(folders, primary, ids)
	t := &tree{paths: map[int][]string{}}
	named := mailbox.FolderTree(list)
	inboxPath := ""
	var nonMail []string // paths of the system folders that hold no mail
	for _, f := range named {
		switch f.ID {
		case mailbox.FolderInbox:
			inboxPath = f.Path
		case mailbox.FolderContacts, mailbox.FolderCalendar, 13, mailbox.FolderTasks, mailbox.FolderBriefcase:
			nonMail = append(nonMail, f.Path)
		}
	}
	under := func(path string, roots []string) bool {
		for _, r := range roots {
			if r != "" && (path == r || strings.HasPrefix(path, r+"/")) {
				return true
			}
		}
		return false
	}
	for _, f := range named {
		if f.Path == "" {
			continue
		}
		p := strings.Split(f.Path, "/")
		if inboxPath != "" && (f.Path == inboxPath || strings.HasPrefix(f.Path, inboxPath+"/")) {
			p[0] = InboxName
		}
		t.paths[f.ID] = p
		// The account's folder tree: the primary tree's mail folders and the
		// system mail folders. Folders only the fallback added, and the
		// address books, calendars and briefcase, are created when used.
		if (inPrimary[f.ID] || f.ID < 257) && f.ID != mailbox.FolderTags && !under(f.Path, nonMail) {
			t.all = append(t.all, p)
		}
	}
	// Parents first: FolderTree sorts by path, so a parent precedes its
	// children; make sure the INBOX rename kept that.
	sortPaths(t.all)
	return t
}

// folderOf is the target path for a folder id; messages in the root, the
// tags folder or an unknown folder go to the inbox.
func (t *tree) folderOf(id int) []string {
	if p, ok := t.paths[id]; ok && id != mailbox.FolderTags {
		return p
	}
	return []string{InboxName}
}

func sortPaths(ps [][]string) {
	less := func(a, b []string) bool {
		for i := 0; i < len(a) && i < len(b); i++ {
			if a[i] != b[i] {
				if a[i] == InboxName {
					return true
				}
				if b[i] == InboxName {
					return false
				}
				return a[i] < b[i]
			}
		}
		return len(a) < len(b)
	}
	for i := 1; i < len(ps); i++ {
		for j := i; j > 0 && less(ps[j], ps[j-1]); j-- {
			ps[j], ps[j-1] = ps[j-1], ps[j]
		}
	}
}
