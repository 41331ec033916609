package tests

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/internal/pathlock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stateJSON is one state of getItem --json.
type stateJSON struct {
	State    map[string]any `json:"state"`
	Status   string         `json:"status"`
	Reason   string         `json:"reason"`
	BlobPath string         `json:"blobPath"`
	Folder   string         `json:"folderPath"`
}

type itemJSON struct {
	Account string      `json:"account"`
	Item    int         `json:"item"`
	Status  string      `json:"status"`
	Reason  string      `json:"reason"`
	States  []stateJSON `json:"states"`
}

func TestGetItemText(t *testing.T) {
	good := blob.Sum(goodBody)
	blobPath := filepath.Join(bp(), "items", good.Dir(), string(good))
	// Pair syntax and flag syntax print the same.
	pairs := ok(t, "backup", "getItem", "john@example.com", "300", "backup_path", bp(), "date", "all")
	flags := ok(t, "backup", "getItem", "--backup-path="+bp(), "JOHN@example.com", "300", "--date", "all")
	if pairs.stdout != flags.stdout {
		t.Fatalf("pair and flag syntax differ:\n%s\n---\n%s", pairs.stdout, flags.stdout)
	}
	byID := ok(t, "backup", "getitem", johnID, "300", "backup_path", bp(), "date", "all")
	if byID.stdout != pairs.stdout {
		t.Errorf("by id and by name differ")
	}
	// Carbonio's default date is last: the latest state only.
	def := ok(t, "backup", "getItem", "john@example.com", "300", "backup_path", bp())
	last := ok(t, "backup", "getItem", "john@example.com", "300", "backup_path", bp(), "date", "last")
	if def.stdout != last.stdout || strings.Count(def.stdout, "start date") != 1 || !strings.Contains(def.stdout, "15/07/2013 10:03:26") {
		t.Errorf("default date must be last:\n%s", def.stdout)
	}
	wantLines(t, pairs.stdout,
		row(ind, "start date", "12/07/2013 16:35:44")+row(ind, "type", "message")+row(ind, "deleted", "false")+
			row(ind, "folder", "2 (/Inbox)")+row(ind, "flags", "u"),
		row(ind, "start date", "12/07/2013 17:04:33"),
		row(ind, "folder", "257 (/Inbox/Projects)"),
		row(ind, "start date", "15/07/2013 10:03:26")+row(ind, "type", "message")+row(ind, "deleted", "true"),
		row(ind, "digest", good),
		ind+"blob path "+blobPath+"\n",
		row(ind, "status", "ok"),
	)
	// Carbonio's shape (advancedbackup.rst): an itemStates line first,
	// then the states.
	if !strings.HasPrefix(pairs.stdout, "     itemStates\n"+ind+"start date") || strings.Count(pairs.stdout, "itemStates") != 1 {
		t.Errorf("getItem must open with one itemStates line, then the states:\n%s", pairs.stdout)
	}
	if n := strings.Count(pairs.stdout, "start date"); n != 3 {
		t.Errorf("date all: %d states, want 3", n)
	}

	tests := []struct {
		date  string
		start string
	}{
		{"last", "15/07/2013 10:03:26"},
		{"first", "12/07/2013 16:35:44"},
		{"12/07/2013 17:30:00", "12/07/2013 17:04:33"},
		{"2013-07-12T19:30:00+02:00", "12/07/2013 17:04:33"},
		{"2013-07-16", "15/07/2013 10:03:26"},
	}
	for _, tt := range tests {
		t.Run(tt.date, func(t *testing.T) {
			r := ok(t, "backup", "getItem", "john@example.com", "300", "backup_path", bp(), "date", tt.date)
			if n := strings.Count(r.stdout, "start date"); n != 1 {
				t.Fatalf("%d states, want 1:\n%s", n, r.stdout)
			}
			wantLines(t, r.stdout, row(ind, "start date", tt.start))
		})
	}
}

func TestGetItemDumpBlob(t *testing.T) {
	for _, args := range [][]string{
		{"dump_blob", "true", "date", "last"},
		{"--dump-blob", "--date=last"},
	} {
		r := ok(t, append([]string{"backup", "getItem", "john@example.com", "300", "--backup-path", bp()}, args...)...)
		wantLines(t, r.stdout, row(ind, "status", "ok")+string(goodBody))
	}
	// dump_blob false is accepted and dumps nothing.
	r := ok(t, "backup", "getItem", "john@example.com", "300", "backup_path", bp(), "dump_blob", "false")
	if strings.Contains(r.stdout, "mailboxd changed") {
		t.Errorf("dump_blob false dumped the blob")
	}
	// The double-gzipped blob reads fine.
	r = ok(t, "backup", "getItem", "john@example.com", "305", "backup_path", bp(), "dump_blob", "true")
	wantLines(t, r.stdout, row(ind, "status", "ok"), "gzip inside gzip\r\n")
	// A truncated blob: the salvage, a warning and exit 1.
	r = cbctl(t, "backup", "getItem", "john@example.com", "301", "backup_path", bp(), "dump_blob", "true")
	if r.code != 1 || !strings.Contains(r.stdout, string(truncBody()[:4096])) || !strings.Contains(r.stderr, "cbctl: warning: ") {
		t.Errorf("dump of a truncated blob: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
}

func TestGetItemDamaged(t *testing.T) {
	tests := []struct {
		name   string
		item   int
		status string // of the state's blob
		reason string // substring of the reason
	}{
		{"truncated", itemTruncated, "broken", ""},
		{"digest mismatch", itemMismatch, "broken", ""},
		{"unreadable", itemUnreadable, "unreadable", ""},
		{"missing", itemMissing, "unreadable", "missing"},
		{"double gzip", itemDouble, "ok", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ok(t, "backup", "getItem", "john@example.com", itoa(tt.item), "backup_path", bp(), "--json")
			var it itemJSON
			decode(t, r.stdout, &it)
			if it.Status != "ok" || len(it.States) != 1 {
				t.Fatalf("item file status %q, %d states", it.Status, len(it.States))
			}
			st := it.States[0]
			if st.Status != tt.status || !strings.Contains(st.Reason, tt.reason) || (tt.status != "ok") != (st.Reason != "") {
				t.Errorf("status %q reason %q, want %q with %q", st.Status, st.Reason, tt.status, tt.reason)
			}
			text := ok(t, "backup", "getItem", "john@example.com", itoa(tt.item), "backup_path", bp())
			wantLines(t, text.stdout, ind+"status"+strings.Repeat(" ", 54)+tt.status)
		})
	}
	t.Run("malformed item file", func(t *testing.T) {
		r := fails(t, 1, "item file is broken", "backup", "getItem", "john@example.com", itoa(itemMalformed), "backup_path", bp())
		wantLines(t, r.stdout, ind+"status"+strings.Repeat(" ", 54)+"broken: ", "malformed item file")
		r = fails(t, 1, "broken", "backup", "getItem", "john@example.com", itoa(itemMalformed), "backup_path", bp(), "--json")
		var it itemJSON
		decode(t, r.stdout, &it)
		if it.Status != "broken" || it.Reason == "" || len(it.States) != 0 {
			t.Errorf("malformed item: %+v", it)
		}
	})
}

func TestGetItemJSON(t *testing.T) {
	r := ok(t, "--json", "backup", "getItem", "john@example.com", "300", "backup_path", bp(), "date", "all")
	var it itemJSON
	decode(t, r.stdout, &it)
	if it.Account != "john@example.com" || it.Item != 300 || len(it.States) != 3 {
		t.Fatalf("getItem --json: %+v", it)
	}
	s := it.States[1]
	if s.State["subject"] != "Service mailboxd started" || s.State["folderId"] != float64(itemFolder) ||
		s.Folder != "/Inbox/Projects" || s.Status != "ok" || !strings.HasPrefix(s.BlobPath, bp()) {
		t.Errorf("state 1: %+v", s)
	}
	// json true in pair form works as well.
	r2 := ok(t, "backup", "getItem", "john@example.com", "300", "backup_path", bp(), "date", "all", "json", "true")
	if r2.stdout != r.stdout {
		t.Errorf("json true differs from --json")
	}
}

func TestDoItemSearch(t *testing.T) {
	type hit struct {
		ID      int    `json:"id"`
		Type    string `json:"type"`
		Deleted bool   `json:"deleted"`
		Folder  string `json:"folderPath"`
		Subject string `json:"subject"`
	}
	ids := func(hs []hit) []int {
		out := []int{}
		for _, h := range hs {
			out = append(out, h.ID)
		}
		return out
	}
	tests := []struct {
		name string
		args []string
		want []int
	}{
		// Carbonio's defaults: type message, search_filter deleted.
		{"defaults", nil, []int{300}},
		{"everything", []string{"type", "all", "search_filter", "all"}, []int{257, 300, 301, 302, 303, 304, 305, 307, 308}},
		{"text in subject", []string{"search_string", "mailboxd", "search_filter", "all"}, []int{300}},
		{"text is case-sensitive", []string{"search_string", "MAILBOXD", "search_filter", "all"}, []int{}},
		{"text in name", []string{"--search-string", "Alice", "type", "all", "search_filter", "all"}, []int{307}},
		{"text in from", []string{"search_string", "zimbra@", "search_filter", "all"}, []int{300, 301, 302, 303, 304, 305}},
		{"type contact", []string{"type", "contact", "search_filter", "all"}, []int{307}},
		{"type appointment flag", []string{"--type=appointment", "search_filter", "all"}, []int{308}},
		{"type by code", []string{"type", "1", "search_filter", "all"}, []int{257}},
		{"deleted", []string{"search_filter", "deleted", "type", "all"}, []int{300}},
		{"not deleted messages", []string{"search_filter", "not_deleted", "type", "message"}, []int{301, 302, 303, 304, 305}},
		{"after", []string{"after", "13/07/2013 12:00:00", "type", "all", "search_filter", "all"}, []int{300, 303, 304, 305}},
		{"before", []string{"before", "2013-07-06 00:00", "type", "all", "search_filter", "all"}, []int{257, 307}},
		// A bare date is that whole day: 308 started on 06/07.
		{"before a bare date", []string{"before", "2013-07-06", "type", "all", "search_filter", "all"}, []int{257, 307, 308}},
		{"one day", []string{"after", "06/07/2013", "before", "06/07/2013", "type", "all", "search_filter", "all"}, []int{308}},
		{"window", []string{"after", "05/07/2013", "before", "13/07/2013 11:00:01", "type", "all", "search_filter", "all"}, []int{300, 301, 302, 307, 308}},
		{"none", []string{"search_string", "no such text anywhere", "search_filter", "all"}, []int{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ok(t, append([]string{"backup", "doItemSearch", "john@example.com", "backup_path", bp(), "--json"}, tt.args...)...)
			var hs []hit
			decode(t, r.stdout, &hs)
			if got := ids(hs); !equalInts(got, tt.want) {
				t.Errorf("ids %v, want %v", got, tt.want)
			}
			// The malformed item is reported, not fatal.
			wantLines(t, r.stderr, "cbctl: warning: account john@example.com item 306: broken")
		})
	}
	r := ok(t, "backup", "doItemSearch", "john@example.com", "backup_path", bp(), "search_string", "mailboxd")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "ID ") {
		t.Fatalf("text table:\n%s", r.stdout)
	}
	f := strings.Fields(lines[1])
	if strings.Join(f[:6], " ") != "300 message 15/07/2013 10:03:26 true /Trash" || !strings.HasSuffix(lines[1], "Service mailboxd started") {
		t.Errorf("row %q", lines[1])
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestGetServerConfigStandard(t *testing.T) {
	line := "config date" + strings.Repeat("_", 95)
	r := ok(t, "backup", "getServerConfig", "standard", "backup_path", bp(), "date", "last", "query", "serverConfig/zimbraMailMode/")
	if r.stdout != line+"29/12/2022 14:14:29 UTC\n"+row("   ", "zimbraMailMode", "https") {
		t.Errorf("query output:\n%s", r.stdout)
	}
	r = ok(t, "backup", "getServerConfig", "standard", "--backup-path", bp(), "--date", "28/12/2022 23:00:00", "--query", "serverConfig/zimbraMailMode")
	wantLines(t, r.stdout, line+"28/12/2022 14:14:29 UTC\n", row("   ", "zimbraMailMode", "http"))

	r = ok(t, "backup", "getServerConfig", "standard", "backup_path", bp(), "date", "all", "query", "cos/cos-1/zimbraMailQuota")
	if strings.Count(r.stdout, "config date") != 2 || strings.Count(r.stdout, row("   ", "zimbraMailQuota", "1073741824")) != 2 {
		t.Errorf("date all, cos by id:\n%s", r.stdout)
	}
	r = ok(t, "backup", "getServerConfig", "standard", "backup_path", bp(), "query", "/")
	wantLines(t, r.stdout,
		row("   ", "serverConfig/zimbraMailPort", 8080),
		row("   ", "globalConfig/zimbraSmtpHostname", "smtp1.example.com")+row("   ", "globalConfig/zimbraSmtpHostname", "smtp2.example.com"),
		row("   ", "domain/example.com/zimbraDomainStatus", "active"),
		row("   ", "distributionList/all@example.com/members", "john@example.com"),
	)
	// file F reads a config file anywhere, without a Backup Path.
	file := filepath.Join(bp(), "server", "config_28_12_22#14_14_29.json")
	r = ok(t, "backup", "getServerConfig", "standard", "file", file, "query", "domain/example.com/zimbraDomainStatus", "backup_path", "/nonexistent")
	wantLines(t, r.stdout, "28/12/2022 14:14:29 UTC", row("   ", "zimbraDomainStatus", "active"))

	r = ok(t, "backup", "getServerConfig", "standard", "backup_path", bp(), "query", "globalConfig", "--json")
	var out []struct {
		Date   string         `json:"date"`
		File   string         `json:"file"`
		Result map[string]any `json:"result"`
	}
	decode(t, r.stdout, &out)
	if len(out) != 1 || out[0].Date != "2022-12-29T14:14:29Z" || out[0].Result["zimbraSmtpHostname"] == nil {
		t.Errorf("--json: %s", r.stdout)
	}
}

func TestGetServerConfigCustomizations(t *testing.T) {
	r := ok(t, "backup", "getServerConfig", "customizations", "backup_path", bp(), "date", "last")
	want := "\n" + row("   ", "filename", "customizations_29_12_22#04_01_14.tar.gz") +
		row("   ", "path", filepath.Join(bp(), "server")+"/") +
		row("   ", "modify date", "29/12/2022 04:01:14 UTC")
	if r.stdout != want {
		t.Errorf("got:\n%q\nwant:\n%q", r.stdout, want)
	}
	r = ok(t, "backup", "getServerConfig", "customizations", "--backup-path", bp(), "--date", "all", "--verbose")
	wantLines(t, r.stdout, "ATTENTION: These files contain the directories /opt/zextras//conf/ and /opt/zextras/postfix/conf/",
		"Restore can only be performed manually.", row("   ", "file", "opt/zextras/postfix/conf/main.cf"))
	if strings.Count(r.stdout, "filename") != 2 {
		t.Errorf("date all: %s", r.stdout)
	}
	r = ok(t, "backup", "getServerConfig", "customizations", "backup_path", bp(), "verbose", "true", "date", "first", "--json")
	var out []struct {
		Filename string   `json:"filename"`
		Files    []string `json:"files"`
	}
	decode(t, r.stdout, &out)
	if len(out) != 1 || out[0].Filename != "customizations_28_12_22#04_01_14.tar.gz" || len(out[0].Files) != 2 {
		t.Errorf("--json: %s", r.stdout)
	}
}

func TestGetAccountInfo(t *testing.T) {
	plain := ok(t, "backup", "getAccountInfo", "john@example.com", "backup_path", bp())
	assert.NotContains(t, plain.stdout, "damaged items", "backupstats false (Carbonio's default): no counting")
	wantLines(t, plain.stdout, row("   ", "name", "john@example.com"), row("   ", "last item id", itemAppt))
	for _, d := range []string{"most_recent", "least_recent", "all", "01/01/2030"} {
		assert.Equal(t, plain.stdout, ok(t, "backup", "getAccountInfo", "john@example.com", "backup_path", bp(), "date", d).stdout, "date %s", d)
	}
	r := ok(t, "backup", "getAccountInfo", "john@example.com", "backup_path", bp(), "backupstats", "true")
	wantLines(t, r.stdout,
		row("   ", "name", "john@example.com"), row("   ", "id", johnID), row("   ", "status", "active"),
		row("   ", "cos", "default (cos-1)"), row("   ", "futureKey", "kept"), row("   ", "last item id", itemAppt),
		row("   ", "items", 10), row("   ", "states", 11), row("   ", "damaged items", 5),
		row("   ", "damaged item ids", "301,302,303,304,306"))
	r = ok(t, "backup", "getAccountInfo", oldID, "--backup-path", bp(), "--json", "--backupstats")
	var out struct {
		Info    map[string]any `json:"accountInfo"`
		Items   int            `json:"items"`
		Damaged int            `json:"damagedItems"`
	}
	decode(t, r.stdout, &out)
	if out.Info["name"] != "old@example.org" || out.Info["status"] != "deleted" || out.Items != 1 || out.Damaged != 0 {
		t.Errorf("--json: %s", r.stdout)
	}
}

func TestGetAvailableAccounts(t *testing.T) {
	r := ok(t, "backup", "getAvailableAccounts", "backup_path", bp())
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 3 {
		t.Fatalf("table:\n%s", r.stdout)
	}
	if f := strings.Fields(lines[1]); strings.Join(f, " ") != "john@example.com "+johnID+" active default 10" {
		t.Errorf("row 1: %q", lines[1])
	}
	if f := strings.Fields(lines[2]); strings.Join(f, " ") != "old@example.org "+oldID+" deleted archive 1" {
		t.Errorf("row 2: %q", lines[2])
	}
	r = ok(t, "--json", "backup", "getAvailableAccounts", "--backup-path", bp())
	var out []map[string]any
	decode(t, r.stdout, &out)
	if len(out) != 2 || out[0]["name"] != "john@example.com" || out[1]["status"] != "deleted" {
		t.Errorf("--json: %s", r.stdout)
	}
}

func TestGetBackupInfo(t *testing.T) {
	r := ok(t, "backup", "getBackupInfo", "backup_path", bp())
	wantLines(t, r.stdout, row("   ", "server id", fixSrv), row("   ", "hostname", "mail.example.com"),
		row("   ", "first run date", "01/07/2013 00:00:00"), row("   ", "last scan date", "16/07/2013 03:00:00"),
		row("   ", "accounts", 2), row("   ", "items", 11), row("   ", "config backups", 2),
		row("   ", "customizations", 2), row("   ", "map files", 1))
	r = ok(t, "backup", "getBackupInfo", "--backup-path", bp(), "--json")
	var out struct {
		Accounts, Items, Blobs int
	}
	decode(t, r.stdout, &out)
	// 8 distinct blob files: old mail, good, truncated, mismatch, double,
	// contact, appointment, plus the unreadable one (a folder).
	if out.Accounts != 2 || out.Items != 11 || out.Blobs < 7 || out.Blobs > 8 {
		t.Errorf("--json: %s", r.stdout)
	}
}

func TestBadInput(t *testing.T) {
	notBP := t.TempDir()
	if err := os.WriteFile(filepath.Join(notBP, "hello"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		code int
		msg  string
		args []string
	}{
		{"no such path", 1, "no such folder", []string{"backup", "getBackupInfo", "backup_path", "/nonexistent/path"}},
		{"not a backup path", 1, "not a Backup Path", []string{"backup", "getAvailableAccounts", "--backup-path", notBP}},
		{"no such account", 1, `no account "nobody@example.com"`, []string{"backup", "getItem", "nobody@example.com", "1", "backup_path", bp()}},
		{"no such account (info)", 1, "no account", []string{"backup", "getAccountInfo", "nobody", "backup_path", bp()}},
		{"no such item", 1, "no item 99999", []string{"backup", "getItem", "john@example.com", "99999", "backup_path", bp()}},
		{"item not yet existing", 1, "did not exist yet", []string{"backup", "getItem", "john@example.com", "300", "backup_path", bp(), "date", "01/01/2000"}},
		{"bad date", 2, `bad date "32/13/2013"`, []string{"backup", "getItem", "john@example.com", "300", "backup_path", bp(), "date", "32/13/2013"}},
		{"bad after", 2, "after: bad date", []string{"backup", "doItemSearch", "john@example.com", "backup_path", bp(), "after", "soon"}},
		{"bad config date", 2, "bad date", []string{"backup", "getServerConfig", "standard", "backup_path", bp(), "date", "never"}},
		{"bad type", 2, `unknown item type "mail"`, []string{"backup", "doItemSearch", "john@example.com", "backup_path", bp(), "type", "mail"}},
		{"bad search filter", 2, "search-filter", []string{"backup", "doItemSearch", "john@example.com", "backup_path", bp(), "search_filter", "maybe"}},
		{"unknown pair name", 2, `unknown parameter "colour"`, []string{"backup", "getItem", "john@example.com", "300", "colour", "red"}},
		{"pair without value", 2, `"date" needs a value`, []string{"backup", "getItem", "john@example.com", "300", "date"}},
		{"bad bool", 2, "wants true or false", []string{"backup", "getItem", "john@example.com", "300", "dump_blob", "yes please"}},
		{"bad item id", 2, "<item>", []string{"backup", "getItem", "john@example.com", "abc"}},
		{"unknown command", 2, "unexpected argument", []string{"backup", "getNothing"}},
		{"missing argument", 2, "expected", []string{"backup", "getItem", "john@example.com"}},
		{"bad query", 2, "unknown type", []string{"backup", "getServerConfig", "standard", "backup_path", bp(), "query", "nothing/x"}},
		{"no such query key", 1, `no "nothing"`, []string{"backup", "getServerConfig", "standard", "backup_path", bp(), "query", "serverConfig/nothing"}},
		{"bad config kind", 2, "standard", []string{"backup", "getServerConfig", "other"}},
		{"no config file", 1, "config file", []string{"backup", "getServerConfig", "standard", "file", "/nonexistent/config.json"}},
		{"config before first", 1, "no configuration backup taken at or before", []string{"backup", "getServerConfig", "standard", "backup_path", bp(), "date", "2001-01-01"}},
		{"dump_blob with json", 2, "cannot be combined", []string{"backup", "getItem", "john@example.com", "300", "backup_path", bp(), "dump_blob", "true", "--json"}},
		{"sample too few accounts", 2, "at least 3", []string{"sample", filepath.Join(t.TempDir(), "s"), "accounts", "1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fails(t, tt.code, tt.msg, tt.args...)
		})
	}
}

func TestReadOnlyPath(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Log("running as root: permissions do not stop writes; checking that nothing changed instead")
	}
	// Commands write nothing: the fixture's file list and mtimes are unchanged.
	before := snapshot(t, bp())
	ok(t, "backup", "getAccountInfo", "john@example.com", "backup_path", bp())
	ok(t, "backup", "getBackupInfo", "backup_path", bp())
	ok(t, "backup", "doItemSearch", "john@example.com", "backup_path", bp())
	if after := snapshot(t, bp()); after != before {
		t.Errorf("the Backup Path changed:\n%s\n---\n%s", before, after)
	}
}

func snapshot(t *testing.T, root string) string {
	var b strings.Builder
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if fi.Name() == pathlock.Name {
			return nil // the writer lock names its last holder: no backup data
		}
		b.WriteString(p + " " + fi.ModTime().String() + "\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// getItem --output writes only the blob's bytes (a usable .eml), verified;
// a damaged blob writes nothing; several states need one chosen.
func TestGetItemOutput(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "restored.eml")
	ok(t, "backup", "getItem", "john@example.com", strconv.Itoa(itemGood), "date", "first", "--output", out, "backup_path", bp())
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.Equal(t, goodBody, b)

	fails(t, 2, "choose one", "backup", "getItem", "john@example.com", strconv.Itoa(itemGood), "date", "all", "--output", out, "backup_path", bp())

	bad := filepath.Join(dir, "bad.eml")
	fails(t, 1, "nothing written", "backup", "getItem", "john@example.com", strconv.Itoa(itemTruncated), "date", "last", "--output", bad, "backup_path", bp())
	_, err = os.Stat(bad)
	assert.True(t, os.IsNotExist(err), "no file for a damaged blob")
	left, _ := filepath.Glob(filepath.Join(dir, ".cbfs-tmp-*"))
	assert.Empty(t, left, "no temporary file left")
}
