package backuppath

import (
	"encoding/json"
	"reflect"
	"testing"
)

// refState decodes a state the slow, obviously faithful way: encoding/json
// through decodeTolerant. The hand-written decoder must agree with it.
type refState State

func (s *refState) UnmarshalJSON(b []byte) error {
	var v stateJSON
	extra, err := decodeTolerant(b, &v)
	if err != nil {
		return err
	}
	*s = refState(v)
	s.Extra = extra
	return nil
}

func decodeBoth(t *testing.T, b []byte) {
	t.Helper()
	var ref []refState
	refErr := json.Unmarshal(b, &ref)
	got, gotErr := parseStates(b)
	if (refErr == nil) != (gotErr == nil) {
		t.Fatalf("input %q: reference error %v, fast error %v", b, refErr, gotErr)
	}
	if refErr != nil {
		return
	}
	want := make([]State, len(ref))
	for i := range ref {
		want[i] = State(ref[i])
	}
	if len(want) == 0 && len(got) == 0 {
		return
	}
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("input %q:\nreference %#v\nfast      %#v", b, want, got)
	}
}

var stateDecodeSeeds = []string{
	`[{"startDate":1373639744000,"type":5,"folderId":2,"flags":"uf","tags":["a","b"],"deleted":false,"digest":"c0,gUlvzQfE21z6YRXJnNkKL85PrRHw0KMQUqo,pMmQ=","size":120,"date":1373639743000,"subject":"Hi","from":"a@b","to":"c@d","name":"n","parentId":1,"imapUid":7}]`,
	`[{"startDate":"2024-01-02T03:04:05Z","type":"message","x-new":{"k":[1,2]},"deleted":true}]`,
	`[{"startDate":"17","tags":[],"subject":"caf\u00e9 \"q\"","from":"\xff\xfe"}]`,
	`[{"folderId":2.5}]`, `[{"folderId":"2"}]`, `[{"deleted":"true"}]`, `[{"tags":"a"}]`,
	`[{"tags":[1]}]`, `[{"size":-1,"imapUid":-1}]`, `[{"imapUid":4294967296}]`, `[null]`, `[1]`,
	`null`, `[]`, `{}`, `[{"startDate":1e3}]`, `[{"startDate":1e30}]`, `[{"type":null,"digest":null,"size":null}]`,
	`[{"StartDate":5,"startDate":6,"startDate":7}]`, `[{"sub\u006aect":"escaped key"}]`, `[{"a":1}, {"b":2}]`,
	`[{"startDate":1}`, `[{"startDate":1}] x`, ` [ { } ] `,
}

func TestStateDecodeMatchesReflect(t *testing.T) {
	for _, s := range stateDecodeSeeds {
		decodeBoth(t, []byte(s))
	}
}

func FuzzStateDecode(f *testing.F) {
	for _, s := range stateDecodeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) { decodeBoth(t, b) })
}

func BenchmarkParseItem(b *testing.B) {
	data := []byte(`[
{"date":1700000000000,"deleted":false,"digest":"c0,gUlvzQfE21z6YRXJnNkKL85PrRHw0KMQUqo,pMmQ=","flags":"u","folderId":2,"from":"Alice Example <alice@example.com>","size":18342,"startDate":1700000001000,"subject":"Quarterly report draft","to":"bob@example.com","type":5},
{"date":1700000000000,"deleted":false,"digest":"c0,gUlvzQfE21z6YRXJnNkKL85PrRHw0KMQUqo,pMmQ=","flags":"","folderId":257,"from":"Alice Example <alice@example.com>","size":18342,"startDate":1700090001000,"subject":"Quarterly report draft","to":"bob@example.com","type":5}
]`)
	b.Run("fast", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ParseItem(1, data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("reflect", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			var ref []refState
			if err := json.Unmarshal(data, &ref); err != nil {
				b.Fatal(err)
			}
		}
	})
}
