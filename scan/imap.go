package scan

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/cbfs/cbfs/internal/imapmaster"
	"github.com/cbfs/cbfs/mailbox"
)

// IMAP is an IMAP server read through a master login: account A is opened
// as LOGIN "A<sep>admin" with the admin's password (Dovecot's
// auth_master_user_separator, "*" by default).
//
// A message's key is "<folder>:<uid>" where <folder> is "v<UIDVALIDITY>"
// (unique per account on Dovecot, and kept by RENAME), or the folder's path
// plus its UIDVALIDITY when two folders share one. A folder's change token
// is UIDVALIDITY, UIDNEXT, MESSAGES and HIGHESTMODSEQ (CONDSTORE): any
// delivery, expunge or flag change moves it. Without CONDSTORE flags can
// change silently, so such folders are always listed (UID FLAGS only).
//
// What the server sends is bounded (imapmaster.Limits, checked on the
// wire before go-imap parses it) and must keep coming (the Watchdog): a
// listing holds at most the messages SELECT announced (itself at most
// imapmaster.MaxMessages), a message at most MaxMessage bytes, a LIST at
// most imapmaster.MaxFolders folders. A folder the server answers wrongly
// for (over a limit, too slow, a name that is empty or not modified
// UTF-7) is reported and skipped (Folder.Err, or its listing's error); a
// message whose content is refused is a read error. After a connection
// was closed for such an answer (or lost), the account goes on over a
// new one, up to maxRedials times.
type IMAP struct {
	imapmaster.Server
	// MaxMessage is the largest message content read, in bytes
	// (DefaultMaxMessage when 0): a larger one is a read error, refused
	// from the size the server announces before a byte of it is read.
	MaxMessage int64
}

// DefaultMaxMessage is IMAP.MaxMessage's default: 128 MiB, above the
// largest message any common mail server accepts (Postfix and Carbonio
// default to 10 MB, Exchange Online allows 150 MB), and what a scan may
// hold in memory for one message (contents are read whole).
const DefaultMaxMessage = 128 << 20

// maxRedials is how many times an account's scan opens a new connection
// after one was closed under it (an answer over a limit, too slow, or a
// lost connection): each costs the folder or message it happened on.
const maxRedials = 4

func newIMAPSource(u *url.URL) (*IMAP, error) {
	srv, _, err := imapmaster.Parse(u, "source")
	if err != nil {
		return nil, err
	}
	return &IMAP{Server: srv}, nil
}

// limitFileSize takes Options.MaxFileSize (see Run): a smaller limit than
// MaxMessage applies to IMAP too; a larger one, or none, does not lift
// MaxMessage, since an IMAP message is held in memory whole.
func (s *IMAP) limitFileSize(n int64) {
	if n > 0 && n < s.maxMessage() {
		s.MaxMessage = n
	}
}

func (s *IMAP) maxMessage() int64 {
	if s.MaxMessage > 0 {
		return s.MaxMessage
	}
	return DefaultMaxMessage
}

// Accounts returns nil: IMAP cannot list accounts; they come from the
// account list.
func (s *IMAP) Accounts(ctx context.Context) ([]string, error) { return nil, nil }

func (s *IMAP) Close() error { return nil }

// Open logs in as the account.
func (s *IMAP) Open(ctx context.Context, account string) (Mailbox, error) {
	c, conn, err := s.Dial(ctx, account, nil)
	if err != nil {
		return nil, err
	}
	// ctx is checked between batches of fetchBatch messages; the
	// connection's Watchdog bounds each command. (Closing the connection
	// under a running FETCH races inside go-imap.)
	return &imapBox{src: s, c: c, conn: conn, account: account}, nil
}

type imapBox struct {
	src      *IMAP
	c        *imapclient.Client
	conn     *imapmaster.Conn
	account  string
	selected string // the folder selected, when isSel
	isSel    bool
	broken   error // the connection is closed: why
	redials  int
}

type imapFolder struct {
	name        string
	uidValidity uint32
	keyPrefix   string
}

func (b *imapBox) Close() error {
	if b.broken == nil {
		b.conn.Arm(imapmaster.DefaultLimits)
		b.c.Logout().Wait()
	}
	return b.c.Close()
}

// failed explains a command's error and notes a closed connection: any
// error but the server's NO or BAD leaves go-imap's client unusable.
func (b *imapBox) failed(err error) error {
	err = b.conn.Explain(err)
	var ie *imap.Error
	if !errors.As(err, &ie) && b.broken == nil {
		b.broken = err
		b.isSel = false
	}
	return err
}

// ready opens a new connection if the last one was closed.
func (b *imapBox) ready(ctx context.Context) error {
	if b.broken == nil {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if b.redials >= maxRedials {
		return fmt.Errorf("imap: gave up on the account after %d closed connections; the last: %w", b.redials+1, b.broken)
	}
	b.c.Close()
	c, conn, err := b.src.Dial(ctx, b.account, nil)
	if err != nil {
		return fmt.Errorf("imap: connection closed (%v), and a new one failed: %w", b.broken, err)
	}
	b.redials++
	b.c, b.conn, b.broken, b.isSel = c, conn, nil, false
	return nil
}

// folderNameErr says why a folder's name cannot be backed up: empty, or
// with an empty level ("a//b", "/a").
func folderNameErr(name string, path []string) error {
	if name == "" {
		return errors.New("the server lists a folder with an empty name")
	}
	for _, p := range path {
		if p == "" {
			return fmt.Errorf("folder name %q has an empty level", name)
		}
	}
	return nil
}

// Folders lists the folders with their status; \Noselect ones (parents
// that hold no messages) as NoSelect folders, so the hierarchy is kept.
// A folder whose name cannot be backed up (empty, not modified UTF-7), or
// whose STATUS fails, comes with its Err set.
func (b *imapBox) Folders(ctx context.Context) ([]*Folder, error) {
	if err := b.ready(ctx); err != nil {
		return nil, err
	}
	caps := b.c.Caps()
	condstore := caps.Has(imap.CapCondStore)
	sopt := &imap.StatusOptions{NumMessages: true, UIDNext: true, UIDValidity: true, HighestModSeq: condstore}
	lopt := &imap.ListOptions{ReturnSpecialUse: caps.Has(imap.CapSpecialUse)}
	if caps.Has(imap.CapListStatus) {
		lopt.ReturnStatus = sopt
	}
	b.conn.Arm(imapmaster.ListLimits())
	list, err := b.c.List("", "*", lopt).Collect()
	var out []*Folder
	if err != nil {
		err = b.failed(err)
		var ie *imap.Error
		if errors.As(err, &ie) || errors.Is(err, imapmaster.ErrOverLimit) || errors.Is(err, imapmaster.ErrSilent) {
			return nil, fmt.Errorf("imap LIST: %w", err)
		}
		// go-imap could not decode the answer (a name that is not
		// modified UTF-7 fails all of it): list again without go-imap,
		// naming each folder that cannot be backed up.
		raw, rerr := b.src.ListRaw(ctx, b.account)
		if rerr != nil {
			return nil, fmt.Errorf("imap LIST: %w (and listed again: %w)", err, rerr)
		}
		list = list[:0]
		for _, m := range raw {
			if m.Err != nil {
				out = append(out, &Folder{Path: []string{m.Raw}, Err: m.Err})
				continue
			}
			l := &imap.ListData{Mailbox: m.Name, Delim: m.Delim}
			for _, a := range m.Attrs {
				l.Attrs = append(l.Attrs, imap.MailboxAttr(a))
			}
			list = append(list, l)
		}
		if err := b.ready(ctx); err != nil {
			return nil, err
		}
	}
	uvCount := map[uint32]int{}
	for _, l := range list {
		skip, noSelect := false, false
		for _, at := range l.Attrs {
			switch {
			case strings.EqualFold(string(at), string(imap.MailboxAttrNonExistent)):
				skip = true
			case strings.EqualFold(string(at), string(imap.MailboxAttrNoSelect)):
				noSelect = true
			}
		}
		if skip {
			continue
		}
		path := []string{l.Mailbox}
		if l.Delim != 0 {
			path = strings.Split(l.Mailbox, string(l.Delim))
		}
		if err := folderNameErr(l.Mailbox, path); err != nil {
			out = append(out, &Folder{Path: path, Err: err})
			continue
		}
		if noSelect {
			// A parent that holds no messages: kept for the hierarchy.
			out = append(out, &Folder{Path: path, NoSelect: true, Token: noSelectToken})
			continue
		}
		f := &Folder{Path: path}
		st := l.Status
		if st == nil {
			if err := b.ready(ctx); err != nil {
				return nil, err
			}
			b.conn.Arm(imapmaster.DefaultLimits)
			if st, err = b.c.Status(l.Mailbox, sopt).Wait(); err != nil {
				f.Err = fmt.Errorf("imap STATUS %s: %w", l.Mailbox, b.failed(err))
				out = append(out, f)
				continue
			}
		}
		if strings.EqualFold(l.Mailbox, "INBOX") {
			f.Path = []string{"INBOX"}
			f.Special = mailbox.FolderInbox
		}
		for _, at := range l.Attrs {
			switch {
			case strings.EqualFold(string(at), string(imap.MailboxAttrTrash)):
				f.Special = mailbox.FolderTrash
			case strings.EqualFold(string(at), string(imap.MailboxAttrJunk)):
				f.Special = mailbox.FolderJunk
			case strings.EqualFold(string(at), string(imap.MailboxAttrSent)):
				f.Special = mailbox.FolderSent
			case strings.EqualFold(string(at), string(imap.MailboxAttrDrafts)):
				f.Special = mailbox.FolderDrafts
			}
		}
		if f.Special == 0 {
			f.Special = specialOf(f.Path)
		}
		var n uint32
		if st.NumMessages != nil {
			n = *st.NumMessages
		}
		if condstore && st.HighestModSeq > 0 {
			f.Token = fmt.Sprintf("%d.%d.%d.%d", st.UIDValidity, st.UIDNext, n, st.HighestModSeq)
		}
		f.Key = "v" + strconv.FormatUint(uint64(st.UIDValidity), 10)
		f.ref = &imapFolder{name: l.Mailbox, uidValidity: st.UIDValidity}
		uvCount[st.UIDValidity]++
		out = append(out, f)
	}
	for _, f := range out {
		if f.NoSelect || f.Err != nil {
			continue
		}
		r := f.ref.(*imapFolder)
		r.keyPrefix = f.Key
		if uvCount[r.uidValidity] > 1 { // not unique: not a stable identity
			f.Key = ""
			r.keyPrefix = f.PathString() + "/v" + strconv.FormatUint(uint64(r.uidValidity), 10)
		}
	}
	// Parents before children.
	sortFolders(out)
	return out, nil
}

// sel selects (EXAMINE) a folder. The folder's message count, as the
// server announces it, must be at most imapmaster.MaxMessages.
func (b *imapBox) sel(ctx context.Context, name string) (*imap.SelectData, error) {
	if err := b.ready(ctx); err != nil {
		return nil, err
	}
	b.isSel = false
	b.conn.Arm(imapmaster.DefaultLimits)
	d, err := b.c.Select(name, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		return nil, fmt.Errorf("imap EXAMINE %s: %w", name, b.failed(err))
	}
	if d.NumMessages > imapmaster.MaxMessages {
		return nil, fmt.Errorf("imap EXAMINE %s: the server counts %d messages in it, over cbfs's limit of %d a folder", name, d.NumMessages, imapmaster.MaxMessages)
	}
	b.selected, b.isSel = name, true
	return d, nil
}

// imapFlags maps IMAP flags to Zimbra flags and keyword tags.
func imapFlags(flags []imap.Flag) (string, []string) {
	list := make([]string, len(flags))
	for i, f := range flags {
		list[i] = string(f)
	}
	return mailbox.FlagsFromIMAP(list)
}

// Messages lists UID, FLAGS, RFC822.SIZE and INTERNALDATE of every message;
// for UIDs at or above the last scan's UIDNEXT also the Message-ID, so
// messages moved in are recognised without fetching them.
func (b *imapBox) Messages(ctx context.Context, f *Folder, prior *FolderEntry) ([]*Message, error) {
	r := f.ref.(*imapFolder)
	sd, err := b.sel(ctx, r.name) // always re-select: a fresh EXISTS count
	if err != nil {
		return nil, err
	}
	if sd.NumMessages == 0 {
		return nil, nil
	}
	var all imap.SeqSet
	all.AddRange(1, 0) // 1:*
	b.conn.Arm(imapmaster.ListingLimits(int64(sd.NumMessages)))
	cmd := b.c.Fetch(all, &imap.FetchOptions{UID: true, Flags: true, RFC822Size: true, InternalDate: true})
	out := make([]*Message, 0, sd.NumMessages) // at most MaxMessages (sel)
	in := interner{}                           // flags and keywords repeat: one copy each
	var byUID map[imap.UID]*Message            // for the envelopes of new messages
	if prior != nil {
		byUID = map[imap.UID]*Message{}
	}
	for {
		md := cmd.Next()
		if md == nil {
			break
		}
		m, err := md.Collect()
		if err != nil || m.UID == 0 {
			continue // the command's error follows
		}
		msg := &Message{Key: r.keyPrefix + ":" + strconv.FormatUint(uint64(m.UID), 10), Size: m.RFC822Size,
			Date: m.InternalDate, UID: uint32(m.UID)}
		msg.Flags, msg.Tags = imapFlags(m.Flags)
		msg.Flags = in.str(msg.Flags)
		for i, t := range msg.Tags {
			msg.Tags[i] = in.str(t)
		}
		out = append(out, msg)
		if byUID != nil {
			byUID[m.UID] = msg
		}
	}
	if err := cmd.Close(); err != nil {
		return nil, fmt.Errorf("imap FETCH %s: %w", r.name, b.failed(err))
	}
	// Message-IDs of messages new since the last scan of this folder.
	if prior != nil {
		var since imap.UID
		if p := strings.Split(prior.Token, "."); len(p) == 4 && p[0] == strconv.FormatUint(uint64(r.uidValidity), 10) {
			if n, err := strconv.ParseUint(p[1], 10, 32); err == nil {
				since = imap.UID(n)
			}
		}
		var set imap.UIDSet
		n := 0
		for uid := range byUID {
			if uid >= since {
				set.AddNum(uid)
				n++
			}
		}
		if n > 0 {
			// Envelopes are read one at a time (only the Message-ID is
			// kept): the budget bounds the time, not memory.
			b.conn.Arm(imapmaster.Limits{Responses: int64(n) + 64, Bytes: int64(n+64) * (64 << 10)})
			cmd := b.c.Fetch(set, &imap.FetchOptions{UID: true, Envelope: true})
			for {
				md := cmd.Next()
				if md == nil {
					break
				}
				e, err := md.Collect()
				if err != nil {
					continue
				}
				if m := byUID[e.UID]; m != nil && e.Envelope != nil && e.Envelope.MessageID != "" {
					m.MessageID = "<" + e.Envelope.MessageID + ">"
				}
			}
			if err := cmd.Close(); err != nil {
				return nil, fmt.Errorf("imap FETCH ENVELOPE %s: %w", r.name, b.failed(err))
			}
		}
	}
	return out, nil
}

// interner keeps one copy of each string it is given, up to maxInterned
// of them (a listing's flag sets and keywords: a few, repeated over every
// message of a folder).
type interner map[string]string

const maxInterned = 4096

func (in interner) str(s string) string {
	if v, ok := in[s]; ok {
		return v
	}
	if len(in) < maxInterned {
		in[s] = s
	}
	return s
}

// fetchBatch is how many messages one UID FETCH asks for.
const fetchBatch = 64

// Fetch reads BODY.PEEK[] (which leaves \Seen alone), a batch at a time.
// A message whose content the server announces over MaxMessage, or
// during whose content the connection is closed (an answer over a limit,
// too slow), is a read error; the rest of its batch is asked again over a
// new connection (ready).
func (b *imapBox) Fetch(ctx context.Context, f *Folder, msgs []*Message, fn func(*Message, []byte, error) error) error {
	r := f.ref.(*imapFolder)
	section := &imap.FetchItemBodySection{Peek: true}
	// A message the listing says is too large is not asked for: the guard
	// would refuse it, but at the cost of the connection.
	todo := make([]*Message, 0, len(msgs))
	for _, m := range msgs {
		if m.Size > b.src.maxMessage() {
			err := fmt.Errorf("imap FETCH %s UID %d: %d bytes by the server's count, over the limit of %d", r.name, m.UID, m.Size, b.src.maxMessage())
			if e := fn(m, nil, err); e != nil {
				return e
			}
			continue
		}
		todo = append(todo, m)
	}
	for len(todo) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !b.isSel || b.selected != r.name || b.broken != nil {
			if _, err := b.sel(ctx, r.name); err != nil {
				return err
			}
		}
		batch := todo[:min(fetchBatch, len(todo))]
		todo = todo[len(batch):]
		byUID := map[imap.UID]*Message{}
		var set imap.UIDSet
		for _, m := range batch {
			byUID[imap.UID(m.UID)] = m
			set.AddNum(imap.UID(m.UID))
		}
		b.conn.Arm(imapmaster.FetchLimits(len(batch), b.src.maxMessage()))
		cmd := b.c.Fetch(set, &imap.FetchOptions{UID: true, InternalDate: true, BodySection: []*imap.FetchItemBodySection{section}})
		got := map[imap.UID]bool{}
		var cbErr error
		var last imap.UID // the message being read when the stream ended
		for {
			md := cmd.Next()
			if md == nil {
				break
			}
			var uid imap.UID
			var body []byte
			var bodyErr error
			var date time.Time
			hasBody := false
			for {
				item := md.Next()
				if item == nil {
					break
				}
				switch it := item.(type) {
				case imapclient.FetchItemDataUID:
					uid = it.UID
					last = uid
				case imapclient.FetchItemDataInternalDate:
					date = it.Time
				case imapclient.FetchItemDataBodySection:
					hasBody = true
					if it.Literal != nil {
						body, bodyErr = readLiteral(it.Literal)
					}
				}
			}
			m := byUID[uid]
			if m == nil || got[uid] || !hasBody || cbErr != nil {
				continue
			}
			got[uid] = true
			if !date.IsZero() {
				m.Date = date
			}
			if bodyErr != nil {
				cbErr = fn(m, nil, fmt.Errorf("imap FETCH %s UID %d: %w", r.name, uid, b.conn.Explain(bodyErr)))
			} else {
				cbErr = fn(m, body, nil)
			}
		}
		err := cmd.Close()
		if cbErr != nil {
			return cbErr
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			err = b.failed(err)
			var ie *imap.Error
			if !errors.As(err, &ie) {
				// The connection is closed: the message it was closed on
				// is a read error, the others of the batch are asked again.
				if m := byUID[last]; m != nil && !got[last] {
					got[last] = true
					if e := fn(m, nil, fmt.Errorf("imap FETCH %s UID %d: %w", r.name, last, err)); e != nil {
						return e
					}
				}
				var again []*Message
				for _, m := range batch {
					if !got[imap.UID(m.UID)] {
						again = append(again, m)
					}
				}
				todo = append(again, todo...)
				continue
			}
			// A NO for this batch (e.g. a message the server cannot read):
			// the messages not returned are read errors.
			for _, m := range batch {
				if !got[imap.UID(m.UID)] {
					got[imap.UID(m.UID)] = true
					if e := fn(m, nil, fmt.Errorf("imap FETCH %s UID %d: %w", r.name, m.UID, err)); e != nil {
						return e
					}
				}
			}
		}
		for _, m := range batch {
			if !got[imap.UID(m.UID)] { // expunged since the listing
				if err := fn(m, nil, ErrVanished); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// readLiteral reads a message's content: the size was announced, and
// checked against MaxMessage on the wire (imapmaster.FetchLimits), so the
// buffer is made once, at that size.
func readLiteral(lit imap.LiteralReader) ([]byte, error) {
	buf := make([]byte, lit.Size())
	if _, err := io.ReadFull(lit, buf); err != nil {
		return nil, err
	}
	return buf, nil
}
