package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/internal/dovecot"
)

// TestGetChangesServe: a scripted sequence of changes made through IMAP
// on a real Dovecot (a move, flag changes, a deletion with expunge, a
// folder renamed, a folder deleted with the message in it, a new
// message), backed up by `cbfs serve` (doSmartScan queued to it) before
// and after; getChanges --json between the two backups' times lists
// exactly those changes, and from before the first backup to between them
// exactly what the first backup found.
func TestGetChangesServe(t *testing.T) {
	const user = "alice@example.test"
	dv := dovecot.Start(t, map[string]string{user: "pw"})
	for i := range 7 {
		require.NoError(t, dv.Deliver("ann@example.com", []string{user}, serveMsg(fmt.Sprintf("m%d", i), "body "+itoa(i))))
	}
	c, err := dv.Login(user)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	uid := func(subject string) imap.UIDSet {
		t.Helper()
		uids, err := c.UIDSearch(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: subject}}}, nil).Wait()
		require.NoError(t, err)
		require.Len(t, uids.AllUIDs(), 1, subject)
		return imap.UIDSetNum(uids.AllUIDs()...)
	}
	selectBox := func(name string) {
		t.Helper()
		_, err := c.Select(name, nil).Wait()
		require.NoError(t, err, name)
	}
	move := func(subject, to string) {
		t.Helper()
		_, err := c.Move(uid(subject), to).Wait()
		require.NoError(t, err, "move %s to %s", subject, to)
	}
	// The mailbox of the first backup: Inbox m0-m3 and m6, Old holding m4,
	// Projects holding m5, Work empty.
	for _, f := range []string{"Work", "Old", "Projects"} {
		require.NoError(t, c.Create(f, nil).Wait(), f)
	}
	selectBox("INBOX")
	move("m4", "Old")
	move("m5", "Projects")
	move("m6", "Work")
	selectBox("Work")
	move("m6", "INBOX") // moved and back before the first backup: in Inbox then

	dir := t.TempDir()
	bin := mountBinary(t, dir)
	root, st := filepath.Join(dir, "bp"), filepath.Join(dir, "st")
	accounts := filepath.Join(dir, "accounts")
	require.NoError(t, os.WriteFile(accounts, []byte(user+" default\n"), 0o644))
	serveStart(t, bin, st, "--backup-path", root, "--source", dv.SourceURL(), "--accounts-file", accounts)
	backup := func() time.Time {
		t.Helper()
		ok(t, "backup", "doSmartScan", "--wait", "--state-dir", st)
		time.Sleep(2 * time.Millisecond) // the states' dates have milliseconds: the moment is strictly after them
		return time.Now().UTC()
	}
	before := time.Now().UTC().Add(-time.Second)
	t1 := backup()

	// The scripted changes.
	selectBox("INBOX")
	move("m0", "Work")
	require.NoError(t, c.Store(uid("m1"), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagFlagged}}, nil).Close())
	require.NoError(t, c.Store(uid("m2"), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagSeen}}, nil).Close())
	u := uid("m3")
	require.NoError(t, c.Store(u, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close())
	require.NoError(t, c.UIDExpunge(u).Close())
	// m6: flagged and unflagged again between the backups: no change.
	require.NoError(t, c.Store(uid("m6"), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagFlagged}}, nil).Close())
	require.NoError(t, c.Store(uid("m6"), &imap.StoreFlags{Op: imap.StoreFlagsDel, Flags: []imap.Flag{imap.FlagFlagged}}, nil).Close())
	require.NoError(t, c.Unselect().Wait())
	require.NoError(t, c.Rename("Projects", "Clients", nil).Wait())
	require.NoError(t, c.Delete("Old").Wait())
	require.NoError(t, dv.Deliver("ann@example.com", []string{user}, serveMsg("m7", "new")))
	t2 := backup()

	type change struct {
		Kind       string  `json:"kind"`
		Type       string  `json:"type"`
		Subject    string  `json:"subject"`
		FromFolder string  `json:"fromFolder"`
		ToFolder   string  `json:"toFolder"`
		FromFlags  *string `json:"fromFlags"`
		ToFlags    *string `json:"toFlags"`
		FromPath   string  `json:"fromPath"`
		ToPath     string  `json:"toPath"`
	}
	changes := func(from, to time.Time) []string {
		t.Helper()
		r := ok(t, "backup", "getChanges", user, "from", from.Format(time.RFC3339Nano), "to", to.Format(time.RFC3339Nano), "--backup-path", root, "--json")
		var out struct {
			Account string   `json:"account"`
			Changes []change `json:"changes"`
		}
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &out), r.stdout)
		require.Equal(t, user, out.Account)
		var s []string
		for _, c := range out.Changes {
			line := fmt.Sprintf("%s %s %q %s->%s", c.Kind, c.Type, c.Subject, c.FromFolder, c.ToFolder)
			if c.Type == "folder" {
				line = fmt.Sprintf("%s folder %s->%s", c.Kind, c.FromPath, c.ToPath)
			}
			if c.FromFlags != nil {
				line += fmt.Sprintf(" flags %q->%q", *c.FromFlags, *c.ToFlags)
			}
			s = append(s, line)
		}
		return s
	}

	assert.ElementsMatch(t, []string{
		`moved message "m0" /Inbox->/Work`,
		`reflagged message "m1" /Inbox->/Inbox flags "u"->"uf"`,
		`reflagged message "m2" /Inbox->/Inbox flags "u"->""`,
		`deleted message "m3" /Inbox->`,
		`deleted message "m4" /Old->`,
		`deleted folder /Old->`,
		`renamed folder /Projects->/Clients`,
		`added message "m7" ->/Inbox`,
	}, changes(t1, t2), "between the backups: the scripted changes, nothing else")

	// The root and Inbox are system folders, items of no scan.
	assert.ElementsMatch(t, []string{
		`added folder ->/Work`,
		`added folder ->/Old`,
		`added folder ->/Projects`,
		`added message "m0" ->/Inbox`,
		`added message "m1" ->/Inbox`,
		`added message "m2" ->/Inbox`,
		`added message "m3" ->/Inbox`,
		`added message "m4" ->/Old`,
		`added message "m5" ->/Projects`,
		`added message "m6" ->/Inbox`,
	}, changes(before, t1), "up to the first backup: what it found")

	assert.Empty(t, changes(t2, time.Now().UTC().Add(time.Hour)), "nothing after the last backup")
}
