package operations

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/internal/dovecot"
)

// searchSource is a Maildir source of two accounts; the messages whose
// subject says Invoice are the ones the tests' query finds.
func searchSource(t *testing.T) (root string, invoices map[string][]string) {
	t.Helper()
	root = t.TempDir()
	invoices = map[string][]string{}
	msgs := map[string][]string{
		"ann@example.com": {"Invoice March|the quarterly invoice", "Lunch|noon at the café", "Re: invoice|paid, thanks"},
		"bob@example.com": {"Holiday|away next week", "INVOICE April|please pay"},
	}
	for acct, list := range msgs {
		local, domain, _ := strings.Cut(acct, "@")
		box := filepath.Join(root, domain, local, "Maildir")
		for _, sub := range []string{"cur", "new", "tmp"} {
			require.NoError(t, os.MkdirAll(filepath.Join(box, sub), 0o755))
		}
		for i, m := range list {
			subject, body, _ := strings.Cut(m, "|")
			raw := fmt.Sprintf("From: x@example.com\r\nTo: %s\r\nSubject: %s\r\nDate: Mon, 4 Mar 2024 10:0%d:00 +0000\r\nMessage-ID: <%s.%d@example.com>\r\n"+
				"Content-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n", acct, subject, i, local, i, body)
			name := filepath.Join(box, "cur", fmt.Sprintf("170900%04d.M1P1.host,S=%d:2,S", i, len(raw)))
			require.NoError(t, os.WriteFile(name, []byte(raw), 0o644))
			if strings.Contains(strings.ToLower(subject), "invoice") {
				invoices[acct] = append(invoices[acct], raw)
			}
		}
		old := time.Now().Add(-time.Hour)
		for _, d := range []string{box, filepath.Join(box, "cur"), filepath.Join(box, "new")} {
			require.NoError(t, os.Chtimes(d, old, old))
		}
	}
	return "maildir:" + root, invoices
}

// imapBodies is every message of the account on the server, sorted.
func imapBodies(t *testing.T, dv *dovecot.Server, account string) []string {
	t.Helper()
	c, err := dv.Login(account)
	require.NoError(t, err)
	defer c.Close()
	list, err := c.List("", "*", nil).Collect()
	require.NoError(t, err)
	var out []string
	for _, l := range list {
		sel, err := c.Select(l.Mailbox, &imap.SelectOptions{ReadOnly: true}).Wait()
		require.NoError(t, err)
		if sel.NumMessages == 0 {
			continue
		}
		var all imap.SeqSet
		all.AddRange(1, 0)
		bufs, err := c.Fetch(all, &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
		require.NoError(t, err)
		for _, m := range bufs {
			out = append(out, string(m.BodySection[0].Bytes))
		}
	}
	slices.Sort(out)
	return out
}

// TestSearchRestoreIntoDovecot: a Maildir backed up by doSmartScan,
// indexed by doIndexMessages; doItemRestore query restores exactly the
// messages the query finds into a real Dovecot, byte for byte, once
// (a second run skips them); dry_run reports them and restores nothing.
func TestSearchRestoreIntoDovecot(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	dir := t.TempDir()
	bp, st := filepath.Join(dir, "bp"), filepath.Join(dir, "st")
	src, invoices := searchSource(t)
	r := newScanRunner(t, bp, st, src)
	ctx := context.Background()
	_, err := r.Run(ctx, KindSmartScan, nil, nil)
	require.NoError(t, err)
	res, err := r.Run(ctx, KindIndexMessages, nil, nil)
	require.NoError(t, err)
	require.Contains(t, res, "Messages (distinct blobs): 5")

	dv := dovecot.Start(t, map[string]string{"ann@example.com": "pw1", "bob@example.com": "pw2"})
	target := dv.SourceURL()

	// dry run: every restore's report of what it would do, nothing restored
	res, err = r.Run(ctx, KindItemRestore, map[string]string{"query": "subject:invoice", "dry_run": "true", "target": target}, nil)
	require.NoError(t, err, res)
	require.Contains(t, res, "- dry run -")
	require.Contains(t, res, "- would restore -")
	require.Empty(t, imapBodies(t, dv, "ann@example.com"))

	res, err = r.Run(ctx, KindItemRestore, map[string]string{"query": "subject:invoice", "target": target}, nil)
	require.NoError(t, err, res)
	require.Contains(t, res, "Restored Items: 3")
	for acct, want := range invoices {
		slices.Sort(want)
		require.Equal(t, want, imapBodies(t, dv, acct), acct)
	}

	// Again: nothing twice.
	res, err = r.Run(ctx, KindItemRestore, map[string]string{"query": "subject:invoice", "target": target}, nil)
	require.NoError(t, err, res)
	require.Contains(t, res, "Restored Items: 0")
	require.Contains(t, res, "Skipped Items:  3")

	// One account: only its matches (the café message, accent-insensitive).
	res, err = r.Run(ctx, KindItemRestore, map[string]string{"account": "ann@example.com", "query": "cafe", "target": target}, nil)
	require.NoError(t, err, res)
	require.Contains(t, res, "Restored Items: 1")
	require.Len(t, imapBodies(t, dv, "ann@example.com"), 3)
	require.Len(t, imapBodies(t, dv, "bob@example.com"), 1)

	// Refused before anything runs.
	for _, params := range []map[string]string{
		{"query": "subject:", "target": target},
		{"query": "x", "itemId": "3", "account": "ann@example.com", "target": target},
		{"target": target},
	} {
		_, err := r.Run(ctx, KindItemRestore, params, nil)
		require.Error(t, err, "%v", params)
	}
}
