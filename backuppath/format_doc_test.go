package backuppath

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/mailbox"
)

// TestFormatDocExamples writes the example Backup Path of docs/FORMAT.md
// with this package and checks that every file appears in the document
// verbatim, so the specification shows exactly what the code writes.
func TestFormatDocExamples(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "FORMAT.md"))
	if err != nil {
		t.Skipf("docs/FORMAT.md not found: %v", err)
	}
	blocks := map[string]bool{}
	for _, m := range regexp.MustCompile("(?s)```(?:json)?\n(.*?)```\n").FindAllSubmatch(doc, -1) {
		blocks[string(m[1])] = true
	}

	at := func(s string) mailbox.Millis {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return mailbox.MillisOf(tm)
	}
	const srv = "8d5e4a44-5a3c-4f5e-9d0a-0f3a9c1f8b21"
	root := t.TempDir()
	p, err := Create(root, BackupStat{ServerID: srv, Hostname: "mail.example.com",
		FirstRun: at("2024-05-01T01:00:00Z"), LastScan: at("2024-05-03T01:00:12Z"), LastPurge: at("2024-05-03T02:00:00Z")})
	if err != nil {
		t.Fatal(err)
	}
	yes := true
	raw := func(s string) json.RawMessage { return json.RawMessage(s) }
	msg := []byte("From: Ann <ann@example.com>\r\nTo: john@example.com\r\nSubject: Q2 report\r\n" +
		"Date: Wed, 01 May 2024 08:59:58 +0000\r\nMessage-ID: <q2@example.com>\r\n\r\nSee attached.\r\n")
	d := blob.Sum(msg)
	if !strings.Contains(string(doc), "items/"+d.Dir()+"/"+string(d)) {
		t.Errorf("FORMAT.md does not show the example blob %s", d.RelPath())
	}
	msgState := func(start string, folder int, flags string, tags []string, deleted bool) mailbox.State {
		return mailbox.State{Start: at(start), Type: mailbox.TypeMessage, FolderID: folder, Flags: flags, Tags: tags, Deleted: deleted,
			Digest: d, Size: int64(len(msg)), Date: at("2024-05-01T08:59:58Z"), Subject: "Q2 report",
			From: "Ann <ann@example.com>", To: "john@example.com", IMAPUID: 4021}
	}
	steps := []func() error{
		func() error {
			return p.WriteAccount(&mailbox.Account{ID: acctID, Name: "john@example.com", Status: mailbox.StatusActive, DisplayName: "John Smith",
				COSID: "e00428a1-0c00-11d9-836a-000d93afea2a", COSName: "default", Created: at("2024-04-30T09:12:00Z"),
				BackupEnabled: &yes, Attrs: map[string]json.RawMessage{"zimbraMailQuota": raw(`"0"`), "zimbraPrefLocale": raw(`"en"`)}})
		},
		func() error {
			return p.AppendState(acctID, 257, mailbox.State{Start: at("2024-05-01T08:00:00Z"), Type: mailbox.TypeFolder, FolderID: mailbox.FolderRoot, ParentID: mailbox.FolderRoot, Name: "Projects"})
		},
		func() error {
			return p.AppendState(acctID, 64, mailbox.State{Start: at("2024-05-01T08:00:00Z"), Type: mailbox.TypeTag, FolderID: mailbox.FolderTags, Name: "work"})
		},
		func() error {
			return p.AppendState(acctID, 258, msgState("2024-05-01T09:00:00Z", mailbox.FolderInbox, "u", nil, false))
		},
		func() error {
			return p.AppendState(acctID, 258, msgState("2024-05-02T10:30:00Z", 257, "f", []string{"work"}, false))
		},
		func() error {
			return p.AppendState(acctID, 258, msgState("2024-05-03T07:15:00Z", mailbox.FolderTrash, "f", []string{"work"}, true))
		},
		func() error {
			return p.WriteAccountStat(acctID, &AccountStat{LastItemID: 258, LastScan: at("2024-05-03T01:00:12Z"), ItemCount: 3})
		},
		func() error { return p.AppendIDMap(acctID, 258, 1034) },
		func() error { return p.AppendIDMap(acctID, 259, 1035) },
		func() error {
			return p.WriteMap(&Map{ServerID: "5f1c2d3e-aaaa-4bbb-8ccc-123456789abc", Date: at("2024-05-04T12:00:00Z"),
				Accounts: map[string]string{"0a9b8c7d-1111-4222-8333-444455556666": acctID}})
		},
		func() error {
			_, err := p.WriteServerConfig(&ServerConfig{Date: at("2024-05-03T01:00:00Z"), ServerID: srv, Hostname: "mail.example.com",
				ServerConfig: map[string]json.RawMessage{"zimbraMailMode": raw(`"https"`), "zimbraServiceEnabled": raw(`["mailbox","imapd","mta"]`)},
				GlobalConfig: map[string]json.RawMessage{"zimbraMtaMaxMessageSize": raw(`"10240000"`)},
				Domains: []Record{{ID: "b1f7d0e6-2222-4333-8444-555566667777", Name: "example.com",
					Attrs: map[string]json.RawMessage{"zimbraDomainStatus": raw(`"active"`)}}},
				COS: []Record{{ID: "e00428a1-0c00-11d9-836a-000d93afea2a", Name: "default",
					Attrs: map[string]json.RawMessage{"zimbraMailQuota": raw(`"0"`)}}},
				DistributionLists: []Record{{ID: "c3d4e5f6-3333-4444-8555-666677778888", Name: "staff@example.com",
					Members: []string{"ann@example.com", "john@example.com"}}},
			})
			return err
		},
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	n := 0
	err = filepath.WalkDir(root, func(path string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		n++
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if !blocks[string(b)] {
			t.Errorf("FORMAT.md has no example equal to %s as written:\n%s", rel, b)
		}
		if !strings.Contains(string(doc), filepath.ToSlash(rel)) {
			t.Errorf("FORMAT.md does not name %s", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != 9 {
		t.Errorf("wrote %d files, want 9", n)
	}
}
