package restore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/internal/dovecot"
	"github.com/cbfs/cbfs/mailbox"
)

// bigPath is a Backup Path of one account holding n messages of size
// bytes each (incompressible, so they fill a target as they are).
func bigPath(t *testing.T, n, size int) (*backuppath.Path, *mailbox.Account) {
	t.Helper()
	p, err := backuppath.Create(t.TempDir(), backuppath.BackupStat{ServerID: "srv-full"})
	require.NoError(t, err)
	acct := &mailbox.Account{ID: "acct-full", Name: "full@example.test", Status: mailbox.StatusActive}
	require.NoError(t, p.WriteAccount(acct))
	rng := rand.New(rand.NewPCG(1, 2))
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/"
	for i := range n {
		body := []byte(fmt.Sprintf("Subject: m%d\r\n\r\n", i))
		for len(body) < size {
			body = append(body, letters[rng.IntN(len(letters))])
		}
		d, _, err := p.Blobs.Put(body)
		require.NoError(t, err)
		at := mailbox.MillisOf(time.Date(2024, 1, 1, 0, i, 0, 0, time.UTC))
		require.NoError(t, p.WriteItem(acct.ID, &mailbox.Item{ID: 1000 + i, States: []mailbox.State{{Start: at,
			Type: mailbox.TypeMessage, FolderID: 2, Digest: d, Size: int64(len(body)), Date: at}}}))
	}
	return p, acct
}

// mountTmpfs mounts a tmpfs of 1 MiB at a new folder (options added to
// size=1m), unmounted at the end of the test.
func mountTmpfs(t *testing.T, opts string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	dir := filepath.Join(t.TempDir(), "small")
	require.NoError(t, os.Mkdir(dir, 0o755))
	data := "size=1m"
	if opts != "" {
		data += "," + opts
	}
	require.NoError(t, unix.Mount("tmpfs", dir, "tmpfs", 0, data))
	t.Cleanup(func() { require.NoError(t, unix.Unmount(dir, unix.MNT_DETACH)) })
	return dir
}

// Issue 22 (3): a target that fills up stops the restore at once as a
// target error ("target full: ..."), not every remaining item filed
// invalid; a run with room resumes it.
func TestRestoreStopsWhenTheTargetIsFull(t *testing.T) {
	p, _ := bigPath(t, 60, 48<<10) // 2.8 MiB into 1 MiB
	small := mountTmpfs(t, "")
	ledger := openLedger(t)

	rep, err := ExternalRestore(context.Background(), p, NewMaildir(small), ledger, DefaultOptions())
	require.ErrorIs(t, err, ErrTargetFull)
	assert.ErrorIs(t, err, unix.ENOSPC)
	assert.Regexp(t, `^target full: .*no space left on device`, err.Error())
	require.NotNil(t, rep)
	assert.Zero(t, rep.Unrestored, "nothing filed unrestored for a full target:\n%s", rep)
	assert.Positive(t, rep.Restored, "it wrote until the target was full")
	assert.Less(t, rep.Restored, 60)
	assert.Contains(t, rep.String(), "- stopped -\ntarget full: ")
	assert.NotContains(t, rep.String(), "run the restore again to resume it", "a rerun alone does not make room")

	// With room (a bigger target over the same ledger): the rest.
	require.NoError(t, unix.Mount("tmpfs", small, "tmpfs", unix.MS_REMOUNT, "size=8m"))
	rep2, err := ExternalRestore(context.Background(), p, NewMaildir(small), ledger, DefaultOptions())
	require.NoError(t, err)
	assert.Equal(t, 60, rep2.Restored+rep2.Skipped)
	assert.Zero(t, rep2.Unrestored)
}

// A read-only target (EROFS) is a target error at once too.
func TestRestoreStopsOnAReadOnlyTarget(t *testing.T) {
	p, _ := bigPath(t, 3, 1<<10)
	ro := mountTmpfs(t, "")
	require.NoError(t, unix.Mount("tmpfs", ro, "tmpfs", unix.MS_REMOUNT|unix.MS_RDONLY, "size=1m"))
	rep, err := ExternalRestore(context.Background(), p, NewMaildir(ro), openLedger(t), DefaultOptions())
	require.ErrorIs(t, err, ErrTargetFull)
	assert.ErrorIs(t, err, unix.EROFS)
	if rep != nil {
		assert.Zero(t, rep.Unrestored)
		assert.Empty(t, rep.FailedAccounts, "not the account's failure: the target's")
	}
}

// What says the target is full: the errnos of a full or read-only file
// system, and an IMAP server's quota answer (Dovecot: NO [OVERQUOTA]
// Quota exceeded); an item's own refusal is not.
func TestTargetFull(t *testing.T) {
	for _, c := range []struct {
		err  error
		full bool
	}{
		{fmt.Errorf("write tmp/x: %w", unix.ENOSPC), true},
		{fmt.Errorf("write tmp/x: %w", unix.EDQUOT), true},
		{fmt.Errorf("rename: %w", unix.EROFS), true},
		{fmt.Errorf("%w: %w", ErrRefused, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeOverQuota, Text: "Quota exceeded (mailbox for user is full)"}), true},
		{&imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeLimit, Text: "Quota exceeded"}, true},
		{&imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeLimit, Text: "Too many flags"}, false},
		{&imap.Error{Type: imap.StatusResponseTypeNo, Text: "Invalid message"}, false},
		{fmt.Errorf("open: %w", unix.EACCES), false},
		{nil, false},
	} {
		got := targetFull(c.err)
		assert.Equal(t, c.full, got != nil, "%v", c.err)
		if c.full {
			assert.ErrorIs(t, got, ErrTargetFull)
			assert.ErrorIs(t, got, c.err, "the cause is kept")
		}
	}
}

// An IMAP target over quota (a real Dovecot with a 200 KiB quota: NO
// [OVERQUOTA]) stops the restore at once as a target error too.
func TestRestoreStopsWhenTheIMAPQuotaIsFull(t *testing.T) {
	p, acct := bigPath(t, 20, 48<<10) // 960 KiB into 200 KiB
	s := dovecot.StartWith(t, map[string]string{acct.Name: "pw"}, dovecot.Options{Extra: `
mail_plugins = $mail_plugins quota
plugin {
  quota = maildir:User quota
  quota_rule = *:storage=200K
}
`})
	tgt, err := ParseTarget(s.SourceURL())
	require.NoError(t, err)
	defer tgt.Close()
	rep, err := ExternalRestore(context.Background(), p, tgt, openLedger(t), DefaultOptions())
	require.ErrorIs(t, err, ErrTargetFull, "%v", err)
	assert.Contains(t, err.Error(), "OVERQUOTA")
	require.NotNil(t, rep)
	assert.Zero(t, rep.Unrestored, "nothing filed invalid for a full target:\n%s", rep)
	assert.Less(t, rep.Restored, 20)
}
