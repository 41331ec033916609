package mailbox

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cbfs/cbfs/internal/grammar"
)

func TestChanges(t *testing.T) {
	msg := func(id int, states ...State) *Item {
		for i := range states {
			states[i].Type = TypeMessage
		}
		return NewItem(id, states)
	}
	fold := func(id int, states ...State) *Item {
		for i := range states {
			states[i].Type = TypeFolder
		}
		return NewItem(id, states)
	}
	s := func(day, folder int, flags string) State {
		return State{Start: ms(day, 10), FolderID: folder, Flags: flags, Subject: "s"}
	}
	del := func(day, folder int) State {
		return State{Start: ms(day, 10), FolderID: folder, Deleted: true}
	}
	fs := func(day, parent int, name string) State {
		return State{Start: ms(day, 10), FolderID: parent, ParentID: parent, Name: name}
	}
	from, to := ms(5, 0).Time(), ms(10, 0).Time()
	tests := []struct {
		name  string
		items []*Item
		want  []Change
	}{
		{"nothing", []*Item{msg(300, s(1, FolderInbox, ""))}, []Change{}},
		{"added", []*Item{msg(300, s(7, FolderInbox, ""))},
			[]Change{{Kind: ChangeAdded, ItemID: 300, ToFolderID: FolderInbox, ToFolder: "/Inbox"}}},
		{"added and deleted in between", []*Item{msg(300, s(6, FolderInbox, ""), del(8, FolderInbox))}, []Change{}},
		{"deleted", []*Item{msg(300, s(1, FolderInbox, ""), del(8, FolderInbox))},
			[]Change{{Kind: ChangeDeleted, ItemID: 300, FromFolderID: FolderInbox, FromFolder: "/Inbox"}}},
		{"deleted before from", []*Item{msg(300, s(1, FolderInbox, ""), del(3, FolderInbox))}, []Change{}},
		{"moved", []*Item{msg(300, s(1, FolderInbox, ""), s(8, FolderTrash, ""))},
			[]Change{{Kind: ChangeMoved, ItemID: 300, FromFolderID: FolderInbox, FromFolder: "/Inbox", ToFolderID: FolderTrash, ToFolder: "/Trash"}}},
		{"moved and back", []*Item{msg(300, s(1, FolderInbox, ""), s(6, FolderTrash, ""), s(8, FolderInbox, ""))}, []Change{}},
		{"reflagged", []*Item{msg(300, s(1, FolderInbox, "u"), s(8, FolderInbox, "f"))},
			[]Change{{Kind: ChangeReflagged, ItemID: 300, FromFolderID: FolderInbox, FromFolder: "/Inbox", ToFolderID: FolderInbox, ToFolder: "/Inbox", FromFlags: ptr("u"), ToFlags: ptr("f")}}},
		{"flags reordered is no change", []*Item{msg(300, s(1, FolderInbox, "fu"), s(8, FolderInbox, "uf"))}, []Change{}},
		{"reflagged and back", []*Item{msg(300, s(1, FolderInbox, "u"), s(6, FolderInbox, ""), s(8, FolderInbox, "u"))}, []Change{}},
		{"moved and reflagged", []*Item{msg(300, s(1, FolderInbox, "u"), s(8, FolderTrash, ""))},
			[]Change{
				{Kind: ChangeMoved, ItemID: 300, FromFolderID: FolderInbox, FromFolder: "/Inbox", ToFolderID: FolderTrash, ToFolder: "/Trash"},
				{Kind: ChangeReflagged, ItemID: 300, FromFolderID: FolderInbox, FromFolder: "/Inbox", ToFolderID: FolderTrash, ToFolder: "/Trash", FromFlags: ptr("u"), ToFlags: ptr("")},
			}},
		{"folder renamed, its message's path follows", []*Item{
			fold(257, fs(1, FolderRoot, "Work"), fs(8, FolderRoot, "Old work")),
			msg(300, s(1, 257, "")),
		}, []Change{{Kind: ChangeRenamed, ItemID: 257, Type: TypeFolder, FromFolderID: FolderRoot, FromFolder: "/", ToFolderID: FolderRoot, ToFolder: "/",
			FromName: "Work", ToName: "Old work", FromPath: "/Work", ToPath: "/Old work"}}},
		{"folder moved", []*Item{
			fold(257, fs(1, FolderRoot, "Work")),
			fold(258, fs(1, FolderRoot, "Sub"), fs(8, 257, "Sub")),
		}, []Change{{Kind: ChangeMoved, ItemID: 258, Type: TypeFolder, FromFolderID: FolderRoot, FromFolder: "/", ToFolderID: 257, ToFolder: "/Work",
			FromName: "Sub", ToName: "Sub", FromPath: "/Sub", ToPath: "/Work/Sub"}}},
		{"folder deleted with its message", []*Item{
			fold(257, fs(1, FolderRoot, "Work"), State{Start: ms(8, 10), Deleted: true, FolderID: FolderRoot}),
			msg(300, s(1, 257, ""), del(8, 257)),
		}, []Change{
			{Kind: ChangeDeleted, ItemID: 257, Type: TypeFolder, FromFolderID: FolderRoot, FromFolder: "/", FromName: "Work", FromPath: "/Work"},
			{Kind: ChangeDeleted, ItemID: 300, FromFolderID: 257, FromFolder: "/Work"},
		}},
		{"unreadable item skipped", []*Item{{ID: 300, Err: "bad JSON"}}, []Change{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Changes(tc.items, from, to)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d changes %+v, want %d %+v", len(got), got, len(tc.want), tc.want)
			}
			for i := range got {
				w := tc.want[i]
				if w.Type == 0 {
					w.Type = TypeMessage
				}
				if w.Type == TypeMessage {
					w.Subject = "s"
				}
				if !sameChange(got[i], w) {
					t.Errorf("change %d:\n got %+v\nwant %+v", i, show(got[i]), show(w))
				}
			}
		})
	}
}

func TestChangesOrder(t *testing.T) {
	it := NewItem(300, []State{{Start: ms(1, 10), Type: TypeMessage, FolderID: FolderInbox}})
	if _, err := Changes([]*Item{it}, ms(10, 0).Time(), ms(5, 0).Time()); !errors.Is(err, ErrChangesOrder) {
		t.Fatalf("from after to: err %v, want ErrChangesOrder", err)
	}
	got, err := Changes([]*Item{it}, ms(5, 0).Time(), ms(5, 0).Time())
	if err != nil || len(got) != 0 {
		t.Fatalf("same moment: %v %v, want no change", got, err)
	}
	// Before the item's first state it did not exist: added.
	got, err = Changes([]*Item{it}, time.Time{}.Add(time.Hour), ms(5, 0).Time())
	if err != nil || len(got) != 1 || got[0].Kind != ChangeAdded {
		t.Fatalf("from before everything: %+v %v, want one added", got, err)
	}
}

func ptr(s string) *string { return &s }

func show(c Change) Change {
	// Pointers print as addresses: show their values in Subject's stead.
	if c.FromFlags != nil {
		c.Subject += " fromFlags=" + *c.FromFlags + " toFlags=" + *c.ToFlags
	}
	c.FromFlags, c.ToFlags = nil, nil
	return c
}

func sameChange(a, b Change) bool {
	fa, fb := a.FromFlags, b.FromFlags
	ta, tb := a.ToFlags, b.ToFlags
	if (fa == nil) != (fb == nil) || (ta == nil) != (tb == nil) {
		return false
	}
	if fa != nil && (*fa != *fb || *ta != *tb) {
		return false
	}
	a.FromFlags, a.ToFlags, b.FromFlags, b.ToFlags = nil, nil, nil, nil
	return a == b
}

// TestChangeReport: the one text and JSON form of a report (what
// getChanges prints and the mount's changes/<day>/ serves): a header, the
// aligned lines with each kind's WHAT, unreadable items listed as skipped.
func TestChangeReport(t *testing.T) {
	items := []*Item{
		NewItem(257, []State{{Start: ms(1, 10), Type: TypeFolder, FolderID: FolderRoot, Name: "Work"}, {Start: ms(8, 10), Type: TypeFolder, FolderID: FolderRoot, Name: "Old"}}),
		NewItem(300, []State{{Start: ms(1, 10), Type: TypeMessage, FolderID: FolderInbox, Flags: "u", Subject: "hello\nthere"}, {Start: ms(8, 10), Type: TypeMessage, FolderID: 257, Flags: "u"}}),
		NewItem(301, []State{{Start: ms(1, 10), Type: TypeMessage, FolderID: FolderInbox, Flags: "u", Subject: "flags"}, {Start: ms(8, 10), Type: TypeMessage, FolderID: FolderInbox}}),
		{ID: 302, Err: "unreadable"},
	}
	from, to := ms(5, 0).Time(), ms(10, 0).Time()
	r, err := NewChangeReport("ann@example.test", "id-1", items, from, to)
	if err != nil {
		t.Fatal(err)
	}
	var text, js strings.Builder
	if err := r.Text(&text); err != nil {
		t.Fatal(err)
	}
	want := "account ann@example.test: 3 change(s) from " + grammar.FormatDateZ(from) + " to " + grammar.FormatDateZ(to) + "\n" +
		"KIND       ID   TYPE     WHAT            SUBJECT\n" +
		"renamed    257  folder   /Work -> /Old   \n" +
		"moved      300  message  /Inbox -> /Old  hello there\n" +
		"reflagged  301  message  /Inbox: u -> -  flags\n"
	if text.String() != want {
		t.Errorf("text:\n%s\nwant:\n%s", text.String(), want)
	}
	if err := r.JSON(&js); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`"account": "ann@example.test"`, `"accountId": "id-1"`, `"kind": "renamed"`, `"type": "folder"`, `"fromFlags": "u"`, `"toFlags": ""`, "\"skippedItems\": [\n    302\n  ]"} {
		if !strings.Contains(js.String(), s) {
			t.Errorf("JSON lacks %s:\n%s", s, js.String())
		}
	}
}
