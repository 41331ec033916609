package scan

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/mailbox"
)

// mailTree builds Maildir++ trees in a temporary folder.
type mailTree struct {
	t    *testing.T
	root string
	n    int
}

func newMailTree(t *testing.T) *mailTree {
	return &mailTree{t: t, root: t.TempDir()}
}

// box returns the Maildir folder of an account in the <domain>/<user>/Maildir layout.
func (m *mailTree) box(account string) string {
	local, domain, _ := strings.Cut(account, "@")
	return filepath.Join(m.root, domain, local, "Maildir")
}

// folderDir is the directory of folder ("" or "INBOX" = the Inbox; "A/B" = .A.B).
func folderDir(box, folder string) string {
	if folder == "" || folder == "INBOX" {
		return box
	}
	return filepath.Join(box, "."+strings.ReplaceAll(folder, "/", "."))
}

// add writes a message file and returns its base name.
func (m *mailTree) add(box, folder, flags string, content string) string {
	m.t.Helper()
	m.n++
	base := fmt.Sprintf("17000%05d.M%dP1.testhost,S=%d", m.n, m.n, len(content))
	dir := folderDir(box, folder)
	for _, sub := range []string{"cur", "new", "tmp"} {
		require.NoError(m.t, os.MkdirAll(filepath.Join(dir, sub), 0o755))
	}
	name := filepath.Join(dir, "cur", base+":2,"+flags)
	require.NoError(m.t, os.WriteFile(name, []byte(content), 0o644))
	when := time.Date(2024, 5, 1, 9, 0, m.n, 0, time.UTC)
	require.NoError(m.t, os.Chtimes(name, when, when))
	return base
}

// find returns the path of the message with this base name.
func (m *mailTree) find(box, base string) string {
	m.t.Helper()
	var found string
	filepath.WalkDir(box, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasPrefix(d.Name(), base+":") {
			found = p
		}
		return nil
	})
	require.NotEmpty(m.t, found, "message %s", base)
	return found
}

// age sets every folder's mtime an hour back, as for a mailbox untouched
// for a while (folders changed within the racy window are always listed).
func age(t *testing.T, root string) {
	t.Helper()
	old := time.Now().Add(-time.Hour)
	require.NoError(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			return os.Chtimes(p, old, old)
		}
		return err
	}))
}

func msg(subject, body string) string {
	return "From: Ann <ann@example.com>\nTo: bob@example.com\nSubject: " + subject +
		"\nMessage-ID: <" + strings.ReplaceAll(subject, " ", ".") + "@example.com>\nDate: Wed, 01 May 2024 08:59:58 +0000\n\n" + body + "\n"
}

func newBP(t *testing.T) *backuppath.Path {
	t.Helper()
	bp, err := backuppath.Create(t.TempDir(), backuppath.BackupStat{ServerID: "srv-1", FirstRun: 1})
	require.NoError(t, err)
	bp.Write.NoSync = true
	bp.Blobs.Write.NoSync = true
	return bp
}

func run(t *testing.T, bp *backuppath.Path, src Source, opt Options) *Report {
	t.Helper()
	rep, err := Run(context.Background(), bp, src, opt)
	require.NoError(t, err)
	require.Empty(t, rep.Errors)
	return rep
}

// accountID finds an account by name.
func accountID(t *testing.T, bp *backuppath.Path, name string) string {
	t.Helper()
	ids, err := bp.AccountIDs()
	require.NoError(t, err)
	for _, id := range ids {
		a, err := bp.ReadAccount(id)
		require.NoError(t, err)
		if a.Name == name {
			return id
		}
	}
	t.Fatalf("no account %s", name)
	return ""
}

// items reads every item of an account.
func items(t *testing.T, bp *backuppath.Path, id string) map[int]*mailbox.Item {
	t.Helper()
	files, others, err := bp.ItemFiles(id)
	require.NoError(t, err)
	require.Empty(t, others)
	out := map[int]*mailbox.Item{}
	for _, f := range files {
		it, err := bp.ReadItemFile(f.RelPath, f.ItemID)
		require.NoError(t, err)
		_, dup := out[f.ItemID]
		require.False(t, dup, "item %d twice", f.ItemID)
		out[f.ItemID] = it
	}
	return out
}

// live returns the live messages of an account by subject, their latest states.
func live(t *testing.T, its map[int]*mailbox.Item) map[string]*mailbox.State {
	out := map[string]*mailbox.State{}
	for _, it := range its {
		l := it.Latest()
		if l.Type == mailbox.TypeMessage && !l.Deleted {
			_, dup := out[l.Subject]
			require.False(t, dup, "two live items with subject %q", l.Subject)
			out[l.Subject] = l
		}
	}
	return out
}

// folderByName finds a live folder item by name.
func folderByName(its map[int]*mailbox.Item, name string) (int, *mailbox.State) {
	for id, it := range its {
		l := it.Latest()
		if l.Type == mailbox.TypeFolder && l.Name == name {
			return id, l
		}
	}
	return 0, nil
}

// snapshot records every file's size and mtime under root.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	require.NoError(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if !d.IsDir() {
			out[p] = fmt.Sprintf("%d %d", info.Size(), info.ModTime().UnixNano())
		}
		return nil
	}))
	return out
}

func blobCount(t *testing.T, bp *backuppath.Path) int {
	n := 0
	require.NoError(t, bp.Blobs.Walk(context.Background(), func(string, blob.Digest, bool) error { n++; return nil }))
	return n
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
