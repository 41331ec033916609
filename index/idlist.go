package index

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// A packed id list is the ascending item ids of one folder as uvarint
// deltas (the first id as itself). ~2 bytes per id for dense ids, one
// buntdb key per folder.

func encodeIDList(ids []int) string {
	b := make([]byte, 0, 2*len(ids))
	prev := 0
	for _, id := range ids {
		b = binary.AppendUvarint(b, uint64(id-prev))
		prev = id
	}
	return string(b)
}

var errIDList = errors.New("malformed id list")

func decodeIDList(v string) ([]int, error) {
	ids := make([]int, 0, len(v)/2)
	prev := uint64(0)
	for i := 0; i < len(v); {
		d, n := binary.Uvarint([]byte(v[i:min(len(v), i+binary.MaxVarintLen64)]))
		if n <= 0 || prev+d > maxItemID || (len(ids) > 0 && d == 0) {
			return nil, fmt.Errorf("%w at byte %d", errIDList, i)
		}
		prev += d
		ids = append(ids, int(prev))
		i += n
	}
	return ids, nil
}

// applyIDChanges returns ids (ascending, unique) with changes applied:
// id -> true adds it, false removes it.
func applyIDChanges(ids []int, changes map[int]bool) []int {
	out := ids[:0:0]
	out = slices.Grow(out, len(ids)+len(changes))
	for _, id := range ids {
		if add, ok := changes[id]; !ok || add {
			out = append(out, id)
		}
	}
	for id, add := range changes {
		if add {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
