package index

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/tidwall/buntdb"
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

// packFolderKeys is the v1 -> v2 migration: it collects the per-item
// folder keys, deletes them, and writes one packed list per folder.
func packFolderKeys(tx *buntdb.Tx) error {
	lists := map[string][]int{}
	var old []string
	err := scanPrefix(tx, tmplFolder, func(k, _ string) bool {
		i := strings.LastIndexByte(k, ':')
		if id, ok := idOfKey(k); ok && i > len(tmplFolder) {
			lists[k[:i]] = append(lists[k[:i]], id)
			old = append(old, k)
		}
		return true
	})
	if err != nil {
		return err
	}
	for _, k := range old { // collected first: never delete while iterating
		if _, err := tx.Delete(k); err != nil {
			return err
		}
	}
	for k, ids := range lists {
		slices.Sort(ids)
		if _, _, err := tx.Set(k, encodeIDList(slices.Compact(ids)), nil); err != nil {
			return err
		}
	}
	return nil
}
