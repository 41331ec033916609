package dovecot

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/stretchr/testify/require"
)

func TestServer(t *testing.T) {
	start := time.Now()
	s := Start(t, map[string]string{"alice@example.test": "pw"})
	t.Logf("dovecot started in %v (imap %s, lmtp %s)", time.Since(start), s.IMAPAddr, s.LMTPAddr)

	msg := []byte("From: a@example.test\r\nTo: alice@example.test\r\nSubject: hi\r\nMessage-ID: <1@x>\r\n\r\nbody\r\n.leading dot\r\n")

	t.Run("deliver and read back", func(t *testing.T) {
		require.NoError(t, s.Deliver("a@example.test", []string{"alice@example.test"}, msg))
		c, err := s.Login("alice@example.test")
		require.NoError(t, err)
		defer c.Close()
		sel, err := c.Select("INBOX", nil).Wait()
		require.NoError(t, err)
		require.EqualValues(t, 1, sel.NumMessages)
		bufs, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
		require.NoError(t, err)
		require.Len(t, bufs, 1)
		got := bufs[0].BodySection[0].Bytes
		// Dovecot adds trace headers (Return-Path, Delivered-To, Received).
		require.True(t, bytes.HasSuffix(got, msg), "delivered message:\n%s", got)
		// The message is in the Maildir the harness names.
		var n int
		for _, sub := range []string{"new", "cur"} {
			ents, err := os.ReadDir(filepath.Join(s.MaildirOf("alice@example.test"), sub))
			require.NoError(t, err)
			n += len(ents)
		}
		require.Equal(t, 1, n)
	})

	t.Run("add user without reload", func(t *testing.T) {
		require.NoError(t, s.AddUser("bob@example.test", "pw2"))
		c, err := s.Login("bob@example.test")
		require.NoError(t, err)
		defer c.Close()
		_, err = c.Select("INBOX", nil).Wait()
		require.NoError(t, err)
		users, err := s.Users()
		require.NoError(t, err)
		require.ElementsMatch(t, []string{"alice@example.test", "bob@example.test"}, users)
	})

	t.Run("capabilities", func(t *testing.T) {
		c, err := s.Login("alice@example.test")
		require.NoError(t, err)
		defer c.Close()
		caps := c.Caps()
		for _, cp := range []imap.Cap{imap.CapUIDPlus, imap.CapCondStore, imap.CapMove} {
			require.True(t, caps.Has(cp), "capability %s missing", cp)
		}
	})

	// Last: after a failed login Dovecot delays the next one by seconds.
	t.Run("unknown user is refused", func(t *testing.T) {
		_, err := s.Login("nobody@example.test")
		require.Error(t, err)
	})

	t.Run("close kills the process group", func(t *testing.T) {
		s2 := Start(t, nil)
		pid := s2.PID
		require.NoError(t, s2.Close())
		require.False(t, ready(s2.IMAPAddr), "imap still listening after Close")
		_, err := os.Stat(filepath.Join("/proc", itoa(pid)))
		require.True(t, os.IsNotExist(err), "master process %d still exists", pid)
		require.False(t, strings.Contains(s2.Log(), "Fatal"), s2.Log())
	})
}

func itoa(n int) string { return strconv.Itoa(n) }
