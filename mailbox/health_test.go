package mailbox

import (
	"fmt"
	"testing"

	"github.com/cbfs/cbfs/blob"
)

func TestWorseStatus(t *testing.T) {
	for _, c := range [][3]string{
		{"ok", "ok", "ok"}, {"ok", "broken", "broken"}, {"broken", "ok", "broken"},
		{"broken", "unreadable", "unreadable"}, {"unreadable", "broken", "unreadable"}, {"too large", "ok", "too large"},
	} {
		if got := WorseStatus(c[0], c[1]); got != c[2] {
			t.Errorf("WorseStatus(%q, %q) = %q, want %q", c[0], c[1], got, c[2])
		}
	}
}

func TestHealthyBefore(t *testing.T) {
	a, b, c := blob.Digest("a"), blob.Digest("b"), blob.Digest("c")
	msg := func(d blob.Digest, deleted bool) State { return State{Type: TypeMessage, Digest: d, Deleted: deleted} }
	it := &Item{States: []State{msg(a, false), msg(b, true), msg(c, false), msg(c, false), {Type: TypeMessage}}}
	bad := map[blob.Digest]bool{c: true}
	sound := func(s *State) bool { return !bad[s.Digest] }
	for _, tc := range []struct{ i, want int }{{3, 0}, {2, 0}, {0, -1}, {-1, -1}, {5, -1}} {
		if got := it.HealthyBefore(tc.i, sound); got != tc.want {
			t.Errorf("HealthyBefore(%d) = %d, want %d", tc.i, got, tc.want)
		}
	}
	bad[a] = true
	if got := it.HealthyBefore(3, sound); got != -1 {
		t.Errorf("no healthy state: got %d", got)
	}
}

func TestSalvage(t *testing.T) {
	e := func(kind error, reason string) error { return &blob.Error{Kind: kind, Reason: reason} }
	for _, c := range []struct {
		err error
		ok  bool
	}{
		{e(blob.ErrBroken, "truncated gzip stream"), true},
		{e(blob.ErrBroken, "digest mismatch"), true},
		{e(blob.ErrBroken, "size mismatch: more than 10 bytes inflated (state records 10)"), true},
		{e(blob.ErrBroken, "data after the gzip stream is not gzip"), true},
		{e(blob.ErrBroken, "not gzip data"), false},
		{e(blob.ErrBroken, "empty file"), false},
		{e(blob.ErrMissing, ""), false},
		{e(blob.ErrUnreadable, "symbolic link (not followed)"), false},
		{fmt.Errorf("wrapped: %w", e(blob.ErrBroken, "gzip checksum mismatch")), true},
		{nil, false},
	} {
		ok, what := Salvage(c.err)
		if ok != c.ok || what == "" || !ok && what[:5] != "none:" {
			t.Errorf("Salvage(%v) = %v, %q; want ok %v", c.err, ok, what, c.ok)
		}
	}
}

func TestContentHealth(t *testing.T) {
	a, c := blob.Digest("a"), blob.Digest("c")
	msg := func(d blob.Digest) State { return State{Type: TypeMessage, Digest: d, Size: 10} }
	it := &Item{ID: 7, States: []State{msg(a), msg(c), {Type: TypeFolder}}}
	broken := &blob.Error{Kind: blob.ErrBroken, Reason: "truncated gzip stream"}
	health := func(d blob.Digest, size int64) error {
		if d == c {
			return broken
		}
		return nil
	}
	path := func(d blob.Digest) string { return "/bp/items/" + string(d) }
	name := func(k int) string { return fmt.Sprint("state ", k) }

	ok := it.ContentHealth(0, health, path, name, "message.partial.eml")
	if ok != (ContentHealth{Status: "ok", Digest: a, BlobPath: "/bp/items/a"}) {
		t.Errorf("sound: %+v", ok)
	}
	bad := it.ContentHealth(1, health, path, name, "message.partial.eml")
	want := ContentHealth{Status: "broken", Error: broken.Error(), Reason: "truncated gzip stream", Digest: c, BlobPath: "/bp/items/c",
		HealthyState: "state 0", Salvage: "message.partial.eml: what inflated before the fault (truncated gzip stream)"}
	if bad != want {
		t.Errorf("broken:\n got %+v\nwant %+v", bad, want)
	}
	if h := it.ContentHealth(2, health, path, name, ""); h != (ContentHealth{Status: "ok"}) {
		t.Errorf("no content: %+v", h)
	}
	if h := it.ContentHealth(9, health, path, name, ""); h.Status != "ok" || h.Digest != "" {
		t.Errorf("out of range: %+v", h)
	}
	if got := SalvageNote("", broken); got != "what inflated before the fault (truncated gzip stream)" {
		t.Errorf("SalvageNote without a file: %q", got)
	}
	if got := BlobReason(&blob.Error{Kind: blob.ErrMissing}); got != "missing" {
		t.Errorf("BlobReason(missing) = %q", got)
	}
}
