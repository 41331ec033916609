package scan

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/internal/dovecot"
	"github.com/cbfs/cbfs/mailbox"
)

func appendMsg(t *testing.T, c *imapclient.Client, mbox, content string, flags ...imap.Flag) {
	t.Helper()
	body := []byte(content)
	cmd := c.Append(mbox, int64(len(body)), &imap.AppendOptions{Flags: flags, Time: time.Date(2024, 5, 1, 9, 0, 0, 0, time.UTC)})
	_, err := cmd.Write(body)
	require.NoError(t, err)
	require.NoError(t, cmd.Close())
	_, err = cmd.Wait()
	require.NoError(t, err)
}

func crlf(s string) string { return string(bytes.ReplaceAll([]byte(s), []byte("\n"), []byte("\r\n"))) }

// imapContents returns subject -> raw message of every message in the account, by folder.
func imapContents(t *testing.T, dv *dovecot.Server, user string) map[string]map[string][]byte {
	t.Helper()
	c, err := dv.Login(user)
	require.NoError(t, err)
	defer c.Close()
	list, err := c.List("", "*", nil).Collect()
	require.NoError(t, err)
	out := map[string]map[string][]byte{}
	for _, l := range list {
		sel, err := c.Select(l.Mailbox, &imap.SelectOptions{ReadOnly: true}).Wait()
		require.NoError(t, err)
		out[l.Mailbox] = map[string][]byte{}
		if sel.NumMessages == 0 {
			continue
		}
		var all imap.SeqSet
		all.AddRange(1, 0)
		bufs, err := c.Fetch(all, &imap.FetchOptions{Envelope: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
		require.NoError(t, err)
		for _, b := range bufs {
			out[l.Mailbox][b.Envelope.Subject] = b.BodySection[0].Bytes
		}
	}
	return out
}

func TestDovecotIMAP(t *testing.T) {
	users := map[string]string{"alice@example.test": "pw", "bob@example.test": "pw"}
	dv := dovecot.Start(t, users)
	for i := 0; i < 3; i++ {
		subj := fmt.Sprintf("lmtp-%d", i)
		require.NoError(t, dv.Deliver("ann@example.com", []string{"alice@example.test"}, []byte(msg(subj, "delivered "+subj))))
	}
	c, err := dv.Login("alice@example.test")
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Create("Work", nil).Wait())
	require.NoError(t, c.Create("Sent", nil).Wait())
	appendMsg(t, c, "Work", crlf(msg("work-1", "w1")), imap.FlagSeen)
	appendMsg(t, c, "Work", crlf(msg("work-2", "w2")), imap.FlagSeen, imap.FlagFlagged)
	appendMsg(t, c, "Sent", crlf(msg("sent-1", "s1")), imap.FlagSeen)
	appendMsg(t, c, "INBOX", crlf(msg("shared", "same bytes")), imap.FlagSeen)
	cb, err := dv.Login("bob@example.test")
	require.NoError(t, err)
	defer cb.Close()
	appendMsg(t, cb, "INBOX", crlf(msg("shared", "same bytes")), imap.FlagSeen)

	src, err := ParseSource(dv.SourceURL())
	require.NoError(t, err)
	opt := Options{Accounts: []AccountSpec{{Name: "alice@example.test", COS: "default"}, {Name: "bob@example.test"}}}
	bp := newBP(t)

	rep := run(t, bp, src, opt)
	assert.Equal(t, 2, rep.Accounts)
	assert.Equal(t, 8, rep.Messages)
	assert.Equal(t, 8+1, rep.Items.New, "8 messages and the folder Work")
	assert.Equal(t, 7, rep.BlobsNew, "the message appended to both accounts is one blob")

	alice := accountID(t, bp, "alice@example.test")
	its := items(t, bp, alice)
	lv := live(t, its)
	require.Len(t, lv, 7)
	workID, work := folderByName(its, "Work")
	require.NotNil(t, work)
	src0 := imapContents(t, dv, "alice@example.test")
	var total int64
	for mbox, msgs := range src0 {
		for subj, body := range msgs {
			s := lv[subj]
			require.NotNil(t, s, subj)
			data, err := bp.Blobs.Read(s.Digest)
			require.NoError(t, err)
			assert.Equal(t, body, data, "%s/%s: blob = BODY[]", mbox, subj)
			total += int64(len(body))
			assert.NotZero(t, s.IMAPUID)
		}
	}
	assert.Equal(t, "f", lv["work-2"].Flags)
	assert.Equal(t, "u", lv["lmtp-0"].Flags)
	assert.Equal(t, workID, lv["work-1"].FolderID)
	assert.Equal(t, mailbox.FolderSent, lv["sent-1"].FolderID)
	assert.Equal(t, mailbox.MillisOf(time.Date(2024, 5, 1, 9, 0, 0, 0, time.UTC)), lv["work-1"].Date, "INTERNALDATE")
	bobRep := live(t, items(t, bp, accountID(t, bp, "bob@example.test")))
	assert.Equal(t, lv["shared"].Digest, bobRep["shared"].Digest)

	t.Run("re-scan of an unchanged server writes nothing", func(t *testing.T) {
		before := snapshot(t, bp.Root)
		rep := run(t, bp, src, opt)
		assert.Zero(t, rep.Written)
		assert.Zero(t, rep.Bytes)
		assert.Equal(t, before, snapshot(t, bp.Root))
	})

	t.Run("changes become states", func(t *testing.T) {
		_, err := c.Select("INBOX", nil).Wait()
		require.NoError(t, err)
		// flags: lmtp-0 read and flagged
		require.NoError(t, c.Store(uidOf(t, c, "lmtp-0"), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagSeen, imap.FlagFlagged}}, nil).Close())
		// move: lmtp-1 to Work
		_, err = c.Move(uidOf(t, c, "lmtp-1"), "Work").Wait()
		require.NoError(t, err)
		// expunge: lmtp-2
		u := uidOf(t, c, "lmtp-2")
		require.NoError(t, c.Store(u, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close())
		require.NoError(t, c.UIDExpunge(u).Close())
		// rename: Work -> Job
		require.NoError(t, c.Unselect().Wait())
		require.NoError(t, c.Rename("Work", "Job", nil).Wait())
		// new
		appendMsg(t, c, "Job", crlf(msg("job-new", "n")))

		rep := run(t, bp, src, opt)
		assert.Equal(t, 1, rep.Items.New, "job-new")
		assert.Equal(t, 1, rep.Items.Deleted, "lmtp-2")
		assert.Equal(t, 1, rep.Items.Moved, "lmtp-1")
		assert.Equal(t, 3, rep.Items.Changed, "flags, move, folder rename")
		assert.Equal(t, int64(len(crlf(msg("job-new", "n")))), rep.Bytes, "the move was found without reading the message")

		its2 := items(t, bp, alice)
		lv2 := live(t, its2)
		assert.Len(t, lv2, 7)
		assert.Equal(t, "f", lv2["lmtp-0"].Flags)
		assert.Equal(t, workID, lv2["lmtp-1"].FolderID, "moved into the renamed folder")
		assert.Equal(t, lv["lmtp-1"].Digest, lv2["lmtp-1"].Digest)
		assert.Equal(t, "Job", its2[workID].Latest().Name)
		assert.Len(t, its2[workID].States, 2)
		assert.Nil(t, lv2["lmtp-2"])
		for id, it := range its {
			assert.Equal(t, it.States, its2[id].States[:len(it.States)], "item %d: earlier states kept", id)
		}
		for _, it := range its2 {
			if it.Latest().Subject == "lmtp-2" {
				assert.True(t, it.Latest().Deleted)
			}
		}
		// and once more: nothing
		rep = run(t, bp, src, opt)
		assert.Zero(t, rep.Written)
	})

	t.Run("the same mail store read as maildir", func(t *testing.T) {
		age(t, dv.MailRoot())
		bp2 := newBP(t)
		rep := run(t, bp2, NewMaildir(dv.MailRoot()), Options{})
		assert.Equal(t, 2, rep.Accounts)
		imapNow := imapContents(t, dv, "alice@example.test")
		n := 0
		for _, m := range imapNow {
			n += len(m)
		}
		lvm := live(t, items(t, bp2, accountID(t, bp2, "alice@example.test")))
		assert.Len(t, lvm, n)
		_, job := folderByName(items(t, bp2, accountID(t, bp2, "alice@example.test")), "Job")
		assert.NotNil(t, job)
		assert.Equal(t, "f", lvm["lmtp-0"].Flags)
		// A rename through Dovecot keeps the folder item (mailbox GUID).
		require.NoError(t, c.Rename("Job", "Task", nil).Wait())
		rep = run(t, bp2, NewMaildir(dv.MailRoot()), Options{})
		assert.Equal(t, 1, rep.Items.Changed)
		assert.Zero(t, rep.Items.New+rep.Items.Deleted)
	})
}

func uidOf(t *testing.T, c *imapclient.Client, subject string) imap.UIDSet {
	t.Helper()
	uids, err := c.UIDSearch(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: subject}}}, nil).Wait()
	require.NoError(t, err)
	all := uids.AllUIDs()
	require.Len(t, all, 1, subject)
	return imap.UIDSetNum(all...)
}

func TestDovecotCancelAndResume(t *testing.T) {
	dv := dovecot.Start(t, map[string]string{"dave@example.test": "pw"})
	c, err := dv.Login("dave@example.test")
	require.NoError(t, err)
	defer c.Close()
	const n = 40
	for i := 0; i < n; i++ {
		appendMsg(t, c, "INBOX", crlf(msg(fmt.Sprintf("m%02d", i), "x")))
	}
	src, err := ParseSource(dv.SourceURL())
	require.NoError(t, err)
	opt := Options{Accounts: []AccountSpec{{Name: "dave@example.test"}}, CheckpointEvery: 5}
	bp := newBP(t)
	ctx, cancel := context.WithCancel(context.Background())
	o := opt
	o.Progress = func(p Progress) {
		if p.Messages >= 15 {
			cancel()
		}
	}
	_, err = Run(ctx, bp, src, o)
	require.ErrorIs(t, err, context.Canceled)
	run(t, bp, src, opt)
	its := items(t, bp, accountID(t, bp, "dave@example.test"))
	assert.Len(t, live(t, its), n)
	assert.Len(t, its, n, "no duplicate item")
}

// TestIMAPNoselectParent: a folder under a \Noselect parent keeps its
// place in the hierarchy; the parent becomes a folder item without
// messages.
func TestIMAPNoselectParent(t *testing.T) {
	dv := dovecot.Start(t, map[string]string{"alice@example.test": "pw"})
	c, err := dv.Login("alice@example.test")
	require.NoError(t, err)
	defer c.Close()
	list, err := c.List("", "%", nil).Collect()
	require.NoError(t, err)
	delim := "/"
	for _, l := range list {
		if l.Delim != 0 {
			delim = string(l.Delim)
		}
	}
	require.NoError(t, c.Create("a"+delim+"b", nil).Wait())
	appendMsg(t, c, "a"+delim+"b", crlf(msg("deep", "under a noselect parent")), imap.FlagSeen)
	// Make sure the parent is \Noselect (Dovecot's Maildir++ keeps only
	// ".a.b"; remove ".a" if Dovecot made it).
	require.NoError(t, os.RemoveAll(filepath.Join(dv.MaildirOf("alice@example.test"), ".a")))
	list, err = c.List("", "*", nil).Collect()
	require.NoError(t, err)
	noselect := false
	for _, l := range list {
		if l.Mailbox == "a" {
			for _, at := range l.Attrs {
				if at == imap.MailboxAttrNoSelect || at == imap.MailboxAttrNonExistent {
					noselect = true
				}
			}
		}
	}
	require.True(t, noselect, "a is \\Noselect: %+v", list)

	src, err := ParseSource(dv.SourceURL())
	require.NoError(t, err)
	bp := newBP(t)
	opt := Options{Accounts: []AccountSpec{{Name: "alice@example.test"}}}
	rep := run(t, bp, src, opt)
	assert.Equal(t, 1, rep.Messages)

	its := items(t, bp, accountID(t, bp, "alice@example.test"))
	var found []mailbox.Folder
	for id, it := range its {
		if s := mailbox.FolderAt(it, time.Time{}); s != nil {
			found = append(found, mailbox.Folder{ID: id, ParentID: s.ParentID, Name: s.Name})
		}
	}
	paths := map[int]string{}
	for _, f := range mailbox.FolderTree(found) {
		paths[f.ID] = f.Path
	}
	deep := live(t, its)["deep"]
	require.NotNil(t, deep)
	assert.Equal(t, "a/b", paths[deep.FolderID], "the message's folder keeps its parent")
	aID, _ := folderByName(its, "a")
	require.NotZero(t, aID, "the \\Noselect parent is a folder item")
	for _, it := range its {
		if l := it.Latest(); l.Type == mailbox.TypeMessage {
			assert.NotEqual(t, aID, l.FolderID, "the parent holds no messages")
		}
	}

	// A rerun changes nothing.
	rep = run(t, bp, src, opt)
	assert.Zero(t, rep.Items.New+rep.Items.Changed+rep.Items.Deleted, "%+v", rep.Items)
}
