package msgexport

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/internal/dovecot"
	"github.com/cbfs/cbfs/mailbox"
)

// A message whose body has lines an mbox reader would take for a
// separator, or for a quoted one.
const tricky = "Return-Path: <ann@example.test>\r\n" +
	"From: Ann <ann@example.test>\r\n" +
	"Subject: From lines\r\n" +
	"Message-ID: <tricky@example.test>\r\n" +
	"\r\n" +
	"From here on\r\n" +
	">From quoted once\r\n" +
	">>From quoted twice\r\n" +
	" From not at the start\r\n" +
	"bare\rCR\r\n" +
	"no final line break"

func TestWriteMboxMessage(t *testing.T) {
	var b bytes.Buffer
	date := time.Date(2024, 3, 5, 7, 8, 9, 0, time.FixedZone("x", 3600))
	require.NoError(t, WriteMboxMessage(&b, Sender([]byte(tricky)), date, []byte(tricky)))
	want := "From ann@example.test Tue Mar  5 06:08:09 2024\n" +
		"Return-Path: <ann@example.test>\n" +
		"From: Ann <ann@example.test>\n" +
		"Subject: From lines\n" +
		"Message-ID: <tricky@example.test>\n" +
		"\n" +
		">From here on\n" +
		">>From quoted once\n" +
		">>>From quoted twice\n" +
		" From not at the start\n" +
		"bare\rCR\n" +
		"no final line break\n" +
		"\n"
	assert.Equal(t, want, b.String())
}

func TestSender(t *testing.T) {
	for in, want := range map[string]string{
		"Return-Path: <a@x>\r\nFrom: b@y\r\n\r\nbody":   "a@x",
		"From: \"B\" <b@y>\r\n\r\nbody":                 "b@y",
		"Subject: none\n\nbody":                         "MAILER-DAEMON",
		"Return-Path: <>\nFrom: <a b@y>\n\n":            "MAILER-DAEMON",
		"not a header at all":                           "MAILER-DAEMON",
		"From: x@y\n" + strings.Repeat("X: y\n", 20000): "MAILER-DAEMON", // no end of header within 64 KiB
	} {
		assert.Equal(t, want, Sender([]byte(in)), "%q", in[:min(len(in), 40)])
	}
}

func TestManifestLine(t *testing.T) {
	assert.Equal(t, "ab  a/b.eml\n", ManifestLine("ab", "a/b.eml"))
	assert.Equal(t, "\\ab  a\\\\b\\nc\n", ManifestLine("ab", "a\\b\nc"))
}

// TestMboxDovecot: a real Dovecot's doveadm import reads the mbox file
// message by message, none split at a body line starting "From ", each
// whole to its last line without a line break and its lone CR; line ends
// come back LF. Dovecot does not unquote (it reads mboxo, as Thunderbird
// does): a body line that matched ^>*From  keeps the ">" the export added,
// which is what FORMAT.md says a recipient sees.
func TestMboxDovecot(t *testing.T) {
	if _, err := exec.LookPath("doveadm"); err != nil {
		t.Skip("doveadm not installed")
	}
	const user = "m@example.test"
	dv := dovecot.Start(t, map[string]string{user: "pw"})
	c, err := dv.Login(user)
	require.NoError(t, err)
	c.Close()
	dir := t.TempDir()
	var b bytes.Buffer
	second := strings.Replace(tricky, "<tricky@", "<second@", 1) + "\r\n"
	require.NoError(t, WriteMboxMessage(&b, Sender([]byte(tricky)), time.Unix(1e9, 0), []byte(tricky)))
	require.NoError(t, WriteMboxMessage(&b, "MAILER-DAEMON", time.Unix(1e9+1, 0), []byte(second)))
	file := filepath.Join(dir, "Folder.mbox")
	require.NoError(t, os.WriteFile(file, b.Bytes(), 0o644))
	require.NoError(t, os.Chmod(dir, 0o777))
	out, err := exec.Command("doveadm", "-c", filepath.Join(dv.Dir, "dovecot.conf"), "import", "-u", user,
		"mbox:"+filepath.Join(dir, "none")+":INBOX="+file+":INDEX=MEMORY", "Imported", "all").CombinedOutput()
	require.NoError(t, err, "%s", out)
	c, err = dv.Login(user)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Select("Imported/INBOX", &imap.SelectOptions{ReadOnly: true}).Wait()
	require.NoError(t, err)
	var all imap.SeqSet
	all.AddRange(1, 0)
	msgs, err := c.Fetch(all, &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
	require.NoError(t, err)
	require.Len(t, msgs, 2)
	lf := func(s string) string { return strings.TrimRight(strings.ReplaceAll(s, "\r\n", "\n"), "\n") }
	quoted := strings.NewReplacer("\nFrom here", "\n>From here", "\n>From quoted", "\n>>From quoted", "\n>>From quoted twice", "\n>>>From quoted twice")
	assert.Equal(t, quoted.Replace(lf(tricky)), lf(string(msgs[0].BodySection[0].Bytes)))
	assert.Equal(t, quoted.Replace(lf(second)), lf(string(msgs[1].BodySection[0].Bytes)))
}

// FuzzWriteMboxMessage: whatever the message, the mbox text is one
// "From " line, the message's lines (LF), each mboxrd-quoted, and an
// empty line; unquoting it gives the message back with CRLF as LF.
func FuzzWriteMboxMessage(f *testing.F) {
	f.Add([]byte(tricky))
	f.Add([]byte("From x\r\n\r\n>From y\rz"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, b []byte) {
		var out bytes.Buffer
		require.NoError(t, WriteMboxMessage(&out, Sender(b), time.Unix(0, 0), b))
		s := out.String()
		first, rest, ok := strings.Cut(s, "\n")
		require.True(t, ok)
		require.Equal(t, "From "+Sender(b)+" Thu Jan  1 00:00:00 1970", first)
		require.True(t, strings.HasSuffix(rest, "\n\n") || rest == "\n", "%q", rest)
		body := strings.TrimSuffix(rest, "\n")
		var lines []string
		for _, l := range strings.SplitAfter(body, "\n") {
			if l == "" {
				continue
			}
			q := strings.TrimLeft(l, ">")
			if strings.HasPrefix(q, "From ") {
				require.True(t, strings.HasPrefix(l, ">"), "a From line left unquoted: %q", l)
				l = l[1:]
			}
			lines = append(lines, l)
		}
		want := strings.ReplaceAll(string(b), "\r\n", "\n")
		if want != "" && !strings.HasSuffix(want, "\n") {
			want += "\n"
		}
		require.Equal(t, want, strings.Join(lines, ""))
	})
}

// TestFolderPathsUnique: folders whose names meet once made safe (control
// characters, names cut at 200 bytes) still get a file each.
func TestFolderPathsUnique(t *testing.T) {
	long := strings.Repeat("x", 250)
	folder := func(id int, name string) *mailbox.Item {
		return &mailbox.Item{ID: id, States: []mailbox.State{{Start: 1, Type: mailbox.TypeFolder, FolderID: mailbox.FolderRoot, ParentID: mailbox.FolderRoot, Name: name}}}
	}
	folders := map[int]*mailbox.Item{}
	for id, name := range map[int]string{300: "a\x01", 301: "a\x02", 302: "a_", 303: long + "1", 304: long + "2", 305: "unknown_900"} {
		folders[id] = folder(id, name)
	}
	var msgs []msg
	for id := range folders {
		msgs = append(msgs, msg{itemID: id + 100, st: &mailbox.State{FolderID: id}})
	}
	msgs = append(msgs, msg{itemID: 1000, st: &mailbox.State{FolderID: 900}}) // a folder the backup does not hold
	paths := folderPaths(folders, time.Time{}, msgs)
	seen := map[string]int{}
	for id, p := range paths {
		if other, dup := seen[p]; dup {
			t.Errorf("folders %d and %d both export as %q", other, id, p)
		}
		seen[p] = id
		if len(p) > maxComponent {
			t.Errorf("folder %d: %d bytes: %q", id, len(p), p)
		}
	}
	for _, m := range msgs {
		if paths[m.st.FolderID] == "" {
			t.Errorf("folder %d has no path", m.st.FolderID)
		}
	}
}
