package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// indexRoot reads meta:root out of buntdb's append-only log, the last set
// winning, and refuses what is not an index.
func TestIndexRoot(t *testing.T) {
	set := func(k, v string) string {
		return "*3\r\n$3\r\nset\r\n$" + itoa(len(k)) + "\r\n" + k + "\r\n$" + itoa(len(v)) + "\r\n" + v + "\r\n"
	}
	tests := []struct {
		name, file, want string
	}{
		{"one set", set("meta:schema", "7") + set("meta:root", "/srv/backup"), "/srv/backup"},
		{"the last wins", set("meta:root", "/a") + set("acct:x", strings.Repeat("v", 100000)) + set("meta:root", "/b b"), "/b b"},
		{"deleted keys and expiry", "*2\r\n$3\r\ndel\r\n$6\r\nitem:1\r\n" + "*5\r\n$3\r\nset\r\n$9\r\nmeta:root\r\n$2\r\n/c\r\n$2\r\nex\r\n$1\r\n9\r\n", "/c"},
		{"not an index", "hello\nworld\n", ""},
		{"empty", "", ""},
		{"cut short", set("meta:root", "/srv/backup")[:30], ""},
		{"a lying length", "*3\r\n$3\r\nset\r\n$9\r\nmeta:root\r\n$99999999\r\n/x\r\n", ""},
		{"a long line", strings.Repeat("x", 200000) + "\n" + set("meta:root", "/d"), "/d"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "x.db")
			if err := os.WriteFile(p, []byte(tt.file), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := indexRoot(p)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("got %q, want an error", got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func FuzzIndexRoot(f *testing.F) {
	f.Add([]byte("*3\r\n$3\r\nset\r\n$9\r\nmeta:root\r\n$2\r\n/a\r\n"))
	f.Add([]byte("*1\r\n$-1\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(t.TempDir(), "x.db")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if root, err := indexRoot(p); err == nil && len(root) > 4096 {
			t.Fatalf("a root of %d bytes", len(root))
		}
	})
}

func itoa(n int) string { return strconv.Itoa(n) }
