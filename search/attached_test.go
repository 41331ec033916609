package search

import (
	"context"
	"encoding/base64"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/mailbox"
)

// crlf turns a message written with \n into one with \r\n.
func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

// buildMessages indexes msgs (item id -> raw message) of one account
// (alice) and returns the index file and the build's report.
func buildMessages(t *testing.T, msgs map[int]string) (string, *Report) {
	t.Helper()
	p, err := backuppath.Create(t.TempDir(), backuppath.BackupStat{ServerID: "srv", FirstRun: mailbox.MillisOf(corpusStart)})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.WriteAccount(&mailbox.Account{ID: aliceID, Name: "alice@example.com", Status: "active"}); err != nil {
		t.Fatal(err)
	}
	for id, raw := range msgs {
		addMessage(t, p, aliceID, id, []byte(raw), []mailbox.State{msgState(corpusStart, mailbox.FolderInbox, "", false)})
	}
	file := filepath.Join(t.TempDir(), "search.idx")
	rep, err := Build(context.Background(), p, file, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return file, rep
}

// checkQueries runs each query over file and compares the sorted hits
// ("alice:ID") with want.
func checkQueries(t *testing.T, file string, cases []queryCase) {
	t.Helper()
	for _, tc := range cases {
		got := search(t, file, tc.q)
		slices.Sort(got)
		want := make([]string, len(tc.want))
		for i, id := range tc.want {
			want[i] = fmt.Sprintf("alice:%d", id)
		}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: got %v, want %v", tc.q, got, want)
		}
	}
}

type queryCase struct {
	q    string
	want []int
}

var (
	// Thunderbird's "Forward as attachment": the forwarded message is a
	// message/rfc822 part, with an attachment of its own.
	msgForwarded = crlf(`From: Alice <alice@example.com>
To: Legal <legal@example.com>
Subject: Fwd: contract
Date: Mon, 3 Jun 2024 09:00:00 +0200
Message-ID: <fwd1@example.com>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="OUT"

--OUT
Content-Type: text/plain; charset=utf-8

See the message below.
--OUT
Content-Type: message/rfc822; name="Zeppelin contract.eml"
Content-Disposition: attachment; filename="Zeppelin contract.eml"

From: Dana Okafor <dana@partner.example>
To: Alice <alice@example.com>
Cc: Treasury <treasury@partner.example>
Subject: Zeppelin contract
Date: Fri, 31 May 2024 17:00:00 +0000
Message-ID: <inner1@partner.example>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="IN"

--IN
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable

The deposit is due on Friday. Gr=FC=DFe aus K=F6ln.
--IN
Content-Type: application/pdf; name="blueprint.pdf"
Content-Disposition: attachment; filename="blueprint.pdf"
Content-Transfer-Encoding: base64

JVBERi0xLjQK
--IN--

--OUT--
`)

	// Outlook writes the forwarded message base64-encoded and inline.
	msgForwardedB64 = crlf(`From: Bob <bob@example.org>
To: Alice <alice@example.com>
Subject: FW: minutes
Date: Tue, 4 Jun 2024 09:00:00 +0200
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="B"

--B
Content-Type: text/html; charset=utf-8

<p>FYI</p>
--B
Content-Type: message/rfc822
Content-Disposition: inline
Content-Transfer-Encoding: base64

`) + base64.StdEncoding.EncodeToString([]byte(crlf(`From: Erik <erik@example.se>
Subject: =?utf-8?q?M=C3=B6tesprotokoll?=
Content-Type: text/html; charset=utf-8

<html><body><p>Protokollet från <b>styrelsemötet</b></p></body></html>
`))) + "\r\n--B--\r\n"

	// A forward of a forward: the word is two attached messages down.
	msgForwardedTwice = crlf(`From: Alice <alice@example.com>
To: bob@example.org
Subject: Fwd: Fwd: lunch
Content-Type: message/rfc822

From: Carol <carol@example.org>
Subject: Fwd: lunch
Content-Type: message/rfc822

From: Heinz <heinz@example.de>
Subject: lunch
Content-Type: text/plain

Schnitzel on Thursday.
`)

	// Not a forward: the same words are only in the outer message.
	msgPlainDeposit = crlf(`From: Dana Okafor <dana@partner.example>
To: Alice <alice@example.com>
Subject: Deposit reminder
Content-Type: text/plain

Reminder.
`)
)

// TestAttachedMessages: the headers and body of an attached (forwarded)
// message are found by free text, its From, To, Cc and Subject by
// attachment: and its text by body:; from:, to:, cc: and subject: stay
// the outer message's.
func TestAttachedMessages(t *testing.T) {
	file, rep := buildMessages(t, map[int]string{10: msgForwarded, 11: msgForwardedB64, 12: msgForwardedTwice, 13: msgPlainDeposit})
	if rep.Truncated != 0 || rep.Broken != 0 {
		t.Fatalf("report %+v", rep)
	}
	checkQueries(t, file, []queryCase{
		// free text: the attached message's headers and body
		{"zeppelin", []int{10}},
		{"okafor", []int{10, 13}},
		{"treasury", []int{10}},
		{"friday", []int{10}},
		{"grusse koln", []int{10}},
		{`"deposit is due"`, []int{10}},
		{"deposit", []int{10, 13}},
		{"styrelsemotet", []int{11}},
		{"motesprotokoll", []int{11}},
		{"schnitzel", []int{12}},
		{"heinz", []int{12}},
		// fields
		{"body:deposit", []int{10}},
		{"body:schnitzel", []int{12}},
		{"body:protokollet", []int{11}},
		{"attachment:zeppelin", []int{10}},             // its subject (and the part's name)
		{"attachment:dana@partner.example", []int{10}}, // its From
		{"attachment:treasury", []int{10}},             // its Cc
		{"attachment:blueprint.pdf", []int{10}},        // its own attachment
		{"attachment:erik", []int{11}},
		{"attachment:carol attachment:heinz", []int{12}},
		{"subject:zeppelin", nil},
		{"subject:lunch", []int{12}}, // the outer subject "Fwd: Fwd: lunch"
		{"from:dana", []int{13}},
		{"from:heinz", nil},
		{"cc:treasury", nil},
		{"has:attachment", []int{10, 11, 12}},
	})
}

// nested is a chain of n messages each attached to the one above, the
// deepest holding word in its body (n = 0: word is the top message's).
func nested(n int, word string) string {
	var b strings.Builder
	b.WriteString("From: top@example.com\r\nSubject: nest\r\n")
	for i := 0; i < n; i++ {
		b.WriteString("Content-Type: message/rfc822\r\n\r\n")
		fmt.Fprintf(&b, "From: level%d@example.com\r\n", i+1)
	}
	b.WriteString("Content-Type: text/plain\r\n\r\n" + word + "\r\n")
	return b.String()
}

// wide is a chain of levels attached messages, each a multipart of parts
// empty text parts, a text part holding "wideN" (N its level) and the
// next level.
func wide(levels, parts int) string {
	var b strings.Builder
	b.WriteString("From: wide@example.com\r\nSubject: wide\r\n")
	var close []string
	for l := 0; l < levels; l++ {
		bnd := fmt.Sprintf("L%d", l)
		fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=%q\r\n\r\n", bnd)
		for i := 0; i < parts; i++ {
			fmt.Fprintf(&b, "--%s\r\nContent-Type: text/plain\r\n\r\n\r\n", bnd)
		}
		fmt.Fprintf(&b, "--%s\r\nContent-Type: text/plain\r\n\r\nwide%d\r\n", bnd, l)
		fmt.Fprintf(&b, "--%s\r\nContent-Type: message/rfc822\r\n\r\nFrom: w%d@example.com\r\n", bnd, l)
		close = append(close, "\r\n--"+bnd+"--\r\n")
	}
	b.WriteString("Content-Type: text/plain\r\n\r\nwidebottom\r\n")
	for i := len(close) - 1; i >= 0; i-- {
		b.WriteString(close[i])
	}
	return b.String()
}

// TestAttachedBombs: attached messages count against the MIME bounds of
// the message that holds them: MaxDepth levels (a message/rfc822 counts
// as one, its multipart as another) and MaxParts parts in all. A chain of
// 10,000 attached messages or one of 40 levels x 100 parts costs those
// bounds, is flagged truncated and keeps what came before.
func TestAttachedBombs(t *testing.T) {
	file, rep := buildMessages(t, map[int]string{
		20: nested(MaxDepth-1, "deepestkept"),
		21: nested(MaxDepth, "toodeep"),
		22: nested(10000, "bombword"),
		23: wide(40, 100),
	})
	// 21, 22 (depth) and 23 (parts) are truncated, 20 is whole.
	if rep.Truncated != 3 || rep.Broken != 0 || rep.Messages != 4 {
		t.Errorf("report %+v: want 3 truncated of 4", rep)
	}
	checkQueries(t, file, []queryCase{
		{"deepestkept", []int{20}},
		{"toodeep", nil},
		{"bombword", nil},
		{"attachment:level15", []int{20, 21, 22}}, // headers at depth MaxDepth-1 are read
		{"attachment:level16", nil},
		// 102 parts a level (100 empty, wideN, the next level): level 3's
		// text is part 407, level 4's part 509, past MaxParts.
		{"wide0", []int{23}},
		{"wide3", []int{23}},
		{"wide4", nil},
		{"widebottom", nil},
	})
}
