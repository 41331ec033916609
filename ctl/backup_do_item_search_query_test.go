package ctl

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/mailbox"
)

// queryPath is a Backup Path of three messages: alice's 10 (from John,
// with an attachment) and 11 (deleted), bob's 20 (the same blob as 10).
func queryPath(t *testing.T) string {
	t.Helper()
	start := time.Date(2024, 6, 1, 10, 0, 0, 0, time.UTC)
	p, err := backuppath.Create(t.TempDir(), backuppath.BackupStat{ServerID: "s", FirstRun: mailbox.MillisOf(start)})
	if err != nil {
		t.Fatal(err)
	}
	accts := []mailbox.Account{
		{ID: "aaaaaaaa-0000-4000-8000-000000000001", Name: "alice@example.com", Status: "active"},
		{ID: "bbbbbbbb-0000-4000-8000-000000000002", Name: "bob@example.com", Status: "active"},
	}
	for i := range accts {
		if err := p.WriteAccount(&accts[i]); err != nil {
			t.Fatal(err)
		}
	}
	john := "From: John Doe <john@acme.com>\r\nSubject: Facture de mars\r\nDate: Fri, 15 Mar 2024 10:00:00 +0000\r\n" +
		"Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nVoilà la facture.\r\n" +
		"--B\r\nContent-Type: application/pdf; name=mars.pdf\r\nContent-Disposition: attachment; filename=mars.pdf\r\n\r\n%PDF\r\n--B--\r\n"
	other := "From: Mary <mary@example.com>\r\nSubject: Lunch\r\nDate: Sat, 16 Mar 2024 10:00:00 +0000\r\n\r\nNoon?\r\n"
	add := func(acct string, id int, raw string, deleted bool) {
		subject := strings.TrimPrefix(strings.Split(strings.Split(raw, "Subject: ")[1], "\r\n")[0], "")
		d, _, err := p.Blobs.Put([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		states := []mailbox.State{{Start: mailbox.MillisOf(start), Type: mailbox.TypeMessage, FolderID: mailbox.FolderInbox, Digest: d, Size: int64(len(raw)), Subject: subject}}
		if deleted {
			s := states[0]
			s.Start, s.Deleted = mailbox.MillisOf(start.Add(time.Hour)), true
			states = append(states, s)
		}
		if err := p.CreateItem(acct, mailbox.NewItem(id, states)); err != nil {
			t.Fatal(err)
		}
	}
	add(accts[0].ID, 10, john, false)
	add(accts[0].ID, 11, other, true)
	add(accts[1].ID, 20, john, false)
	return p.Root
}

func runCtl(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// TestItemSearchQuery: doIndexMessages builds the index, doItemSearch
// query searches it (one account or all, --json), and the account search
// without query is as it was.
func TestItemSearchQuery(t *testing.T) {
	t.Setenv("CBFS_CONFIG", "none")
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("TZ", "UTC")
	bp := queryPath(t)
	st := filepath.Join(t.TempDir(), "st")

	// Before the index exists: a clear error.
	code, _, errs := runCtl(t, "backup", "doItemSearch", "query", "facture", "backup_path", bp)
	if code != ExitError || !strings.Contains(errs, "doIndexMessages") {
		t.Fatalf("no index: exit %d, %q", code, errs)
	}

	code, out, errs := runCtl(t, "--state-dir", st, "backup", "doIndexMessages", bp)
	if code != ExitOK || !strings.Contains(out, "Messages (distinct blobs): 2: 2 read now") {
		t.Fatalf("doIndexMessages: exit %d\n%s\n%s", code, out, errs)
	}

	hitsOf := func(args ...string) []string {
		t.Helper()
		code, out, errs := runCtl(t, append([]string{"backup", "doItemSearch"}, append(args, "backup_path", bp, "--json")...)...)
		if code != ExitOK {
			t.Fatalf("%v: exit %d: %s", args, code, errs)
		}
		var res queryResult
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		var got []string
		for _, h := range res.Hits {
			got = append(got, h.Account+":"+h.MountPath)
		}
		slices.Sort(got)
		return got
	}
	a10 := "alice@example.com:accounts/alice@example.com/items/10/2024-06-01T10:00:00Z/message.eml"
	a11 := "alice@example.com:accounts/alice@example.com/items/11/2024-06-01T11:00:00Z/message.eml"
	b20 := "bob@example.com:accounts/bob@example.com/items/20/2024-06-01T10:00:00Z/message.eml"
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"query", "from:john facture"}, []string{a10, b20}},
		{[]string{"query", "FACTURE voila"}, []string{a10, b20}},
		{[]string{"alice@example.com", "query", "from:john"}, []string{a10}},
		{[]string{"query", "attachment:mars.pdf -account:alice"}, []string{b20}},
		{[]string{"query", "lunch OR has:attachment", "search_filter", "deleted"}, []string{a11}},
		{[]string{"query", "lunch OR has:attachment", "search_filter", "not_deleted"}, []string{a10, b20}},
		{[]string{"query", "on:2024-03-16"}, []string{a11}},
		{[]string{"query", "nothing-like-this"}, nil},
	} {
		if got := hitsOf(tc.args...); !slices.Equal(got, tc.want) {
			t.Errorf("%v: %v, want %v", tc.args, got, tc.want)
		}
	}

	// Text output: a header and one line per hit.
	code, out, _ = runCtl(t, "backup", "doItemSearch", "query", "facture", "limit", "1", "backup_path", bp)
	if lines := strings.Split(strings.TrimSpace(out), "\n"); code != ExitOK || len(lines) != 2 || !strings.Contains(lines[1], "/message.eml") {
		t.Errorf("text output (exit %d):\n%s", code, out)
	}

	// Carbonio's parameters without query: as before (deleted items by default).
	code, out, errs = runCtl(t, "backup", "doItemSearch", "alice@example.com", "backup_path", bp)
	if lines := strings.Split(strings.TrimSpace(out), "\n"); code != ExitOK || len(lines) != 2 || !strings.HasPrefix(lines[1], "11 ") {
		t.Errorf("account search (exit %d):\n%s%s", code, out, errs)
	}
	code, out, _ = runCtl(t, "backup", "doItemSearch", "alice@example.com", "search_string", "Lunch", "search_filter", "all", "backup_path", bp)
	if lines := strings.Split(strings.TrimSpace(out), "\n"); code != ExitOK || len(lines) != 2 {
		t.Errorf("search_string (exit %d):\n%s", code, out)
	}

	// Usage errors.
	for _, args := range [][]string{
		{"backup", "doItemSearch", "backup_path", bp},
		{"backup", "doItemSearch", "query", "from:", "backup_path", bp},
		{"backup", "doItemSearch", "query", "x", "search_string", "y", "backup_path", bp},
		{"backup", "doItemSearch", "alice@example.com", "limit", "3", "backup_path", bp},
	} {
		if code, _, errs := runCtl(t, args...); code != ExitUsage {
			t.Errorf("%v: exit %d (%s), want %d", args, code, errs, ExitUsage)
		}
	}

	// A refresh reads nothing new.
	code, out, _ = runCtl(t, "--state-dir", st, "backup", "doIndexMessages", bp)
	if code != ExitOK || !strings.Contains(out, "0 read now, 2 already indexed") {
		t.Errorf("refresh: exit %d\n%s", code, out)
	}
}
