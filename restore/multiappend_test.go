package restore

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/internal/dovecot"
)

// multiMsg is the i-th message of the MULTIAPPEND tests: bytes that a
// rewriting client would change (8-bit, trailing spaces, long lines, no
// final newline), flags and an internal date in several zones. (Not NUL
// nor bare LF: Dovecot stores a NUL of a plain APPEND as 0x80 and sends LF
// as CRLF, batched or not.)
func multiMsg(i int) *Message {
	body := fmt.Sprintf("Message-ID: <m%d@example.test>\r\nSubject: message %d\r\n\r\nline one \r\n", i, i)
	switch i % 4 {
	case 1:
		body += strings.Repeat("long line ", 200+i) + "\r\n"
	case 2:
		body += "8-bit \xe9t\xe9\ttab\r\n"
	case 3:
		body += strings.Repeat("x", 1000+i) // no final newline
	}
	flags := []string{"", "u", "fr", "uwd"}[i%4]
	zone := time.FixedZone("", (i%5-2)*3600)
	return &Message{Body: []byte(body), Flags: flags, Tags: []string{fmt.Sprintf("tag %d", i%3)},
		Date: time.Date(2022, 3, 1+i%27, i%24, i%60, i%59, 0, zone)}
}

type multiResult struct {
	i   int
	a   Appended
	err error
}

// TestMultiAppend appends 300 messages over 3 folders (one named in
// modified UTF-7) in runs, with one message the server refuses in the
// middle of a batch: that one is refused alone, the others are stored
// byte for byte with their flags and dates, each done reports the UID the
// server gave that very message, in Append order.
func TestMultiAppend(t *testing.T) {
	for _, tc := range []struct {
		name  string
		query string
		sync  bool // synchronizing literals (no LITERAL+)
		bad   int  // messages in the refused batch
	}{
		{"batch16-1conn", "?batch=16&appendconns=1", false, 16},
		{"batch64-2conns", "?batch=64&appendconns=2", false, 25},
		{"sync-literals", "?batch=16&appendconns=1", true, 16},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const user = "u@example.test"
			s := dovecot.Start(t, map[string]string{user: "pw"})
			tgt, err := ParseTarget(s.SourceURL() + tc.query)
			require.NoError(t, err)
			it := tgt.(*IMAPTarget)
			ctx := context.Background()
			mb, err := tgt.Open(ctx, user)
			require.NoError(t, err)
			box := mb.(*imapBox)
			require.NotEmpty(t, box.multi, "Dovecot offers MULTIAPPEND: batching is on")
			if tc.sync {
				for _, c := range box.multi {
					c.caps["LITERAL+"], c.caps["LITERAL-"] = false, false
				}
			}
			folders := [][]string{{"INBOX"}, {"Archive"}, {"Entwürfe"}}
			require.NoError(t, mb.CreateFolders(ctx, folders))

			const n, bad = 300, 150
			var got []multiResult
			var wants []want
			msgs := map[int]*Message{}
			for i := range n {
				folder := folders[(i/25)%3] // runs of 25: batches end on a mailbox change too
				msg := multiMsg(i)
				if i == bad {
					msg.Body = nil // Dovecot: NO Can't save a zero byte message
				} else {
					mf := ""
					if folder[0] != "INBOX" {
						mf = "." + folder[0]
					}
					wants = append(wants, want{Folder: mf, Digest: string(blob.Sum(msg.Body)),
						Flags: zflagsToMaildir(msg.Flags), Date: msg.Date.Unix()})
				}
				msgs[i] = msg
				require.NoError(t, mb.Append(ctx, folder, msg, func(a Appended, err error) {
					got = append(got, multiResult{i, a, err})
				}))
			}
			require.NoError(t, mb.Flush(ctx))
			require.NoError(t, mb.Close())

			require.Len(t, got, n)
			for k, r := range got {
				require.Equal(t, k, r.i, "done in Append order")
				if r.i == bad {
					require.ErrorIs(t, r.err, ErrRefused)
					assert.Contains(t, r.err.Error(), "zero byte")
					continue
				}
				require.NoError(t, r.err, "message %d", r.i)
				assert.NotZero(t, r.a.UID)
				assert.Contains(t, r.a.ID, fmt.Sprintf(";UIDVALIDITY=%d;UID=%d", r.a.UIDValidity, r.a.UID))
			}
			assert.EqualValues(t, 1, it.stats.fallbacks.Load(), "the batch holding the empty message")
			assert.EqualValues(t, n-tc.bad, it.stats.batched.Load(), "all but the refused batch went in batches")
			assert.GreaterOrEqual(t, it.stats.batches.Load(), int64(n/25-1))

			sortWants(wants)
			stored, _ := readIMAP(t, s, user)
			assert.Equal(t, wants, stored, "folders, flags, internal dates and bytes")

			// Each reported UID holds that very message.
			c, err := s.Login(user)
			require.NoError(t, err)
			defer c.Close()
			byUID := map[string][]byte{}
			for _, f := range []string{"INBOX", "Archive", "Entwürfe"} {
				_, err := c.Select(f, &imap.SelectOptions{ReadOnly: true}).Wait()
				require.NoError(t, err)
				var all imap.SeqSet
				all.AddRange(1, 0)
				bufs, err := c.Fetch(all, &imap.FetchOptions{UID: true, InternalDate: true,
					BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
				require.NoError(t, err)
				for _, m := range bufs {
					byUID[fmt.Sprintf("%s/%d", f, m.UID)] = m.BodySection[0].Bytes
				}
			}
			for _, r := range got {
				if r.err == nil {
					f := strings.SplitN(r.a.ID, ";", 2)[0]
					assert.Equal(t, msgs[r.i].Body, byUID[fmt.Sprintf("%s/%d", f, r.a.UID)], "message %d", r.i)
				}
			}
		})
	}
}

// A mailbox that vanishes under a batch (NO [TRYCREATE]): the batch and
// its one-by-one retry are refused, item by item; the next batch goes on.
func TestMultiAppendMailboxGone(t *testing.T) {
	const user = "u@example.test"
	s := dovecot.Start(t, map[string]string{user: "pw"})
	tgt, err := ParseTarget(s.SourceURL() + "?batch=8")
	require.NoError(t, err)
	ctx := context.Background()
	mb, err := tgt.Open(ctx, user)
	require.NoError(t, err)
	defer mb.Close()
	require.NoError(t, mb.CreateFolders(ctx, [][]string{{"Gone"}}))
	var errs []error
	record := func(a Appended, err error) { errs = append(errs, err) }
	// The first Append checks the folder (empty); then it goes.
	require.NoError(t, mb.Append(ctx, []string{"Gone"}, multiMsg(0), record))
	c, err := s.Login(user)
	require.NoError(t, err)
	require.NoError(t, c.Delete("Gone").Wait())
	c.Close()
	for i := 1; i < 12; i++ {
		folder := []string{"Gone"}
		if i >= 5 {
			folder = []string{"INBOX"}
		}
		require.NoError(t, mb.Append(ctx, folder, multiMsg(i), record))
	}
	require.NoError(t, mb.Flush(ctx))
	require.Len(t, errs, 12)
	for i, err := range errs {
		if i < 5 {
			assert.ErrorIs(t, err, ErrRefused, "message %d", i)
		} else {
			assert.NoError(t, err, "message %d", i)
		}
	}
	it := tgt.(*IMAPTarget)
	assert.EqualValues(t, 1, it.stats.fallbacks.Load())
	assert.EqualValues(t, 7, it.stats.batched.Load())
}

func TestMultiAppendWire(t *testing.T) {
	assert.Equal(t, "INBOX", mailboxArg("inbox"))
	assert.Equal(t, `"Entw&APw-rfe"`, mailboxArg("Entwürfe"))
	assert.Equal(t, `"&ZeVnLIqe-"`, mailboxArg("日本語"))
	assert.Equal(t, `"a&-b \"q\" \\"`, mailboxArg(`a&b "q" \`))
	assert.Equal(t, `"&2D3eAA-"`, mailboxArg("😀"))

	uids, ok := parseUIDSet("5:7,9,12:11", 100)
	assert.True(t, ok)
	assert.Equal(t, []uint32{5, 6, 7, 9, 11, 12}, uids)
	_, ok = parseUIDSet("1:4000000000", 100)
	assert.False(t, ok)
	_, ok = parseUIDSet("0", 100)
	assert.False(t, ok)

	r := parseTagged("m3 OK [APPENDUID 38505 3955:3957] APPEND completed")
	assert.Equal(t, appendResult{status: "OK", text: "[APPENDUID 38505 3955:3957] APPEND completed",
		uidValidity: 38505, uids: []uint32{3955, 3956, 3957}}, r)
	assert.Equal(t, "NO", parseTagged("m4 NO [TRYCREATE] no such mailbox").status)
	n, ok := literalSuffix(`* 1 FETCH (BODY[] {12}`)
	assert.True(t, ok)
	assert.Equal(t, 12, n)
}
