package tests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/internal/dovecot"
	"github.com/cbfs/cbfs/internal/testuser"
	"github.com/cbfs/cbfs/msgexport"
	"github.com/cbfs/cbfs/sample"
)

// exportSample generates the damaged sample (3 accounts, seed 7) and
// returns its root and the generator's report.
func exportSample(t *testing.T) (string, sampleReport) {
	t.Helper()
	root := filepath.Join(t.TempDir(), "bp")
	var rep sampleReport
	decode(t, ok(t, "sample", root, "--accounts", "3", "--messages", "8", "--seed", "7", "--json").stdout, &rep)
	return root, rep
}

// exportReport reads an export's report.json.
func exportReport(t *testing.T, dest string) msgexport.Result {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dest, msgexport.ReportJSONFile))
	require.NoError(t, err)
	var res msgexport.Result
	require.NoError(t, json.Unmarshal(b, &res))
	return res
}

// normalized is a message as an mbox round trip keeps it: LF line ends,
// no trailing empty lines.
func normalized(b []byte) string {
	return strings.TrimRight(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n")
}

// mboxQuoted is s with mboxrd's quoting: a line matching ^>*From  gets
// one more ">".
func mboxQuoted(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimLeft(l, ">"), "From ") {
			lines[i] = ">" + l
		}
	}
	return strings.Join(lines, "\n")
}

func messageID(t *testing.T, b []byte) string {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(b))
	require.NoError(t, err)
	return m.Header.Get("Message-Id")
}

// emlFiles lists an eml export's message files: relative path -> bytes.
func emlFiles(t *testing.T, dest string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	require.NoError(t, filepath.WalkDir(dest, func(p string, d fs.DirEntry, err error) error {
		require.NoError(t, err)
		if strings.HasSuffix(p, ".eml") {
			b, err := os.ReadFile(p)
			require.NoError(t, err)
			rel, _ := filepath.Rel(dest, p)
			out[filepath.ToSlash(rel)] = b
		}
		return nil
	}))
	return out
}

// TestExportMessages exports the damaged sample as mbox and as .eml: the
// .eml files are the blobs' decompressed bytes of each item's latest
// state; the mbox files, imported into a real Dovecot with doveadm
// import, give back the same messages (count, Message-IDs, bodies) in the
// same folders; both manifests pass sha256sum -c and fail it once a file
// is altered; every planted damage is reported left out with its reason,
// and the exit status is 3.
func TestExportMessages(t *testing.T) {
	root, srep := exportSample(t)
	dir := t.TempDir()
	mboxDest, emlDest := filepath.Join(dir, "mbox"), filepath.Join(dir, "eml")
	r := partial(t, "backup", "doExportMessages", mboxDest, "backup_path", root, "--state-dir", filepath.Join(dir, "st"))
	assert.Contains(t, r.stdout, "Left Out: 5")
	partial(t, "backup", "doExportMessages", emlDest, "backup_path", root, "format", "eml", "--state-dir", filepath.Join(dir, "st"))
	mres, eres := exportReport(t, mboxDest), exportReport(t, emlDest)

	// Every planted damage is left out, with its reason.
	want := map[string]string{} // account/item -> what class
	for _, d := range srep.Damaged {
		key := d.Account + "/" + strconv.Itoa(d.ItemID)
		switch d.Kind {
		case sample.DamageTruncated, sample.DamageMismatch:
			want[key] = "blob broken"
		case sample.DamageUnreadable:
			want[key] = "blob unreadable"
		case sample.DamageMissing:
			want[key] = "blob missing"
		case sample.DamageMalformedJSON:
			want[key] = "item broken"
		}
	}
	require.Len(t, want, 5)
	for _, res := range []msgexport.Result{mres, eres} {
		got := map[string]string{}
		for _, l := range res.LeftOut {
			got[l.Account+"/"+strconv.Itoa(l.ItemID)] = l.What + " " + l.Class
			assert.NotEmpty(t, l.Reason)
		}
		assert.Equal(t, want, got)
	}
	assert.Equal(t, mres.Messages, eres.Messages)
	assert.Greater(t, mres.Messages, 20)

	// .eml: the blob's decompressed bytes of the item's latest state.
	bpath, err := backuppath.Open(root)
	require.NoError(t, err)
	emls := emlFiles(t, emlDest)
	require.Len(t, emls, eres.Messages)
	for rel, b := range emls {
		parts := strings.Split(rel, "/")
		acct, err := bpath.FindAccount(parts[0])
		require.NoError(t, err, rel)
		id, err := strconv.Atoi(strings.TrimSuffix(parts[len(parts)-1], ".eml"))
		require.NoError(t, err)
		files, _, err := bpath.ItemFiles(acct.ID)
		require.NoError(t, err)
		var st *blobState
		for _, f := range files {
			if f.ItemID == id {
				it, err := bpath.ReadItemFile(f.RelPath, id)
				require.NoError(t, err)
				l := it.Latest()
				st = &blobState{l.Digest, l.Size}
				break
			}
		}
		require.NotNil(t, st, rel)
		orig, err := bpath.Blobs.ReadLimit(st.d, blob.Limit{Size: st.size})
		require.NoError(t, err)
		assert.Equal(t, orig, b, rel)
	}

	// The mbox export, imported by Dovecot, holds the same messages per
	// folder as the .eml export.
	// Dovecot reads mboxo: a line the export quoted (mboxrd) keeps its ">".
	wantFolders := map[string][]string{} // account/folder -> normalized messages
	for rel, b := range emls {
		folder := filepath.ToSlash(filepath.Dir(rel))
		wantFolders[folder] = append(wantFolders[folder], mboxQuoted(normalized(b)))
	}
	const user = "export@example.test"
	dv := dovecot.Start(t, map[string]string{user: "pw"})
	c, err := dv.Login(user) // makes the home
	require.NoError(t, err)
	c.Close()
	copyDir := filepath.Join(dir, "import")
	require.NoError(t, exec.Command("cp", "-a", mboxDest, copyDir).Run())
	require.NoError(t, exec.Command("chmod", "-R", "a+rwX", dir).Run()) // the mail user reads it
	// Each mbox file imported as Dovecot imports one mbox file into any
	// target: as the INBOX of an mbox root of its own, under a parent
	// (PARENT/INBOX).
	empty := filepath.Join(dir, "empty")
	require.NoError(t, os.Mkdir(empty, 0o777))
	parents := map[string]string{} // Dovecot parent -> account/folder
	for i, f := range mres.Files {
		folder, ok := strings.CutSuffix(f.Path, ".mbox")
		if !ok {
			continue
		}
		p := fmt.Sprintf("f%d", i)
		parents[p] = folder
		out, err := exec.Command("doveadm", "-c", filepath.Join(dv.Dir, "dovecot.conf"), "import", "-u", user,
			"mbox:"+empty+":INBOX="+filepath.Join(copyDir, filepath.FromSlash(f.Path))+":INDEX=MEMORY", p, "all").CombinedOutput()
		require.NoError(t, err, "doveadm import %s: %s", f.Path, out)
	}
	require.GreaterOrEqual(t, len(parents), 8)
	c, err = dv.Login(user)
	require.NoError(t, err)
	defer c.Close()
	list, err := c.List("", "*", nil).Collect()
	require.NoError(t, err)
	got := map[string][]string{}
	for _, l := range list {
		p, rest, ok := strings.Cut(l.Mailbox, string(l.Delim))
		if !ok || parents[p] == "" || rest != "INBOX" {
			continue
		}
		sel, err := c.Select(l.Mailbox, &imap.SelectOptions{ReadOnly: true}).Wait()
		require.NoError(t, err)
		folder := parents[p]
		var all imap.SeqSet
		all.AddRange(1, 0)
		if sel.NumMessages == 0 {
			continue
		}
		msgs, err := c.Fetch(all, &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
		require.NoError(t, err)
		for _, m := range msgs {
			got[folder] = append(got[folder], normalized(m.BodySection[0].Bytes))
		}
	}
	require.Equal(t, len(wantFolders), len(got), "folders: %v", sortedKeys(got))
	for folder, w := range wantFolders {
		g := got[folder]
		require.Len(t, g, len(w), folder)
		sort.Strings(w)
		sort.Strings(g)
		var wids, gids []string
		for i := range w {
			wids = append(wids, messageID(t, []byte(w[i]+"\n")))
			gids = append(gids, messageID(t, []byte(g[i]+"\n")))
		}
		assert.Equal(t, wids, gids, folder)
		assert.Equal(t, w, g, folder)
	}

	// sha256sum -c passes, and fails once a file is altered.
	for _, d := range []string{mboxDest, emlDest} {
		cmd := exec.Command("sha256sum", "--strict", "-c", msgexport.ManifestFile)
		cmd.Dir = d
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		assert.Equal(t, len(exportReport(t, d).Files)+2, strings.Count(string(out), ": OK"), "%s", out)
	}
	var victim string
	for rel := range emls {
		victim = rel
		break
	}
	f, err := os.OpenFile(filepath.Join(emlDest, victim), os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString("tampered\n")
	require.NoError(t, err)
	require.NoError(t, f.Close())
	cmd := exec.Command("sha256sum", "-c", msgexport.ManifestFile)
	cmd.Dir = emlDest
	out, err := cmd.CombinedOutput()
	require.Error(t, err)
	assert.Contains(t, string(out), victim+": FAILED")
}

type blobState struct {
	d    blob.Digest
	size int64
}

func sortedKeys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestExportMessagesQuery: a query export holds exactly the messages
// doItemSearch query finds, each in the state found (one file per hit,
// <account>/<folder>/<id>.eml).
func TestExportMessagesQuery(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", filepath.Join(dir, "xdg"))
	root, _ := exportSample(t)
	ok(t, "--state-dir", filepath.Join(dir, "st"), "backup", "doIndexMessages", root)
	const query = "meeting OR invoice"
	r := ok(t, "backup", "doItemSearch", "query", query, "--backup-path", root, "--json", "--limit=-1")
	var res struct {
		Hits []struct {
			Account, Folder string
			ItemID          int
		}
	}
	decode(t, r.stdout, &res)
	require.NotEmpty(t, res.Hits)
	dest := filepath.Join(dir, "out")
	r = cbctl(t, "backup", "doExportMessages", dest, "query", query, "format", "eml", "backup_path", root, "--state-dir", filepath.Join(dir, "st"))
	require.Contains(t, []int{0, 3}, r.code, r.stderr)
	ex := exportReport(t, dest)
	var want, left []string
	for _, h := range res.Hits {
		want = append(want, h.Account+"/"+strconv.Itoa(h.ItemID))
	}
	var got []string
	for rel := range emlFiles(t, dest) {
		parts := strings.Split(rel, "/")
		got = append(got, parts[0]+"/"+strings.TrimSuffix(parts[len(parts)-1], ".eml"))
	}
	for _, l := range ex.LeftOut {
		left = append(left, l.Account+"/"+strconv.Itoa(l.ItemID))
	}
	assert.ElementsMatch(t, want, append(got, left...), "exported and left out: exactly the hits")
	assert.Equal(t, map[bool]int{true: 0, false: 3}[len(left) == 0], r.code)

	// One account's matches only; query refuses date.
	acct := res.Hits[0].Account
	r = cbctl(t, "backup", "doExportMessages", filepath.Join(dir, "one"), "account", acct, "query", query, "format", "eml", "backup_path", root, "--state-dir", filepath.Join(dir, "st"))
	require.Contains(t, []int{0, 3}, r.code, r.stderr)
	for rel := range emlFiles(t, filepath.Join(dir, "one")) {
		assert.True(t, strings.HasPrefix(rel, acct+"/"), rel)
	}
	fails(t, 2, "say the folder, dates and deletion in it", "backup", "doExportMessages", filepath.Join(dir, "two"), "query", query, "date", "2024-01-01", "backup_path", root, "--state-dir", filepath.Join(dir, "st"))
}

// TestExportMessagesFolderAndDest: a folder export holds that folder's
// messages (with its subfolders, or not); a non-empty destination is
// refused; a link an unprivileged user planted as DEST or inside it is
// never followed.
func TestExportMessagesFolderAndDest(t *testing.T) {
	root, _ := exportSample(t)
	dir := t.TempDir()
	st := filepath.Join(dir, "st")
	all := filepath.Join(dir, "all")
	partial(t, "backup", "doExportMessages", all, "format", "eml", "backup_path", root, "--state-dir", st)
	emls := emlFiles(t, all)
	// An account with messages in Archive and in Archive/Newsletters.
	direct, sub := map[string]bool{}, map[string]bool{}
	for rel := range emls {
		parts := strings.Split(rel, "/")
		if len(parts) == 3 && parts[1] == "Archive" {
			direct[parts[0]] = true
		}
		if len(parts) == 4 && parts[1] == "Archive" && parts[2] == "Newsletters" {
			sub[parts[0]] = true
		}
	}
	var acct string
	for a := range direct {
		if sub[a] {
			acct = a
		}
	}
	require.NotEmpty(t, acct, "the sample has a folder with a subfolder: %v", sortedKeys(emls))
	for _, tc := range []struct {
		sub    bool
		prefix string
	}{{true, acct + "/Archive/"}, {false, acct + "/Archive/"}} {
		dest := filepath.Join(dir, fmt.Sprintf("archive-%t", tc.sub))
		r := cbctl(t, "backup", "doExportMessages", dest, "account", acct, "folder", "archive", "subfolders", strconv.FormatBool(tc.sub), "format", "eml", "backup_path", root, "--state-dir", st)
		require.Contains(t, []int{0, 3}, r.code, r.stderr)
		var want []string
		for rel := range emls {
			if strings.HasPrefix(rel, tc.prefix) && (tc.sub || !strings.Contains(strings.TrimPrefix(rel, tc.prefix), "/")) {
				want = append(want, rel)
			}
		}
		require.NotEmpty(t, want)
		assert.ElementsMatch(t, want, sortedKeys(emlFiles(t, dest)), "subfolders %t", tc.sub)
	}
	fails(t, 2, "no folder", "backup", "doExportMessages", filepath.Join(dir, "x"), "account", acct, "folder", "NoSuchFolder", "backup_path", root, "--state-dir", st)
	require.NoDirExists(t, filepath.Join(dir, "x"), "refused before DEST is made")
	fails(t, 1, "not empty", "backup", "doExportMessages", all, "backup_path", root, "--state-dir", st)

	// Links planted by a user.
	u := testuser.New(t)
	home := u.Home(t)
	victim := filepath.Join(dir, "victim")
	require.NoError(t, os.Mkdir(victim, 0o755))
	u.Sh(t, home, "ln -s "+victim+" linked; mkdir exp; ln -s "+victim+" exp/"+acct)
	for _, dest := range []string{filepath.Join(home, "linked"), filepath.Join(home, "exp")} {
		r := cbctlWithin(t, "backup", "doExportMessages", dest, "backup_path", root, "--state-dir", st)
		assert.NotEqual(t, 0, r.code)
		assert.Regexp(t, "symbolic link|not empty", r.stderr)
		ents, err := os.ReadDir(victim)
		require.NoError(t, err)
		assert.Empty(t, ents, "written through the link")
	}
	// Into the user's own folder: everything is theirs.
	dest := filepath.Join(home, "mine")
	partial(t, "backup", "doExportMessages", dest, "backup_path", root, "--state-dir", st)
	require.NoError(t, filepath.WalkDir(dest, func(p string, d fs.DirEntry, err error) error {
		require.NoError(t, err)
		fi, err := os.Lstat(p)
		require.NoError(t, err)
		assert.Equal(t, u.UID, fi.Sys().(*syscall.Stat_t).Uid, p)
		return nil
	}))
}
