package ctl

import (
	"errors"
	"fmt"
	"strings"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/mailbox"
)

// accountEntry is one account folder and what could be read of it.
type accountEntry struct {
	ID      string
	Account *mailbox.Account // nil if account_info could not be read
	Err     error
}

// listAccounts reads every account_info of p. A bad file is kept as an
// entry with its error, never fatal.
func listAccounts(p *backuppath.Path) ([]accountEntry, error) {
	ids, err := p.AccountIDs()
	if err != nil {
		return nil, err
	}
	out := make([]accountEntry, 0, len(ids))
	for _, id := range ids {
		a, err := p.ReadAccount(id)
		out = append(out, accountEntry{ID: id, Account: a, Err: err})
	}
	return out, nil
}

// findAccount resolves ACCOUNT: an account id (the folder name) or a name,
// case-insensitively.
func findAccount(p *backuppath.Path, ref string) (*mailbox.Account, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return nil, usagef("no account given")
	}
	if !strings.ContainsAny(ref, "/\x00") && ref != "." && ref != ".." {
		if a, err := p.ReadAccount(ref); err == nil {
			return a, nil
		} else if !errors.Is(err, blob.ErrMissing) {
			return nil, fmt.Errorf("account %s: %w", ref, err)
		}
	}
	accts, err := listAccounts(p)
	if err != nil {
		return nil, err
	}
	for _, e := range accts {
		if e.Account != nil && strings.EqualFold(e.Account.Name, ref) {
			return e.Account, nil
		}
	}
	return nil, fmt.Errorf("no account %q in %s (neither a name nor an id)", ref, p.Root)
}

// folders resolves folder ids to paths within one account, reading folder
// items on demand and caching them.
type folders struct {
	p         *backuppath.Path
	accountID string
	cache     map[int]folderInfo
}

type folderInfo struct {
	name   string
	parent int
	ok     bool
}

func newFolders(p *backuppath.Path, accountID string) *folders {
	return &folders{p: p, accountID: accountID, cache: map[int]folderInfo{}}
}

func (f *folders) info(id int) folderInfo {
	if fi, ok := f.cache[id]; ok {
		return fi
	}
	fi := folderInfo{}
	if it, err := f.p.ReadItem(f.accountID, id); err == nil {
		if s := it.Latest(); s != nil && (s.Type == mailbox.TypeFolder || s.Type == mailbox.TypeSearchFolder) {
			fi = folderInfo{name: s.Name, parent: s.ParentID, ok: true}
		}
	}
	if !fi.ok {
		if n, ok := mailbox.SystemFolderNames[id]; ok {
			fi = folderInfo{name: n, parent: mailbox.FolderRoot, ok: true}
		}
	}
	f.cache[id] = fi
	return fi
}

// Path is the folder's path ("/Inbox/Projects"), or "" if unknown.
func (f *folders) Path(id int) string {
	if id == mailbox.FolderRoot {
		return "/"
	}
	var parts []string
	seen := map[int]bool{}
	for cur := id; cur != mailbox.FolderRoot && cur != 0; {
		if seen[cur] || len(parts) > 64 {
			return ""
		}
		seen[cur] = true
		fi := f.info(cur)
		if !fi.ok || fi.name == "" {
			return ""
		}
		parts = append([]string{fi.name}, parts...)
		if fi.parent == cur {
			break
		}
		cur = fi.parent
	}
	return "/" + strings.Join(parts, "/")
}

// Label is "id (path)" or just "id".
func (f *folders) Label(id int) string {
	if p := f.Path(id); p != "" {
		return fmt.Sprintf("%d (%s)", id, p)
	}
	return fmt.Sprint(id)
}

// blobStatus is the health of one state's blob.
type blobStatus struct {
	Status string `json:"status"`           // ok, broken, unreadable, or none (no blob)
	Reason string `json:"reason,omitempty"` // why it is not ok
	Path   string `json:"blobPath,omitempty"`
}

// checker checks blobs once per digest.
type checker struct {
	p     *backuppath.Path
	cache map[blob.Digest]blobStatus
}

func newChecker(p *backuppath.Path) *checker {
	return &checker{p: p, cache: map[blob.Digest]blobStatus{}}
}

func (c *checker) Check(d blob.Digest) blobStatus {
	if d == "" {
		return blobStatus{Status: "none"}
	}
	if !d.Valid() {
		return blobStatus{Status: "broken", Reason: fmt.Sprintf("invalid digest %q", string(d))}
	}
	if st, ok := c.cache[d]; ok {
		return st
	}
	err := c.p.Blobs.Check(d)
	st := blobStatus{Status: blob.Class(err), Reason: blobReason(err), Path: c.p.Blobs.Path(d)}
	c.cache[d] = st
	return st
}

// blobReason is a short reason for a blob error.
func blobReason(err error) string {
	if err == nil {
		return ""
	}
	var be *blob.Error
	if errors.As(err, &be) {
		var parts []string
		if be.Kind == blob.ErrMissing {
			parts = append(parts, "missing")
		}
		if be.Reason != "" {
			parts = append(parts, be.Reason)
		}
		if be.Err != nil {
			parts = append(parts, be.Err.Error())
		}
		if len(parts) == 0 {
			parts = append(parts, be.Kind.Error())
		}
		return oneLine(strings.Join(parts, ": "))
	}
	return oneLine(err.Error())
}
