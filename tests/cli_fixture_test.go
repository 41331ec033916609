package tests

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cbfs/cbfs/blob"
)

// The hand-made fixture: written file by file here, without the blob store
// or the sample generator, so the CLI tests check those packages'
// classification against bytes they did not write themselves.

const (
	johnID = "6c2f0e3a-1b2c-4d5e-8f90-0a1b2c3d4e5f"
	oldID  = "0b9d8c7e-6f5a-4b3c-9d2e-1f0a9b8c7d6e"
	fixSrv = "srv-0001"
)

// fixture items of john@example.com.
const (
	itemFolder     = 257
	itemGood       = 300 // three states, last one deleted
	itemTruncated  = 301
	itemMismatch   = 302
	itemUnreadable = 303
	itemMissing    = 304
	itemDouble     = 305
	itemMalformed  = 306
	itemContact    = 307
	itemAppt       = 308
)

var goodBody = []byte("Subject: Service mailboxd started\r\nFrom: zimbra@example.com\r\n\r\nmailboxd changed from stopped to running\r\n")

func day(s string) int64 {
	t, err := time.Parse("02/01/2006 15:04:05", s)
	if err != nil {
		panic(err)
	}
	return t.UnixMilli()
}

func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func writeFile(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeJSONFile(t testing.TB, path string, v any) {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, b)
}

// putBlob writes stored (already compressed, maybe damaged) under the name
// of content's digest and returns the digest.
func putBlob(t testing.TB, root string, content, stored []byte) blob.Digest {
	t.Helper()
	d := blob.Sum(content)
	writeFile(t, filepath.Join(root, "items", d.Dir(), string(d)), stored)
	return d
}

type state = map[string]any

func msgState(start string, folder int, flags string, deleted bool, d blob.Digest, subject string) state {
	s := state{"startDate": day(start), "type": 5, "folderId": folder, "deleted": deleted, "subject": subject,
		"from": "zimbra@example.com", "to": "john@example.com"}
	if flags != "" {
		s["flags"] = flags
	}
	if d != "" {
		s["digest"] = string(d)
	}
	return s
}

func writeItem(t testing.TB, root, acct string, id int, states ...state) {
	t.Helper()
	writeJSONFile(t, filepath.Join(root, "accounts", acct, "items", bucket(id), itoa(id)), states)
}

func bucket(id int) string { return string([]byte{byte('0' + id%100/10), byte('0' + id%10)}) }

func itoa(id int) string {
	b, _ := json.Marshal(id)
	return string(b)
}

// makeFixture writes the hand-made Backup Path and returns its root.
func makeFixture(t testing.TB, root string) string {
	writeJSONFile(t, filepath.Join(root, "backupstat"), map[string]any{
		"serverId": fixSrv, "hostname": "mail.example.com",
		"firstRunDate": day("01/07/2013 00:00:00"), "lastScanDate": day("16/07/2013 03:00:00"),
	})
	writeJSONFile(t, filepath.Join(root, "accounts", johnID, "account_info"), map[string]any{
		"id": johnID, "name": "john@example.com", "status": "active", "cosName": "default", "cosId": "cos-1",
		"displayName": "John Doe", "createdDate": day("01/07/2013 09:00:00"), "futureKey": "kept",
	})
	writeJSONFile(t, filepath.Join(root, "accounts", johnID, "account_stat"), map[string]any{
		"lastItemId": itemAppt, "itemCount": 10, "lastScanDate": day("16/07/2013 03:00:00"),
	})
	writeJSONFile(t, filepath.Join(root, "accounts", oldID, "account_info"), map[string]any{
		"id": oldID, "name": "old@example.org", "status": "deleted", "cosName": "archive",
	})
	writeItem(t, root, oldID, 400, msgState("02/07/2013 08:00:00", 2, "", false,
		putBlob(t, root, []byte("old mail\r\n"), gz(t, []byte("old mail\r\n"))), "Old mail"))

	good := putBlob(t, root, goodBody, gz(t, goodBody))
	writeItem(t, root, johnID, itemFolder, state{"startDate": day("01/07/2013 09:00:00"), "type": 1, "folderId": 2,
		"parentId": 2, "name": "Projects", "deleted": false})
	writeItem(t, root, johnID, itemGood,
		msgState("12/07/2013 16:35:44", 2, "u", false, good, "Service mailboxd started"),
		msgState("12/07/2013 17:04:33", itemFolder, "", false, good, "Service mailboxd started"),
		msgState("15/07/2013 10:03:26", 3, "", true, good, "Service mailboxd started"),
	)

	trunc := truncBody()
	tz := gz(t, trunc)
	writeItem(t, root, johnID, itemTruncated, msgState("13/07/2013 10:00:00", 2, "", false, putBlob(t, root, trunc, tz[:len(tz)/2]), "Truncated one"))

	writeItem(t, root, johnID, itemMismatch, msgState("13/07/2013 11:00:00", 2, "", false,
		putBlob(t, root, []byte("what the digest says\r\n"), gz(t, []byte("something else entirely\r\n"))), "Mismatch one"))

	unread := []byte("unreadable body\r\n")
	ud := blob.Sum(unread)
	if err := os.MkdirAll(filepath.Join(root, "items", ud.Dir(), string(ud)), 0o755); err != nil {
		t.Fatal(err)
	}
	writeItem(t, root, johnID, itemUnreadable, msgState("13/07/2013 12:00:00", 2, "", false, ud, "Unreadable one"))

	writeItem(t, root, johnID, itemMissing, msgState("13/07/2013 13:00:00", 2, "", false, blob.Sum([]byte("never stored\r\n")), "Missing one"))

	double := []byte("Subject: Double\r\n\r\ngzip inside gzip\r\n")
	writeItem(t, root, johnID, itemDouble, msgState("13/07/2013 14:00:00", 2, "", false, putBlob(t, root, double, gz(t, gz(t, double))), "Double gzip one"))

	writeFile(t, filepath.Join(root, "accounts", johnID, "items", bucket(itemMalformed), itoa(itemMalformed)), []byte(`[{"startDate": 1, "type": 5,`))

	vcf := []byte("BEGIN:VCARD\r\nFN:Alice Smith\r\nEND:VCARD\r\n")
	writeItem(t, root, johnID, itemContact, state{"startDate": day("05/07/2013 09:00:00"), "type": 6, "folderId": 7,
		"name": "Alice Smith", "deleted": false, "digest": string(putBlob(t, root, vcf, gz(t, vcf)))})
	ics := []byte("BEGIN:VCALENDAR\r\nSUMMARY:Team meeting\r\nEND:VCALENDAR\r\n")
	writeItem(t, root, johnID, itemAppt, state{"startDate": day("06/07/2013 09:00:00"), "type": 11, "folderId": 10,
		"subject": "Team meeting", "deleted": false, "digest": string(putBlob(t, root, ics, gz(t, ics)))})

	for _, c := range []struct {
		name string
		date string
		mode string
	}{{"config_28_12_22#14_14_29.json", "28/12/2022 14:14:29", "http"}, {"config_29_12_22#14_14_29.json", "29/12/2022 14:14:29", "https"}} {
		writeJSONFile(t, filepath.Join(root, "server", c.name), map[string]any{
			"date": day(c.date), "serverId": fixSrv, "hostname": "mail.example.com",
			"serverConfig": map[string]any{"zimbraMailMode": c.mode, "zimbraMailPort": 8080},
			"globalConfig": map[string]any{"zimbraSmtpHostname": []string{"smtp1.example.com", "smtp2.example.com"}},
			"cos":          []any{map[string]any{"id": "cos-1", "name": "default", "attrs": map[string]any{"zimbraMailQuota": "1073741824"}}},
			"domains":      []any{map[string]any{"id": "dom-1", "name": "example.com", "attrs": map[string]any{"zimbraDomainStatus": "active"}}},
			"distributionLists": []any{map[string]any{"id": "dl-1", "name": "all@example.com",
				"members": []string{"john@example.com"}}},
		})
	}
	for _, name := range []string{"customizations_28_12_22#04_01_14.tar.gz", "customizations_29_12_22#04_01_14.tar.gz"} {
		writeFile(t, filepath.Join(root, "server", name), tgz(t, map[string]string{
			"opt/zextras/conf/localconfig.xml": "<localconfig/>", "opt/zextras/postfix/conf/main.cf": "myhostname = mail",
		}))
	}
	writeJSONFile(t, filepath.Join(root, "map_oldserver"), map[string]any{"serverId": "oldserver", "accounts": map[string]string{"a": "b"}})
	return root
}

func tgz(t testing.TB, files map[string]string) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, name := range []string{"opt/zextras/conf/localconfig.xml", "opt/zextras/postfix/conf/main.cf"} {
		body := files[name]
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), ModTime: time.Unix(0, 0)}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(body))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	zw.Close()
	return buf.Bytes()
}

// truncBody is 200 KB of varied text, more than one deflate window, so a
// blob cut in half still holds salvageable content.
func truncBody() []byte {
	words := []string{"lorem", "ipsum", "dolor", "sit", "amet", "backup", "carbonio", "mailbox", "restore", "item"}
	var b bytes.Buffer
	b.WriteString("truncated message body ")
	x := uint32(12345)
	for b.Len() < 200<<10 {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b.WriteString(words[x%uint32(len(words))])
		b.WriteByte(byte('a' + x%26))
		b.WriteByte(' ')
	}
	return b.Bytes()
}
