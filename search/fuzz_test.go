package search

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzParse: any query string is a query or ErrQuery, never a panic, and
// a query that parses runs on an index without error.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"invoice", `from:"john smith" -is:deleted`, "(a OR b) AND NOT c", "before:2024-01-01 after:01/01/2023",
		`"unclosed`, "((((", "-", "a:b:c", "folder:/Inbox/x has:attachment", "NOT NOT x", "ПРИВЕТ", "東京都庁 OR 서울", `"ｶﾞｲﾄﾞ windows版"`, "message-id:<x@y>", "on:2024-02-30"} {
		f.Add(s)
	}
	ix := fuzzIndex(f)
	f.Fuzz(func(t *testing.T, s string) {
		q, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrQuery) {
				t.Fatalf("Parse(%q): %v is not ErrQuery", s, err)
			}
			return
		}
		if _, _, err := ix.Search(q, SearchOptions{Limit: 3}); err != nil {
			t.Fatalf("Search(%q): %v", s, err)
		}
	})
}

func fuzzIndex(f *testing.F) *Index {
	f.Helper()
	p := writeCorpus(f)
	file := f.TempDir() + "/search.idx"
	if _, err := Build(f.Context(), p, file, Options{}); err != nil {
		f.Fatal(err)
	}
	ix, err := Open(file)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { ix.Close() })
	return ix
}

// FuzzExtract: any bytes as a message cost a bounded parse and never a
// panic.
func FuzzExtract(f *testing.F) {
	for _, m := range []string{msgInvoice, msgCafe, msgAgenda, msgTravel, msgKoi8, msgForwarded, msgForwardedB64, msgForwardedTwice, nested(20, "x"), wide(3, 2), "", "\x00\x01", "Content-Type: multipart/mixed; boundary=\"\"\r\n\r\n--\r\n"} {
		f.Add([]byte(m))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := extract(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("extract: %v (a bytes.Reader cannot fail)", err)
		}
		d.release()
	})
}

// FuzzWords: a query's words are found where the index put them: every
// (word, position) a query makes of a text is one the index makes of it,
// and the index's positions of a word only grow.
func FuzzWords(f *testing.F) {
	for _, s := range []string{"東京都庁で会議", "Windows版のＡＢＣ", "ｶﾞｲﾄﾞ・ガイド", "서울에서 회의가", "a 雨 b", "Zürich\u3099カ\u3099", "x\uff9e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		type tok struct {
			w string
			p uint32
		}
		index := map[tok]bool{}
		last := map[string]uint32{}
		n := words(s, false, func(w []byte, p uint32) {
			if l, ok := last[string(w)]; ok && p < l {
				t.Fatalf("%q: %q at %d after %d", s, w, p, l)
			}
			last[string(w)] = p
			index[tok{string(w), p}] = true
		})
		m := words(s, true, func(w []byte, p uint32) {
			if !index[tok{string(w), p}] {
				t.Fatalf("%q: the query's %q at %d is not indexed", s, w, p)
			}
		})
		if n != m {
			t.Fatalf("%q: %d positions indexed, %d in a query", s, n, m)
		}
	})
}
