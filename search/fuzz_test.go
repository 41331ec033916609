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
		`"unclosed`, "((((", "-", "a:b:c", "folder:/Inbox/x has:attachment", "NOT NOT x", "ПРИВЕТ", "message-id:<x@y>", "on:2024-02-30"} {
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
