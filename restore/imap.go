package restore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
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
//     $Forwarded, $MDNSent), the tags as keywords and the internal date.
//     The bytes are sent as they are: nothing is added to the message.
//   - MULTIAPPEND (RFC 3502), when the server offers it (Dovecot does):
//     consecutive messages to one mailbox go as one APPEND of up to Batch
//     messages or 8 MiB, sent when the next message is for another
//     mailbox, when the batch is full, and on Flush; each batch is one
//     server-side transaction. Batches go over AppendConns connections of
//     their own (see multiappend.go for why not the go-imap one), logged in
//     as the account in the same way, up to 2 batches in flight on each,
//     with non-synchronizing literals under LITERAL+ (RFC 7888). A batch is
//     atomic: its tagged OK stores every message (APPENDUID's uid-set gives
//     each its UID, in order); a NO or BAD stores none, and its messages
//     are then appended one by one as below, so that only a message the
//     server refuses on its own is refused. Without MULTIAPPEND (or with
//     batch=0), every message is its own APPEND on the go-imap connection,
//     pipelined (Window commands in flight; LITERAL+ when offered).
//   - An APPEND is confirmed by its tagged OK; with UIDPLUS, APPENDUID
//     gives the restored id "MAILBOX;UIDVALIDITY=v;UID=u". Each message's
//     done is called once its APPEND (or batch) is answered, never before,
//     in the order of the Appends: the ledger records only what the server
//     confirmed.
//   - Duplicate check (crash safety): an item the ledger lacks may still be
//     on the server if a run stopped between the OK and the ledger record.
//     So, in a folder that already held messages when this run first used
//     it, before APPENDing such an item the folder is searched (UID SEARCH
//     HEADER Message-ID <id> LARGER size-1 SMALLER size+1 SINCE/BEFORE
//     around the internal date; without a Message-ID, size and date only)
//     and each hit is fetched: one whose RFC822.SIZE and INTERNALDATE (to
//     the second) match and whose bytes equal the message's, and that the
//     ledger does not already give to another item, is this item: it is
//     recorded and not appended again. Every APPEND and batch sent earlier
//     is answered and recorded before the search (Flush), so that the
//     search cannot take one of this run's messages for this item. A
//     folder empty at first use needs no search (whatever this run adds
//     there is in its ledger), so batching is only lost while resuming into
//     a folder that already held messages.
//   - Errors: a tagged NO or BAD refuses that item (class invalid) or that
//     account (login); any other error (connection refused, reset, EOF,
//     timeout) means the target is gone and stops the restore.
//   - What the server sends is bounded (imapmaster.Conn: Limits on the
//     wire, a Watchdog that wants progress) on every connection: a LIST
//     at login over imapmaster.ListLimits fails that account (invalid),
//     one go-imap cannot decode (a name not modified UTF-7) is read again
//     without it (imapmaster.ListRaw); any later answer over a limit, or
//     too slow, closes the connection and stops the restore as above.
//     The duplicate check fetches at most maxDupHits hits, each no larger
//     than the message it looks for.
//
// Without MULTIAPPEND, on Dovecot the pipelining window changes nothing
// measurable (window 1 and 64 gave the same rate): each APPEND is its own
// server-side transaction (fsync, dovecot-uidlist, index), which bounds the
// rate; with MULTIAPPEND the restore went from 0.27x to about 1x of
// `doveadm import` of the same messages (docs/PERFORMANCE.md).
//
// URL parameters beyond imapmaster's: window (single APPENDs in flight,
// 16), batch (messages per MULTIAPPEND, 64; 0 or 1: no MULTIAPPEND),
// appendconns (MULTIAPPEND connections per account, 1 to 4, default 2).
// Batch 64 over 2 connections was the best measured (16 and 256, and one
// connection, were not better); each account then holds 3 connections.
type IMAPTarget struct {
	imapmaster.Server
	Window      int // single APPENDs in flight on the go-imap connection
	Batch       int // messages per MULTIAPPEND (below 2: no MULTIAPPEND)
	AppendConns int // MULTIAPPEND connections per account

	stats imapStats
}

func newIMAPTarget(u *url.URL) (*IMAPTarget, error) {
	srv, q, err := imapmaster.Parse(u, "target", "window", "batch", "appendconns")
	if err != nil {
		return nil, err
	}
	t := &IMAPTarget{Server: srv, Window: 16, Batch: 64, AppendConns: 2}
	for _, p := range []struct {
		name     string
		v        *int
		min, max int
	}{{"window", &t.Window, 1, 1024}, {"batch", &t.Batch, 0, 1024}, {"appendconns", &t.AppendConns, 1, 4}} {
		if v := q.Get(p.name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < p.min || n > p.max {
				return nil, fmt.Errorf("target %s: %s %q: want %d to %d", u.Redacted(), p.name, v, p.min, p.max)
			}
			*p.v = n
		}
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

// Open logs in as the account and lists its folders. A LIST answered
// over the limits (imapmaster.ListLimits) fails that account (ErrRefused),
// not the restore; one go-imap cannot decode (a name that is not modified
// UTF-7) is read again without go-imap (imapmaster.ListRaw), the names it
// cannot decode left out (cbfs never creates such a name).
func (t *IMAPTarget) Open(ctx context.Context, account string) (Mailbox, error) {
	c, conn, err := t.Dial(ctx, account, nil)
	if err != nil {
		return nil, fmt.Errorf("imap target: %w", classifyIMAP(err))
	}
	b := &imapBox{t: t, c: c, conn: conn, account: account, mailboxes: map[string]bool{}, names: map[string]string{},
		nonEmpty: map[string]bool{}}
	b.arm(imapmaster.ListLimits())
	list, err := b.c.List("", "*", nil).Collect()
	if err != nil {
		b.c.Close()
		err = conn.Explain(err)
		var ie *imap.Error
		switch {
		case errors.Is(err, imapmaster.ErrOverLimit):
			return nil, fmt.Errorf("imap target: LIST as %s: %w: %w", account, ErrRefused, err)
		case errors.As(err, &ie) || errors.Is(err, imapmaster.ErrSilent):
			return nil, fmt.Errorf("imap target: LIST as %s: %w", account, err)
		}
		raw, rerr := t.ListRaw(ctx, account)
		if rerr != nil {
			return nil, fmt.Errorf("imap target: LIST as %s: %w (and listed again: %w)", account, err, rerr)
		}
		list = nil
		for _, m := range raw {
			if m.Err == nil {
				list = append(list, &imap.ListData{Mailbox: m.Name, Delim: m.Delim})
			}
		}
		if b.c, b.conn, err = t.Dial(ctx, account, nil); err != nil {
			return nil, fmt.Errorf("imap target: %w", classifyIMAP(err))
		}
	}
	b.delim = '/'
	for _, l := range list {
		if l.Delim != 0 {
			b.delim = l.Delim
		}
		b.mailboxes[l.Mailbox] = true
	}
	if err := b.openAppendConns(ctx); err != nil {
		b.c.Close()
		return nil, err
	}
	return b, nil
}

// CheckLogin logs in as account through the master login and out again
// (restore's LoginChecker): a refused login wraps ErrRefused.
// A temporary failure ([UNAVAILABLE], Dovecot's "Temporary authentication
// failure" of a busy auth process) is tried again, up to 4 times in about
// 6 seconds.
func (t *IMAPTarget) CheckLogin(ctx context.Context, account string) error {
	var (
		c    *imapclient.Client
		conn *imapmaster.Conn
		err  error
	)
	for try := 0; ; try++ {
		c, conn, err = t.Dial(ctx, account, nil)
		var ie *imap.Error
		if err == nil || try == 3 || !errors.As(err, &ie) || ie.Code != imap.ResponseCodeUnavailable {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(1<<try) * time.Second):
		}
	}
	if err != nil {
		return fmt.Errorf("imap target: %w", classifyIMAP(err))
	}
	conn.Arm(imapmaster.DefaultLimits)
	_ = c.Logout().Wait()
	return c.Close()
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
	conn      *imapmaster.Conn
	account   string
	delim     rune
	mailboxes map[string]bool   // exists on the server
	names     map[string]string // path key -> mailbox name ("" if refused)
	refused   map[string]error  // path key -> why the folder could not be made
	nonEmpty  map[string]bool   // mailbox -> held messages at first use (checked once)
	selected  string
	uidValid  uint32
	pending   []imapPending
	lastMain  time.Time // last command on c

	// MULTIAPPEND (multiappend.go)
	multi []*appendConn
	cur   *appendBatch   // being gathered
	sent  []*appendBatch // written, unanswered, oldest first (across multi)
	rr    int
}

type imapPending struct {
	cmd     *imapclient.AppendCommand
	mailbox string
	done    func(Appended, error)
}

// deadline arms the go-imap connection for a command (DefaultLimits).
func (b *imapBox) deadline() { b.arm(imapmaster.DefaultLimits) }

func (b *imapBox) arm(l imapmaster.Limits) {
	b.lastMain = time.Now()
	b.conn.Arm(l)
}

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
		return fmt.Errorf("imap target: CREATE %s as %s: %w", name, b.account, classifyIMAP(b.conn.Explain(err)))
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
		return false, fmt.Errorf("imap target: STATUS %s as %s: %w", name, b.account, b.conn.Explain(err))
	}
	v := st.NumMessages != nil && *st.NumMessages > 0
	b.nonEmpty[name] = v
	return v, nil
}

// maxDupHits is how many of a duplicate check's search hits are fetched
// and compared (a sane folder has one, or a few copies); a server
// answering more is not believed beyond them. dupChunk bounds the bytes
// one FETCH of hits may bring (each hit is exactly the message's size).
const (
	maxDupHits = 64
	dupChunk   = 32 << 20
)

// find runs the duplicate check (see IMAPTarget) in mailbox name.
func (b *imapBox) find(name string, msg *Message) (Appended, bool, error) {
	if b.selected != name {
		b.deadline()
		sd, err := b.c.Select(name, &imap.SelectOptions{ReadOnly: true}).Wait()
		if err != nil {
			b.selected = ""
			return Appended{}, false, fmt.Errorf("imap target: EXAMINE %s as %s: %w", name, b.account, b.conn.Explain(err))
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
		return Appended{}, false, fmt.Errorf("imap target: SEARCH %s as %s: %w", name, b.account, b.conn.Explain(err))
	}
	uids := firstUIDs(sr.All, maxDupHits)
	per := max(1, min(len(uids), int(dupChunk/max(size, 1))))
	for len(uids) > 0 {
		chunk := uids[:min(per, len(uids))]
		uids = uids[len(chunk):]
		// A hit's content is exactly the message's size, or not this
		// message: no literal may be larger.
		b.arm(imapmaster.FetchLimits(len(chunk), size))
		cmd := b.c.Fetch(imap.UIDSetNum(chunk...), &imap.FetchOptions{UID: true, InternalDate: true, RFC822Size: true,
			BodySection: []*imap.FetchItemBodySection{{Peek: true}}})
		var found *Appended
		for {
			md := cmd.Next()
			if md == nil {
				break
			}
			m, err := md.Collect()
			if err != nil || found != nil {
				continue
			}
			if m.RFC822Size != size || len(m.BodySection) == 0 || !bytes.Equal(m.BodySection[0].Bytes, msg.Body) {
				continue
			}
			if !msg.Date.IsZero() && m.InternalDate.Unix() != msg.Date.Unix() {
				continue
			}
			if msg.Claimed != nil && msg.Claimed(name, b.uidValid, uint32(m.UID)) {
				continue
			}
			found = &Appended{ID: restoredID(name, b.uidValid, uint32(m.UID)), Existing: true,
				UIDValidity: b.uidValid, UID: uint32(m.UID)}
		}
		if err := cmd.Close(); err != nil {
			return Appended{}, false, fmt.Errorf("imap target: FETCH %s as %s: %w", name, b.account, b.conn.Explain(err))
		}
		if found != nil {
			return *found, true, nil
		}
	}
	return Appended{}, false, nil
}

// firstUIDs is the first n UIDs of a search's answer. Not
// SearchData.AllUIDs: it expands every range (an ESEARCH answer "ALL
// 1:4294967295" is 16 GB), and would panic on "*" (which go-imap's
// decoder refuses; here a range with "*" is no hit).
func firstUIDs(all imap.NumSet, n int) []imap.UID {
	set, ok := all.(imap.UIDSet)
	if !ok {
		return nil
	}
	var out []imap.UID
	for _, r := range set {
		if r.Start == 0 || r.Stop == 0 {
			continue
		}
		lo, hi := min(r.Start, r.Stop), max(r.Start, r.Stop)
		for u := lo; len(out) < n; u++ {
			out = append(out, u)
			if u == hi {
				break
			}
		}
		if len(out) >= n {
			break
		}
	}
	return out
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
	if b.batching() {
		return b.enqueue(name, msg, flags, done)
	}
	if b.cur != nil || len(b.sent) > 0 {
		// Batching just stopped (its connections answered BAD): report
		// the batches first, keeping done in Append order.
		if err := b.Flush(ctx); err != nil {
			return err
		}
	}
	if err := b.appendOne(name, msg, flags, done); err != nil {
		return err
	}
	for len(b.pending) >= max(b.t.Window, 1) {
		if err := b.waitOne(); err != nil {
			return err
		}
	}
	return nil
}

// appendOne sends one APPEND on the go-imap connection; waitOne reports it.
func (b *imapBox) appendOne(name string, msg *Message, flags []string, done func(Appended, error)) error {
	opt := &imap.AppendOptions{Time: msg.Date}
	for _, f := range flags {
		opt.Flags = append(opt.Flags, imap.Flag(f))
	}
	b.deadline()
	cmd := b.c.Append(name, int64(len(msg.Body)), opt)
	if _, err := cmd.Write(msg.Body); err != nil {
		cmd.Close()
		return fmt.Errorf("imap target: APPEND to %s as %s: %w", name, b.account, b.conn.Explain(err))
	}
	if err := cmd.Close(); err != nil {
		return fmt.Errorf("imap target: APPEND to %s as %s: %w", name, b.account, b.conn.Explain(err))
	}
	b.pending = append(b.pending, imapPending{cmd: cmd, mailbox: name, done: done})
	return nil
}

// waitOne waits for the oldest APPEND in flight and reports it.
func (b *imapBox) waitOne() error {
	p := b.pending[0]
	b.pending = b.pending[1:]
	b.deadline()
	data, err := p.cmd.Wait()
	if err != nil {
		err = classifyIMAP(b.conn.Explain(err))
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

// waitSingles reports every single APPEND in flight.
func (b *imapBox) waitSingles() error {
	for len(b.pending) > 0 {
		if err := b.waitOne(); err != nil {
			return err
		}
	}
	return nil
}

// Flush sends the batch being gathered and reports everything in flight,
// oldest first (single APPENDs are only in flight without batching, or
// within waitBatch's fallback, which reports them before it returns).
func (b *imapBox) Flush(ctx context.Context) error {
	if err := b.waitSingles(); err != nil {
		return err
	}
	if err := b.sendBatch(); err != nil {
		return err
	}
	for len(b.sent) > 0 {
		if err := b.waitBatch(); err != nil {
			return err
		}
	}
	return nil
}

// Close drops what was not flushed (never reported: the ledger lacks it,
// and the duplicate check finds whatever of it the server stored).
func (b *imapBox) Close() error {
	b.pending, b.cur, b.sent = nil, nil, nil
	for _, c := range b.multi {
		c.inflight = 0
	}
	b.closeAppendConns()
	b.conn.SetDeadline(time.Now().Add(5 * time.Second))
	b.c.Logout().Wait()
	return b.c.Close()
}
