package mailbox

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestListingNamesCollide: names that SafeName makes equal, unusable names
// and names equal to another account's id or "name (id)" each get their
// own listing name; a name that needed no change keeps it; every listing
// name resolves (Resolve) to its own account; and the result does not
// depend on the order of the accounts.
func TestListingNamesCollide(t *testing.T) {
	accts := []Account{
		{ID: "id-1", Name: "a/b@x", Status: StatusActive},
		{ID: "id-2", Name: "a_b@x", Status: StatusActive},
		{ID: "id-3", Name: "A\x00_b@x", Status: StatusActive}, // "A_b@x": a_b@x in another case
		{ID: "id-4", Name: ".", Status: StatusActive},
		{ID: "id-5", Name: "..", Status: StatusActive},
		{ID: "id-6", Name: "", Status: StatusActive},
		{ID: "id-7", Name: "id-4", Status: StatusActive},                  // named like another's id
		{ID: "id-8", Name: "c@x", Status: StatusActive},                   // c@x, and
		{ID: "id-9", Name: "c@x", Status: StatusDeleted},                  // "c@x (id-9)"
		{ID: "id-10", Name: "c@x (id-9)", Status: StatusActive},           // really named so
		{ID: "id-11", Name: "a_b@x (id-1)", Status: StatusActive},         // the first suffix's name
		{ID: "id-12", Name: "plain@x", Status: StatusActive},              // no collision
		{ID: "id-13", Name: "sl/ash@x", Status: StatusActive},             // changed, no collision
		{ID: "id-14", Name: strings.Repeat("/", 3), Status: StatusActive}, // "___"
	}
	names := ListingNames(accts)
	want := map[string]string{
		"id-1":  "a_b@x (id-1) (id-1)",
		"id-2":  "a_b@x",
		"id-3":  "A_b@x (id-3)",
		"id-4":  "id-4",
		"id-5":  "id-5",
		"id-6":  "id-6",
		"id-7":  "id-4 (id-7)",
		"id-8":  "c@x",
		"id-9":  "c@x (id-9) (id-9)",
		"id-10": "c@x (id-9)",
		"id-11": "a_b@x (id-1)",
		"id-12": "plain@x",
		"id-13": "sl_ash@x",
		"id-14": "___",
	}
	seen := map[string]string{}
	for i, a := range accts {
		n := names[i]
		assert.Equal(t, want[a.ID], n, "account %s (%q)", a.ID, a.Name)
		assert.NotContains(t, n, "/")
		assert.NotContains(t, n, "\x00")
		assert.NotContains(t, []string{"", ".", ".."}, n)
		prev, dup := seen[strings.ToLower(n)]
		assert.False(t, dup, "%q listed for %s and %s", n, prev, a.ID)
		seen[strings.ToLower(n)] = a.ID
		// What the mount lists resolves to that account (cbctl).
		if r := Resolve(accts, n); assert.NotNil(t, r, n) {
			assert.Equal(t, a.ID, r.ID, "Resolve(%q)", n)
		}
	}

	// Deterministic: the same names whatever the order.
	r := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		shuffled := append([]Account(nil), accts...)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		for i, n := range ListingNames(shuffled) {
			require.Equal(t, want[shuffled[i].ID], n)
		}
	}

	// Without collisions, the names of before: the name, or "name (id)".
	plain := []Account{{ID: "p1", Name: "x@y", Status: StatusActive}, {ID: "p2", Name: "x@y", Status: StatusDeleted}, {ID: "p3", Name: "z@y"}}
	assert.Equal(t, []string{"x@y", "x@y (p2)", "z@y"}, ListingNames(plain))
}

// TestFolderTreeCollide: sibling folder names that SafeName makes equal
// ("a/b" and "a_b", "." and a folder named like its id) are all shown,
// the name that needed no change keeping it whatever the ids.
func TestFolderTreeCollide(t *testing.T) {
	found := []Folder{
		{ID: 300, ParentID: 2, Name: "a/b"}, // lower id, but changed
		{ID: 301, ParentID: 2, Name: "a_b"},
		{ID: 302, ParentID: 2, Name: "."},   // shown as "302"...
		{ID: 303, ParentID: 2, Name: "302"}, // ...which this one is named
		{ID: 304, ParentID: 2, Name: ".."},
		{ID: 305, ParentID: 2, Name: "dup"},
		{ID: 306, ParentID: 2, Name: "dup"},
		{ID: 307, ParentID: 2, Name: "a_b (300)"}, // the suffix's name, really
		{ID: 308, ParentID: 999, Name: "Inbox"},   // lost: "Inbox (308)" at the root
		{ID: 309, ParentID: 1, Name: "Inbox (308)"},
	}
	got := map[int]string{}
	seen := map[string]bool{}
	for _, f := range FolderTree(found) {
		got[f.ID] = f.Path
		require.False(t, seen[f.Path], "path %q twice", f.Path)
		seen[f.Path] = true
	}
	assert.Equal(t, map[int]string{
		300: "Inbox/a_b (300) (300)", 301: "Inbox/a_b", 302: "Inbox/302 (302)", 303: "Inbox/302",
		304: "Inbox/304", 305: "Inbox/dup", 306: "Inbox/dup (306)", 307: "Inbox/a_b (300)",
		308: "Inbox (308) (308)", 309: "Inbox (308)",
	}, func() map[int]string {
		m := map[int]string{}
		for id := range got {
			if id >= 300 {
				m[id] = got[id]
			}
		}
		return m
	}())
}

// benchFolders is an account's folder tree of n folders (some sharing a
// name), deterministic.
func benchFolders(n int) []Folder {
	r := rand.New(rand.NewPCG(3, 4))
	out := make([]Folder, 0, n)
	for i := range n {
		id := 300 + i
		parent := 2
		if i > 0 && r.IntN(3) > 0 {
			parent = 300 + r.IntN(i)
		}
		out = append(out, Folder{ID: id, ParentID: parent, Name: "folder " + strconv.Itoa(r.IntN(n/2))})
	}
	return out
}

func BenchmarkFolderTree(b *testing.B) {
	found := benchFolders(2000)
	b.ReportAllocs()
	for b.Loop() {
		FolderTree(found)
	}
}

func BenchmarkListingNames(b *testing.B) {
	accts := make([]Account, 10000)
	for i := range accts {
		accts[i] = Account{ID: "id-" + strconv.Itoa(i), Name: "user" + strconv.Itoa(i/2) + "@example.com", Status: StatusActive, Created: Millis(i)}
	}
	b.ReportAllocs()
	for b.Loop() {
		ListingNames(accts)
	}
}
