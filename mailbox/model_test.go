package mailbox

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cbfs/cbfs/blob"
)

// ms is a test date: 2024-05-DD HH:00 UTC in milliseconds.
func ms(day, hour int) Millis {
	return MillisOf(time.Date(2024, 5, day, hour, 0, 0, 0, time.UTC))
}

func TestParseItem(t *testing.T) {
	tests := []struct {
		name       string
		in         string
		wantStarts []Millis
		wantFolder []int // folder of each state, to check a stable sort
		wantErr    string
	}{
		{
			name:       "one state",
			in:         `[{"startDate":1373639744000,"type":5,"folderId":2,"deleted":false}]`,
			wantStarts: []Millis{1373639744000},
			wantFolder: []int{2},
		},
		{
			name: "sorted by start",
			in: `[{"startDate":3000,"type":5,"folderId":3,"deleted":true},
			      {"startDate":1000,"type":5,"folderId":2,"deleted":false},
			      {"startDate":2000,"type":5,"folderId":5,"deleted":false}]`,
			wantStarts: []Millis{1000, 2000, 3000},
			wantFolder: []int{2, 5, 3},
		},
		{
			name:       "equal starts keep file order",
			in:         `[{"startDate":2000,"folderId":7},{"startDate":1000,"folderId":1},{"startDate":2000,"folderId":8},{"startDate":2000,"folderId":9}]`,
			wantStarts: []Millis{1000, 2000, 2000, 2000},
			wantFolder: []int{1, 7, 8, 9},
		},
		{
			name:       "RFC 3339 and string dates",
			in:         `[{"startDate":"1970-01-01T00:00:02Z","folderId":2},{"startDate":"1000","folderId":1}]`,
			wantStarts: []Millis{1000, 2000},
			wantFolder: []int{1, 2},
		},
		{name: "empty array", in: `[]`, wantErr: "holds no state"},
		{name: "null", in: `null`, wantErr: "holds no state"},
		{name: "one state object", in: `{"startDate":1}`, wantStarts: []Millis{1}, wantFolder: []int{0}},
		{name: "number", in: `5`, wantErr: "malformed item file"},
		{name: "empty file", in: ``, wantErr: "malformed item file"},
		{name: "truncated", in: `[{"startDate":1000,"type":5`, wantErr: "malformed item file"},
		{name: "null state", in: `[null]`, wantErr: "malformed item file"},
		{name: "state not an object", in: `[1,2]`, wantErr: "malformed item file"},
		// A value that cannot be read loses that concept only (kept in Extra).
		{name: "wrong key type", in: `[{"startDate":1000,"folderId":"Inbox"}]`, wantStarts: []Millis{1000}, wantFolder: []int{0}},
		{name: "absurd nesting", in: strings.Repeat("[", 1<<20), wantErr: "nested too deeply"},
		{name: "trailing garbage", in: `[{"startDate":1}] x`, wantErr: "malformed item file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			it, err := Default.ParseItem(42, []byte(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "item 42") {
					t.Fatalf("ParseItem = %v, %v; want an error about item 42 containing %q", it, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseItem: %v", err)
			}
			if it.ID != 42 {
				t.Errorf("ID = %d, want 42", it.ID)
			}
			var starts []Millis
			var folders []int
			for _, s := range it.States {
				starts = append(starts, s.Start)
				folders = append(folders, s.FolderID)
			}
			if !reflect.DeepEqual(starts, tc.wantStarts) || !reflect.DeepEqual(folders, tc.wantFolder) {
				t.Errorf("starts %v folders %v, want %v %v", starts, folders, tc.wantStarts, tc.wantFolder)
			}
		})
	}
}

func TestItemStateAt(t *testing.T) {
	it := &Item{ID: 7, States: []State{
		{Start: ms(1, 10), FolderID: FolderInbox},
		{Start: ms(3, 10), FolderID: FolderTrash},
		{Start: ms(5, 10), FolderID: FolderTrash, Deleted: true},
	}}
	at := func(day, hour, min int) time.Time { return time.Date(2024, 5, day, hour, min, 0, 0, time.UTC) }
	tests := []struct {
		name string
		t    time.Time
		want int // index into it.States, -1 = nil
	}{
		{"before the first", at(1, 9, 59), -1},
		{"zero time", time.Time{}, -1},
		{"exactly the first start", at(1, 10, 0), 0},
		{"between first and second", at(2, 0, 0), 0},
		{"one ms before the second", ms(3, 10).Time().Add(-time.Millisecond), 0},
		{"exactly the second start", at(3, 10, 0), 1},
		{"exactly the last start", at(5, 10, 0), 2},
		{"long after", at(30, 0, 0), 2},
		{"same instant in another zone", at(3, 10, 0).In(time.FixedZone("CEST", 7200)), 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := it.StateAt(tc.t)
			if tc.want < 0 {
				if got != nil {
					t.Fatalf("StateAt(%v) = %+v, want nil", tc.t, got)
				}
				return
			}
			if got != &it.States[tc.want] {
				t.Fatalf("StateAt(%v) = %+v, want state %d", tc.t, got, tc.want)
			}
		})
	}
	if got := it.Latest(); got != &it.States[2] {
		t.Errorf("Latest = %+v, want the last state", got)
	}
	empty := &Item{ID: 1}
	if empty.Latest() != nil || empty.StateAt(at(1, 1, 1)) != nil {
		t.Errorf("an item without states has a latest state")
	}
}

func TestItemEncodeParse(t *testing.T) {
	digest := blob.Sum([]byte("Subject: hi\r\n\r\nhello\r\n"))
	tests := []struct {
		name string
		it   Item
		want func(Item) Item // what a reader makes of it (nil: the same)
	}{
		{name: "one minimal state", it: Item{ID: 1, States: []State{{Start: 1, Type: TypeMessage, FolderID: 2}}}},
		{name: "every field", it: Item{ID: 258, States: []State{{
			Start: ms(1, 8), Type: TypeMessage, FolderID: FolderInbox, Flags: "ua", Tags: []string{"work", "$Label1"},
			Digest: digest, Size: 22, Date: ms(1, 7), Subject: "Q2 <report> & \"notes\"", From: "Ann <ann@example.com>",
			To: "john@example.com", IMAPUID: 4021,
		}}}},
		{name: "history with extra keys", it: Item{ID: 300, States: []State{
			{Start: ms(1, 8), Type: TypeMessage, FolderID: FolderDrafts, Flags: "d", Digest: digest, Size: 22,
				Extra: Extra{"revision": json.RawMessage(`3`), "meta": json.RawMessage(`{"k":["v"]}`)}},
			{Start: ms(2, 8), Type: TypeMessage, FolderID: FolderSent, Flags: "s", Digest: digest, Size: 22},
			{Start: ms(3, 8), Type: TypeMessage, FolderID: FolderSent, Flags: "s", Deleted: true},
		}}, want: func(it Item) Item {
			// The deletion names no blob: it keeps the content of the state before it.
			st := append([]State(nil), it.States...)
			st[2].Digest, st[2].Size, st[2].Inherited = digest, 22, Bit(CDigest)|Bit(CSize)
			it.States = st
			return it
		}},
		{name: "folder item", it: Item{ID: 257, States: []State{{Start: ms(1, 1), Type: TypeFolder, FolderID: FolderInbox, ParentID: FolderInbox, Name: "Projects/2024 ü"}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := tc.it.Encode()
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
			if lines[0] != "[" || lines[len(lines)-1] != "]" || len(lines) != len(tc.it.States)+2 {
				t.Errorf("Encode is not one state per line:\n%s", b)
			}
			got, err := Default.ParseItem(tc.it.ID, b)
			if err != nil {
				t.Fatalf("Default.ParseItem(Encode()): %v\n%s", err, b)
			}
			want := tc.it
			if tc.want != nil {
				want = tc.want(tc.it)
			}
			if !reflect.DeepEqual(*got, want) {
				t.Errorf("round trip:\n got %+v\nwant %+v", *got, want)
			}
			b2, err := got.Encode()
			if err != nil || !bytes.Equal(b, b2) {
				t.Errorf("second encoding differs (%v):\n%s\n%s", err, b, b2)
			}
		})
	}
}

func TestAccountDomain(t *testing.T) {
	for name, want := range map[string]string{"john@example.com": "example.com", "admin": "", "a@b@c": "b@c"} {
		a := Account{Name: name}
		if got := a.Domain(); got != want {
			t.Errorf("Domain of %q = %q, want %q", name, got, want)
		}
	}
}

func TestParseItemID(t *testing.T) {
	for name, want := range map[string]int{"0": 0, "7": 7, "2147483647": MaxItemID} {
		id, ok := ParseItemID(name)
		if !ok || id != want {
			t.Errorf("ParseItemID(%q) = %d, %v; want %d", name, id, ok, want)
		}
		if r := NotItemIDReason(name); r != "" {
			t.Errorf("NotItemIDReason(%q) = %q", name, r)
		}
	}
	for name, reason := range map[string]string{
		"2147483648": "id out of range", "9223372036854775807": "id out of range",
		"99999999999999999999999": "id out of range", "": "name is not an item id", "007": "name is not an item id",
		"-1": "name is not an item id", "+1": "name is not an item id", "1a": "name is not an item id",
		".cbfs-tmp-1": "name is not an item id",
	} {
		if _, ok := ParseItemID(name); ok {
			t.Errorf("ParseItemID(%q) accepted", name)
		}
		if r := NotItemIDReason(name); r != reason {
			t.Errorf("NotItemIDReason(%q) = %q, want %q", name, r, reason)
		}
	}
}
