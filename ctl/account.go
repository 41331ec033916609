package ctl

import (
	"fmt"
	"strings"
	"time"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/internal/cli"
	"github.com/cbfs/cbfs/mailbox"
)

// accountEntry is one account folder and what could be read of it.
type accountEntry = backuppath.AccountEntry

// listAccounts reads every account_info of p. A bad file is kept as an
// entry with its error, never fatal.
func listAccounts(p *backuppath.Path) ([]accountEntry, error) { return p.Accounts() }

// findAccount resolves ACCOUNT: an account id (the folder name) or a name,
// case-insensitively, by the model's one rule (backuppath.FindAccount).
func findAccount(p *backuppath.Path, ref string) (*mailbox.Account, error) {
	if strings.TrimSpace(ref) == "" {
		return nil, cli.Usagef("no account given")
	}
	return p.FindAccount(ref)
}

// folders names an account's folders as the mount and the restores do
// (mailbox.FolderTree over the account's folder items, latest states).
//
// By default the tree is built on first use from every item file of the
// account. A chain-only folders (newFolderChain) reads only the folder
// items a name needs, the folder and its ancestors, so naming the folder
// of one item costs a few reads however large the account: its names are
// the mount's except where the mount tells apart two siblings of the same
// name (the one with the higher id gets " (id)"): siblings that are not on
// the chain are not read.
type folders struct {
	p         *backuppath.Path
	accountID string
	paths     map[int]string

	chain   bool                   // chain-only
	found   map[int]mailbox.Folder // chain-only: the folders read so far
	visited map[int]bool           // chain-only: ids looked up (found or not)
}

func newFolders(p *backuppath.Path, accountID string) *folders {
	return &folders{p: p, accountID: accountID}
}

// newFolderChain is a chain-only folders (see folders).
func newFolderChain(p *backuppath.Path, accountID string) *folders {
	return &folders{p: p, accountID: accountID, chain: true, found: map[int]mailbox.Folder{}, visited: map[int]bool{}}
}

// folderOf is the folder an item is now (its latest state is a live
// folder), or false.
func folderOf(it *mailbox.Item) (mailbox.Folder, bool) {
	if s := mailbox.FolderAt(it, time.Time{}); s != nil {
		return mailbox.Folder{ID: it.ID, ParentID: s.ParentID, Name: s.Name}, true
	}
	return mailbox.Folder{}, false
}

// setTree names the folders found (mailbox.FolderTree).
func (f *folders) setTree(found []mailbox.Folder) {
	f.paths = map[int]string{}
	for _, fo := range mailbox.FolderTree(found) {
		f.paths[fo.ID] = "/" + fo.Path
	}
}

func (f *folders) load() {
	if f.paths != nil {
		return
	}
	f.paths = map[int]string{}
	files, _, err := f.p.ItemFiles(f.accountID)
	if err != nil {
		return
	}
	var found []mailbox.Folder
	for i, fi := range files {
		if i > 0 && files[i-1].ItemID == fi.ItemID {
			continue // a duplicate: the first is the copy that counts
		}
		it, err := f.p.ReadItemFile(fi.RelPath, fi.ItemID)
		if err != nil {
			continue
		}
		if fo, ok := folderOf(it); ok {
			found = append(found, fo)
		}
	}
	f.setTree(found)
}

// loadChain reads the folder id and its ancestors not read yet.
func (f *folders) loadChain(id int) {
	if f.visited[id] {
		return
	}
	for cur := id; cur != mailbox.FolderRoot && !f.visited[cur]; {
		f.visited[cur] = true
		it, err := f.p.ReadItem(f.accountID, cur)
		if err != nil {
			break
		}
		fo, ok := folderOf(it)
		if !ok {
			break
		}
		f.found[cur] = fo
		cur = fo.ParentID
	}
	found := make([]mailbox.Folder, 0, len(f.found))
	for _, fo := range f.found {
		found = append(found, fo)
	}
	f.setTree(found)
}

// Path is the folder's path ("/Inbox/Projects"), or "" if the account has
// no such folder now.
func (f *folders) Path(id int) string {
	if f.chain {
		f.loadChain(id)
	} else {
		f.load()
	}
	return f.paths[id]
}

// Label is "id (path)" or just "id".
func (f *folders) Label(id int) string {
	if p := f.Path(id); p != "" {
		return fmt.Sprintf("%d (%s)", id, p)
	}
	return fmt.Sprint(id)
}

// checker checks blobs once per digest and recorded size, through the
// health the mount and the restores use (blob.Cache.Health), and reports
// them as the mount does (mailbox.ContentHealth).
type checker struct {
	p     *backuppath.Path
	blobs *blob.Cache
}

func newChecker(p *backuppath.Path) *checker {
	return &checker{p: p, blobs: blob.NewCache(p.Blobs, blob.CacheOptions{NoPrefetch: true})}
}

// Check is the health of blob d for a state recording size (0: none): a
// blob inflating past the recorded size is broken ("size mismatch"), as
// the mount and the restores find it. A state with no blob is "none".
func (c *checker) Check(d blob.Digest, size int64) mailbox.ContentHealth {
	if d == "" {
		return mailbox.ContentHealth{Status: "none"}
	}
	if !d.Valid() {
		why := fmt.Sprintf("invalid digest %q", string(d))
		return mailbox.ContentHealth{Status: "broken", Error: why, Reason: why}
	}
	return mailbox.BlobHealth(d, c.p.Blobs.Path(d), c.blobs.Health(d, size))
}

// Report is the whole report of state i of it: Check, and for damaged
// content the newest earlier healthy state (by its start date, as getItem
// shows states) and what a salvage (dump_blob) holds.
func (c *checker) Report(it *mailbox.Item, i int) mailbox.ContentHealth {
	s := &it.States[i]
	if s.Digest == "" || !s.Digest.Valid() || !s.Type.HasContent() {
		return c.Check(s.Digest, s.Size)
	}
	return it.ContentHealth(i, c.blobs.Health, c.p.Blobs.Path, func(k int) string {
		return formatDate(it.States[k].Start.Time())
	}, "")
}
