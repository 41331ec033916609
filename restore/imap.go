package restore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/cbfs/cbfs/internal/imapmaster"
)

// IMAPTarget is the imap://admin:password@host:port target: any IMAP
// server, logging in as each account through the master login
// ("account*admin" for Dovecot; Sep is the separator).
//
//   - Folders: LIST "" "*" gives the hierarchy delimiter and what exists;
//     missing folders are CREATEd (ALREADYEXISTS is fine) and SUBSCRIBEd.
//     The inbox path is INBOX. A name holding the delimiter gets "_" for
//     it; a name the server refuses (Dovecot's Maildir++ refuses ".") is
//     retried with "." as "_".
//   - Messages: APPEND with the flags (\Seen, \Answered, \Flagged, \Draft,
//     $Forwarded, $MDNSent), the tags as keywords and the internal date,
//     pipelined (Window commands in flight; LITERAL+ when offered). The
//     bytes are sent as they are: nothing is added to the message.
//   - An APPEND is confirmed by its tagged OK; with UIDPLUS, APPENDUID
//     gives the restored id "MAILBOX;UIDVALIDITY=v;UID=u".
//   - Duplicate check (crash safety): an item the ledger lacks may still be
//     on the server if a run stopped between the OK and the ledger record.
//     So, in a folder that already held messages when this run first used
//     it, before APPENDing such an item the folder is searched (UID SEARCH
//     HEADER Message-ID <id> LARGER size-1 SMALLER size+1 SINCE/BEFORE
//     around the internal date; without a Message-ID, size and date only)
//     and each hit is fetched: one whose RFC822.SIZE and INTERNALDATE (to
//     the second) match and whose bytes equal the message's, and that the
//     ledger does not already give to another item, is this item: it is
//     recorded and not appended again. A folder empty at first use needs
//     no search (whatever this run adds there is in its ledger).
//   - Errors: a tagged NO or BAD refuses that item (class invalid) or that
//     account (login); any other error (connection refused, reset, EOF,
//     timeout) means the target is gone and stops the restore.
//
// MULTIAPPEND is not used (go-imap v2's client has no MULTIAPPEND). On
// Dovecot the pipelining window changes nothing measurable (window 1 and 64
// gave the same rate): each APPEND is its own server-side transaction
// (fsync, dovecot-uidlist, index), which bounds the rate; MULTIAPPEND, one
// transaction per batch, is the next step for speed.
type IMAPTarget struct {
	imapmaster.Server
	Window int // APPENDs in flight per connection
}

func newIMAPTarget(u *url.URL) (*IMAPTarget, error) {
	srv, q, err := imapmaster.Parse(u, "target", "window")
	if err != nil {
		return nil, err
	}
	t := &IMAPTarget{Server: srv, Window: 16}
	if v := q.Get("window"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1024 {
			return nil, fmt.Errorf("target %s: window %q: want 1 to 1024", u.Redacted(), v)
		}
		t.Window = n
	}
	return t, nil
}

// ID names the target in the ledger: the URL without the password.
func (t *IMAPTarget) ID() string { return t.String() }

func (t *IMAPTarget) Close() error { return nil }

// Provision does nothing on IMAP, which has no accounts, domains or lists
// to create: phase 1 creates each account's folder tree through Open and
// CreateFolders.
func (t *IMAPTarget) Provision(ctx context.Context, p *Provisioning) error { return nil }

// Open logs in as the account.
func (t *IMAPTarget) Open(ctx context.Context, account string) (Mailbox, error) {
	c, conn, err := t.Dial(ctx, account, nil)
	if err != nil {
		return nil, fmt.Errorf("imap target: %w", classifyIMAP(err))
	}
	b := &imapBox{t: t, c: c, conn: conn, account: account, mailboxes: map[string]bool{}, names: map[string]string{},
		nonEmpty: map[string]bool{}}
	b.deadline()
	list, err := b.c.List("", "*", nil).Collect()
	if err != nil {
		b.c.Close()
		return nil, fmt.Errorf("imap target: LIST as %s: %w", account, err)
	}
	b.delim = '/'
	for _, l := range list {
		if l.Delim != 0 {
			b.delim = l.Delim
		}
		b.mailboxes[l.Mailbox] = true
	}
	return b, nil
}

// classifyIMAP marks a server's NO/BAD answer as ErrRefused.
func classifyIMAP(err error) error {
	var ie *imap.Error
	if errors.As(err, &ie) {
		return fmt.Errorf("%w: %w", ErrRefused, err)
	}
	return err
}

type imapBox struct {
	t         *IMAPTarget
	c         *imapclient.Client
	conn      net.Conn
	account   string
	delim     rune
	mailboxes map[string]bool   // exists on the server
	names     map[string]string // path key -> mailbox name ("" if refused)
	refused   map[string]error  // path key -> why the folder could not be made
	nonEmpty  map[string]bool   // mailbox -> held messages at first use (checked once)
	selected  string
	uidValid  uint32
	pending   []imapPending
}

type imapPending struct {
	cmd     *imapclient.AppendCommand
	mailbox string
	done    func(Appended, error)
}

func (b *imapBox) deadline() { b.t.Arm(b.conn) }

// mailboxName is the IMAP name of a path.
func (b *imapBox) mailboxName(path []string, dotSafe bool) string {
	parts := make([]string, len(path))
	for i, p := range path {
		p = strings.ReplaceAll(p, string(b.delim), "_")
		if dotSafe {
			p = strings.ReplaceAll(p, ".", "_")
		}
		parts[i] = p
	}
	if len(parts) > 0 && parts[0] == InboxName {
		parts[0] = "INBOX"
	}
	return strings.Join(parts, string(b.delim))
}

// mailbox returns the mailbox of a path, creating it if needed.
func (b *imapBox) mailbox(path []string) (string, error) {
	k := strings.Join(path, "\x00")
	if n, ok := b.names[k]; ok {
		if n == "" {
			return "", b.refused[k]
		}
		return n, nil
	}
	name := b.mailboxName(path, false)
	err := b.create(name)
	if errors.Is(err, ErrRefused) {
		if alt := b.mailboxName(path, true); alt != name {
			name = alt
			err = b.create(name)
		}
	}
	if err != nil {
		if !errors.Is(err, ErrRefused) {
			return "", err
		}
		b.names[k] = ""
		if b.refused == nil {
			b.refused = map[string]error{}
		}
		b.refused[k] = err
		return "", err
	}
	b.names[k] = name
	return name, nil
}

func (b *imapBox) create(name string) error {
	if b.mailboxes[name] || strings.EqualFold(name, "INBOX") {
		return nil
	}
	b.deadline()
	err := b.c.Create(name, nil).Wait()
	var ie *imap.Error
	if errors.As(err, &ie) && ie.Code == imap.ResponseCodeAlreadyExists {
		err = nil
	}
	if err != nil {
		return fmt.Errorf("imap target: CREATE %s as %s: %w", name, b.account, classifyIMAP(err))
	}
	b.mailboxes[name] = true
	b.c.Subscribe(name).Wait() // best effort: clients that list subscribed folders only see it
	return nil
}

func (b *imapBox) CreateFolders(ctx context.Context, folders [][]string) error {
	for _, p := range folders {
		if err := ctx.Err(); err != nil {
			return err
		}
		if _, err := b.mailbox(p); err != nil && !errors.Is(err, ErrRefused) {
			return err
		}
	}
	return nil
}

// hadMessages reports whether the mailbox held messages when this run
// first used it (one STATUS per mailbox and run).
func (b *imapBox) hadMessages(name string) (bool, error) {
	if v, ok := b.nonEmpty[name]; ok {
		return v, nil
	}
	b.deadline()
	st, err := b.c.Status(name, &imap.StatusOptions{NumMessages: true}).Wait()
	if err != nil {
		return false, fmt.Errorf("imap target: STATUS %s as %s: %w", name, b.account, err)
	}
	v := st.NumMessages != nil && *st.NumMessages > 0
	b.nonEmpty[name] = v
	return v, nil
}

// find runs the duplicate check (see IMAPTarget) in mailbox name.
func (b *imapBox) find(name string, msg *Message) (Appended, bool, error) {
	if b.selected != name {
		b.deadline()
		sd, err := b.c.Select(name, &imap.SelectOptions{ReadOnly: true}).Wait()
		if err != nil {
			b.selected = ""
			return Appended{}, false, fmt.Errorf("imap target: EXAMINE %s as %s: %w", name, b.account, err)
		}
		b.selected, b.uidValid = name, sd.UIDValidity
	}
	size := int64(len(msg.Body))
	crit := &imap.SearchCriteria{Larger: size - 1, Smaller: size + 1}
	if !msg.Date.IsZero() {
		day := msg.Date.UTC().Truncate(24 * time.Hour)
		crit.Since, crit.Before = day.Add(-24*time.Hour), day.Add(48*time.Hour)
	}
	if id := messageID(msg.Body); id != "" {
		crit.Header = []imap.SearchCriteriaHeaderField{{Key: "Message-ID", Value: id}}
	}
	b.deadline()
	sr, err := b.c.UIDSearch(crit, nil).Wait()
	if err != nil {
		return Appended{}, false, fmt.Errorf("imap target: SEARCH %s as %s: %w", name, b.account, err)
	}
	uids := sr.AllUIDs()
	if len(uids) == 0 {
		return Appended{}, false, nil
	}
	b.deadline()
	bufs, err := b.c.Fetch(imap.UIDSetNum(uids...), &imap.FetchOptions{UID: true, InternalDate: true, RFC822Size: true,
		BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
	if err != nil {
		return Appended{}, false, fmt.Errorf("imap target: FETCH %s as %s: %w", name, b.account, err)
	}
	for _, m := range bufs {
		if m.RFC822Size != size || len(m.BodySection) == 0 || !bytes.Equal(m.BodySection[0].Bytes, msg.Body) {
			continue
		}
		if !msg.Date.IsZero() && m.InternalDate.Unix() != msg.Date.Unix() {
			continue
		}
		if msg.Claimed != nil && msg.Claimed(name, b.uidValid, uint32(m.UID)) {
			continue
		}
		return Appended{ID: restoredID(name, b.uidValid, uint32(m.UID)), Existing: true,
			UIDValidity: b.uidValid, UID: uint32(m.UID)}, true, nil
	}
	return Appended{}, false, nil
}

// messageID is the message's Message-ID header, "" if none.
func messageID(body []byte) string {
	end := bytes.Index(body, []byte("\r\n\r\n"))
	if end < 0 {
		end = bytes.Index(body, []byte("\n\n"))
	}
	if end < 0 {
		end = len(body)
	}
	m, err := mail.ReadMessage(bytes.NewReader(append(body[:end:end], "\r\n\r\n"...)))
	if err != nil {
		return ""
	}
	id := strings.TrimSpace(m.Header.Get("Message-Id"))
	if strings.ContainsAny(id, "\r\n\"\\") {
		return ""
	}
	return id
}

func restoredID(mailbox string, uidValidity, uid uint32) string {
	if uid == 0 {
		return mailbox
	}
	return fmt.Sprintf("%s;UIDVALIDITY=%d;UID=%d", mailbox, uidValidity, uid)
}

func (b *imapBox) Append(ctx context.Context, path []string, msg *Message, done func(Appended, error)) error {
	name, err := b.mailbox(path)
	if err != nil {
		if errors.Is(err, ErrRefused) {
			if err := b.Flush(ctx); err != nil {
				return err
			}
			done(Appended{}, err)
			return nil
		}
		return err
	}
	had, err := b.hadMessages(name)
	if err != nil {
		return err
	}
	if had {
		// Earlier appends must be confirmed (and recorded) first, so the
		// search cannot take one of them for this item.
		if err := b.Flush(ctx); err != nil {
			return err
		}
		a, found, err := b.find(name, msg)
		if err != nil {
			return err
		}
		if found {
			done(a, nil)
			return nil
		}
	}
	flags := imapFlags(msg.Flags, msg.Tags)
	opt := &imap.AppendOptions{Time: msg.Date}
	for _, f := range flags {
		opt.Flags = append(opt.Flags, imap.Flag(f))
	}
	b.deadline()
	cmd := b.c.Append(name, int64(len(msg.Body)), opt)
	if _, err := cmd.Write(msg.Body); err != nil {
		cmd.Close()
		return fmt.Errorf("imap target: APPEND to %s as %s: %w", name, b.account, err)
	}
	if err := cmd.Close(); err != nil {
		return fmt.Errorf("imap target: APPEND to %s as %s: %w", name, b.account, err)
	}
	b.pending = append(b.pending, imapPending{cmd: cmd, mailbox: name, done: done})
	for len(b.pending) >= max(b.t.Window, 1) {
		if err := b.waitOne(); err != nil {
			return err
		}
	}
	return nil
}

// waitOne waits for the oldest APPEND in flight and reports it.
func (b *imapBox) waitOne() error {
	p := b.pending[0]
	b.pending = b.pending[1:]
	b.deadline()
	data, err := p.cmd.Wait()
	if err != nil {
		err = classifyIMAP(err)
		if !errors.Is(err, ErrRefused) {
			return fmt.Errorf("imap target: APPEND to %s as %s: %w", p.mailbox, b.account, err)
		}
		p.done(Appended{}, fmt.Errorf("APPEND to %s: %w", p.mailbox, err))
		return nil
	}
	p.done(Appended{ID: restoredID(p.mailbox, data.UIDValidity, uint32(data.UID)),
		UIDValidity: data.UIDValidity, UID: uint32(data.UID)}, nil)
	return nil
}

func (b *imapBox) Flush(ctx context.Context) error {
	for len(b.pending) > 0 {
		if err := b.waitOne(); err != nil {
			return err
		}
	}
	return nil
}

func (b *imapBox) Close() error {
	b.pending = nil
	b.conn.SetDeadline(time.Now().Add(5 * time.Second))
	b.c.Logout().Wait()
	return b.c.Close()
}
