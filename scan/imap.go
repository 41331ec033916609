package scan

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
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
type IMAP struct {
	imapmaster.Server
}

func newIMAPSource(u *url.URL) (*IMAP, error) {
	srv, _, err := imapmaster.Parse(u, "source")
	if err != nil {
		return nil, err
	}
	return &IMAP{Server: srv}, nil
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
	// connection deadline (Timeout) bounds each command. (Closing the
	// connection under a running FETCH races inside go-imap.)
	return &imapBox{src: s, c: c, conn: conn, account: account}, nil
}

type imapBox struct {
	src      *IMAP
	c        *imapclient.Client
	conn     net.Conn
	account  string
	selected string
}

type imapFolder struct {
	name        string
	uidValidity uint32
	keyPrefix   string
}

func (b *imapBox) Close() error {
	b.deadline()
	b.c.Logout().Wait()
	return b.c.Close()
}

func (b *imapBox) deadline() { b.src.Arm(b.conn) }

// Folders lists the folders with their status; \Noselect ones (parents
// that hold no messages) as NoSelect folders, so the hierarchy is kept.
func (b *imapBox) Folders(ctx context.Context) ([]*Folder, error) {
	b.deadline()
	caps := b.c.Caps()
	condstore := caps.Has(imap.CapCondStore)
	sopt := &imap.StatusOptions{NumMessages: true, UIDNext: true, UIDValidity: true, HighestModSeq: condstore}
	lopt := &imap.ListOptions{ReturnSpecialUse: caps.Has(imap.CapSpecialUse)}
	if caps.Has(imap.CapListStatus) {
		lopt.ReturnStatus = sopt
	}
	list, err := b.c.List("", "*", lopt).Collect()
	if err != nil {
		return nil, fmt.Errorf("imap LIST: %w", err)
	}
	var out []*Folder
	uvCount := map[uint32]int{}
	for _, l := range list {
		skip, noSelect := false, false
		for _, at := range l.Attrs {
			switch at {
			case imap.MailboxAttrNonExistent:
				skip = true
			case imap.MailboxAttrNoSelect:
				noSelect = true
			}
		}
		if skip {
			continue
		}
		if noSelect {
			// A parent that holds no messages: kept for the hierarchy.
			path := []string{l.Mailbox}
			if l.Delim != 0 {
				path = strings.Split(l.Mailbox, string(l.Delim))
			}
			out = append(out, &Folder{Path: path, NoSelect: true, Token: noSelectToken})
			continue
		}
		st := l.Status
		if st == nil {
			if st, err = b.c.Status(l.Mailbox, sopt).Wait(); err != nil {
				return nil, fmt.Errorf("imap STATUS %s: %w", l.Mailbox, err)
			}
		}
		path := []string{l.Mailbox}
		if l.Delim != 0 {
			path = strings.Split(l.Mailbox, string(l.Delim))
		}
		f := &Folder{Path: path}
		if strings.EqualFold(l.Mailbox, "INBOX") {
			f.Path = []string{"INBOX"}
			f.Special = mailbox.FolderInbox
		}
		for _, at := range l.Attrs {
			switch at {
			case imap.MailboxAttrTrash:
				f.Special = mailbox.FolderTrash
			case imap.MailboxAttrJunk:
				f.Special = mailbox.FolderJunk
			case imap.MailboxAttrSent:
				f.Special = mailbox.FolderSent
			case imap.MailboxAttrDrafts:
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
		if f.NoSelect {
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

func (b *imapBox) sel(name string) (*imap.SelectData, error) {
	if b.selected == name {
		return nil, nil
	}
	b.deadline()
	d, err := b.c.Select(name, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		b.selected = ""
		return nil, fmt.Errorf("imap EXAMINE %s: %w", name, err)
	}
	b.selected = name
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
	b.selected = "" // always re-select: a fresh EXISTS count
	sd, err := b.sel(r.name)
	if err != nil {
		return nil, err
	}
	if sd.NumMessages == 0 {
		return nil, nil
	}
	b.deadline()
	var all imap.SeqSet
	all.AddRange(1, 0) // 1:*
	bufs, err := b.c.Fetch(all, &imap.FetchOptions{UID: true, Flags: true, RFC822Size: true, InternalDate: true}).Collect()
	if err != nil {
		return nil, fmt.Errorf("imap FETCH %s: %w", r.name, err)
	}
	out := make([]*Message, 0, len(bufs))
	byUID := map[imap.UID]*Message{}
	for _, m := range bufs {
		if m.UID == 0 {
			continue
		}
		msg := &Message{Key: r.keyPrefix + ":" + strconv.FormatUint(uint64(m.UID), 10), Size: m.RFC822Size,
			Date: m.InternalDate, UID: uint32(m.UID)}
		msg.Flags, msg.Tags = imapFlags(m.Flags)
		out = append(out, msg)
		byUID[m.UID] = msg
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
		for uid := range byUID {
			if uid >= since {
				set.AddNum(uid)
			}
		}
		if len(set) > 0 {
			b.deadline()
			env, err := b.c.Fetch(set, &imap.FetchOptions{UID: true, Envelope: true}).Collect()
			if err != nil {
				return nil, fmt.Errorf("imap FETCH ENVELOPE %s: %w", r.name, err)
			}
			for _, e := range env {
				if m := byUID[e.UID]; m != nil && e.Envelope != nil && e.Envelope.MessageID != "" {
					m.MessageID = "<" + e.Envelope.MessageID + ">"
				}
			}
		}
	}
	return out, nil
}

// fetchBatch is how many messages one UID FETCH asks for.
const fetchBatch = 64

// Fetch reads BODY.PEEK[] (which leaves \Seen alone), a batch at a time.
func (b *imapBox) Fetch(ctx context.Context, f *Folder, msgs []*Message, fn func(*Message, []byte, error) error) error {
	r := f.ref.(*imapFolder)
	if _, err := b.sel(r.name); err != nil {
		return err
	}
	section := &imap.FetchItemBodySection{Peek: true}
	for start := 0; start < len(msgs); start += fetchBatch {
		if err := ctx.Err(); err != nil {
			return err
		}
		batch := msgs[start:min(start+fetchBatch, len(msgs))]
		byUID := map[imap.UID]*Message{}
		var set imap.UIDSet
		for _, m := range batch {
			byUID[imap.UID(m.UID)] = m
			set.AddNum(imap.UID(m.UID))
		}
		b.deadline()
		cmd := b.c.Fetch(set, &imap.FetchOptions{UID: true, InternalDate: true, BodySection: []*imap.FetchItemBodySection{section}})
		got := map[imap.UID]bool{}
		var cbErr error
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
				case imapclient.FetchItemDataInternalDate:
					date = it.Time
				case imapclient.FetchItemDataBodySection:
					hasBody = true
					if it.Literal != nil {
						body, bodyErr = io.ReadAll(it.Literal)
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
				cbErr = fn(m, nil, fmt.Errorf("imap FETCH %s UID %d: %w", r.name, uid, bodyErr))
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
			var ie *imap.Error
			if !errors.As(err, &ie) {
				return fmt.Errorf("imap FETCH %s: %w", r.name, err)
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
