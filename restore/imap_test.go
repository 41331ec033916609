package restore

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/internal/dovecot"
	"github.com/cbfs/cbfs/mailbox"
)

// startDovecot runs a Dovecot with the sample's active accounts (and
// extra users) and returns it with its imap:// target.
func startDovecot(t *testing.T, f *fixture, extra ...string) (*dovecot.Server, Target) {
	users := map[string]string{}
	for _, a := range f.activeAccounts() {
		users[a.Name] = "pw"
	}
	for _, u := range extra {
		users[u] = "pw"
	}
	s := dovecot.Start(t, users)
	tgt, err := ParseTarget(s.SourceURL())
	require.NoError(t, err)
	return s, tgt
}

// readIMAP lists an account's messages through IMAP itself: LIST, then per
// folder FLAGS, INTERNALDATE and BODY[] (as wants, folders in Maildir form).
func readIMAP(t *testing.T, s *dovecot.Server, account string) (msgs []want, folders []string) {
	c, err := s.Login(account)
	require.NoError(t, err)
	defer c.Close()
	list, err := c.List("", "*", nil).Collect()
	require.NoError(t, err)
	for _, l := range list {
		folders = append(folders, l.Mailbox)
		sel, err := c.Select(l.Mailbox, &imap.SelectOptions{ReadOnly: true}).Wait()
		require.NoError(t, err)
		if sel.NumMessages == 0 {
			continue
		}
		var all imap.SeqSet
		all.AddRange(1, 0)
		bufs, err := c.Fetch(all, &imap.FetchOptions{Flags: true, InternalDate: true, RFC822Size: true,
			BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
		require.NoError(t, err)
		folder := ""
		if l.Mailbox != "INBOX" {
			folder = "." + strings.ReplaceAll(l.Mailbox, string(l.Delim), ".")
		}
		for _, m := range bufs {
			var fl []byte
			for _, x := range m.Flags {
				switch x {
				case imap.FlagDraft:
					fl = append(fl, 'D')
				case imap.FlagFlagged:
					fl = append(fl, 'F')
				case "$Forwarded":
					fl = append(fl, 'P')
				case imap.FlagAnswered:
					fl = append(fl, 'R')
				case imap.FlagSeen:
					fl = append(fl, 'S')
				}
			}
			body := m.BodySection[0].Bytes
			require.EqualValues(t, len(body), m.RFC822Size)
			msgs = append(msgs, want{Folder: folder, Digest: string(blob.Sum(body)), Flags: sortBytes(fl), Date: m.InternalDate.Unix()})
		}
	}
	sortWants(msgs)
	return msgs, folders
}

func sortBytes(b []byte) string {
	for i := 1; i < len(b); i++ {
		for j := i; j > 0 && b[j] < b[j-1]; j-- {
			b[j], b[j-1] = b[j-1], b[j]
		}
	}
	return string(b)
}

func TestExternalRestoreIMAP(t *testing.T) {
	f := sampleFixture(t)
	s, tgt := startDovecot(t, f)
	ledger := openLedger(t)
	opt := DefaultOptions()
	opt.ConcurrentAccounts = 2
	rep, err := ExternalRestore(context.Background(), f.p, tgt, ledger, opt)
	require.NoError(t, err)
	t.Logf("\n%s", rep)
	total := 0
	for _, a := range f.activeAccounts() {
		w := f.wantAt(t, a, time.Time{})
		total += len(w)
		got, folders := readIMAP(t, s, a.Name)
		assert.Equal(t, w, got, "account %s: folders, flags, internal dates and bytes", a.Name)
		for _, want := range []string{"INBOX", "INBOX/Projects", "INBOX/Projects/2024", "INBOX/Invoices", "Archive/2023", "Archive/Newsletters", "Travel", "Trash", "Sent"} {
			assert.Contains(t, folders, want, "account %s", a.Name)
		}
	}
	assert.Equal(t, total, rep.Restored)
	assert.Equal(t, len(f.damagedClasses()), rep.Unrestored)
	st := &tgt.(*IMAPTarget).stats
	assert.Positive(t, st.batches.Load(), "Dovecot offers MULTIAPPEND: messages go in batches")
	assert.EqualValues(t, total, st.batched.Load(), "every message in a batch")
	assert.Zero(t, st.fallbacks.Load())
	m, err := ledger.Map()
	require.NoError(t, err)
	for _, e := range m {
		assert.NotZero(t, e.UID, "UIDPLUS gives the restored UID")
		assert.Contains(t, e.RestoredID, ";UIDVALIDITY=")
	}

	t.Run("second run skips all", func(t *testing.T) {
		rep2, err := ExternalRestore(context.Background(), f.p, tgt, ledger, opt)
		require.NoError(t, err)
		assert.Equal(t, 0, rep2.Restored)
		assert.Equal(t, total, rep2.Skipped)
	})

	t.Run("lost ledger entries: the search finds the messages", func(t *testing.T) {
		a := f.activeAccounts()[0]
		m, err := ledger.Map()
		require.NoError(t, err)
		forgot := 0
		for _, e := range m {
			if e.Account == a.Name && forgot < 8 {
				ok, err := ledger.Forget(e.ServerID, e.Target, e.Account, e.SourceAccountID, e.ItemID, e.Digest)
				require.NoError(t, err)
				require.True(t, ok)
				forgot++
			}
		}
		rep3, err := ExternalRestore(context.Background(), f.p, tgt, ledger, opt)
		require.NoError(t, err)
		assert.Equal(t, 0, rep3.Restored)
		assert.Equal(t, total, rep3.Skipped)
		got, _ := readIMAP(t, s, a.Name)
		assert.Equal(t, f.wantAt(t, a, time.Time{}), got, "no duplicate")
		m2, err := ledger.Map()
		require.NoError(t, err)
		assert.Len(t, m2, len(m))
		found := 0
		for _, e := range m2 {
			if e.Found {
				found++
				assert.NotZero(t, e.UID)
			}
		}
		assert.Equal(t, forgot, found, "each lost entry found again by the search")
	})
}

func TestIMAPStopMidwayThenResume(t *testing.T) {
	f := sampleFixture(t)
	s, tgt := startDovecot(t, f)
	ledger := openLedger(t)
	ctx, cancel := context.WithCancel(context.Background())
	var n atomic.Int64
	ct := &countingTarget{Target: tgt, onAppend: func() error {
		if n.Add(1) == 50 {
			cancel()
		}
		return nil
	}}
	rep, err := ExternalRestore(ctx, f.p, ct, ledger, DefaultOptions())
	require.ErrorIs(t, err, context.Canceled)
	// Also lose the last few records, as a kill -9 would.
	m, err := ledger.Map()
	require.NoError(t, err)
	require.NotEmpty(t, m)
	for _, e := range m[len(m)-5:] {
		_, err := ledger.Forget(e.ServerID, e.Target, e.Account, e.SourceAccountID, e.ItemID, e.Digest)
		require.NoError(t, err)
	}
	rep2, err := ExternalRestore(context.Background(), f.p, tgt, ledger, DefaultOptions())
	require.NoError(t, err)
	total := 0
	for _, a := range f.activeAccounts() {
		w := f.wantAt(t, a, time.Time{})
		total += len(w)
		got, _ := readIMAP(t, s, a.Name)
		assert.Equal(t, w, got, "account %s: every item exactly once", a.Name)
	}
	assert.Equal(t, total, rep2.Restored+rep2.Skipped)
	assert.Equal(t, rep.Restored, rep2.Skipped)
}

func TestIMAPRestoreOnNewAccountAndErrors(t *testing.T) {
	f := sampleFixture(t)
	s, tgt := startDovecot(t, f, "new@example.test")
	a := f.activeAccounts()[2]
	at := time.Date(2023, 10, 1, 0, 0, 0, 0, time.UTC)
	rep, err := RestoreOnNewAccount(context.Background(), f.p, a.Name, "new@example.test", at, false, tgt, openLedger(t), DefaultOptions())
	require.NoError(t, err)
	got, _ := readIMAP(t, s, "new@example.test")
	assert.Equal(t, f.wantAt(t, a, at), got)
	assert.Equal(t, len(got), rep.Restored)

	t.Run("the only account unknown on the server: the login check fails before anything", func(t *testing.T) {
		rep, err := RestoreOnNewAccount(context.Background(), f.p, a.Name, "ghost@example.test", at, false, tgt, openLedger(t), DefaultOptions())
		require.ErrorIs(t, err, ErrLoginRefused)
		assert.Contains(t, err.Error(), "ghost@example.test")
		assert.Zero(t, rep.Restored)
		assert.NotContains(t, err.Error(), "\n")
	})

	t.Run("wrong master password: the restore fails at once, nothing reported invalid", func(t *testing.T) {
		u := strings.Replace(s.SourceURL(), ":"+s.AdminPass+"@", ":not-the-password@", 1)
		require.NotEqual(t, s.SourceURL(), u)
		bad, err := ParseTarget(u)
		require.NoError(t, err)
		rep, err := ExternalRestore(context.Background(), f.p, bad, openLedger(t), DefaultOptions())
		require.ErrorIs(t, err, ErrLoginRefused)
		assert.Zero(t, rep.Restored+rep.Unrestored, "no item tried")
		assert.Empty(t, rep.FailedAccounts)
		assert.NotContains(t, rep.String(), "run the restore again", "a rerun with the same password is refused again")
	})

	t.Run("server gone: the restore stops with an error", func(t *testing.T) {
		s.Close()
		_, err := RestoreOnNewAccount(context.Background(), f.p, a.Name, "new@example.test", time.Time{}, false, tgt, openLedger(t), DefaultOptions())
		require.Error(t, err)
		assert.NotErrorIs(t, err, ErrRefused)
	})
}

// The source keeps a message's flags; a deleted message (\Deleted, Zimbra
// x) is never restored with that flag.
func TestIMAPFlagsAndKeywords(t *testing.T) {
	assert.Equal(t, []string{`\Answered`, `\Flagged`, `$Forwarded`, "Important", "My_Tag"},
		imapFlags("urfwx", []string{"Important", "My Tag", "important"}))
	assert.Equal(t, []string{`\Seen`, `\Draft`}, imapFlags("dx", nil))
	assert.Equal(t, "DFPRS", mailbox.MaildirFlags("dfwrx"))
}
