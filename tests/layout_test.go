package tests

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A path laid out as Carbonio's docs describe it rather than as cbfs
// writes it: servers/, account_info as Zimbra's SOAP list, drive_items/.
func TestCarbonioLayout(t *testing.T) {
	root := filepath.Join(t.TempDir(), "zextras")
	const id = "3b3c1a52-0d7a-4b54-9c0c-5a2bd2f4e0c1"
	put := func(rel, content string) {
		p := filepath.Join(root, rel)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
	put("servers/config_28_12_22#14_14_29.json", `{"date": 1672236869000, "serverId": "srv-1", "serverConfig": {"zimbraMailMode": "https"}}`)
	put("accounts/"+id+"/account_info", `{"account": [{"name": "ann@example.com", "id": "`+id+`", "a": [
		{"n": "zimbraAccountStatus", "_content": "active"}, {"n": "zimbraMailAlias", "_content": "a1@example.com"},
		{"n": "zimbraMailAlias", "_content": "a2@example.com"}]}]}`)
	put("accounts/"+id+"/drive_items/3c/7c0e8a5e-0000-4000-8000-00000000003c", "0123456789")
	put("drive_items/0a/7c0e8a5e-0000-4000-8000-00000000000a", "01234")

	// servers/ makes it a Backup Path whose configuration getServerConfig finds.
	r := ok(t, "backup", "getServerConfig", "standard", "backup_path", root, "date", "last", "query", "serverConfig/zimbraMailMode")
	assert.Contains(t, r.stdout, "https")

	// The SOAP-shaped account is shown by its address.
	r = ok(t, "backup", "getAvailableAccounts", "backup_path", root)
	assert.Contains(t, r.stdout, "\nann@example.com  "+id+"  active")

	// getFormatInfo counts drive_items and says they are not shown.
	r = ok(t, "backup", "getFormatInfo", "backup_path", root)
	assert.Contains(t, r.stdout, "drive_items: 2 files (Carbonio Files), not shown: their format is not public")
	var info struct {
		Layout struct {
			ServerDir      string `json:"serverDir"`
			DriveItemFiles int    `json:"driveItemFiles"`
			DriveItemBytes int64  `json:"driveItemBytes"`
		} `json:"layout"`
	}
	require.NoError(t, json.Unmarshal([]byte(ok(t, "backup", "getFormatInfo", "backup_path", root, "--json").stdout), &info))
	assert.Equal(t, "servers", info.Layout.ServerDir)
	assert.Equal(t, 2, info.Layout.DriveItemFiles)
	assert.EqualValues(t, 15, info.Layout.DriveItemBytes)

	// Both spellings: one is read, the other named.
	require.NoError(t, os.MkdirAll(filepath.Join(root, "server"), 0o755))
	r = ok(t, "backup", "getFormatInfo", "backup_path", root)
	assert.Contains(t, r.stdout, "servers/ and server/ both exist: server files are read from servers/ only, server/ is not read")
	assert.Contains(t, ok(t, "backup", "getServerConfig", "standard", "backup_path", root, "query", "serverConfig/zimbraMailMode").stdout, "https")

	// doCoherencyCheck counts drive_items and does not call them unknown.
	r = ok(t, "backup", "doCoherencyCheck", "backup_path", root)
	assert.Contains(t, r.stdout, "Drive Items (Carbonio Files, not checked): 2 files, 15 bytes")
	assert.False(t, strings.Contains(r.stdout, "drive_items/"), r.stdout)
}
