package search

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/mailbox"
)

// A small Backup Path of real messages: MIME trees, charsets, HTML,
// attachments, one blob shared by two accounts, a deleted item, a folder
// with accents. Every query form of the tests is checked against it.

const (
	aliceID       = "11111111-1111-4111-8111-111111111111"
	bobID         = "22222222-2222-4222-8222-222222222222"
	folderProjets = 257
)

var (
	msgInvoice = strings.ReplaceAll(`From: =?utf-8?q?J=C3=B6hn_Smith?= <john@acme.com>
To: Alice <alice@example.com>
Subject: Invoice March
Date: Fri, 15 Mar 2024 10:00:00 +0000
Message-ID: <abc123@acme.com>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="XX"

--XX
Content-Type: text/plain; charset=utf-8

Please find the quarterly invoice attached.
--XX
Content-Type: application/pdf; name="facture-mars.pdf"
Content-Disposition: attachment; filename="facture-mars.pdf"
Content-Transfer-Encoding: base64

JVBERi0xLjQKJcfsj6IKNSAwIG9iago8PC9MZW5ndGggNiAwIFI+PgpzdHJlYW0K
--XX--
`, "\n", "\r\n")

	msgCafe = strings.ReplaceAll(`From: Marie <marie@example.fr>
To: alice@example.com
Cc: Paul <paul@example.fr>
Subject: =?iso-8859-1?q?R=E9union_caf=E9?=
Date: Tue, 2 Apr 2024 09:30:00 +0200
MIME-Version: 1.0
Content-Type: text/html; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable

<html><head><style>.secretstyle{}</style></head><body><p>Le caf&eacute; est <b>pr=EAt</b> =E0 midi</p><script>secretscript()</script></body></html>
`, "\n", "\r\n")

	msgAgenda = strings.ReplaceAll(`From: Bob <bob@example.org>
To: alice@example.com
Subject: Agenda
Date: Fri, 1 Mar 2024 08:00:00 +0000
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="ALT"

--ALT
Content-Type: text/plain; charset=us-ascii

meeting agenda tomorrow
--ALT
Content-Type: text/html; charset=us-ascii

<p>meeting agenda tomorrow htmlonlyword</p>
--ALT--
`, "\n", "\r\n")

	msgTravel = strings.ReplaceAll(`From: Bob <bob@example.org>
To: alice@example.com
Subject: Travel
Date: Wed, 10 Apr 2024 12:00:00 +0000
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: base64

`, "\n", "\r\n") + base64.StdEncoding.EncodeToString([]byte("Nächste Woche: Zürich, Hauptstraße 5.\r\n")) + "\r\n"

	msgKoi8 = strings.ReplaceAll(`From: Ivan <ivan@example.ru>
To: bob@example.org
Subject: =?koi8-r?b?8NLJ18XU?=
Date: Thu, 11 Apr 2024 12:00:00 +0000
MIME-Version: 1.0
Content-Type: text/plain; charset=koi8-r
Content-Transfer-Encoding: 8bit

`, "\n", "\r\n") + "\xf0\xd2\xc9\xd7\xc5\xd4 \xcd\xc9\xd2\r\n"  // "Привет мир"

	msgReport = strings.ReplaceAll(`From: Carol <carol@example.org>
To: bob@example.org
Subject: Quarterly report
Date: Mon, 20 May 2024 12:00:00 +0000
Content-Type: text/plain

The report mentions invoice numbers.
`, "\n", "\r\n")
)

var corpusStart = time.Date(2024, 6, 1, 10, 0, 0, 0, time.UTC)

type corpusItem struct {
	account string
	id      int
	raw     string
	states  []mailbox.State // without content; Digest and Size filled in
}

func msgState(start time.Time, folder int, flags string, deleted bool) mailbox.State {
	return mailbox.State{Start: mailbox.MillisOf(start), Type: mailbox.TypeMessage, FolderID: folder, Flags: flags, Deleted: deleted}
}

func corpusItems() []corpusItem {
	t := corpusStart
	return []corpusItem{
		{aliceID, 300, msgInvoice, []mailbox.State{msgState(t, mailbox.FolderInbox, "u", false)}},
		{aliceID, 301, msgCafe, []mailbox.State{msgState(t, folderProjets, "", false)}},
		{aliceID, 302, msgAgenda, []mailbox.State{msgState(t, mailbox.FolderInbox, "", false), msgState(t.Add(48*time.Hour), mailbox.FolderTrash, "", true)}},
		{aliceID, 303, msgTravel, []mailbox.State{msgState(t, mailbox.FolderInbox, "", false)}},
		{bobID, 400, msgInvoice, []mailbox.State{msgState(t, mailbox.FolderInbox, "", false)}},
		{bobID, 401, msgReport, []mailbox.State{msgState(t, mailbox.FolderInbox, "f", false)}},
		{bobID, 402, msgKoi8, []mailbox.State{msgState(t, mailbox.FolderInbox, "", false)}},
	}
}

// writeCorpus makes the Backup Path in a temporary folder.
func writeCorpus(t testing.TB) *backuppath.Path {
	t.Helper()
	p, err := backuppath.Create(t.TempDir(), backuppath.BackupStat{ServerID: "srv", FirstRun: mailbox.MillisOf(corpusStart)})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []mailbox.Account{{ID: aliceID, Name: "alice@example.com", Status: "active"}, {ID: bobID, Name: "bob@example.org", Status: "active"}} {
		if err := p.WriteAccount(&a); err != nil {
			t.Fatal(err)
		}
	}
	folder := mailbox.NewItem(folderProjets, []mailbox.State{{Start: mailbox.MillisOf(corpusStart), Type: mailbox.TypeFolder, FolderID: mailbox.FolderInbox, ParentID: mailbox.FolderInbox, Name: "Projets Été"}})
	if err := p.CreateItem(aliceID, folder); err != nil {
		t.Fatal(err)
	}
	for _, ci := range corpusItems() {
		addMessage(t, p, ci.account, ci.id, []byte(ci.raw), ci.states)
	}
	return p
}

func addMessage(t testing.TB, p *backuppath.Path, account string, id int, raw []byte, states []mailbox.State) blob.Digest {
	t.Helper()
	d, _, err := p.Blobs.Put(raw)
	if err != nil {
		t.Fatal(err)
	}
	for i := range states {
		states[i].Digest, states[i].Size = d, int64(len(raw))
	}
	if err := p.CreateItem(account, mailbox.NewItem(id, states)); err != nil {
		t.Fatal(err)
	}
	return d
}

// hitKeys is "alice:300" for each hit, in hit order.
func hitKeys(hits []Hit) []string {
	out := make([]string, len(hits))
	for i, h := range hits {
		name, _, _ := strings.Cut(h.Account, "@")
		out[i] = fmt.Sprintf("%s:%d", name, h.ItemID)
	}
	return out
}
