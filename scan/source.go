package scan

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/cbfs/cbfs/mailbox"
)

// Source is a live mail store that Run backs up.
type Source interface {
	// String describes the source without secrets (for reports and logs).
	String() string
	// Accounts lists the accounts the source holds, or nil if it cannot
	// list them itself (IMAP: the accounts come from Options.Accounts).
	Accounts(ctx context.Context) ([]string, error)
	// Open opens one account for reading.
	Open(ctx context.Context, account string) (Mailbox, error)
	// Close releases the source.
	Close() error
}

// Mailbox is one account of a Source, open for reading.
type Mailbox interface {
	// Folders lists the account's folders, parents before children.
	Folders(ctx context.Context) ([]*Folder, error)
	// Messages lists a folder's messages without their content. prior is
	// what the last scan saw of this folder (nil if none): a source may use
	// it to fetch extra details (Message-ID) only for new messages.
	Messages(ctx context.Context, f *Folder, prior *FolderEntry) ([]*Message, error)
	// Fetch reads the content of msgs (all in folder f) and calls fn for
	// each, in any order; fn's error stops Fetch and is returned. A message
	// that vanished since it was listed is passed with ErrVanished; one
	// that cannot be read, with that error. A message too big to hold in
	// memory may be passed with content nil and its stream in the
	// Message's body, which fn reads during the call (Maildir: over
	// bigMessage bytes).
	Fetch(ctx context.Context, f *Folder, msgs []*Message, fn func(m *Message, content []byte, err error) error) error
	Close() error
}

// ErrVanished marks a listed message that was gone when its content was
// read (moved or expunged in between): not a read error.
var ErrVanished = fmt.Errorf("message vanished while scanning")

// Folder is a folder of a Mailbox.
type Folder struct {
	Path    []string // path components; the Inbox is ["INBOX"]
	Key     string   // stable identity across renames if the source has one, else ""
	Special int      // system folder id (mailbox.FolderInbox, ...) or 0
	// Token changes whenever the folder's messages or their flags change;
	// "" means "unknown: always list". Equal tokens let a scan reuse the
	// last listing without asking the source.
	Token string
	// NoSelect: the folder holds no messages (IMAP \Noselect, or a parent
	// only implied by its children's paths). It is backed up as a folder
	// item, so the hierarchy is kept, and never listed.
	NoSelect bool
	// Err: the source lists the folder but cannot back it up (a name that
	// is not valid modified UTF-7, an empty name, a folder it may not
	// read). The scan reports it and skips it; the rest of the account is
	// backed up, and nothing of the folder's earlier backup is marked
	// deleted.
	Err error

	ref any // the source's own handle
}

// noSelectToken is the change token of a NoSelect folder: it never changes.
const noSelectToken = "noselect"

// withParents adds the missing ancestors of the folders as NoSelect
// folders (a source may list "a/b" without "a"), so every folder's parent
// is a folder of the backup; the result is sorted (sortFolders).
func withParents(fs []*Folder) []*Folder {
	have := map[string]bool{}
	for _, f := range fs {
		have[f.PathString()] = true
	}
	out := fs
	for _, f := range fs {
		for i := 1; i < len(f.Path); i++ {
			p := f.Path[:i:i]
			k := strings.Join(p, "/")
			if have[k] {
				continue
			}
			have[k] = true
			out = append(out, &Folder{Path: p, NoSelect: true, Token: noSelectToken, Special: specialOf(p)})
		}
	}
	sortFolders(out)
	return out
}

// PathString is the path joined with "/".
func (f *Folder) PathString() string { return strings.Join(f.Path, "/") }

// Message is a message as listed, before its content is read.
type Message struct {
	Key       string    // identity within the account (see the source's doc)
	Size      int64     // bytes of content
	Flags     string    // Zimbra flag letters, canonical order
	Tags      []string  // keywords, sorted
	Date      time.Time // internal (received) date, if known from the listing
	MessageID string    // Message-ID header, if known without reading the content
	UID       uint32    // IMAP UID, 0 for other sources

	ref  any
	body *body // set by Fetch while fn runs, for a streamed message
}

// ParseSource parses a source URL:
//
//	maildir:/var/mail            a tree of Maildir++ accounts
//	imap://admin:pass@host:port  IMAP with a master login ("user*admin")
//	imaps://admin:pass@host:port the same over TLS
//
// For IMAP, the query parameter "separator" sets the master-user separator
// (default "*"), "insecure=1" skips TLS certificate checks.
func ParseSource(raw string) (Source, error) {
	scheme, rest, ok := strings.Cut(raw, ":")
	if !ok {
		return nil, fmt.Errorf("source %q: want maildir:/path or imap://admin:pass@host:port", raw)
	}
	switch strings.ToLower(scheme) {
	case "maildir":
		p := strings.TrimPrefix(rest, "//")
		if p == "" {
			return nil, fmt.Errorf("source %q: maildir: needs a folder", raw)
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, fmt.Errorf("source %q: %w", raw, err)
		}
		return NewMaildir(abs), nil
	case "imap", "imaps":
		u, err := url.Parse(raw)
		if err != nil {
			return nil, fmt.Errorf("source: %w", err)
		}
		return newIMAPSource(u)
	}
	return nil, fmt.Errorf("source %q: unknown scheme %q (want maildir or imap)", raw, scheme)
}

// specialByName maps well-known folder names (top level, case-insensitive)
// to Zimbra's system folder ids, for sources without SPECIAL-USE.
var specialByName = map[string]int{
	"inbox": mailbox.FolderInbox, "trash": mailbox.FolderTrash,
	"deleted items": mailbox.FolderTrash, "deleted messages": mailbox.FolderTrash,
	"junk": mailbox.FolderJunk, "spam": mailbox.FolderJunk, "junk e-mail": mailbox.FolderJunk,
	"sent": mailbox.FolderSent, "sent items": mailbox.FolderSent, "sent messages": mailbox.FolderSent,
	"drafts": mailbox.FolderDrafts,
}

func specialOf(path []string) int {
	if len(path) != 1 {
		return 0
	}
	return specialByName[strings.ToLower(path[0])]
}

func sortedTags(m map[string]bool) []string {
	if len(m) == 0 {
		return nil
	}
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// sortFolders puts the Inbox first, then parents before children, then by
// path.
func sortFolders(fs []*Folder) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, c := fs[i], fs[j]
		if (a.Special == mailbox.FolderInbox) != (c.Special == mailbox.FolderInbox) {
			return a.Special == mailbox.FolderInbox
		}
		if len(a.Path) != len(c.Path) {
			return len(a.Path) < len(c.Path)
		}
		return a.PathString() < c.PathString()
	})
}
