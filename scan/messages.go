package scan

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"mime"
	"net/mail"
	"strings"
	"time"

	"github.com/emersion/go-message/charset"

	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/mailbox"
)

// errStop ends an account's fetches once the read error threshold is hit.
var errStop = errors.New("read error threshold reached")

type occ struct {
	c *cur
	m *Message
}

type sizeKey struct {
	s    string
	size int64
}

// messages compares the listed messages with the scan state and writes
// new items, new states and deleted states.
func (a *acctScan) messages(ctx context.Context, curs []*cur) error {
	present, seen, cands, rereads, err := a.classify(curs)
	if err != nil {
		return err
	}
	g := a.findGone(present, seen)
	if stopped, err := a.readNew(ctx, g, cands, rereads); stopped || err != nil {
		return err
	}
	if a.rep.ReadErrors > 0 || a.rep.FoldersSkipped > 0 {
		// A message that could not be read, or one in a folder skipped,
		// may be one that moved: keep the vanished ones (and the folders
		// not seen) until a scan reads everything.
		return nil
	}
	if err := a.deleteVanished(ctx, g.vanished); err != nil {
		return err
	}
	return a.dropGoneFolders(present)
}

// classify sorts the listed messages against the scan state: new ones
// (cands), ones to read again (rereads), and ones only moved or
// re-flagged, restated at once; it counts the messages and returns the
// folders present and the keys seen.
func (a *acctScan) classify(curs []*cur) (present map[int]*cur, seen map[string]bool, cands, rereads []occ, err error) {
	present = map[int]*cur{}
	for _, c := range curs {
		present[c.id] = c
	}
	seen = map[string]bool{}
	for _, c := range curs {
		if !c.listed {
			for _, e := range a.st.byItem {
				if e.FolderID == c.id {
					a.rep.Messages++
				}
			}
			continue
		}
		for _, m := range c.msgs {
			a.rep.Messages++
			if seen[m.Key] { // the same file name in two folders (a copy)
				m.Key = m.Key + "@" + c.f.PathString()
			}
			seen[m.Key] = true
			e := a.st.byKey[m.Key]
			switch {
			case e == nil:
				cands = append(cands, occ{c, m})
			case e.Size != m.Size, a.r.opt.Deep:
				rereads = append(rereads, occ{c, m})
			case e.FolderID != c.id || e.Flags != m.Flags || !equalTags(e.Tags, m.Tags):
				if err := a.restate(e, c, m, e.Digest, e.Size, nil); err != nil {
					return nil, nil, nil, nil, err
				}
			}
		}
	}
	return present, seen, cands, rereads, nil
}

// gone indexes the messages of the scan state gone from the folders
// listed (or from folders gone), by Message-ID and by digest, each with
// its size: a message found again under another name is a move.
type gone struct {
	vanished map[int]*MessageEntry
	byMsgID  map[sizeKey][]*MessageEntry
	byDigest map[sizeKey][]*MessageEntry
}

func (a *acctScan) findGone(present map[int]*cur, seen map[string]bool) *gone {
	// Messages gone from the folders listed (or from folders gone).
	vanished := map[int]*MessageEntry{}
	for _, e := range a.st.byItem {
		c := present[e.FolderID]
		if !seen[e.Key] && (c == nil || c.listed) {
			vanished[e.ItemID] = e
		}
	}
	byMsgID := map[sizeKey][]*MessageEntry{}
	byDigest := map[sizeKey][]*MessageEntry{}
	for _, e := range vanished {
		if e.MessageID != "" {
			k := sizeKey{e.MessageID, e.Size}
			byMsgID[k] = append(byMsgID[k], e)
		}
		k := sizeKey{string(e.Digest), e.Size}
		byDigest[k] = append(byDigest[k], e)
	}
	return &gone{vanished, byMsgID, byDigest}
}

// take removes and returns a vanished message of idx under k, or nil.
func (g *gone) take(idx map[sizeKey][]*MessageEntry, k sizeKey) *MessageEntry {
	for len(idx[k]) > 0 {
		e := idx[k][0]
		idx[k] = idx[k][1:]
		if g.vanished[e.ItemID] == e {
			delete(g.vanished, e.ItemID)
			return e
		}
	}
	return nil
}

// readNew reads the new and changed messages: a move recognised by
// Message-ID and size without reading, else by content; the rest become
// new items or new states. stopped: the read error threshold was hit.
func (a *acctScan) readNew(ctx context.Context, g *gone, cands, rereads []occ) (stopped bool, err error) {
	vanished, byMsgID, byDigest, take := g.vanished, g.byMsgID, g.byDigest, g.take
	// Moves recognised without reading content (IMAP: Message-ID + size).
	fetch := map[*cur][]*Message{}
	var order []*cur
	queue := func(o occ) {
		if fetch[o.c] == nil {
			order = append(order, o.c)
		}
		fetch[o.c] = append(fetch[o.c], o.m)
	}
	for _, o := range cands {
		if o.m.MessageID != "" {
			if e := take(byMsgID, sizeKey{o.m.MessageID, o.m.Size}); e != nil {
				if err := a.restate(e, o.c, o.m, e.Digest, e.Size, nil); err != nil {
					return false, err
				}
				continue
			}
		}
		queue(o)
	}
	reread := map[*Message]bool{}
	for _, o := range rereads {
		reread[o.m] = true
		queue(o)
	}
	// readError counts a message that could not be read.
	readError := func(c *cur, m *Message, err error) error {
		c.broken = true
		a.rep.ReadErrors++
		a.r.opt.Logger.Warn("read error", "account", a.name, "folder", c.f.PathString(), "message", m.Key, "err", err)
		if a.r.opt.ReadErrorThreshold > 0 && a.rep.ReadErrors >= a.r.opt.ReadErrorThreshold {
			return errStop
		}
		return nil
	}
	// movedHere finds a vanished message of this content: a move the
	// listing could not tell (another base name).
	movedHere := func(d blob.Digest, size int64) *MessageEntry {
		if len(vanished) == 0 {
			return nil
		}
		return take(byDigest, sizeKey{string(d), size})
	}
	// Read what is new.
	for _, c := range order {
		err := a.mb.Fetch(ctx, c.f, fetch[c], func(m *Message, content []byte, err error) error {
			if cerr := ctx.Err(); cerr != nil {
				return cerr
			}
			if errors.Is(err, ErrVanished) {
				c.broken = true
				return nil
			}
			if err != nil {
				return readError(c, m, err)
			}
			if m.body != nil { // too big to hold: see streamed
				return a.streamed(c, m, reread[m], len(vanished) > 0, movedHere, readError)
			}
			a.fetched(int64(len(content)))
			defer a.r.progress()
			if e := a.st.byKey[m.Key]; e != nil && reread[m] {
				if blob.Sum(content) == e.Digest {
					// Unchanged content (a deep scan, or a name whose
					// ",S=" is not its size: a claim): a new state only
					// for what did change.
					if a.r.opt.Deep {
						return a.deepCheck(e, c, m, content)
					}
					if _, err := a.put(content); err != nil { // normally there already
						return err
					}
					return a.restateIfChanged(e, c, m)
				}
				d, err := a.put(content)
				if err != nil {
					return err
				}
				sum := summarize(content)
				return a.restate(e, c, m, d, int64(len(content)), &sum)
			}
			if len(vanished) > 0 {
				d := blob.Sum(content)
				if e := take(byDigest, sizeKey{string(d), int64(len(content))}); e != nil {
					if _, err := a.put(content); err != nil { // normally there already
						return err
					}
					return a.restate(e, c, m, e.Digest, e.Size, nil)
				}
			}
			return a.add(c, m, content)
		})
		if errors.Is(err, errStop) {
			a.rep.Stopped = true
			a.rep.Errors = append(a.rep.Errors, fmt.Sprintf("stopped after %d read errors (threshold %d)", a.rep.ReadErrors, a.r.opt.ReadErrorThreshold))
			return true, nil
		}
		if err != nil {
			return false, err
		}
	}
	return false, nil
}

// deleteVanished gives each vanished message a deleted state.
func (a *acctScan) deleteVanished(ctx context.Context, vanished map[int]*MessageEntry) error {
	for _, e := range vanished {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := a.changeItem(e.ItemID, func(s *mailbox.State) { s.Deleted = true }); err != nil {
			return err
		}
		a.st.drop(e)
		a.rep.Items.Deleted++
		a.dirty = true
		if err := a.checkpoint(); err != nil {
			return err
		}
	}
	return nil
}

// dropGoneFolders forgets the folders gone from the source and gives
// each of ours a deleted state.
func (a *acctScan) dropGoneFolders(present map[int]*cur) error {
	// Folders gone from the source.
	for id, e := range a.st.folders {
		if present[id] != nil {
			continue
		}
		delete(a.st.folders, id)
		a.dirty = true
		if _, ok := a.st.itemPaths[id]; !ok || id <= 256 {
			continue // a system folder: no item of ours
		}
		_ = e
		if err := a.changeItem(id, func(s *mailbox.State) { s.Deleted = true }); err != nil {
			return err
		}
		a.rep.Items.Deleted++
	}
	return nil
}

// put stores a blob.
func (a *acctScan) put(content []byte) (blob.Digest, error) {
	d, created, err := a.store.Put(content)
	if err != nil {
		return d, &writeError{err}
	}
	if created {
		a.rep.BlobsNew++
		a.rep.Written++
	}
	return d, nil
}

// deepCheck is a deep scan's re-read of a message whose content did not
// change: its blob is written again if it is missing or does not verify,
// and a move or new flags make a new state as in any scan.
func (a *acctScan) deepCheck(e *MessageEntry, c *cur, m *Message, content []byte) error {
	if _, err := a.store.ReadLimit(e.Digest, blob.Limit{Size: int64(len(content))}); err != nil {
		if err := a.store.Replace(content); err != nil {
			return &writeError{err}
		}
		a.rep.BlobsNew++
		a.rep.Written++
	}
	return a.restateIfChanged(e, c, m)
}

// restateIfChanged writes a new state of a message whose content did not
// change if its folder, flags or tags did.
func (a *acctScan) restateIfChanged(e *MessageEntry, c *cur, m *Message) error {
	if e.FolderID != c.id || e.Flags != m.Flags || !equalTags(e.Tags, m.Tags) {
		return a.restate(e, c, m, e.Digest, e.Size, nil)
	}
	return nil
}

// add backs up a new message: blob first (in the background), then the
// item (pending until flush has made the blob durable).
func (a *acctScan) add(c *cur, m *Message, content []byte) error {
	d := blob.Sum(content)
	if err := a.putAsync(d, content); err != nil {
		return err
	}
	return a.addItem(c, m, d, int64(len(content)), summarize(content))
}

// addItem is add once the blob d (of size bytes) is stored or being
// stored.
func (a *acctScan) addItem(c *cur, m *Message, d blob.Digest, size int64, sum summary) error {
	date := m.Date
	if date.IsZero() {
		date = sum.date
	}
	id := a.alloc()
	s := mailbox.State{Start: a.when(), Type: mailbox.TypeMessage, FolderID: c.id, Flags: m.Flags,
		Tags: m.Tags, Digest: d, Size: size, Date: mailbox.MillisOf(date),
		Subject: sum.subject, From: sum.from, To: sum.to, IMAPUID: m.UID, Extra: mailbox.Extra{}}
	setExtra(s.Extra, extraSource, m.Key)
	if err := a.newItem(id, s); err != nil {
		return err
	}
	msgID := m.MessageID
	if msgID == "" {
		msgID = sum.messageID
	}
	a.st.put(&MessageEntry{Key: m.Key, ItemID: id, FolderID: c.id, Flags: m.Flags, Tags: m.Tags,
		Size: size, Digest: d, MessageID: msgID})
	a.dirty = true
	return a.checkpoint()
}

// restate writes a new state of an existing message: another folder,
// flags, tags, source key, or (sum != nil) content.
func (a *acctScan) restate(e *MessageEntry, c *cur, m *Message, d blob.Digest, size int64, sum *summary) error {
	moved := e.FolderID != c.id
	err := a.changeItem(e.ItemID, func(s *mailbox.State) {
		s.Deleted = false
		s.FolderID, s.Flags, s.Tags = c.id, m.Flags, m.Tags
		s.Digest, s.Size = d, size
		if m.UID != 0 {
			s.IMAPUID = m.UID
		}
		if sum != nil {
			s.Subject, s.From, s.To = sum.subject, sum.from, sum.to
		}
		setExtra(s.Extra, extraSource, m.Key)
	})
	if err != nil {
		return err
	}
	ne := &MessageEntry{Key: m.Key, ItemID: e.ItemID, FolderID: c.id, Flags: m.Flags, Tags: m.Tags,
		Size: size, Digest: d, MessageID: firstNonEmpty(m.MessageID, e.MessageID)}
	a.st.drop(e)
	a.st.put(ne)
	a.rep.Items.Changed++
	if moved {
		a.rep.Items.Moved++
	}
	a.dirty = true
	return a.checkpoint()
}

// summary is what a state shows of a message without its blob.
type summary struct {
	subject, from, to, messageID string
	date                         time.Time
}

var wordDecoder = &mime.WordDecoder{CharsetReader: charset.Reader}

// summarize reads the header; a malformed one yields what could be read.
func summarize(content []byte) summary {
	var s summary
	end := bytes.Index(content, []byte("\n\n"))
	if e2 := bytes.Index(content, []byte("\r\n\r\n")); e2 >= 0 && (end < 0 || e2 < end) {
		end = e2 + 2
	}
	head := content
	if end >= 0 {
		head = content[:end+1]
	}
	msg, err := mail.ReadMessage(bytes.NewReader(append(append([]byte(nil), head...), '\n')))
	if err != nil {
		return s
	}
	dec := func(k string) string {
		v := msg.Header.Get(k)
		if d, err := wordDecoder.DecodeHeader(v); err == nil {
			v = d
		}
		return strings.TrimSpace(v)
	}
	s.subject, s.from, s.to = dec("Subject"), dec("From"), dec("To")
	s.messageID = strings.TrimSpace(msg.Header.Get("Message-Id"))
	if t, err := msg.Header.Date(); err == nil {
		s.date = t
	}
	return s
}
