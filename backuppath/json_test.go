package backuppath

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cbfs/cbfs/mailbox"
)

func TestMillisUnmarshal(t *testing.T) {
	ref := time.Date(2013, 7, 12, 14, 35, 44, 123e6, time.UTC) // 12/07/2013 16:35:44.123 CEST
	refMs := mailbox.Millis(ref.UnixMilli())
	tests := []struct {
		name    string
		in      string
		want    mailbox.Millis
		wantErr string // substring; "" = no error
	}{
		{name: "number", in: `1373639744123`, want: refMs},
		{name: "number with spaces", in: " 1373639744123 ", want: refMs},
		{name: "negative number", in: `-1000`, want: -1000},
		{name: "zero", in: `0`, want: 0},
		{name: "exponent", in: `1.373639744123e12`, want: refMs},
		{name: "fraction truncated", in: `1373639744123.9`, want: refMs},
		{name: "beyond float precision", in: `9007199254740993`, want: 9007199254740993},
		{name: "max int64", in: `9223372036854775807`, want: 1<<63 - 1},
		{name: "numeric string", in: `"1373639744123"`, want: refMs},
		{name: "RFC 3339 UTC", in: `"2013-07-12T14:35:44.123Z"`, want: refMs},
		{name: "RFC 3339 with offset", in: `"2013-07-12T16:35:44.123+02:00"`, want: refMs},
		{name: "RFC 3339 seconds", in: `"2013-07-12T14:35:44Z"`, want: refMs - 123},
		{name: "null", in: `null`, want: 0},
		{name: "empty string", in: `""`, want: 0},
		{name: "garbage string", in: `"yesterday"`, wantErr: `date "yesterday"`},
		{name: "Carbonio CLI format", in: `"12/07/2013 16:35:44"`, wantErr: "want milliseconds"},
		{name: "bool", in: `true`, wantErr: "want milliseconds"},
		{name: "object", in: `{}`, wantErr: "want milliseconds"},
		{name: "array", in: `[1]`, wantErr: "want milliseconds"},
		{name: "too large", in: `1e19`, wantErr: "out of range"},
		{name: "too small", in: `-1e19`, wantErr: "out of range"},
		{name: "integer string overflow", in: `"99999999999999999999"`, wantErr: "want milliseconds"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := mailbox.Millis(42) // must be overwritten (or the error reported)
			err := m.UnmarshalJSON([]byte(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("UnmarshalJSON(%s) = %d, %v; want error containing %q", tc.in, m, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("UnmarshalJSON(%s): %v", tc.in, err)
			}
			if m != tc.want {
				t.Fatalf("UnmarshalJSON(%s) = %d, want %d", tc.in, m, tc.want)
			}
			// Writes are always a plain number that reads back the same.
			out, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			var back mailbox.Millis
			if err := json.Unmarshal(out, &back); err != nil || back != m {
				t.Fatalf("round trip of %d via %s = %d, %v", m, out, back, err)
			}
		})
	}
}

func TestMillisTime(t *testing.T) {
	tests := []struct {
		name string
		t    time.Time
	}{
		{name: "UTC", t: time.Date(2024, 2, 29, 23, 59, 59, 999e6, time.UTC)},
		{name: "other zone", t: time.Date(2024, 3, 1, 1, 0, 0, 0, time.FixedZone("CET", 3600))},
		{name: "before 1970", t: time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := mailbox.MillisOf(tc.t)
			got := m.Time()
			if !got.Equal(tc.t) || got.Location() != time.UTC {
				t.Fatalf("MillisOf(%v).Time() = %v, want the same instant in UTC", tc.t, got)
			}
		})
	}
	if m := mailbox.MillisOf(time.Time{}); m != 0 {
		t.Errorf("MillisOf(zero) = %d, want 0", m)
	}
	if tt := mailbox.Millis(0).Time(); !tt.IsZero() {
		t.Errorf("Millis(0).Time() = %v, want the zero time", tt)
	}
}

func TestItemType(t *testing.T) {
	t.Run("parse", func(t *testing.T) {
		tests := []struct {
			in      string
			want    mailbox.ItemType
			wantErr bool
		}{
			{in: "message", want: mailbox.TypeMessage},
			{in: " Message ", want: mailbox.TypeMessage},
			{in: "FOLDER", want: mailbox.TypeFolder},
			{in: "search", want: mailbox.TypeSearchFolder},
			{in: "appointment", want: mailbox.TypeAppointment},
			{in: "chat", want: mailbox.TypeChat},
			{in: "5", want: mailbox.TypeMessage},
			{in: "11", want: mailbox.TypeAppointment},
			{in: "12", want: 12},
			{in: "type12", want: 12},
			{in: "127", want: 127},
			{in: "0", wantErr: true},
			{in: "128", wantErr: true},
			{in: "-5", wantErr: true},
			{in: "mail", wantErr: true},
			{in: "", wantErr: true},
			{in: "type", wantErr: true},
		}
		for _, tc := range tests {
			t.Run(tc.in, func(t *testing.T) {
				got, err := mailbox.ParseItemType(tc.in)
				if tc.wantErr {
					if err == nil {
						t.Fatalf("ParseItemType(%q) = %v, want an error", tc.in, got)
					}
					if !strings.Contains(err.Error(), "message") {
						t.Errorf("error %q does not list the valid names", err)
					}
					return
				}
				if err != nil || got != tc.want {
					t.Fatalf("ParseItemType(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
				}
			})
		}
	})
	t.Run("string", func(t *testing.T) {
		tests := []struct {
			t    mailbox.ItemType
			want string
		}{
			{mailbox.TypeFolder, "folder"}, {mailbox.TypeSearchFolder, "search"}, {mailbox.TypeTag, "tag"},
			{mailbox.TypeConversation, "conversation"}, {mailbox.TypeMessage, "message"}, {mailbox.TypeContact, "contact"},
			{mailbox.TypeDocument, "document"}, {mailbox.TypeAppointment, "appointment"}, {mailbox.TypeTask, "task"},
			{mailbox.TypeChat, "chat"}, {mailbox.TypeUnknown, "type0"}, {12, "virtual_conversation"}, {19, "type19"},
		}
		for _, tc := range tests {
			if got := tc.t.String(); got != tc.want {
				t.Errorf("ItemType(%d).String() = %q, want %q", tc.t, got, tc.want)
			}
			if tc.t == mailbox.TypeUnknown {
				continue
			}
			if back, err := mailbox.ParseItemType(tc.t.String()); err != nil || back != tc.t {
				t.Errorf("ParseItemType(%q) = %d, %v; want %d", tc.t.String(), back, err, tc.t)
			}
		}
	})
	t.Run("json", func(t *testing.T) {
		tests := []struct {
			in      string
			want    mailbox.ItemType
			wantErr bool
		}{
			{in: `5`, want: mailbox.TypeMessage},
			{in: `"message"`, want: mailbox.TypeMessage},
			{in: `"6"`, want: mailbox.TypeContact},
			{in: `0`, want: mailbox.TypeUnknown},
			{in: `99`, want: 99},
			{in: `128`, wantErr: true},
			{in: `-1`, wantErr: true},
			{in: `5.5`, wantErr: true},
			{in: `"nonsense"`, wantErr: true},
			{in: `true`, wantErr: true},
			{in: `{}`, wantErr: true},
		}
		for _, tc := range tests {
			t.Run(tc.in, func(t *testing.T) {
				var got mailbox.ItemType
				err := json.Unmarshal([]byte(tc.in), &got)
				if tc.wantErr != (err != nil) {
					t.Fatalf("Unmarshal(%s) = %d, %v; want error %v", tc.in, got, err, tc.wantErr)
				}
				if err == nil && got != tc.want {
					t.Fatalf("Unmarshal(%s) = %d, want %d", tc.in, got, tc.want)
				}
			})
		}
	})
	t.Run("content", func(t *testing.T) {
		tests := []struct {
			t       mailbox.ItemType
			content bool
			ext     string
		}{
			{mailbox.TypeFolder, false, "eml"}, {mailbox.TypeSearchFolder, false, "eml"}, {mailbox.TypeTag, false, "eml"},
			{mailbox.TypeConversation, false, "eml"}, {mailbox.TypeMessage, true, "eml"}, {mailbox.TypeChat, true, "eml"},
			{mailbox.TypeContact, true, "vcf"}, {mailbox.TypeAppointment, true, "ics"}, {mailbox.TypeTask, true, "ics"},
			{mailbox.TypeDocument, true, "bin"},
		}
		for _, tc := range tests {
			if tc.t.HasContent() != tc.content || tc.t.Extension() != tc.ext {
				t.Errorf("%v: HasContent %v Extension %q; want %v %q", tc.t, tc.t.HasContent(), tc.t.Extension(), tc.content, tc.ext)
			}
		}
	})
}

// tolerantTypes builds a fresh value of every type with tolerant decoding.
var tolerantTypes = map[string]func() any{
	"State":        func() any { return new(mailbox.State) },
	"Account":      func() any { return new(mailbox.Account) },
	"AccountStat":  func() any { return new(AccountStat) },
	"BackupStat":   func() any { return new(BackupStat) },
	"Record":       func() any { return new(Record) },
	"ServerConfig": func() any { return new(ServerConfig) },
	"Map":          func() any { return new(Map) },
}

// extraOf returns the mailbox.Extra field of *T.
func extraOf(v any) mailbox.Extra {
	return reflect.ValueOf(v).Elem().FieldByName("Extra").Interface().(mailbox.Extra)
}

func compact(t *testing.T, raw []byte) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		t.Fatalf("compact %s: %v", raw, err)
	}
	return b.String()
}

// jsonEqual reports whether a and b are the same JSON value.
func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Fatalf("unmarshal %s: %v", a, err)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Fatalf("unmarshal %s: %v", b, err)
	}
	return reflect.DeepEqual(va, vb)
}

func TestTolerantRoundTrip(t *testing.T) {
	// Each input holds every key the type always writes (so the output must
	// be the same JSON value as the input) plus unknown keys of every JSON
	// kind, spaced oddly on purpose.
	tests := []struct {
		typ     string
		in      string
		unknown []string
		check   func(t *testing.T, v any)
	}{
		{
			typ: "State",
			in: `{"startDate":1373639744000,"type":5,"folderId":2,"flags":"u","deleted":false,
				"digest":"c0,gUlvzQfE21z6YRXJnNkKL85PrRHw0KMQUqo,pMmQ=","size":1234,
				"zimbraVersion":  "8.8.15", "revision": 7, "meta": {"a" : [1, 2, {"b": null}]}, "x-empty": {}}`,
			unknown: []string{"zimbraVersion", "revision", "meta", "x-empty"},
			check: func(t *testing.T, v any) {
				s := v.(*mailbox.State)
				if s.Start != 1373639744000 || s.Type != mailbox.TypeMessage || s.FolderID != 2 || s.Size != 1234 {
					t.Errorf("known keys lost: %+v", s)
				}
			},
		},
		{
			typ: "Account",
			in: `{"id":"3b3c1a52-0d7a-4b54-9c0c-5a2bd2f4e0c1","name":"john@example.com","status":"active",
				"attrs":{"zimbraMailQuota":"0","zimbraPrefLocale":["en","it"]},
				"zimbraMailHost":"mail.example.com","lastLogon":1700000000000,"aliases":["j@example.com"]}`,
			unknown: []string{"zimbraMailHost", "lastLogon", "aliases"},
			check: func(t *testing.T, v any) {
				a := v.(*mailbox.Account)
				if a.Name != "john@example.com" || len(a.Attrs) != 2 {
					t.Errorf("known keys lost: %+v", a)
				}
			},
		},
		{
			typ:     "AccountStat",
			in:      `{"lastItemId":258,"itemCount":97,"lastBlobDigest":"abc","scanDurations":[12,15]}`,
			unknown: []string{"lastBlobDigest", "scanDurations"},
			check: func(t *testing.T, v any) {
				if s := v.(*AccountStat); s.LastItemID != 258 || s.ItemCount != 97 {
					t.Errorf("known keys lost: %+v", s)
				}
			},
		},
		{
			typ:     "BackupStat",
			in:      `{"serverId":"8d5e4a44-5a3c-4f5e-9d0a-0f3a9c1f8b21","firstRunDate":1672531200000,"licenseType":"NE","volumes":{"main":"/opt/zextras/backup/ng"}}`,
			unknown: []string{"licenseType", "volumes"},
			check: func(t *testing.T, v any) {
				if s := v.(*BackupStat); s.FirstRun != 1672531200000 || s.ServerID == "" {
					t.Errorf("known keys lost: %+v", s)
				}
			},
		},
		{
			typ:     "Record",
			in:      `{"id":"d1","name":"example.com","attrs":{"zimbraDomainStatus":"active"},"aliasOf":null,"kind":"domain"}`,
			unknown: []string{"aliasOf", "kind"},
			check: func(t *testing.T, v any) {
				if r := v.(*Record); r.Name != "example.com" {
					t.Errorf("known keys lost: %+v", r)
				}
			},
		},
		{
			typ: "ServerConfig",
			in: `{"date":1672196069000,"serverConfig":{"zimbraMailMode":"https"},"globalConfig":{"zimbraMtaMaxMessageSize":"10240000"},
				"domains":[{"id":"d1","name":"example.com","futureKey":true}],
				"zimbraVersion":"23.12.0","ldapDump":{"entries":3}}`,
			unknown: []string{"zimbraVersion", "ldapDump"},
			check: func(t *testing.T, v any) {
				c := v.(*ServerConfig)
				if len(c.Domains) != 1 || c.Domains[0].Extra["futureKey"] == nil {
					t.Errorf("nested record lost its unknown key: %+v", c.Domains)
				}
			},
		},
		{
			typ:     "Map",
			in:      `{"serverId":"src-1","accounts":{"a":"b","c":"d"},"domains":{"old.example":"new.example"},"operationId":"op-9"}`,
			unknown: []string{"domains", "operationId"},
			check: func(t *testing.T, v any) {
				if m := v.(*Map); m.ServerID != "src-1" || m.Accounts["c"] != "d" {
					t.Errorf("known keys lost: %+v", m)
				}
			},
		},
	}
	seen := map[string]bool{}
	for _, tc := range tests {
		seen[tc.typ] = true
		t.Run(tc.typ, func(t *testing.T) {
			v := tolerantTypes[tc.typ]()
			if err := json.Unmarshal([]byte(tc.in), v); err != nil {
				t.Fatalf("decode: %v", err)
			}
			tc.check(t, v)
			extra := extraOf(v)
			if len(extra) != len(tc.unknown) {
				t.Errorf("Extra has %d keys (%v), want %d", len(extra), reflect.ValueOf(extra).MapKeys(), len(tc.unknown))
			}
			var in map[string]json.RawMessage
			if err := json.Unmarshal([]byte(tc.in), &in); err != nil {
				t.Fatal(err)
			}
			for _, k := range tc.unknown {
				if compact(t, extra[k]) != compact(t, in[k]) {
					t.Errorf("Extra[%q] = %s, want %s", k, extra[k], in[k])
				}
			}
			// Written back: the same JSON value, both compact and indented
			// (the files are written indented).
			out, err := json.Marshal(v)
			if err != nil {
				t.Fatalf("encode: %v", err)
			}
			if !jsonEqual(t, out, []byte(tc.in)) {
				t.Errorf("round trip changed the file:\n in: %s\nout: %s", tc.in, out)
			}
			ind, err := json.MarshalIndent(v, "", "  ")
			if err != nil || !jsonEqual(t, ind, []byte(tc.in)) {
				t.Errorf("indented round trip changed the file (%v):\n%s", err, ind)
			}
			// Output is deterministic.
			again, _ := json.Marshal(v)
			if !bytes.Equal(out, again) {
				t.Errorf("two encodings differ:\n%s\n%s", out, again)
			}
		})
	}
	for typ := range tolerantTypes {
		if !seen[typ] {
			t.Errorf("no round-trip case for %s", typ)
		}
	}
}

func TestTolerantOwnKeysWinOverAliases(t *testing.T) {
	// "FolderId" and "StartDate" are aliases of cbfs's own keys: where both
	// are present the own key wins wherever it stands, and the alias is
	// kept as it is.
	var s mailbox.State
	in := `{"startDate":5,"StartDate":7,"FolderId":3,"type":5,"folderId":2,"deleted":false}`
	if err := json.Unmarshal([]byte(in), &s); err != nil {
		t.Fatal(err)
	}
	if s.Start != 5 || s.FolderID != 2 {
		t.Errorf("known keys: start %d folder %d, want 5 and 2", s.Start, s.FolderID)
	}
	for k, want := range map[string]string{"StartDate": "7", "FolderId": "3"} {
		if got := string(s.Extra[k]); got != want {
			t.Errorf("Extra[%q] = %q, want %q", k, got, want)
		}
	}
	out, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if !jsonEqual(t, out, []byte(in)) {
		t.Errorf("round trip: %s", out)
	}

	var a mailbox.Account
	if err := json.Unmarshal([]byte(`{"ID":"x","Name":"n@x"}`), &a); err != nil {
		t.Fatal(err)
	}
	if a.ID != "x" || a.Name != "n@x" || len(a.Extra) != 0 {
		t.Errorf("Account with upper-case keys: %+v, want them read as id and name", a)
	}
}

func TestTolerantExtraCannotShadowKnown(t *testing.T) {
	// A caller-set mailbox.Extra key equal to a known key never overrides the field.
	s := mailbox.State{Start: 10, Type: mailbox.TypeMessage, FolderID: 2, Extra: mailbox.Extra{"folderId": json.RawMessage(`99`), "x": json.RawMessage(`1`)}}
	out, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back mailbox.State
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatal(err)
	}
	if back.FolderID != 2 || string(back.Extra["x"]) != "1" {
		t.Errorf("decoded %+v from %s", back, out)
	}
}

func TestTolerantWrongType(t *testing.T) {
	tests := []struct {
		typ, in, key string
	}{
		// State and Account read any dialect: a value they cannot read is
		// kept with a note (mailbox tests), never an error.
		{"AccountStat", `{"lastItemId":"abc"}`, "lastItemId"},
		{"BackupStat", `{"firstRunDate":true}`, "firstRunDate"},
		{"Record", `{"members":"a@example.com"}`, "members"},
		{"ServerConfig", `{"domains":{}}`, "domains"},
		{"ServerConfig", `{"domains":[{"name":1}]}`, "domains"},
		{"ServerConfig", `{"serverConfig":"x"}`, "serverConfig"},
		{"Map", `{"accounts":[]}`, "accounts"},
	}
	for _, tc := range tests {
		t.Run(tc.typ+" "+tc.key, func(t *testing.T) {
			err := json.Unmarshal([]byte(tc.in), tolerantTypes[tc.typ]())
			if err == nil {
				t.Fatalf("decoding %s succeeded, want an error", tc.in)
			}
			if !strings.Contains(err.Error(), `"`+tc.key+`"`) {
				t.Errorf("error %q does not name the key %q", err, tc.key)
			}
		})
	}
}

func TestTolerantNotAnObject(t *testing.T) {
	for typ, mk := range tolerantTypes {
		for _, in := range []string{`null`, `[]`, `"x"`, `5`, `{`, `{"a":}`} {
			t.Run(typ+" "+in, func(t *testing.T) {
				var err error
				if in == "null" {
					// json.Unmarshal handles a top-level null itself; call the
					// method as a containing array would.
					err = mk().(json.Unmarshaler).UnmarshalJSON([]byte(in))
				} else {
					err = json.Unmarshal([]byte(in), mk())
				}
				if err == nil {
					t.Fatalf("decoding %s into %s succeeded", in, typ)
				}
			})
		}
	}
}
