package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/internal/imapmaster/imaphostile"
)

// Issue 18, IMAP peers: a scripted hostile server (imaphostile) answers one
// account's commands wrongly; the real cbctl scans that account and then a
// sane one of the same server, in one run. The wrong answer must cost its
// folder (or, for a LIST, its account) with a clear error, within a
// deadline, with cbctl's peak RSS under 300 MiB, and the sane account (and
// the bad account's other folders) must be backed up.

const (
	imapRSSLimit = 300 << 20
	imapDeadline = 45 * time.Second // a run takes a few seconds (timeout=2s)
)

// hostileMessages are n messages of a hostile server's folder.
func hostileMessages(prefix string, n int) []*imaphostile.Message {
	var out []*imaphostile.Message
	for i := range n {
		body := fmt.Sprintf("From: Ann <ann@example.com>\r\nTo: bob@example.com\r\nSubject: %s %d\r\nMessage-ID: <%s.%d@example.com>\r\n"+
			"Date: Wed, 01 May 2024 08:59:58 +0000\r\n\r\nhello\r\n", prefix, i, prefix, i)
		out = append(out, &imaphostile.Message{Body: []byte(body), Flags: []string{`\Seen`},
			Date: time.Date(2024, 5, 1, 9, 0, i, 0, time.UTC)})
	}
	return out
}

// hostileIMAPAccount holds INBOX (2 messages), Bad (2) and Later (1); the
// scenario applies to Bad where it is a folder's.
func hostileIMAPAccount(sc imaphostile.Scenario) *imaphostile.Account {
	return &imaphostile.Account{Bad: sc, In: "Bad", Folders: map[string][]*imaphostile.Message{
		"INBOX": hostileMessages("inbox", 2), "Bad": hostileMessages("bad", 2), "Later": hostileMessages("later", 1)}}
}

// scanAccountLine is an account's line of a scan report: its new items,
// messages and read errors.
func scanAccountLine(t *testing.T, report, account string) (items, messages, readErrors int) {
	t.Helper()
	for _, l := range strings.Split(report, "\n") {
		if rest, ok := strings.CutPrefix(l, account+": "); ok && strings.HasPrefix(rest, "new ") {
			var changed, deleted int
			_, err := fmt.Sscanf(rest, "new %d, changed %d, deleted %d, messages %d, read errors %d", &items, &changed, &deleted, &messages, &readErrors)
			require.NoError(t, err, l)
			return
		}
	}
	t.Fatalf("no line for %s in the report:\n%s", account, report)
	return
}

func TestHostileIMAPScan(t *testing.T) {
	for _, tc := range []struct {
		sc      imaphostile.Scenario
		account bool   // the whole bad account fails (its LIST), not only its folder Bad
		err     string // in the report's errors, or (read errors) cbctl's log
		fat     int    // EndlessList: names this long
	}{
		{imaphostile.HugeLiteral, false, "imap answer over a limit: a literal of 10000000000 bytes (at most 134217728)", 0},
		{imaphostile.EndlessList, true, "imap answer over a limit: more than 200064 responses to one command", 0},
		{imaphostile.EndlessList, true, "imap answer over a limit: more than 33554432 bytes of responses to one command", 60 << 10},
		{imaphostile.EndlessLine, true, "imap answer over a limit: a response line of more than 65536 bytes", 0},
		{imaphostile.EndlessFetch, false, "imap answer over a limit: more than 66 responses to one command", 0},
		{imaphostile.Trickle, false, "imap server did not answer in time (still running after 2", 0},
		{imaphostile.EmptyName, false, "the server lists a folder with an empty name", 0},
		{imaphostile.BadName, false, `is not modified UTF-7`, 0},
		{imaphostile.HugeExists, false, "the server counts 4000000000 messages in it", 0},
	} {
		name := string(tc.sc)
		if tc.fat > 0 {
			name += "-long-names"
		}
		t.Run(name, func(t *testing.T) {
			bad := hostileIMAPAccount(tc.sc)
			bad.Fat = tc.fat
			srv := imaphostile.Start(t, map[string]*imaphostile.Account{
				"bad@example.test":  bad,
				"good@example.test": hostileIMAPAccount(imaphostile.Sane),
			})
			dir := t.TempDir()
			accounts := filepath.Join(dir, "accounts")
			require.NoError(t, os.WriteFile(accounts, []byte("bad@example.test\ngood@example.test\n"), 0o644))
			start := time.Now()
			r, rss := cbctlRSSWithin(t, imapDeadline, nil, "backup", "doSmartScan", "--json",
				"--backup-path", filepath.Join(dir, "bp"), "--source", srv.URL("timeout=2s"),
				"--accounts-file", accounts, "--state-dir", filepath.Join(dir, "st"))
			t.Logf("%s: exit %d in %s, peak RSS %d MiB", tc.sc, r.code, time.Since(start).Round(time.Millisecond), rss>>20)
			assert.Less(t, rss, int64(imapRSSLimit), "peak RSS %d MiB", rss>>20)
			var op struct{ Result, Error string }
			require.NoError(t, json.Unmarshal([]byte(r.stdout), &op), "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
			items, msgs, readErrs := scanAccountLine(t, op.Result, "good@example.test")
			assert.Equal(t, 5, msgs, "the sane account is backed up")
			assert.Equal(t, 7, items, "its 5 messages and 2 folders")
			assert.Zero(t, readErrs)
			assert.NotContains(t, op.Result, "good@example.test: folder", "no folder of the sane account skipped")
			assert.Contains(t, op.Result+r.stderr, tc.err)
			items, _, readErrs = scanAccountLine(t, op.Result, "bad@example.test")
			if tc.account {
				assert.Zero(t, items)
				return
			}
			assert.NotContains(t, op.Result, `folder "Later" skipped`, "only Bad fails")
			assert.GreaterOrEqual(t, items, 3+2, "INBOX's and Later's messages, and folders:\n%s", op.Result)
			if tc.sc == imaphostile.HugeLiteral {
				assert.Equal(t, 2, readErrs, "Bad's messages, each announced at 10 GB")
			}
		})
	}
}

// TestHostileIMAPRestore restores a Backup Path (scanned from a sane
// server) to a server answering one account wrongly. A LIST over the
// limits at login fails that account alone; a wrong answer later (to an
// APPEND, or to the duplicate check's FETCH) means the target is not
// working: the restore stops with a clear error. Either way within a
// deadline and under 300 MiB.
func TestHostileIMAPRestore(t *testing.T) {
	dir := t.TempDir()
	sane := imaphostile.Start(t, map[string]*imaphostile.Account{
		"bad@example.test":  hostileIMAPAccount(imaphostile.Sane),
		"good@example.test": hostileIMAPAccount(imaphostile.Sane),
	})
	accounts := filepath.Join(dir, "accounts")
	require.NoError(t, os.WriteFile(accounts, []byte("bad@example.test\ngood@example.test\n"), 0o644))
	bp := filepath.Join(dir, "bp")
	r := cbctl(t, "backup", "doSmartScan", "--backup-path", bp, "--source", sane.URL(""),
		"--accounts-file", accounts, "--state-dir", filepath.Join(dir, "st-scan"))
	require.Equal(t, 0, r.code, r.stdout+r.stderr)

	for _, tc := range []struct {
		name     string
		acct     *imaphostile.Account
		err      string
		goodDone bool // the sane account is restored (the bad one cost only itself)
	}{
		{"endless LIST at login", &imaphostile.Account{Bad: imaphostile.EndlessList},
			"imap answer over a limit: more than 200064 responses to one command", true},
		{"endless line at login", &imaphostile.Account{Bad: imaphostile.EndlessLine},
			"imap answer over a limit: a response line of more than 65536 bytes", true},
		{"endless line to an APPEND", &imaphostile.Account{Bad: imaphostile.EndlessLine, At: "APPEND"},
			"imap answer over a limit: a response line of more than 1048576 bytes", false},
		{"a line a second to an APPEND", &imaphostile.Account{Bad: imaphostile.Trickle, At: "APPEND"},
			"imap server did not answer in time (still running after 2", false},
		// go-imap closes its connection on an answer to no command sent
		// (its reason goes to the APPEND, not yet waited for: the error
		// is the next command's, on a closed connection).
		{"an answer to no command sent, then a line a second", &imaphostile.Account{Bad: imaphostile.FakeTag},
			"account bad@example.test: imap target: ", false},
		{"MULTIAPPEND: a line a second", &imaphostile.Account{Bad: imaphostile.Trickle, At: "APPEND", MultiAppend: true},
			"imap server did not answer in time (still running after 2", false},
		{"MULTIAPPEND: an answer to no command sent, then a line a second", &imaphostile.Account{Bad: imaphostile.FakeTag, MultiAppend: true},
			`an answer tagged "zz1", to no command sent`, false},
		{"MULTIAPPEND: an endless line", &imaphostile.Account{Bad: imaphostile.EndlessLine, At: "APPEND", MultiAppend: true},
			"imap answer over a limit: a response line of more than 1048576 bytes", false},
		// The duplicate check looks at the first 64 hits: it finds no
		// copy, and appends. "1:*" is refused by go-imap's decoder.
		{"4e9 search hits", &imaphostile.Account{Bad: imaphostile.HugeSearch,
			Folders: map[string][]*imaphostile.Message{"INBOX": hostileMessages("old", 1)}}, "", true},
		{"search hits 1:*", &imaphostile.Account{Bad: imaphostile.StarSearch,
			Folders: map[string][]*imaphostile.Message{"INBOX": hostileMessages("old", 1)}},
			"server returned a dynamic ALL number set in SEARCH response", false},
		{"10 GB literal in the duplicate check", &imaphostile.Account{Bad: imaphostile.HugeLiteral,
			Folders: map[string][]*imaphostile.Message{"INBOX": hostileMessages("old", 1)}},
			"imap answer over a limit: a literal of 10000000000 bytes (at most 1048576)", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := imaphostile.Start(t, map[string]*imaphostile.Account{
				"bad@example.test":  tc.acct,
				"good@example.test": {},
			})
			st := filepath.Join(t.TempDir(), "st")
			start := time.Now()
			r, rss := cbctlRSSWithin(t, imapDeadline, nil, "backup", "doExternalRestore", bp,
				"target", srv.URL("timeout=2s"), "--json", "--state-dir", st)
			t.Logf("exit %d in %s, peak RSS %d MiB", r.code, time.Since(start).Round(time.Millisecond), rss>>20)
			assert.Less(t, rss, int64(imapRSSLimit), "peak RSS %d MiB", rss>>20)
			if tc.err == "" { // a sane restore
				assert.Equal(t, 0, r.code, r.stdout+r.stderr)
				assert.Contains(t, r.stdout, `Restored Items: 10\n`)
				return
			}
			assert.NotEqual(t, 0, r.code, r.stdout)
			// With --json the error is a JSON string: its quotes escaped.
			esc, _ := json.Marshal(tc.err)
			all := r.stdout + r.stderr
			assert.True(t, strings.Contains(all, tc.err) || strings.Contains(all, string(esc[1:len(esc)-1])), "%q not in\n%s", tc.err, all)
			if tc.goodDone {
				// The bad account is not restored at all: the 5 items
				// restored are the sane account's.
				assert.Contains(t, r.stdout, `Restored Items: 5\n`)
				assert.Contains(t, r.stdout, `account: bad@example.test\ninvalid: imap target: LIST as bad@example.test`)
			}
		})
	}
}
