package index

import (
	"errors"
	"slices"
	"testing"
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
