package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/mailbox"
)

// cliSample makes a sample Backup Path (cbctl sample) and returns its root.
func cliSample(t *testing.T) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "bp")
	ok(t, "sample", root, "accounts", "3", "messages", "8", "seed", "7")
	return root
}

// maildirSource writes one account's Maildir with n messages under mail.
func maildirSource(t *testing.T, mail, user string, n int) {
	t.Helper()
	maildirSourceIn(t, mail, "example.test", user, n)
}

// maildirSourceIn writes user@domain's Maildir with n messages under mail.
func maildirSourceIn(t *testing.T, mail, domain, user string, n int) {
	t.Helper()
	cur := filepath.Join(mail, domain, user, "Maildir", "cur")
	require.NoError(t, os.MkdirAll(cur, 0o755))
	for _, d := range []string{"new", "tmp"} {
		require.NoError(t, os.MkdirAll(filepath.Join(filepath.Dir(cur), d), 0o755))
	}
	for j := range n {
		body := serveMsg(fmt.Sprintf("%s-%d", user, j), strings.Repeat("body ", 50))
		name := fmt.Sprintf("17000000%02d.M%dP1.host,S=%d:2,S", j, j, len(body))
		require.NoError(t, os.WriteFile(filepath.Join(cur, name), body, 0o644))
	}
}

// blobFiles lists the blob files of a Backup Path.
func blobFiles(t *testing.T, root string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root, "items", "*", "*"))
	require.NoError(t, err)
	return files
}

// doSmartScan start (Carbonio's action word) and deep true, which re-reads
// every message and writes a missing or damaged blob again; a plain scan
// of an unchanged source does not notice.
func TestCLIScanStartAndDeep(t *testing.T) {
	dir := t.TempDir()
	mail, root, st := filepath.Join(dir, "mail"), filepath.Join(dir, "bp"), filepath.Join(dir, "st")
	maildirSource(t, mail, "erin", 3)
	scan := func(args ...string) result {
		return ok(t, append(append([]string{"backup"}, args...), "--backup-path", root, "--source", "maildir:"+mail, "--state-dir", st)...)
	}
	r := scan("doSmartScan", "start")
	assert.Equal(t, 3, statLine(t, r.stdout, "Items New"), r.stdout)
	scan("doSmartScan", "notifications", "ops@example.test") // no action word: still a pair
	fails(t, 2, "start", "backup", "doSmartScan", "stop", "--backup-path", root, "--source", "maildir:"+mail, "--state-dir", st)

	blobs := blobFiles(t, root)
	require.Len(t, blobs, 3)
	require.NoError(t, os.Remove(blobs[0]))
	require.NoError(t, os.WriteFile(blobs[1], []byte("not gzip"), 0o600))

	scan("doSmartScan")
	_, err := os.Stat(blobs[0])
	assert.True(t, os.IsNotExist(err), "a plain scan of an unchanged source reads nothing")

	r = scan("doAccountScan", "erin@example.test", "deep", "true")
	for _, f := range blobs {
		d := blob.Digest(filepath.Base(f))
		_, err := blob.NewStore(root).Read(d)
		assert.NoError(t, err, "deep scan: blob %s written again and sound", d)
	}
	assert.Equal(t, 0, statLine(t, r.stdout, "Items New"), r.stdout)
	ok(t, "backup", "doSmartScan", "start", "deep", "true", "--backup-path", root, "--source", "maildir:"+mail, "--state-dir", st)
}

// doCoherencyCheck PATH (the path as its first positional), accountIds and
// fixDoubleGzip skip.
func TestCLICoherencyForms(t *testing.T) {
	root := cliSample(t)
	st := filepath.Join(t.TempDir(), "st")
	var accts []struct {
		Name string `json:"name"`
		ID   string `json:"id"`
	}
	decode(t, ok(t, "backup", "getAvailableAccounts", "backup_path", root, "--json").stdout, &accts)
	require.GreaterOrEqual(t, len(accts), 2)

	all := ok(t, "backup", "doCoherencyCheck", root, "--state-dir", st)
	assert.Equal(t, len(accts), statLine(t, all.stdout, "Accounts Checked"), all.stdout)
	one := ok(t, "backup", "doCoherencyCheck", root, "accountIds", accts[0].ID, "--state-dir", st)
	assert.Equal(t, 1, statLine(t, one.stdout, "Accounts Checked"), one.stdout)
	assert.Less(t, statLine(t, one.stdout, "Items Checked"), statLine(t, all.stdout, "Items Checked"))
	two := ok(t, "backup", "doCoherencyCheck", root, "accountIds", accts[0].ID+","+accts[1].Name, "--state-dir", st)
	assert.Equal(t, 2, statLine(t, two.stdout, "Accounts Checked"), two.stdout)

	skip := ok(t, "backup", "doCoherencyCheck", root, "fixDoubleGzip", "skip", "--state-dir", st)
	assert.Equal(t, all.stdout, skip.stdout, "skip reads as check")
	fails(t, 1, `no account "nobody@example.test"`, "backup", "doCoherencyCheck", root, "accountIds", "nobody@example.test", "--state-dir", st)
	fails(t, 2, "two Backup Paths", "backup", "doCoherencyCheck", root, "backup_path", "/elsewhere", "--state-dir", st)
	ok(t, "backup", "doCoherencyCheck", "backup_path", root, "--state-dir", st)
}

// getServerConfig query serverConfig/KEY/SERVER, query zimlets/..., colors.
func TestCLIServerConfigForms(t *testing.T) {
	root := cliSample(t)
	host := ok(t, "backup", "getServerConfig", "standard", "date", "last", "verbose", "true", "backup_path", root).stdout
	require.Contains(t, host, "hostname")
	name := ""
	for _, l := range strings.Split(host, "\n") {
		if f := strings.Fields(l); len(f) == 2 && f[0] == "hostname" {
			name = f[1]
		}
	}
	require.NotEmpty(t, name)
	two := ok(t, "backup", "getServerConfig", "standard", "date", "last", "query", "serverConfig/zimbraMailMode", "backup_path", root).stdout
	three := ok(t, "backup", "getServerConfig", "standard", "date", "last", "query", "serverConfig/zimbraMailMode/"+name, "backup_path", root).stdout
	assert.Equal(t, two, three)
	assert.Contains(t, three, "zimbraMailMode")
	fails(t, 1, "not \"other.example.test\"", "backup", "getServerConfig", "standard", "date", "last", "query", "serverConfig/zimbraMailMode/other.example.test", "backup_path", root)
	fails(t, 2, "too many parts", "backup", "getServerConfig", "standard", "query", "globalConfig/a/b", "backup_path", root)

	z := ok(t, "backup", "getServerConfig", "standard", "date", "last", "query", "zimlets", "backup_path", root).stdout
	assert.Contains(t, z, "zimlets/com_zextras_drive/zimbraZimletEnabled", "the sample's backups record two zimlets")
	one := ok(t, "backup", "getServerConfig", "standard", "date", "last", "query", "zimlets/com_zimbra_ymemoticons/zimbraZimletKeyword", "backup_path", root).stdout
	assert.Regexp(t, `(?m)^\s+zimbraZimletKeyword\s+ymemoticons$`, one)
	assert.NotContains(t, one, "com_zextras_drive")
	fails(t, 1, `no "com_zimbra_nothere"`, "backup", "getServerConfig", "standard", "date", "last", "query", "zimlets/com_zimbra_nothere", "colors", "true", "verbose", "true", "backup_path", root)

	c := ok(t, "backup", "getServerConfig", "standard", "date", "last", "query", "serverConfig/zimbraMailMode", "colors", "true", "backup_path", root).stdout
	assert.Contains(t, c, "\x1b[36mzimbraMailMode\x1b[0m")
	assert.NotContains(t, two, "\x1b[")
}

// getMap FILE reads a map file; getRestoreLedger is the ledger.
func TestCLIGetMapFile(t *testing.T) {
	dir := t.TempDir()
	m := filepath.Join(dir, "map_544d94c6-aaef-4736-8964-56a667f1fe12")
	b, _ := json.Marshal(map[string]any{"serverId": "544d94c6-aaef-4736-8964-56a667f1fe12", "date": 1714824000000,
		"accounts": map[string]string{"0a9b8c7d-1111-4222-8333-444455556666": "3b3c1a52-0d7a-4b54-9c0c-5a2bd2f4e0c1"}})
	require.NoError(t, os.WriteFile(m, b, 0o600))
	r := ok(t, "backup", "getMap", m)
	wantLines(t, r.stdout, "0a9b8c7d-1111-4222-8333-444455556666  3b3c1a52-0d7a-4b54-9c0c-5a2bd2f4e0c1\n", "1 accounts\n")
	var out struct {
		ServerID string            `json:"serverId"`
		Accounts map[string]string `json:"accounts"`
	}
	decode(t, ok(t, "backup", "getMap", m, "--json").stdout, &out)
	assert.Equal(t, "544d94c6-aaef-4736-8964-56a667f1fe12", out.ServerID)
	assert.Len(t, out.Accounts, 1)

	fails(t, 2, "not a map file", "backup", "getMap", filepath.Join(dir, "other"))
	fails(t, 1, "no such file", "backup", "getMap", filepath.Join(dir, "map_missing"))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "map_bad"), []byte("{not json"), 0o600))
	fails(t, 1, "map file", "backup", "getMap", filepath.Join(dir, "map_bad"))
	// Map files in other encodings: "old new" lines; a bad line is named.
	txt := filepath.Join(dir, "map_srv-text")
	require.NoError(t, os.WriteFile(txt, []byte("# restore of 2024-05-04\n0a9b8c7d-1111-4222-8333-444455556666\t3b3c1a52-0d7a-4b54-9c0c-5a2bd2f4e0c1\n"), 0o600))
	r = ok(t, "backup", "getMap", txt)
	wantLines(t, r.stdout, "0a9b8c7d-1111-4222-8333-444455556666  3b3c1a52-0d7a-4b54-9c0c-5a2bd2f4e0c1\n", "1 accounts\n")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "map_lines"), []byte("a b\nc d e\n"), 0o600))
	fails(t, 1, "map_lines line 2:", "backup", "getMap", filepath.Join(dir, "map_lines"))

	st := filepath.Join(dir, "st")
	assert.Contains(t, ok(t, "backup", "getRestoreLedger", "--state-dir", st).stdout, "0 entries")
	assert.Contains(t, ok(t, "backup", "getMap", "--state-dir", st).stdout, "0 entries")
}

// monitor operation_host: this host only.
func TestCLIMonitorOperationHost(t *testing.T) {
	st := filepath.Join(t.TempDir(), "st")
	fails(t, 2, "not this host", "backup", "monitor", "0b7c5f7e-0000-4000-8000-000000000000", "operation_host", "mail2.example.invalid", "--state-dir", st)
	r := cbctl(t, "backup", "monitor", "0b7c5f7e-0000-4000-8000-000000000000", "operation_host", "localhost", "--state-dir", st)
	assert.NotContains(t, r.stderr, "not this host")
	fails(t, 1, "no operation is running", "backup", "monitor", "--state-dir", st)
}

// doExport threshold (MB of free space the destination must have) and
// skip_items (metadata only).
func TestCLIExportThresholdSkipItems(t *testing.T) {
	root := cliSample(t)
	dir := t.TempDir()
	st := filepath.Join(dir, "st")
	fails(t, 1, "below the threshold", "backup", "doExport", filepath.Join(dir, "x1"), "threshold", "999999999", "backup_path", root, "--state-dir", st)
	assert.NoDirExists(t, filepath.Join(dir, "x1", "accounts"), "nothing exported")
	fails(t, 2, "threshold", "backup", "doExport", filepath.Join(dir, "x1"), "threshold", "lots", "backup_path", root, "--state-dir", st)

	meta := filepath.Join(dir, "meta")
	cbctl(t, "backup", "doExport", meta, "skip_items", "true", "threshold", "1", "backup_path", root, "--state-dir", st)
	assert.Empty(t, blobFiles(t, meta), "no blob")
	infos, _ := filepath.Glob(filepath.Join(meta, "accounts", "*", "account_info"))
	assert.NotEmpty(t, infos, "account metadata exported")
	items, _ := filepath.Glob(filepath.Join(meta, "accounts", "*", "items", "*", "*"))
	assert.Empty(t, items, "no item")
}

// The restore parameters Carbonio documents are accepted; those without a
// meaning here change nothing, undelete_start_date needs undelete.
func TestCLIRestoreParams(t *testing.T) {
	root := cliSample(t)
	dir := t.TempDir()
	st := filepath.Join(dir, "st")
	plain := restoredSome(t, "backup", "doExternalRestore", root, "target", "maildir:"+filepath.Join(dir, "a"), "--state-dir", filepath.Join(dir, "st1"))
	skips := restoredSome(t, "backup", "doExternalRestore", root, "target", "maildir:"+filepath.Join(dir, "b"),
		"skip_aliases", "true", "skip_account_provisioning", "true", "skip_domain_provisioning", "true", "force_as_external_restore", "true",
		"--state-dir", filepath.Join(dir, "st2"))
	assert.Equal(t, statLine(t, plain.stdout, "Restored Items"), statLine(t, skips.stdout, "Restored Items"))
	assert.Equal(t, 0, statLine(t, skips.stdout, "Accounts"), skips.stdout)
	assert.Equal(t, 0, statLine(t, skips.stdout, "Domains"), skips.stdout)

	var accts []struct {
		Name string `json:"name"`
	}
	decode(t, ok(t, "backup", "getAvailableAccounts", "backup_path", root, "--json").stdout, &accts)
	fails(t, 2, "undelete_start_date needs undelete true", "backup", "doRestoreOnNewAccount", accts[0].Name, "copy@example.test", "last",
		"undelete_start_date", "01/01/2020", "target", "maildir:"+filepath.Join(dir, "c"), "backup_path", root, "--state-dir", st)
}

// getAvailableAccounts' Carbonio parameters and getAvailableDomains.
func TestCLIAvailableAccountsAndDomains(t *testing.T) {
	root := cliSample(t)
	type row struct {
		Name, ID, Status string
	}
	list := func(args ...string) []row {
		var rows []row
		decode(t, ok(t, append([]string{"backup", "getAvailableAccounts", "backup_path", root, "--json"}, args...)...).stdout, &rows)
		return rows
	}
	all := list("hide_system_accounts", "false")
	def := list()
	dflt := list("date", "last", "hide_deleted", "false")
	assert.Equal(t, def, dflt)
	deleted, org := 0, 0
	for _, r := range all {
		if r.Status == "deleted" {
			deleted++
		}
		if strings.HasSuffix(r.Name, "@example.org") {
			org++
		}
	}
	require.Positive(t, deleted, "the sample has a deleted account")
	assert.Len(t, list("hide_deleted", "true", "hide_system_accounts", "false"), len(all)-deleted)
	assert.Len(t, list("domains", "example.org", "hide_system_accounts", "false"), org)
	assert.Empty(t, list("date", "01/01/2000"), "no account existed then")

	out := filepath.Join(t.TempDir(), "accounts.txt")
	r := ok(t, "backup", "getAvailableAccounts", "backup_path", root, "output_file", out, "output_headers", "accountList,accountIdList")
	assert.Empty(t, r.stdout)
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	wantLines(t, string(b), "accountList\n", "accountIdList\n", "   "+def[0].Name+"\n", "   "+def[0].ID+"\n")
	fails(t, 2, "output-headers", "backup", "getAvailableAccounts", "backup_path", root, "output_headers", "accountBlob")

	var doms []struct {
		Domain   string `json:"domain"`
		Accounts int    `json:"accounts"`
	}
	decode(t, ok(t, "backup", "getAvailableDomains", "last", root, "--json").stdout, &doms)
	total := 0
	for _, d := range doms {
		total += d.Accounts
	}
	assert.Equal(t, len(def), total, "every listed account's domain counted")
	ok(t, "backup", "getAvailableDomains", "backup_path", root)
	fails(t, 2, "bad date", "backup", "getAvailableDomains", "someday", root)
}

// doItemSearch id and raw_metadata; getItem blobs_archive; getAccountInfo
// date before the account existed.
func TestCLIItemParams(t *testing.T) {
	r := ok(t, "backup", "doItemSearch", "john@example.com", "backup_path", bp(), "type", "all", "search_filter", "all", "id", "300,257", "--json")
	var hits []struct {
		ID  int             `json:"id"`
		Raw json.RawMessage `json:"rawMetadata"`
	}
	decode(t, r.stdout, &hits)
	require.Len(t, hits, 2)
	assert.Equal(t, 257, hits[0].ID)
	assert.Empty(t, hits[0].Raw)
	r = ok(t, "backup", "doItemSearch", "john@example.com", "backup_path", bp(), "type", "all", "search_filter", "all", "id", "300", "raw_metadata", "true", "--json")
	decode(t, r.stdout, &hits)
	require.Len(t, hits, 1)
	assert.Contains(t, string(hits[0].Raw), "Service mailboxd started")

	// A copy of the blobs elsewhere serves getItem; an empty folder does not.
	arch := filepath.Join(t.TempDir(), "arch")
	require.NoError(t, os.CopyFS(arch, os.DirFS(filepath.Join(bp(), "items"))))
	require.NoError(t, os.Rename(arch, arch+"-items"))
	require.NoError(t, os.MkdirAll(arch, 0o755))
	require.NoError(t, os.Rename(arch+"-items", filepath.Join(arch, "items")))
	a := ok(t, "backup", "getItem", "john@example.com", "300", "backup_path", bp(), "blobs_archive", arch, "dump_blob", "true")
	b := ok(t, "backup", "getItem", "john@example.com", "300", "backup_path", bp(), "dump_blob", "true")
	assert.Equal(t, strings.ReplaceAll(b.stdout, bp()+"/items", arch+"/items"), a.stdout)
	empty := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(empty, "items"), 0o755))
	r = ok(t, "backup", "getItem", "john@example.com", "300", "backup_path", bp(), "blobs_archive", empty)
	assert.Contains(t, r.stdout, "unreadable")
	fails(t, 1, "no items folder", "backup", "getItem", "john@example.com", "300", "backup_path", bp(), "blobs_archive", filepath.Join(empty, "none"))

	fails(t, 1, "did not exist yet", "backup", "getAccountInfo", "john@example.com", "backup_path", bp(), "date", "01/01/1990")
	fails(t, 2, "bad date", "backup", "getAccountInfo", "john@example.com", "backup_path", bp(), "date", "newest")
}

// legalHold get|set|unset, kept in the Backup Path; doPurge keeps a held
// account whole.
func TestCLILegalHoldAndPurge(t *testing.T) {
	root := cliSample(t)
	st := filepath.Join(t.TempDir(), "st")
	var accts []struct {
		Name   string `json:"name"`
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	decode(t, ok(t, "backup", "getAvailableAccounts", "backup_path", root, "--json").stdout, &accts)
	var held, deleted string
	for _, a := range accts {
		if a.Status == "deleted" {
			deleted = a.Name
		} else if held == "" {
			held = a.ID
		}
	}
	require.NotEmpty(t, deleted, "the sample has a deleted account")

	r := ok(t, "backup", "legalHold", "get", "all", "backup_path", root)
	assert.NotContains(t, r.stdout, " set\n")
	r = ok(t, "backup", "legalhold", "set", held+","+deleted, "backup_path", root)
	assert.Equal(t, 2, strings.Count(r.stdout, " set\n"), r.stdout)
	assert.FileExists(t, filepath.Join(root, "cbfs_legal_hold"))
	wantLines(t, ok(t, "backup", "legalHold", "get", held, "backup_path", root).stdout, held+" set\n")

	items := func(name string) int {
		var info struct {
			Items *int `json:"items"`
		}
		r := cbctl(t, "backup", "getAccountInfo", name, "backup_path", root, "backupstats", "true", "--json")
		if r.code != 0 {
			return -1
		}
		decode(t, r.stdout, &info)
		return *info.Items
	}
	before := map[string]int{held: items(held), deleted: items(deleted)}
	r = ok(t, "backup", "doPurge", "purgeDays", "1", "backup_path", root, "--state-dir", st)
	assert.Contains(t, r.stdout, "- legal hold: kept whole -")
	assert.Equal(t, before[held], items(held), "held account: no item purged")
	assert.Equal(t, before[deleted], items(deleted), "held deleted account: not removed")

	ok(t, "backup", "legalHold", "unset", deleted, "backup_path", root)
	ok(t, "backup", "doPurge", "purgeDays", "1", "backup_path", root, "--state-dir", st)
	assert.Equal(t, -1, items(deleted), "released: the deleted account is purged")
	assert.Equal(t, before[held], items(held), "still held")

	fails(t, 2, "all stands alone", "backup", "legalHold", "set", "all,"+held, "backup_path", root)
	fails(t, 1, `no account "nobody@example.test"`, "backup", "legalHold", "set", "nobody@example.test", "backup_path", root)
}

// doCheckShares and doFixShares report on the grants folders record; with
// none they say so; doBackupServerCustomizations archives --config-path.
func TestCLISharesAndCustomizations(t *testing.T) {
	dir := t.TempDir()
	plain := cliSample(t)
	r := ok(t, "backup", "doCheckShares", "start", "backup_path", plain)
	assert.Contains(t, r.stdout, "No shares")
	r = ok(t, "backup", "doFixShares", "import_idmap_file", "backup_path", plain)
	assert.Contains(t, r.stdout, "No map file")

	root := filepath.Join(dir, "bp")
	bp, err := backuppath.Create(root, backuppath.BackupStat{ServerID: "srv-1"})
	require.NoError(t, err)
	for _, a := range []mailbox.Account{{ID: "id-ann", Name: "ann@example.test", Status: "active"}, {ID: "id-bob", Name: "bob@example.test", Status: "active"}} {
		require.NoError(t, bp.WriteAccount(&a))
	}
	acl := json.RawMessage(`[{"zid":"id-bob","gt":"usr","perm":"r"},{"zid":"id-ghost","gt":"usr","perm":"rw"}]`)
	folder := mailbox.State{Start: mailbox.MillisOf(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)), Type: mailbox.TypeFolder,
		FolderID: 1, ParentID: 1, Name: "Shared", Extra: mailbox.Extra{"acl": acl}}
	require.NoError(t, bp.CreateItem("id-ann", &mailbox.Item{ID: 257, States: []mailbox.State{folder}}))

	r = fails(t, 1, "1 of 2 shares name a grantee", "backup", "doCheckShares", "backup_path", root)
	wantLines(t, r.stdout, "grantee id-bob  ok\n", "grantee id-ghost  grantee not in the backup\n")

	require.NoError(t, bp.WriteMap(&backuppath.Map{ServerID: "srv-0", Accounts: map[string]string{"id-bob": "new-bob"}}))
	r = ok(t, "backup", "doFixShares", "import_idmap_file", "backup_path", root)
	wantLines(t, r.stdout, "grantee id-bob -> new-bob\n", "1 of 2 shares would change; nothing changed")
	r = ok(t, "backup", "doFixShares", filepath.Join(root, "map_srv-0"), "backup_path", root)
	assert.Contains(t, r.stdout, "id-bob -> new-bob")

	conf := filepath.Join(dir, "conf")
	require.NoError(t, os.MkdirAll(conf, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(conf, "localconfig.xml"), []byte("<x/>"), 0o644))
	st := filepath.Join(dir, "st")
	r = ok(t, "backup", "doBackupServerCustomizations", "start", "--config-path", conf, "backup_path", root, "--state-dir", st)
	assert.Contains(t, r.stdout, "Customizations Archive: server/customizations_")
	r = ok(t, "backup", "getServerConfig", "customizations", "date", "last", "verbose", "true", "backup_path", root)
	assert.Contains(t, r.stdout, "localconfig.xml")
	fails(t, 1, "no --config-path", "backup", "doBackupServerCustomizations", "backup_path", root, "--state-dir", st)
}

// TZ: dates are shown in the local zone with its name, read in it when
// typed without a zone, and stay UTC in --json; a date and a time typed as
// two words read as one date.
func TestCLITimeZone(t *testing.T) {
	rome := []string{"TZ=Europe/Rome"}
	utc := cbctlEnv(t, []string{"TZ=UTC"}, "no-secret-here-7f3a", "backup", "getItem", "john@example.com", "300", "backup_path", bp())
	require.Equal(t, 0, utc.code, utc.stderr)
	wantLines(t, utc.stdout, "15/07/2013 10:03:26\n")
	r := cbctlEnv(t, rome, "no-secret-here-7f3a", "backup", "getItem", "john@example.com", "300", "backup_path", bp())
	require.Equal(t, 0, r.code, r.stderr)
	wantLines(t, r.stdout, "15/07/2013 12:03:26 CEST\n")
	j := cbctlEnv(t, rome, "no-secret-here-7f3a", "backup", "getItem", "john@example.com", "300", "backup_path", bp(), "--json")
	uj := cbctlEnv(t, []string{"TZ=UTC"}, "no-secret-here-7f3a", "backup", "getItem", "john@example.com", "300", "backup_path", bp(), "--json")
	assert.Equal(t, uj.stdout, j.stdout, "--json does not depend on TZ")

	// 12/07/2013 16:35:44 UTC is 18:35:44 in Rome: a zoneless date is Rome's.
	at := func(env []string, args ...string) string {
		r := cbctlEnv(t, env, "no-secret-here-7f3a", append([]string{"backup", "getItem", "john@example.com", "300", "backup_path", bp(), "--json"}, args...)...)
		require.Equal(t, 0, r.code, r.stderr)
		var it itemJSON
		decode(t, r.stdout, &it)
		require.Len(t, it.States, 1)
		return fmt.Sprint(it.States[0].State["startDate"])
	}
	first := at(nil, "date", "first")
	assert.Equal(t, first, at(rome, "date", "12/07/2013 18:36:00"), "18:36 Rome is after the first state (16:35 UTC)")
	assert.Equal(t, first, at(nil, "date", "12/07/2013", "16:36:00"), "two words read as one date")
	r = cbctlEnv(t, rome, "no-secret-here-7f3a", "backup", "getItem", "john@example.com", "300", "backup_path", bp(), "date", "12/07/2013", "18:30:00")
	assert.Equal(t, 1, r.code, "18:30 Rome is 16:30 UTC, before the first state: %s", r.stdout)
	assert.Contains(t, r.stderr, "CEST")

	h := cbctlEnv(t, rome, "no-secret-here-7f3a", "backup", "doItemSearch", "john@example.com", "backup_path", bp())
	assert.Contains(t, h.stdout, "LATEST START (CE")
}

// --help of an operation verb lists its own parameters first and the
// service flags in one place, cbctl options; they still parse everywhere.
func TestCLIHelpLayout(t *testing.T) {
	r := ok(t, "config", "set", "--help")
	assert.LessOrEqual(t, strings.Count(r.stdout, "\n"), 50, "config set --help fits on a screen:\n%s", r.stdout)
	assert.NotContains(t, r.stdout, "--smtp=")
	assert.Contains(t, r.stdout, `see "cbctl options"`)

	r = ok(t, "backup", "doExternalRestore", "--help")
	flags := r.stdout[strings.Index(r.stdout, "\nFlags:\n"):]
	globals := strings.Index(flags, "Global flags:")
	require.Positive(t, globals)
	assert.Less(t, strings.Index(flags, "--target=URL"), globals, "own parameters first")
	assert.Greater(t, strings.Index(flags, "--json"), globals, "global flags after")
	assert.NotContains(t, r.stdout, "--retention-days=")

	o := ok(t, "options")
	for _, f := range []string{"--smtp=", "--retention-days=", "--state-dir=", "--source=", "--config="} {
		assert.Contains(t, o.stdout, f)
	}
	// Hidden from help, still accepted.
	st := filepath.Join(t.TempDir(), "st")
	ok(t, "backup", "getAllOperations", "--state-dir", st, "--retention-days", "7")
}
