package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A Backup Path whose account and folder names collide once made safe
// for a path: accounts "a/b@example.com" and "a_b@example.com", "." and
// "..", one named like another's id; in one account, sibling folders
// "x/y" and "x_y", "." and one named like its id, "p.q" and "p_q" (one
// Maildir++ name).
const (
	collideDomain = "@example.com"
	collideAcct   = "acct-2" // the account with the colliding folders
)

// collideBody is the message of account acct in folder fid (unique).
func collideBody(acct string, fid int) []byte {
	return []byte(fmt.Sprintf("Subject: %s folder %d\r\nFrom: a@example.com\r\n\r\nthe message of %s in folder %d\r\n", acct, fid, acct, fid))
}

func makeCollidePath(t *testing.T, root string) {
	writeJSONFile(t, filepath.Join(root, "backupstat"), map[string]any{
		"serverId": "srv-collide", "hostname": "mail.example.com",
		"firstRunDate": day("01/07/2013 00:00:00"), "lastScanDate": day("16/07/2013 03:00:00"),
	})
	for _, a := range []struct{ id, name string }{
		{"acct-1", "a/b" + collideDomain}, {"acct-2", "a_b" + collideDomain}, {"acct-3", "."},
		{"acct-4", ".."}, {"acct-5", "acct-3"},
	} {
		writeJSONFile(t, filepath.Join(root, "accounts", a.id, "account_info"), map[string]any{
			"id": a.id, "name": a.name, "status": "active", "createdDate": day("01/07/2013 09:00:00"),
		})
		body := collideBody(a.id, 2)
		writeItem(t, root, a.id, 500, msgState("02/07/2013 08:00:00", 2, "", false, putBlob(t, root, body, gz(t, body)), "inbox of "+a.id))
	}
	for i, f := range []struct {
		id   int
		name string
	}{{300, "x/y"}, {301, "x_y"}, {302, "."}, {303, "302"}, {304, "p.q"}, {305, "p_q"}} {
		writeItem(t, root, collideAcct, f.id, state{"startDate": day("01/07/2013 09:00:00"), "type": 1, "folderId": 2,
			"parentId": 2, "name": f.name, "deleted": false})
		body := collideBody(collideAcct, f.id)
		writeItem(t, root, collideAcct, 400+i, msgState("03/07/2013 08:00:00", f.id, "", false, putBlob(t, root, body, gz(t, body)), "in "+f.name))
	}
}

// collideFolders are the folders of acct-2 as the mount must show them:
// folders/ path -> folder id, and the Maildir++ folder name of each.
var collideFolders = []struct {
	path, maildir string
	id            int
}{
	{"Inbox", "", 2},
	{"Inbox/x_y", ".INBOX.x_y", 301},             // the real x_y keeps its name
	{"Inbox/x_y (300)", ".INBOX.x_y (300)", 300}, // "x/y"
	{"Inbox/302", ".INBOX.302", 303},             // the folder named 302
	{"Inbox/302 (302)", ".INBOX.302 (302)", 302}, // ".", shown by its id 302, taken
	{"Inbox/p.q", ".INBOX.p_q", 304},             // "." is "_" in Maildir++...
	{"Inbox/p_q", ".INBOX.p_q~305", 305},         // ...so p_q gets its id
}

// collideAccounts: accounts/ name -> account id.
var collideAccounts = map[string]string{
	"a_b@example.com (acct-1)": "acct-1", // "a/b@...": changed, so not the plain name
	"a_b@example.com":          "acct-2",
	"acct-3":                   "acct-3", // ".": by its id
	"acct-4":                   "acct-4", // "..": by its id
	"acct-3 (acct-5)":          "acct-5", // named like acct-3's id
}

func readDirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// onlyFile is the content of the one file in dir.
func onlyFile(t *testing.T, dir string) string {
	t.Helper()
	names := readDirNames(t, dir)
	var files []string
	for _, n := range names {
		if fi, err := os.Stat(filepath.Join(dir, n)); err == nil && fi.Mode().IsRegular() {
			files = append(files, n)
		}
	}
	require.Len(t, files, 1, "%s: %q", dir, names)
	b, err := os.ReadFile(filepath.Join(dir, files[0]))
	require.NoError(t, err)
	return string(b)
}

// checkCollideMount checks every account and folder of the colliding path
// under its own name, each with its own message.
func checkCollideMount(t *testing.T, mp string) {
	want := make([]string, 0, len(collideAccounts))
	for n := range collideAccounts {
		want = append(want, n)
	}
	sort.Strings(want)
	assert.Equal(t, want, readDirNames(t, filepath.Join(mp, "accounts")), "every account, each under its own name, sorted")
	for name, id := range collideAccounts {
		var info struct{ ID string }
		b, err := os.ReadFile(filepath.Join(mp, "accounts", name, "account.json"))
		require.NoError(t, err, name)
		require.NoError(t, json.Unmarshal(b, &info))
		assert.Equal(t, id, info.ID, "accounts/%s", name)
		assert.Equal(t, string(collideBody(id, 2)), onlyFile(t, filepath.Join(mp, "accounts", name, "folders", "Inbox")), "accounts/%s/folders/Inbox", name)
	}

	acct := filepath.Join(mp, "accounts", "a_b@example.com")
	var inbox, md []string
	for _, f := range collideFolders[1:] {
		inbox = append(inbox, strings.TrimPrefix(f.path, "Inbox/"))
		md = append(md, f.maildir)
	}
	ats := readDirNames(t, filepath.Join(acct, "at"))
	require.NotEmpty(t, ats)
	at := filepath.Join(acct, "at", ats[len(ats)-1]) // the account after its last change
	for _, view := range []string{filepath.Join(acct, "folders"), at} {
		got := readDirNames(t, filepath.Join(view, "Inbox"))
		var dirs []string
		for _, n := range got {
			if fi, err := os.Stat(filepath.Join(view, "Inbox", n)); err == nil && fi.IsDir() {
				dirs = append(dirs, n)
			}
		}
		assert.ElementsMatch(t, inbox, dirs, "%s/Inbox: every folder under its own name", view)
		for _, f := range collideFolders[1:] {
			assert.Equal(t, string(collideBody(collideAcct, f.id)), onlyFile(t, filepath.Join(view, f.path)), "%s/%s", view, f.path)
		}
	}
	for _, maildir := range []string{filepath.Join(acct, "Maildir"), filepath.Join(at, "Maildir")} {
		got := readDirNames(t, maildir)
		for _, n := range md {
			assert.Contains(t, got, n, maildir)
		}
		for _, f := range collideFolders[1:] {
			assert.Equal(t, string(collideBody(collideAcct, f.id)), onlyFile(t, filepath.Join(maildir, f.maildir, "cur")), "%s/%s", maildir, f.maildir)
		}
	}
}

// TestMountCollidingNames: a Backup Path whose account and folder names
// collide once made path-safe, mounted for real: every account and every
// folder is listed under a distinct name (accounts/, folders/, at/<moment>/
// and both Maildir views), each showing its own messages; the names and
// inode numbers are the same after a remount; cbctl finds each account by
// the name the mount lists it under.
func TestMountCollidingNames(t *testing.T) {
	mountSkipUnlessFUSE(t)
	dir := t.TempDir()
	bin := mountBinary(t, dir)
	root := filepath.Join(dir, "bp")
	makeCollidePath(t, root)
	mp := filepath.Join(dir, "mnt")
	require.NoError(t, os.Mkdir(mp, 0o755))
	idx := filepath.Join(dir, "index.db")

	p := mountStart(t, bin, root, mp, idx)
	checkCollideMount(t, mp)
	before := mountInodes(t, mp)
	p.stop(t)

	p = mountStart(t, bin, root, mp, idx)
	checkCollideMount(t, mp)
	assert.Equal(t, before, mountInodes(t, mp), "names and inode numbers stable across a remount")
	p.stop(t)

	// A fresh index (a rebuild) names them the same.
	p = mountStart(t, bin, root, mp, filepath.Join(dir, "index2.db"))
	checkCollideMount(t, mp)
	p.stop(t)

	for name, id := range collideAccounts {
		var info struct {
			Info struct {
				ID string `json:"id"`
			} `json:"accountInfo"`
		}
		decode(t, ok(t, "backup", "getAccountInfo", name, "backup_path", root, "--json").stdout, &info)
		assert.Equal(t, id, info.Info.ID, "cbctl getAccountInfo %q", name)
	}
}
