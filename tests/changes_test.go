package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// getChanges against a Backup Path made by two real scans of a Maildir,
// with a move to another folder, a flag change (in the file's Maildir name)
// and a deletion in between: it lists exactly those, in text and --json;
// from the start to between the scans it lists every item as added; dates
// the wrong way round are a usage error.
func TestGetChanges(t *testing.T) {
	dir := t.TempDir()
	root, mail, st := filepath.Join(dir, "bp"), filepath.Join(dir, "mail"), filepath.Join(dir, "state")
	md := filepath.Join(mail, "example.test", "ann", "Maildir")
	for _, d := range []string{"cur", "new", "tmp", ".Work/cur", ".Work/new", ".Work/tmp"} {
		require.NoError(t, os.MkdirAll(filepath.Join(md, d), 0o755))
	}
	name := func(j int, flags string) string { return fmt.Sprintf("170000000%d.M%dP1.host:2,%s", j, j, flags) }
	for j := range 4 {
		body := serveMsg(fmt.Sprintf("msg %d", j), "body")
		require.NoError(t, os.WriteFile(filepath.Join(md, "cur", name(j, "S")), body, 0o644))
	}
	refreshScan(t, root, mail, st)

	// A moment strictly between the scans, on a whole second (the date
	// forms have no fractions): the states of each scan start at its time.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)) + 10*time.Millisecond)
	between := time.Now().UTC().Truncate(time.Second).Format(time.RFC3339)
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)) + 10*time.Millisecond)

	require.NoError(t, os.Rename(filepath.Join(md, "cur", name(0, "S")), filepath.Join(md, ".Work", "cur", name(0, "S"))))
	require.NoError(t, os.Rename(filepath.Join(md, "cur", name(1, "S")), filepath.Join(md, "cur", name(1, "FS"))))
	require.NoError(t, os.Remove(filepath.Join(md, "cur", name(2, "S"))))
	refreshScan(t, root, mail, st)

	type change struct {
		Kind       string  `json:"kind"`
		Item       int     `json:"item"`
		Type       string  `json:"type"`
		Subject    string  `json:"subject"`
		FromFolder string  `json:"fromFolder"`
		ToFolder   string  `json:"toFolder"`
		FromFlags  *string `json:"fromFlags"`
		ToFlags    *string `json:"toFlags"`
	}
	getJSON := func(args ...string) []change {
		t.Helper()
		r := ok(t, append([]string{"backup", "getChanges", "ann@example.test", "--backup-path", root, "--json"}, args...)...)
		var out struct {
			Account string   `json:"account"`
			Changes []change `json:"changes"`
		}
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &out), r.stdout)
		require.Equal(t, "ann@example.test", out.Account)
		return out.Changes
	}
	summary := func(cs []change) []string {
		var s []string
		for _, c := range cs {
			line := fmt.Sprintf("%s %s %q %s->%s", c.Kind, c.Type, c.Subject, c.FromFolder, c.ToFolder)
			if c.FromFlags != nil {
				line += fmt.Sprintf(" flags %q->%q", *c.FromFlags, *c.ToFlags)
			}
			s = append(s, line)
		}
		return s
	}

	// Between the scans and now: the three changes, nothing else (msg 3
	// did not change). Carbonio's pair form.
	got := getJSON("from", between, "to", time.Now().UTC().Add(time.Hour).Format(time.RFC3339))
	require.Equal(t, []string{
		`moved message "msg 0" /Inbox->/Work`,
		`reflagged message "msg 1" /Inbox->/Inbox flags ""->"f"`,
		`deleted message "msg 2" /Inbox->`,
	}, summary(got))

	// The same in text, with the flags form and a bare date "to" (the end
	// of a day long after).
	r := ok(t, "backup", "getChanges", "ann@example.test", "--from", between, "--to", "31/12/2099", "backup_path", root)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, 5, r.stdout)
	require.Contains(t, lines[0], "3 change(s)")
	require.Regexp(t, `^moved\s+\d+\s+message\s+/Inbox -> /Work\s+msg 0$`, lines[2])
	require.Regexp(t, `^reflagged\s+\d+\s+message\s+/Inbox: - -> f\s+msg 1$`, lines[3])
	require.Regexp(t, `^deleted\s+\d+\s+message\s+/Inbox\s+msg 2$`, lines[4])

	// From before the first scan to between the scans: the folder and the
	// four messages were added, each where it was then.
	got = getJSON("from", "01/01/2020", "to", between)
	require.Equal(t, []string{
		`added folder "" ->/`,
		`added message "msg 0" ->/Inbox`,
		`added message "msg 1" ->/Inbox`,
		`added message "msg 2" ->/Inbox`,
		`added message "msg 3" ->/Inbox`,
	}, summary(got))

	// The dates the wrong way round, or a bad date: usage errors.
	for _, args := range [][]string{{"from", between, "to", "01/01/2020"}, {"from", "yesterday-ish", "to", between}} {
		r := cbctl(t, append([]string{"backup", "getChanges", "ann@example.test", "--backup-path", root}, args...)...)
		require.Equal(t, 2, r.code, "%q: %s%s", args, r.stdout, r.stderr)
	}
}
