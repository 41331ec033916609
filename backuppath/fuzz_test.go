package backuppath

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/cbfs/cbfs/mailbox"
)

// Fuzz targets for every parser of the package. Each must never panic, and
// whatever decodes must survive encode -> decode unchanged (compared by its
// encoding, which is deterministic and compact, so an unknown key's spacing
// does not count). Run one with e.g.
//
//	go test ./backuppath -run '^$' -fuzz FuzzParseItem -fuzztime 20s
//
// Inputs that once failed live in testdata/fuzz/<Name>/ and run with the
// ordinary tests.

var seedItems = []string{
	// A message: delivered, read, moved to Trash, deleted.
	`[
{"deleted":false,"digest":"c0,gUlvzQfE21z6YRXJnNkKL85PrRHw0KMQUqo,pMmQ=","flags":"u","folderId":2,"from":"Ann <ann@example.com>","size":2048,"startDate":1373639744000,"subject":"Service mailboxd started","to":"john@example.com","type":5},
{"deleted":false,"digest":"c0,gUlvzQfE21z6YRXJnNkKL85PrRHw0KMQUqo,pMmQ=","folderId":2,"size":2048,"startDate":1373641473000,"type":5},
{"deleted":true,"digest":"c0,gUlvzQfE21z6YRXJnNkKL85PrRHw0KMQUqo,pMmQ=","folderId":3,"size":2048,"startDate":1373879006000,"type":5}
]
`,
	// A folder and a tag.
	`[{"deleted":false,"folderId":1,"name":"Projects","parentId":1,"startDate":1714521600000,"type":1}]`,
	`[{"deleted":false,"folderId":8,"name":"work","startDate":1714521600000,"type":3}]`,
	// A foreign writer: RFC 3339 dates, type names, SHA-1 digest, unknown keys.
	`[{"startDate":"2013-07-12T16:35:44+02:00","type":"message","folderId":2,"deleted":false,"digest":"2jmj7l5rSw0yVb,vlWAYkK,YBwk=","revision":4,"meta":{"x":[1,2.5,null]}}]`,
	`[{"startDate":"1373639744000","type":"6","folderId":7,"tags":["$Label1","vip"],"deleted":false}]`,
	`[]`, `{}`, `null`, `[null]`, `[{"startDate":1e30}]`, `[{"type":128}]`,
}

func FuzzParseItem(f *testing.F) {
	for _, s := range seedItems {
		f.Add(258, []byte(s))
	}
	f.Fuzz(func(t *testing.T, id int, b []byte) {
		it, err := mailbox.Default.ParseItem(id, b)
		if err != nil {
			if it != nil {
				t.Fatalf("ParseItem returned an item and an error")
			}
			return
		}
		if it.ID != id || len(it.States) == 0 {
			t.Fatalf("ParseItem = id %d, %d states", it.ID, len(it.States))
		}
		for i := 1; i < len(it.States); i++ {
			if it.States[i-1].Start > it.States[i].Start {
				t.Fatalf("states not sorted: %d before %d", it.States[i-1].Start, it.States[i].Start)
			}
		}
		if l := it.Latest(); l != &it.States[len(it.States)-1] || it.StateAt(l.Start.Time()) != l {
			t.Fatalf("Latest/StateAt disagree")
		}
		enc, err := it.Encode()
		if err != nil {
			t.Fatalf("Encode of a parsed item: %v", err)
		}
		it2, err := mailbox.Default.ParseItem(id, enc)
		if err != nil {
			t.Fatalf("re-parse of\n%s\nfailed: %v", enc, err)
		}
		enc2, err := it2.Encode()
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("round trip changed the item:\n%s\n%s", enc, enc2)
		}
		if !reflect.DeepEqual(it2, mustParse(t, id, enc2)) {
			t.Fatalf("a third parse differs")
		}
	})
}

func mustParse(t *testing.T, id int, b []byte) *mailbox.Item {
	it, err := mailbox.Default.ParseItem(id, b)
	if err != nil {
		t.Fatal(err)
	}
	return it
}

// roundTrip checks the decode -> encode -> decode property for v (already
// decoded from some input) using fresh values from mk.
func roundTrip(t *testing.T, v any, mk func() any) {
	t.Helper()
	enc, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("encode of a decoded value: %v", err)
	}
	v2 := mk()
	if err := json.Unmarshal(enc, v2); err != nil {
		t.Fatalf("re-decode of %s: %v", enc, err)
	}
	enc2, err := json.Marshal(v2)
	if err != nil || !bytes.Equal(enc, enc2) {
		t.Fatalf("round trip changed the value:\n%s\n%s", enc, enc2)
	}
	// The file form (indented) reads back the same too.
	ind, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	v3 := mk()
	if err := json.Unmarshal(ind, v3); err != nil {
		t.Fatalf("re-decode of indented %s: %v", ind, err)
	}
	if enc3, _ := json.Marshal(v3); !bytes.Equal(enc, enc3) {
		t.Fatalf("indented round trip changed the value:\n%s\n%s", enc, enc3)
	}
}

func FuzzAccount(f *testing.F) {
	for _, s := range []string{
		`{"id":"3b3c1a52-0d7a-4b54-9c0c-5a2bd2f4e0c1","name":"john@example.com","status":"active","displayName":"John Smith","cosId":"e00428a1-0c00-11d9-836a-000d93afea2a","cosName":"default","createdDate":1672531200000,"attrs":{"zimbraMailQuota":"0","zimbraPrefLocale":["en"]}}`,
		`{"id":"7f0e2c8a-1111-4a4a-8b8b-000000000002","name":"old@example.com","status":"deleted","deletedDate":"2024-05-01T00:00:00Z","backupEnabled":false,"zimbraMailHost":"mail.example.com"}`,
		`{"name":"x@y","ID":"upper","attrs":null,"backupEnabled":null}`,
		`{}`, `[]`, `null`, `{"createdDate":{}}`,
	} {
		f.Add([]byte(s))
	}
	mk := func() any { return new(mailbox.Account) }
	f.Fuzz(func(t *testing.T, b []byte) {
		a := new(mailbox.Account)
		if err := json.Unmarshal(b, a); err != nil {
			return
		}
		_ = a.Domain()
		roundTrip(t, a, mk)
	})
}

func FuzzServerConfig(f *testing.F) {
	for _, s := range []string{
		`{"date":1672236869000,"serverId":"8d5e4a44-5a3c-4f5e-9d0a-0f3a9c1f8b21","hostname":"mail.example.com",
		  "serverConfig":{"zimbraMailMode":"https","zimbraServiceEnabled":["mailbox","imap"]},
		  "globalConfig":{"zimbraMtaMaxMessageSize":"10240000"},
		  "domains":[{"id":"d1","name":"example.com","attrs":{"zimbraDomainStatus":"active"}}],
		  "cos":[{"id":"e00428a1-0c00-11d9-836a-000d93afea2a","name":"default","attrs":{"backupEnabled":"true"}}],
		  "distributionLists":[{"id":"dl1","name":"staff@example.com","members":["john@example.com","ann@example.com"]}]}`,
		`{"date":"2022-12-28T14:14:29Z","serverConfig":{},"globalConfig":{},"ldap":{"future":true}}`,
		`{"domains":[null]}`, `{"cos":[{"id":1}]}`, `{}`, `null`,
	} {
		f.Add([]byte(s))
	}
	mk := func() any { return new(ServerConfig) }
	f.Fuzz(func(t *testing.T, b []byte) {
		c := new(ServerConfig)
		if err := json.Unmarshal(b, c); err != nil {
			return
		}
		roundTrip(t, c, mk)
	})
}

func FuzzMillis(f *testing.F) {
	for _, s := range []string{
		`1373639744000`, `"1373639744000"`, `"2013-07-12T16:35:44.123+02:00"`, `"2013-07-12T14:35:44Z"`,
		`null`, `""`, `1.5e12`, `-1`, `9223372036854775807`, `1e19`, `"x"`, `true`, `[]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var m mailbox.Millis
		if err := m.UnmarshalJSON(b); err != nil {
			return
		}
		_ = m.Time()
		enc, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		var back mailbox.Millis
		if err := json.Unmarshal(enc, &back); err != nil || back != m {
			t.Fatalf("%s decoded to %d, re-encoded as %s, read back as %d (%v)", b, m, enc, back, err)
		}
		// A date survives the trip through time.Time, except the one whose
		// Time is Go's zero time (1 Jan of year 1), which mailbox.MillisOf reads
		// as "not set".
		if !m.Time().IsZero() && mailbox.MillisOf(m.Time()) != m {
			t.Fatalf("MillisOf(Time(%d)) = %d", m, mailbox.MillisOf(m.Time()))
		}
	})
}

func FuzzParseServerFileName(f *testing.F) {
	for _, s := range []string{
		"config_28_12_22#14_14_29.json", "customizations_28_12_22#04_01_14.tar.gz",
		"config_28_12_22#4_01_14.json", "config_31_02_22#00_00_00.json", "config_.json", "map_srv", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		kind, tm, ok := ParseServerFileName(name)
		if !ok {
			if kind != "" || !tm.IsZero() {
				t.Fatalf("rejected %q but returned %q %v", name, kind, tm)
			}
			return
		}
		if kind != KindConfig && kind != KindCustomizations {
			t.Fatalf("kind %q", kind)
		}
		if tm.Location() != time.UTC {
			t.Fatalf("date %v not UTC", tm)
		}
		if back := ServerFileName(kind, tm); back != name {
			t.Fatalf("ParseServerFileName(%q) = %s %v, which names %q", name, kind, tm, back)
		}
	})
}
