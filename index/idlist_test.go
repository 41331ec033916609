package index

import (
	"errors"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/tidwall/buntdb"
)

func TestIDListRoundTrip(t *testing.T) {
	for _, ids := range [][]int{nil, {0}, {1}, {257, 258, 259}, {5, 1000, 1 << 20, maxItemID}} {
		got, err := decodeIDList(encodeIDList(ids))
		if err != nil || !slices.Equal(got, ids) && !(len(got) == 0 && len(ids) == 0) {
			t.Errorf("round trip of %v = %v, %v", ids, got, err)
		}
	}
	for _, bad := range []string{"\x80", "\x05\x00", "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"} {
		if _, err := decodeIDList(bad); !errors.Is(err, errIDList) {
			t.Errorf("decodeIDList(%q) = %v, want errIDList", bad, err)
		}
	}
}

func FuzzDecodeIDList(f *testing.F) {
	f.Add(encodeIDList([]int{257, 300, 4000}))
	f.Add("\x80")
	f.Fuzz(func(t *testing.T, v string) {
		ids, err := decodeIDList(v)
		if err != nil {
			return
		}
		if !slices.IsSorted(ids) || len(slices.Compact(slices.Clone(ids))) != len(ids) {
			t.Fatalf("decoded ids not ascending and unique: %v", ids)
		}
		if again, _ := decodeIDList(encodeIDList(ids)); !slices.Equal(again, ids) {
			t.Fatalf("re-encoding changed %v to %v", ids, again)
		}
	})
}

func TestApplyIDChanges(t *testing.T) {
	for _, c := range []struct {
		ids     []int
		changes map[int]bool
		want    []int
	}{
		{nil, map[int]bool{5: true, 3: true}, []int{3, 5}},
		{[]int{1, 2, 3}, map[int]bool{2: false}, []int{1, 3}},
		{[]int{1, 2, 3}, map[int]bool{2: true, 4: true, 1: false}, []int{2, 3, 4}},
		{[]int{1}, map[int]bool{9: false}, []int{1}},
		{[]int{1}, map[int]bool{1: false}, []int{}},
	} {
		got := applyIDChanges(slices.Clone(c.ids), c.changes)
		if !slices.Equal(got, c.want) {
			t.Errorf("applyIDChanges(%v, %v) = %v, want %v", c.ids, c.changes, got, c.want)
		}
	}
}

// TestMigrateV1FolderKeys writes an index in schema v1's layout (one key per
// item in a folder) and checks that Open packs them into one list per
// folder, leaving none of the old keys.
func TestMigrateV1FolderKeys(t *testing.T) {
	f := newFixture(t)
	f.account(idA, "alice@example.com", "")
	f.item(idA, 257, msgState(day(1), 2, "a"))
	f.item(idA, 258, msgState(day(1), 2, "b"))
	f.item(idA, 259, msgState(day(1), 5, "c"))
	dbPath := filepath.Join(t.TempDir(), "index.db")
	ix, err := Open(f.bp, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	refresh(t, ix)
	a, err := ix.Account(idA)
	if err != nil {
		t.Fatal(err)
	}
	// Rewrite the v2 lists as v1 keys and mark the schema 1.
	err = ix.db.Update(func(tx *buntdb.Tx) error {
		for _, fid := range []int{2, 5} {
			v, err := tx.Get(folderKey(a.Seq, fid))
			if err != nil {
				return err
			}
			ids, _ := decodeIDList(v)
			tx.Delete(folderKey(a.Seq, fid))
			for _, id := range ids {
				k := folderKey(a.Seq, fid) + ":" + string(appendPadded(nil, id))
				if _, _, err := tx.Set(k, "", nil); err != nil {
					return err
				}
			}
		}
		_, _, err := tx.Set(keySchema, strconv.Itoa(1), nil)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	ix.Close()

	ix, err = Open(f.bp, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	for fid, want := range map[int][]int{2: {257, 258}, 5: {259}} {
		got, err := ix.FolderItems(idA, fid)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("after migration FolderItems(%d) = %v, %v; want %v", fid, got, err, want)
		}
	}
	ix.db.View(func(tx *buntdb.Tx) error {
		return scanPrefix(tx, tmplFolder, func(k, _ string) bool {
			if k != folderKey(a.Seq, 2) && k != folderKey(a.Seq, 5) {
				t.Errorf("key %q left after migration", k)
			}
			return true
		})
	})
	if st := refresh(t, ix); st.ItemsRead != 0 {
		t.Errorf("refresh after migration read %d items, want 0 (the migration keeps the index)", st.ItemsRead)
	}
}
