package index

import (
	"fmt"
	"time"

	"github.com/cbfs/cbfs/mailbox"
	"github.com/tidwall/buntdb"
)

// Folders is the account's folder tree as it was at t (the latest if t is
// zero), from the folder items' states, with system folders named by
// mailbox.SystemFolderNames when the backup holds no item for them.
// Sorted by Path.
func (ix *Index) Folders(accountID string, t time.Time) ([]Folder, error) {
	var found []Folder
	err := ix.inShard(accountID, func(a *acctRec, tx *buntdb.Tx) error {
		var ids []int
		if err := scanPrefix(tx, seqPrefix(tmplTree, a.Seq), func(k, _ string) bool {
			if id, ok := idOfKey(k); ok {
				ids = append(ids, id)
			}
			return true
		}); err != nil {
			return err
		}
		for _, id := range ids {
			v, err := tx.Get(itemKey(a.Seq, id))
			if err != nil {
				continue
			}
			r, err := decodeItem(v)
			if err != nil {
				return fmt.Errorf("account %s: item %d: %w", accountID, id, err)
			}
			it := Item{ID: id, States: r.States}
			s := mailbox.FolderAt(&it, t)
			if s == nil {
				continue
			}
			found = append(found, Folder{ID: id, ParentID: s.ParentID, Name: s.Name})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return mailbox.FolderTree(found), nil
}
