package tests

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/internal/dovecot"
)

// TestServeMount runs `cbfs serve --mount DIR` against a real Dovecot: a
// scan through the service shows up under DIR (the service refreshes its
// mount in place after an operation that wrote the Backup Path), each message's .eml is what
// Dovecot holds, byte for byte, and SIGTERM unmounts and exits 0.
func TestServeMount(t *testing.T) {
	mountSkipUnlessFUSE(t)
	const user = "mia@example.test"
	dv := dovecot.Start(t, map[string]string{user: "pw"})
	delivered := map[string][]byte{
		"mount-0": serveMsg("mount-0", "first"),
		"mount-1": serveMsg("mount-1", strings.Repeat("a longer second body\n", 400)),
	}
	for _, s := range []string{"mount-0", "mount-1"} {
		require.NoError(t, dv.Deliver("ann@example.com", []string{user}, delivered[s]))
	}
	// What Dovecot holds: the delivered message (CRLF line ends) below the
	// trace headers LMTP adds; the scan stores exactly this (BODY[]).
	held := map[string][]byte{}
	c, err := dv.Login(user)
	require.NoError(t, err)
	_, err = c.Select("INBOX", nil).Wait()
	require.NoError(t, err)
	bufs, err := c.Fetch(imap.SeqSetNum(1, 2), &imap.FetchOptions{Envelope: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
	require.NoError(t, err)
	c.Close()
	require.Len(t, bufs, 2)
	for _, b := range bufs {
		body := b.BodySection[0].Bytes
		want := bytes.ReplaceAll(delivered[b.Envelope.Subject], []byte("\n"), []byte("\r\n"))
		require.True(t, bytes.HasSuffix(body, want), "Dovecot holds %q as delivered", b.Envelope.Subject)
		held[b.Envelope.Subject] = body
	}

	dir := t.TempDir()
	bin := mountBinary(t, dir)
	root, st, mp := filepath.Join(dir, "bp"), filepath.Join(dir, "st"), filepath.Join(dir, "mnt")
	require.NoError(t, os.Mkdir(mp, 0o755))
	// Registered first, so it runs last: after serveStart's cleanup has
	// stopped (or killed) the service, nothing stays mounted.
	t.Cleanup(func() { mountForceUnmount(mp) })
	accounts := filepath.Join(dir, "accounts")
	require.NoError(t, os.WriteFile(accounts, []byte(user+"\n"), 0o644))
	srv := serveStart(t, bin, st, "--backup-path", root, "--source", dv.SourceURL(), "--accounts-file", accounts, "--mount", mp)
	require.Eventually(t, func() bool { return mountIsMounted(mp) }, 5*time.Second, 10*time.Millisecond,
		"the empty Backup Path is mounted at start:\n%s", srv.stderr.String())
	_, err = os.Stat(filepath.Join(mp, "accounts", user))
	require.ErrorIs(t, err, os.ErrNotExist, "no account before the first scan")

	rep := ok(t, "backup", "doSmartScan", "--wait", "--state-dir", st).stdout
	require.Equal(t, 2, statLine(t, rep, "Items New"), rep)

	// The refresh follows the operation: poll briefly for the new tree.
	inbox := filepath.Join(mp, "accounts", user, "folders", "Inbox")
	var emls []string
	require.Eventually(t, func() bool {
		emls, _ = filepath.Glob(filepath.Join(inbox, "*.eml"))
		return len(emls) == 2
	}, 5*time.Second, 20*time.Millisecond, "two messages under %s:\n%s", inbox, srv.stderr.String())
	require.Eventually(t, func() bool { return strings.Contains(srv.stderr.String(), "mount refreshed") }, 30*time.Second, 20*time.Millisecond,
		"refreshed in place, not remounted:\n%s", srv.stderr.String())
	assert.NotContains(t, srv.stderr.String(), "remount failed")
	seen := map[string]bool{}
	for _, p := range emls {
		got, err := os.ReadFile(p)
		require.NoError(t, err)
		var subject string
		for s := range held {
			if bytes.Contains(got, []byte("\r\nSubject: "+s+"\r\n")) {
				subject = s
			}
		}
		require.NotEmpty(t, subject, "%s is one of the delivered messages", p)
		assert.Equal(t, held[subject], got, "%s: the .eml is the message Dovecot holds", p)
		seen[subject] = true
	}
	assert.Len(t, seen, 2, "each message once")
	_, err = os.Stat(filepath.Join(mp, "accounts", user, "account.json"))
	assert.NoError(t, err)

	srv.term(t) // exit status 0
	assert.False(t, mountIsMounted(mp), "unmounted on SIGTERM")
	info, err := os.ReadFile("/proc/self/mountinfo")
	require.NoError(t, err)
	assert.NotContains(t, string(info), " "+mp+" ", "gone from /proc/self/mountinfo")
}
