package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestItemIDRange: Zimbra item ids are 32-bit signed. An item at
// 2^31-1 is an item for cbctl and the mount alike; a file named
// 9223372036854775807 is for neither, and getFormatInfo reports it.
func TestItemIDRange(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "bp")
	writeJSONFile(t, filepath.Join(root, "backupstat"), map[string]any{"serverId": fixSrv, "hostname": "mail.example.com"})
	writeJSONFile(t, filepath.Join(root, "accounts", johnID, "account_info"), map[string]any{
		"id": johnID, "name": "john@example.com", "status": "active",
	})
	const maxID, hugeID = 2147483647, 9223372036854775807
	for _, id := range []int{maxID, hugeID} {
		body := []byte("Subject: id " + itoa(id) + "\r\n\r\nbody\r\n")
		writeItem(t, root, johnID, id, msgState("12/07/2013 16:35:44", 2, "", false, putBlob(t, root, body, gz(t, body)), "id "+itoa(id)))
	}
	huge := filepath.Join("accounts", johnID, "items", bucket(hugeID), itoa(hugeID))
	require.FileExists(t, filepath.Join(root, huge))

	r := ok(t, "backup", "getFormatInfo", "--backup-path", root)
	assert.Contains(t, r.stdout, "not an item file (id out of range)")
	assert.Contains(t, r.stdout, huge)
	ok(t, "backup", "getItem", "john@example.com", itoa(maxID), "--backup-path", root)
	bad := cbctl(t, "backup", "getItem", "john@example.com", itoa(hugeID), "--backup-path", root)
	assert.NotZero(t, bad.code, "getItem of an out-of-range id: %s", bad.stdout)

	mountSkipUnlessFUSE(t)
	bin := mountBinary(t, dir)
	mp := filepath.Join(dir, "mnt")
	require.NoError(t, os.Mkdir(mp, 0o755))
	p := mountStart(t, bin, root, mp, filepath.Join(dir, "cache", "index.db"))
	defer p.stop(t)
	items := filepath.Join(mp, "accounts", "john@example.com", "items")
	ents, err := os.ReadDir(items)
	require.NoError(t, err)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	assert.Equal(t, []string{itoa(maxID)}, names)
	assert.DirExists(t, filepath.Join(items, itoa(maxID)))
	_, err = os.Stat(filepath.Join(items, itoa(hugeID)))
	assert.True(t, os.IsNotExist(err), "%v", err)
	inbox, err := os.ReadDir(filepath.Join(mp, "accounts", "john@example.com", "folders", "Inbox"))
	require.NoError(t, err)
	var msgs []string
	for _, e := range inbox {
		if strings.HasSuffix(e.Name(), ".eml") {
			msgs = append(msgs, e.Name())
		}
	}
	assert.Equal(t, []string{itoa(maxID) + ".eml"}, msgs)
}
