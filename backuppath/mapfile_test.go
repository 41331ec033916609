package backuppath

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/cbfs/cbfs/blob"
)

const (
	oldA = "0a9b8c7d-1111-4222-8333-444455556666"
	newA = "3b3c1a52-0d7a-4b54-9c0c-5a2bd2f4e0c1"
	oldB = "0a9b8c7d-1111-4222-8333-777788889999"
	newB = "7f0e2c8a-1111-4a4a-8b8b-000000000002"
)

func TestParseMapEncodings(t *testing.T) {
	want := map[string]string{oldA: newA, oldB: newB}
	tests := []struct {
		name, content string
		server        string // expected ServerID ("" = from the name)
	}{
		{"cbfs JSON", `{"serverId": "srv-x", "date": 1714824000000, "accounts": {"` + oldA + `": "` + newA + `", "` + oldB + `": "` + newB + `"}}`, "srv-x"},
		{"plain object", `{"` + oldA + `": "` + newA + `", "` + oldB + `": "` + newB + `"}`, ""},
		{"plain object with serverId", `{"serverId": "srv-y", "` + oldA + `": "` + newA + `", "` + oldB + `": "` + newB + `"}`, "srv-y"},
		{"array of pairs", `[["` + oldA + `", "` + newA + `"], ["` + oldB + `", "` + newB + `"]]`, ""},
		{"array of old/new objects", `[{"old": "` + oldA + `", "new": "` + newA + `"}, {"old": "` + oldB + `", "new": "` + newB + `"}]`, ""},
		{"array of source/destination objects", `[{"sourceAccountId": "` + oldA + `", "destinationAccountId": "` + newA + `", "name": "a@x"}, {"from": "` + oldB + `", "to": "` + newB + `"}]`, ""},
		{"pairs under mapping", `{"mapping": [["` + oldA + `", "` + newA + `"], ["` + oldB + `", "` + newB + `"]]}`, ""},
		{"space lines", oldA + " " + newA + "\n" + oldB + "   " + newB + "\n", ""},
		{"tab lines, CRLF", oldA + "\t" + newA + "\r\n" + oldB + "\t" + newB + "\r\n", ""},
		{"= lines", oldA + "=" + newA + "\n" + oldB + " = " + newB, ""},
		{": lines", oldA + ":" + newA + "\n" + oldB + ": " + newB + "\n", ""},
		{", lines", oldA + "," + newA + "\n" + oldB + ", " + newB + "\n", ""},
		{"comments and blanks", "# written by a restore\n\n" + oldA + " " + newA + "\n   \n  # another\n" + oldB + " " + newB + "\n", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ParseMap("/bp/map_srv-file", []byte(tc.content))
			if err != nil {
				t.Fatalf("ParseMap: %v", err)
			}
			if !reflect.DeepEqual(m.Accounts, want) {
				t.Errorf("Accounts = %v, want %v", m.Accounts, want)
			}
			server := tc.server
			if server == "" {
				server = "srv-file"
			}
			if m.ServerID != server {
				t.Errorf("ServerID = %q, want %q", m.ServerID, server)
			}
		})
	}
}

func TestParseMapErrors(t *testing.T) {
	tests := []struct {
		name, content string
		line          int
		say           string
	}{
		{"three fields", oldA + " " + newA + "\nx y z\n", 2, `"x y z"`},
		{"one field", "# c\n" + oldA + "\n", 2, "OLD NEW"},
		{"bad JSON", "{\n\"a\": \"b\",\n\"c\" \"d\"}", 3, "not valid JSON"},
		{"pair of three", `[["a", "b"],` + "\n" + `["a", "b", "c"]]`, 2, "want a pair"},
		{"object without sides", `[{"x": "a", "y": "b"}]`, 1, "want a pair"},
		{"object with one side", `[{"old": "a", "name": "b"}]`, 1, "want a pair"},
		{"value not scalar", `{"a": {"b": "c"}}`, 1, "not a string or number"},
		{"empty id", `{"a": ""}`, 1, "empty account id"},
		{"binary", "\x00\x01\x02 \x03 \x04\n", 1, "OLD NEW"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ParseMap("/bp/map_srv", []byte(tc.content))
			if err == nil {
				t.Fatalf("ParseMap = %+v, want an error", m)
			}
			wantLine := "/bp/map_srv line " + itoa(tc.line) + ":"
			if !errors.Is(err, blob.ErrBroken) || !strings.Contains(err.Error(), wantLine) || !strings.Contains(err.Error(), tc.say) {
				t.Errorf("error %q: want ErrBroken naming %q and saying %q", err, wantLine, tc.say)
			}
		})
	}
	t.Run("deep nesting is refused before parsing", func(t *testing.T) {
		_, err := ParseMap("map_x", []byte(strings.Repeat("[", 1_000_000)))
		if !errors.Is(err, blob.ErrBroken) {
			t.Errorf("err = %v", err)
		}
	})
}

func TestParseIDMapEncodings(t *testing.T) {
	want := map[int]int{258: 1001, 300: 1003}
	for _, content := range []string{
		"258 1001\n300 1003\n",
		"258=1001\n# c\n300:1003",
		"258,1001\n\n300\t1003\n",
		`{"258": 1001, "300": "1003"}`,
		`[[258, 1001], [300, 1003]]`,
		`[{"originalId": 258, "restoredId": 1001}, {"old": "300", "new": 1003}]`,
	} {
		m, err := ParseIDMap("id_mapper.log", []byte(content))
		if err != nil || !reflect.DeepEqual(m, want) {
			t.Errorf("ParseIDMap(%q) = %v, %v; want %v", content, m, err, want)
		}
	}
	if _, err := ParseIDMap("id_mapper.log", []byte(`{"258": "x"}`)); !errors.Is(err, blob.ErrBroken) || !strings.Contains(err.Error(), "line 1:") {
		t.Errorf("ParseIDMap of a non-number: %v", err)
	}
}

func TestReadMapAndIDMapFiles(t *testing.T) {
	p := openTestPath(t)
	writeRaw(t, p, MapPrefix+"srv-t", "# text map\n"+oldA+" "+newA+"\n")
	m, err := p.ReadMap("srv-t")
	if err != nil || m.ServerID != "srv-t" || m.Accounts[oldA] != newA {
		t.Errorf("ReadMap of a text map = %+v, %v", m, err)
	}
	writeRaw(t, p, MapPrefix+"srv-bad", "ok ok\nnot ok at all\n")
	if _, err := p.ReadMap("srv-bad"); !errors.Is(err, blob.ErrBroken) ||
		!strings.Contains(err.Error(), filepath.Join(p.Root, MapPrefix+"srv-bad")+" line 2:") {
		t.Errorf("ReadMap of a bad map: %v", err)
	}
	// id_mapper (the wiki's spelling) when id_mapper.log is absent.
	writeRaw(t, p, filepath.Join(AccountsDir, acctID, IDMapperAlt), "[[258, 1001]]")
	if m, err := p.ReadIDMap(acctID); err != nil || m[258] != 1001 {
		t.Errorf("ReadIDMap from id_mapper = %v, %v", m, err)
	}
	writeRaw(t, p, filepath.Join(AccountsDir, acctID, IDMapperFile), "258 2002\n")
	if m, err := p.ReadIDMap(acctID); err != nil || m[258] != 2002 {
		t.Errorf("ReadIDMap: id_mapper.log must win: %v, %v", m, err)
	}
}
