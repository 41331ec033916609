package sample

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/mailbox"
)

// TestGenerateLarge: the scale fixture is a sound Backup Path with the
// counts it reports, readable by backuppath, folders named as promised.
func TestGenerateLarge(t *testing.T) {
	dest := filepath.Join(t.TempDir(), "bp")
	rep, err := GenerateLarge(context.Background(), dest, LargeOptions{Items: 1000, Accounts: 4, BigAccount: 502, Workers: 3})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Items != 1000 || len(rep.Accounts) != 4 || rep.Accounts[0].Items != 502 {
		t.Fatalf("report: %d items, %d accounts, big %d", rep.Items, len(rep.Accounts), rep.Accounts[0].Items)
	}
	p, err := backuppath.Open(dest)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for i, la := range rep.Accounts {
		files, others, err := p.ItemFiles(la.ID)
		if err != nil || len(others) > 0 {
			t.Fatalf("account %d: %v, others %v", i, err, others)
		}
		if len(files) != la.Items {
			t.Errorf("account %d: %d item files, report says %d", i, len(files), la.Items)
		}
		total += len(files)
		a, err := p.ReadAccount(la.ID)
		if err != nil || a.Name != la.Name {
			t.Fatalf("account %d: %v %+v", i, err, a)
		}
		var found []mailbox.Folder
		inbox := 0
		for _, f := range files {
			it, err := p.ReadItemFile(f.RelPath, f.ItemID)
			if err != nil {
				t.Fatal(err)
			}
			if s := mailbox.FolderAt(it, time.Time{}); s != nil {
				found = append(found, mailbox.Folder{ID: it.ID, ParentID: s.ParentID, Name: s.Name})
			}
			if l := it.Latest(); l.Type == mailbox.TypeMessage && l.FolderID == mailbox.FolderInbox {
				if err := p.Blobs.Check(l.Digest); err != nil {
					t.Fatalf("item %d: %v", it.ID, err)
				}
				inbox++
			}
		}
		paths := map[string]bool{}
		for _, f := range mailbox.FolderTree(found) {
			paths[f.Path] = true
		}
		if !paths["Inbox/Projects"] || !paths["Archive"] {
			t.Errorf("account %d: folders %v", i, paths)
		}
		if i == 0 && inbox != la.Items-LargeFolders {
			t.Errorf("big account: %d messages in Inbox, want all %d", inbox, la.Items-LargeFolders)
		}
	}
	if total != rep.Items {
		t.Errorf("%d item files in all, report says %d", total, rep.Items)
	}
	if _, err := GenerateLarge(context.Background(), dest, LargeOptions{Items: 1000, Accounts: 4}); err == nil {
		t.Error("a second GenerateLarge into a full folder succeeded")
	}
	if _, err := GenerateLarge(context.Background(), t.TempDir(), LargeOptions{Items: 5, Accounts: 4}); err == nil {
		t.Error("5 items for 4 accounts of 2 folders each were accepted")
	}
}
