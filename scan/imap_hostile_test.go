package scan

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/internal/imapmaster/imaphostile"
)

// syncBuffer is a bytes.Buffer for a logger written from a goroutine the
// test may leave running.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// hostileMsgs are n messages for a hostile server's folder.
func hostileMsgs(prefix string, n int) []*imaphostile.Message {
	var out []*imaphostile.Message
	for i := range n {
		out = append(out, &imaphostile.Message{Body: []byte(crlf(msg(fmt.Sprintf("%s %d", prefix, i), "hello"))),
			Flags: []string{`\Seen`}, Date: time.Date(2024, 5, 1, 9, 0, i, 0, time.UTC)})
	}
	return out
}

// hostileAccount is an account of 2 + 2 + 1 messages in INBOX, Bad and
// Later, answering sc (in Bad, for the folder scenarios).
func hostileAccount(sc imaphostile.Scenario) *imaphostile.Account {
	return &imaphostile.Account{Bad: sc, In: "Bad", Folders: map[string][]*imaphostile.Message{
		"INBOX": hostileMsgs("inbox", 2), "Bad": hostileMsgs("bad", 2), "Later": hostileMsgs("later", 1)}}
}

// TestIMAPHostileServer scans, in one run, an account whose server
// answers wrongly and then a sane account of the same server: the wrong
// answer costs its folder (or, for a LIST, its account) with a clear
// error, within a bound, and everything else is backed up.
func TestIMAPHostileServer(t *testing.T) {
	for _, tc := range []struct {
		sc imaphostile.Scenario
		// what the bad account keeps: its folder Bad fails (folder), or
		// the whole account does (account)
		account bool
		err     string
	}{
		{imaphostile.HugeLiteral, false, "imap answer over a limit: a literal of 10000000000 bytes (at most 134217728)"},
		{imaphostile.EndlessFetch, false, "imap answer over a limit: more than 66 responses to one command"},
		{imaphostile.Trickle, false, "imap server did not answer in time (still running after"},
		{imaphostile.HugeExists, false, "the server counts 4000000000 messages in it, over cbfs's limit"},
		{imaphostile.EmptyName, false, "the server lists a folder with an empty name"},
		{imaphostile.BadName, false, `folder name "Bad&Jjo" is not modified UTF-7`},
		{imaphostile.EndlessList, true, "imap answer over a limit: more than 200064 responses to one command"},
		{imaphostile.EndlessLine, true, "imap answer over a limit: a response line of more than 65536 bytes"},
	} {
		t.Run(string(tc.sc), func(t *testing.T) {
			srv := imaphostile.Start(t, map[string]*imaphostile.Account{
				"bad@example.test":  hostileAccount(tc.sc),
				"good@example.test": hostileAccount(imaphostile.Sane),
			})
			// 3 s: a window of 3 s, so a line a second is activity in
			// every window (not progress).
			src, err := ParseSource(srv.URL("timeout=3s"))
			require.NoError(t, err)
			bp := newBP(t)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			start := time.Now()
			var log syncBuffer
			var rep *Report
			done := make(chan struct{})
			go func() {
				defer close(done)
				rep, err = Run(ctx, bp, src, Options{Accounts: []AccountSpec{{Name: "bad@example.test"}, {Name: "good@example.test"}},
					Logger: slog.New(slog.NewTextHandler(&log, nil))})
			}()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("the scan still runs after 30 s")
			}
			require.NoError(t, err)
			require.NoError(t, ctx.Err(), "the scan ran into the test's deadline")
			t.Logf("%s: %v", tc.sc, time.Since(start).Round(time.Millisecond))
			require.Len(t, rep.PerAccount, 2)
			bad, good := rep.PerAccount[0], rep.PerAccount[1]
			assert.Empty(t, good.Errors)
			assert.Equal(t, 5, good.Messages, "the sane account is backed up")
			assert.Equal(t, 7, good.Items.New, "5 messages and 2 folders (Bad, Later)")
			assert.Zero(t, good.ReadErrors)
			assert.Contains(t, strings.Join(bad.Errors, "\n")+log.String(), tc.err)
			if tc.account {
				assert.Zero(t, bad.Items.New)
				return
			}
			// INBOX and Later backed up: 3 messages, and 3 folders
			// (INBOX, Later, and the root or Bad's parent items).
			msgs := 0
			for _, e := range bad.Errors {
				assert.NotContains(t, e, "Later", "only Bad fails")
			}
			msgs = bad.Messages
			assert.GreaterOrEqual(t, msgs, 3, "%+v", bad)
			if tc.sc == imaphostile.HugeLiteral {
				// The folder is listed; its messages (each announced at
				// 10 GB) are read errors.
				assert.Equal(t, 2, bad.ReadErrors)
			} else {
				assert.Equal(t, 1, bad.FoldersSkipped, "%+v", bad)
			}
		})
	}
}

// Messages over MaxMessage by the listing's size are read errors, asked
// for by no FETCH: each would otherwise cost a connection (the guard
// refuses the literal), and more than maxRedials of them the account.
func TestIMAPMessagesOverMaxMessage(t *testing.T) {
	t.Run("MaxMessage", func(t *testing.T) {
		testIMAPOverMaxMessage(t, func(s *IMAP, _ *Options) { s.MaxMessage = 1000 })
	})
	// --scan-max-file-size below MaxMessage lowers it for IMAP too.
	t.Run("MaxFileSize", func(t *testing.T) {
		testIMAPOverMaxMessage(t, func(_ *IMAP, o *Options) { o.MaxFileSize = 1000 })
	})
}

func testIMAPOverMaxMessage(t *testing.T, limit func(*IMAP, *Options)) {
	acct := hostileAccount(imaphostile.Sane)
	big := hostileMsgs("big", maxRedials+2)
	for _, m := range big {
		m.Body = append(m.Body, bytes.Repeat([]byte("x"), 1000)...)
	}
	acct.Folders["INBOX"] = append(acct.Folders["INBOX"], big...)
	srv := imaphostile.Start(t, map[string]*imaphostile.Account{"ann@example.test": acct})
	src, err := ParseSource(srv.URL("timeout=3s"))
	require.NoError(t, err)
	var log syncBuffer
	opt := Options{Accounts: []AccountSpec{{Name: "ann@example.test"}},
		Logger: slog.New(slog.NewTextHandler(&log, nil))}
	limit(src.(*IMAP), &opt)
	rep, err := Run(context.Background(), newBP(t), src, opt)
	require.NoError(t, err)
	a := rep.PerAccount[0]
	assert.Empty(t, a.Errors)
	assert.Equal(t, maxRedials+2, a.ReadErrors)
	assert.Equal(t, 5+2, a.Items.New, "the 5 other messages and 2 folders")
	assert.Contains(t, log.String(), "bytes by the server's count, over the limit of 1000")
}
