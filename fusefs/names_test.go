package fusefs

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/index"
	"github.com/cbfs/cbfs/mailbox"
)

func TestStateDirNames(t *testing.T) {
	at := func(s string) index.State {
		tm, err := time.Parse(time.RFC3339Nano, s)
		require.NoError(t, err)
		return index.State{Start: mailbox.MillisOf(tm)}
	}
	tests := []struct {
		name   string
		states []index.State
		want   []string
	}{
		{"distinct seconds", []index.State{at("2024-03-05T10:20:30Z"), at("2024-03-05T10:20:31.5Z")},
			[]string{"2024-03-05T10:20:30Z", "2024-03-05T10:20:31Z"}},
		{"zone converted to UTC", []index.State{at("2024-03-05T11:20:30+01:00")},
			[]string{"2024-03-05T10:20:30Z"}},
		{"same second: milliseconds", []index.State{at("2024-03-05T10:20:30.100Z"), at("2024-03-05T10:20:30.200Z"), at("2024-03-05T10:20:31Z")},
			[]string{"2024-03-05T10:20:30.100Z", "2024-03-05T10:20:30.200Z", "2024-03-05T10:20:31Z"}},
		{"same millisecond: counter", []index.State{at("2024-03-05T10:20:30.100Z"), at("2024-03-05T10:20:30.100Z")},
			[]string{"2024-03-05T10:20:30.100Z", "2024-03-05T10:20:30.100Z~2"}},
		{"none", nil, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mailbox.StateDirNames(tt.states)
			assert.Equal(t, tt.want, got)
			seen := map[string]bool{}
			for _, n := range got {
				assert.False(t, seen[n], "duplicate name %q", n)
				seen[n] = true
			}
		})
	}
}

func TestParseAt(t *testing.T) {
	utc := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339Nano, s)
		require.NoError(t, err)
		return tm.UTC()
	}
	tests := []struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		{"2024-03-05", utc("2024-03-05T23:59:59.999Z"), false},
		{"2024-03-05T10:20", utc("2024-03-05T10:20:00Z"), false},
		{"2024-03-05T10:20:30", utc("2024-03-05T10:20:30Z"), false},
		{"2024-03-05T10:20:30Z", utc("2024-03-05T10:20:30Z"), false},
		{"2024-03-05T10:20:30.123", utc("2024-03-05T10:20:30.123Z"), false},
		{"2024-03-05T10:20:30+02:00", utc("2024-03-05T08:20:30Z"), false},
		{"2024-03-05T10:20+02:00", utc("2024-03-05T08:20:00Z"), false},
		{"2024-03-05 10:20:30", utc("2024-03-05T10:20:30Z"), false},
		{"05/03/2024", time.Time{}, true},
		{"2024-13-01", time.Time{}, true},
		{"yesterday", time.Time{}, true},
		{"", time.Time{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseAt(tt.in)
			if tt.wantErr {
				require.Error(t, err)
				assert.Contains(t, err.Error(), "ISO 8601")
				return
			}
			require.NoError(t, err)
			assert.True(t, tt.want.Equal(got), "got %s want %s", got, tt.want)
		})
	}
}

func TestItemFileNames(t *testing.T) {
	tests := []struct {
		id   int
		typ  mailbox.ItemType
		name string
		cont string
	}{
		{42, mailbox.TypeMessage, "42.eml", "message.eml"},
		{7, mailbox.TypeContact, "7.vcf", "contact.vcf"},
		{9, mailbox.TypeAppointment, "9.ics", "appointment.ics"},
		{10, mailbox.TypeTask, "10.ics", "task.ics"},
		{11, mailbox.TypeDocument, "11.bin", "document.bin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.name, itemFileName(tt.id, tt.typ))
			id, _, ok := parseItemFileName(tt.name)
			require.True(t, ok)
			assert.Equal(t, tt.id, id)
			assert.Equal(t, tt.cont, contentName(tt.typ))
		})
	}
	assert.Equal(t, "message.partial.eml", partialName("message.eml"))
	for _, bad := range []string{"042.eml", "-1.eml", "x.eml", "12", "12.", ".eml", "+1.eml"} {
		_, _, ok := parseItemFileName(bad)
		assert.False(t, ok, bad)
	}
	for _, bad := range []string{"042", "-1", "", "1e3", " 1"} {
		_, ok := mailbox.ParseItemID(bad)
		assert.False(t, ok, bad)
	}
}

func TestFolderTree(t *testing.T) {
	folders := []index.Folder{
		{ID: 1, ParentID: 0, Name: ""},
		{ID: 2, ParentID: 1, Name: "Inbox"},
		{ID: 5, ParentID: 1, Name: "Sent"},
		{ID: 300, ParentID: 2, Name: "Projects"},
		{ID: 301, ParentID: 300, Name: "2024"},
		{ID: 302, ParentID: 2, Name: "a/b"},    // slash in a name
		{ID: 303, ParentID: 2, Name: ".."},     // unusable name
		{ID: 304, ParentID: 2, Name: "Dup"},    // duplicate names:
		{ID: 305, ParentID: 2, Name: "Dup"},    //   the lower id keeps it
		{ID: 306, ParentID: 999, Name: "Lost"}, // unknown parent -> root
		{ID: 307, ParentID: 308, Name: "CycleA"},
		{ID: 308, ParentID: 307, Name: "CycleB"},
	}
	named := mailbox.FolderTree(folders) // what index.Folders hands the mount
	root, byID := folderTree(named)
	paths := map[string]int{}
	var walk func(n *folderNode, prefix string)
	walk = func(n *folderNode, prefix string) {
		for i, c := range n.children {
			if i > 0 {
				assert.Less(t, n.children[i-1].name, c.name, "children sorted")
			}
			p := joinPath(prefix, c.name)
			_, dup := paths[p]
			assert.False(t, dup, "path %q twice", p)
			paths[p] = c.id
			walk(c, p)
		}
	}
	walk(root, "")
	// The mount shows mailbox.FolderTree's names and paths, nothing else.
	want := map[string]int{}
	for _, f := range named {
		if f.ID != mailbox.FolderRoot {
			want[f.Path] = f.ID
		}
	}
	assert.Equal(t, want, paths)
	for p, id := range map[string]int{
		"Inbox": 2, "Sent": 5, "Inbox/Projects": 300, "Inbox/Projects/2024": 301,
		"Inbox/a_b": 302, "Inbox/303": 303, "Inbox/Dup": 304, "Inbox/Dup (305)": 305,
		"Lost (306)": 306, "CycleA (307)": 307, "CycleA (307)/CycleB": 308,
	} {
		assert.Equal(t, id, paths[p], p)
	}
	assert.Len(t, byID, len(named))
	assert.Equal(t, 1, root.id)

	t.Run("no root folder item", func(t *testing.T) {
		root, _ := folderTree([]index.Folder{{ID: 2, ParentID: 1, Name: "Inbox", Path: "Inbox"}})
		require.Len(t, root.children, 1)
		assert.Equal(t, "Inbox", root.children[0].name)
	})
}

func TestAccountNames(t *testing.T) {
	accts := []index.Account{
		{Seq: 1, Account: mailbox.Account{ID: "b", Name: "john@example.com", Status: mailbox.StatusDeleted}},
		{Seq: 2, Account: mailbox.Account{ID: "c", Name: "john@example.com", Status: mailbox.StatusActive}},
		{Seq: 3, Account: mailbox.Account{ID: "a", Name: "anna@example.com", Status: mailbox.StatusActive}},
		{Seq: 4, Account: mailbox.Account{ID: "d-unreadable", Name: "d-unreadable"}, Err: "no account_info"},
	}
	names, byName := accountNames(accts)
	assert.Equal(t, []string{"anna@example.com", "d-unreadable", "john@example.com", "john@example.com (b)"}, names)
	assert.Equal(t, "c", byName["john@example.com"].ID, "the active account keeps the plain name")
	assert.Equal(t, "b", byName["john@example.com (b)"].ID)
}
