package restore

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"golang.org/x/sys/unix"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/mailbox"
)

// ErrRefused marks an error for one item (or one account) that the target
// refused while it was otherwise working: an IMAP NO or BAD answer, a login
// refused for that account. Restore counts such items as "invalid" and goes
// on. Any other error from a Target or Mailbox means the target is gone (a
// connection refused or closed, a full disk): the operation stops and can be
// run again to resume.
var ErrRefused = errors.New("refused by the target")

// ErrTargetFull is wrapped by the error of a restore stopped because the
// target is full or read-only (ENOSPC, EDQUOT, EROFS; an IMAP server's
// [OVERQUOTA], or [LIMIT] about a quota): no later item could be written
// either, so the restore stops at once, as a target error, instead of
// filing every remaining item invalid. Running it again, once there is
// room, resumes it.
var ErrTargetFull = errors.New("target full")

// targetFull is err marked ErrTargetFull when it says the target is full
// or read-only, else nil. It is checked before ErrRefused: a refusal
// because of a quota is the whole target's, not the item's.
func targetFull(err error) error {
	if err == nil || errors.Is(err, ErrTargetFull) {
		return err
	}
	full := errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EDQUOT) || errors.Is(err, unix.EROFS)
	var ie *imap.Error
	if errors.As(err, &ie) {
		full = full || ie.Code == imap.ResponseCodeOverQuota ||
			ie.Code == imap.ResponseCodeLimit && strings.Contains(strings.ToLower(ie.Text), "quota")
	}
	if !full {
		return nil
	}
	return fmt.Errorf("%w: %w (free space or raise the quota, then run the restore again: it resumes)", ErrTargetFull, err)
}

// Target is where restored mail goes. It is never asked whether an item was
// already restored: the Ledger answers that.
type Target interface {
	// ID names the target for the ledger: stable across runs, no secret
	// (maildir:/abs/path, imap://admin@host:port).
	ID() string
	// Provision records the provisioning records (domains, COS,
	// distribution lists, accounts) as the target can.
	Provision(ctx context.Context, p *Provisioning) error
	// Open opens one account's mailbox (an IMAP login as that account; a
	// Maildir folder). An error wrapping ErrRefused means that account
	// cannot be opened (unknown on the server), not that the target is gone.
	Open(ctx context.Context, account string) (Mailbox, error)
	Close() error
}

// Mailbox is one account on a target. Its methods are called from one
// goroutine.
type Mailbox interface {
	// CreateFolders makes sure the folders exist (parents come first in
	// the list). Each folder is a path of names from the root, such as
	// ["INBOX", "Projects"]; ["INBOX"] (InboxName) is the account's inbox.
	CreateFolders(ctx context.Context, folders [][]string) error
	// Append stores msg in folder. It may return before the target has
	// confirmed; done is called, in the order of the Append calls and in
	// the caller's goroutine (from a later Append or from Flush), once the
	// target confirmed (err nil), refused (err wraps ErrRefused) or failed.
	// An error returned by Append itself, like one passed to done that
	// does not wrap ErrRefused, means the target is gone.
	Append(ctx context.Context, folder []string, msg *Message, done func(Appended, error)) error
	// Flush waits until every done of earlier Appends has been called.
	Flush(ctx context.Context) error
	Close() error
}

// Message is one message to append.
type Message struct {
	Body  []byte    // the exact bytes (the decompressed, verified blob)
	Flags string    // Zimbra flag letters of the state being restored
	Tags  []string  // tag names: Maildir keywords / IMAP keywords
	Date  time.Time // the internal (received) date
	// Unique is a deterministic name of this restore of this item (from the
	// source server, account, item and digest): a Maildir target names the
	// file after it, so a file written before a crash is found again.
	Unique string
	// Claimed tells an IMAP target's duplicate check that a message it
	// found (mailbox, UIDVALIDITY and UID) is already recorded for another
	// item, so it cannot be this one's.
	Claimed func(mailbox string, uidValidity, uid uint32) bool
}

// Appended says what the target did with a message.
type Appended struct {
	ID string // where it went: a Maildir file name, or "MAILBOX;UIDVALIDITY=v;UID=u"
	// Existing: the message was found already on the target (written by a
	// run that stopped before recording it) and was not stored again.
	Existing    bool
	UIDValidity uint32 // IMAP with UIDPLUS (or found by the duplicate check)
	UID         uint32
}

// ParseTarget reads a target URL:
//
//	maildir:/path                       one Maildir++ tree per account under /path
//	imap://admin:password@host:port     an IMAP server, master login (user*admin)
//	imaps://admin:password@host:port    the same over TLS (?insecure=1 skips certificate checks)
//
// IMAP query parameters: separator (the master-user separator, "*" by
// default, as Dovecot's auth_master_user_separator), insecure, timeout (a
// Go duration bounding each IMAP command, 2m by default), window (APPENDs in
// flight per connection, 16 by default), batch (messages per MULTIAPPEND,
// 64 by default; 0 sends one APPEND per message) and appendconns (extra
// connections per account that carry the batches, 2 by default): see
// IMAPTarget.
func ParseTarget(s string) (Target, error) {
	switch {
	case strings.HasPrefix(s, "maildir:"):
		p := strings.TrimPrefix(s, "maildir:")
		p = strings.TrimPrefix(p, "//")
		if p == "" {
			return nil, fmt.Errorf("target %q: maildir needs a folder: maildir:/path", s)
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, fmt.Errorf("target %q: %w", s, err)
		}
		return NewMaildir(abs), nil
	case strings.HasPrefix(s, "imap://"), strings.HasPrefix(s, "imaps://"):
		u, err := url.Parse(s)
		if err != nil {
			return nil, fmt.Errorf("target: %w", err)
		}
		return newIMAPTarget(u)
	case s == "":
		return nil, errors.New("target: empty (want maildir:/path or imap://admin:password@host:port)")
	}
	shown := s
	if u, err := url.Parse(s); err == nil && u.User != nil {
		shown = u.Redacted()
	}
	return nil, fmt.Errorf("target %q: unknown kind (want maildir:/path or imap://admin:password@host:port)", shown)
}

// Flag letters become Maildir info letters and IMAP flags by the model's
// table (mailbox/flags.go); tags become keywords.

// imapFlags lists the IMAP flags and keywords for Zimbra flags and tags.
func imapFlags(z string, tags []string) []string {
	out := mailbox.IMAPFlags(z)
	seen := map[string]bool{}
	for _, t := range tags {
		k := keyword(t)
		if k != "" && !seen[strings.ToLower(k)] {
			seen[strings.ToLower(k)] = true
			out = append(out, k)
		}
	}
	return out
}

// keyword turns a tag name into an IMAP keyword (an atom): characters an
// atom cannot hold (space, parentheses, braces, quotes, backslash, %, *, ]
// and controls) become "_". A tag starting with "\" would be a system flag
// and is prefixed with "_".
func keyword(tag string) string {
	tag = strings.TrimSpace(tag)
	if tag == "" {
		return ""
	}
	b := []byte(tag)
	for i, c := range b {
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`(){"\%*]`, c) >= 0 {
			b[i] = '_'
		}
	}
	return string(b)
}

// Provisioning is what phase 1 of an external restore records on the
// target: the server's domains, classes of service and distribution lists
// (from the latest configuration backup) and the accounts.
type Provisioning struct {
	ServerID          string               `json:"serverId"`
	Source            string               `json:"source"`
	Date              time.Time            `json:"date"`
	ConfigBackup      string               `json:"configBackup,omitempty"` // the server/ file the records come from
	Domains           []backuppath.Record  `json:"domains"`
	COS               []backuppath.Record  `json:"cos"`
	DistributionLists []backuppath.Record  `json:"distributionLists"`
	Accounts          []ProvisionedAccount `json:"accounts"`
}

// ProvisionedAccount is an account record of the provisioning phase.
type ProvisionedAccount struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	DisplayName string   `json:"displayName,omitempty"`
	Status      string   `json:"status"`
	COSName     string   `json:"cosName,omitempty"`
	Folders     []string `json:"folders"` // the folder tree created ("Inbox/Projects")
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
