package index

import (
	"strconv"
	"strings"

	"github.com/tidwall/buntdb"

	"github.com/cbfs/cbfs/mailbox"
)

// Key templates. Every key starts with a fixed prefix, so the keys of one
// kind (and of one account) form a contiguous range of the key tree and are
// read with a prefix scan (scanPrefix). <seq> is the account's small Seq in
// decimal; <itemId> and <folderId> are zero-padded to idWidth digits so that
// the key order is the numeric order.
const (
	// keySchema holds the schema version (decimal).
	keySchema = "meta:schema"
	// keyRoot holds the absolute Backup Path root the index describes.
	keyRoot = "meta:root"
	// keyKeyMap names the keymap the states were decoded with ("" none).
	keyKeyMap = "meta:keymap"
	// keyNextSeq holds the next account Seq to hand out (decimal).
	keyNextSeq = "meta:nextseq"

	// tmplAcct = "acct:<seq>" -> account record (JSON, acctRec).
	tmplAcct = "acct:"
	// tmplAcctID = "acctid:<accountId>" -> <seq>.
	tmplAcctID = "acctid:"
	// tmplAcctName = "acctname:<lower-case name>:<seq>" -> "" (names are
	// not unique: a deleted account and its re-created successor share one).
	tmplAcctName = "acctname:"
	// tmplItem = "item:<seq>:<itemId>" -> item record (binary, encode.go),
	// one per item file, whatever its state.
	tmplItem = "item:"
	// tmplFolder = "folder:<seq>:<folderId>" -> the ascending ids of the
	// items whose latest state is live and lies in folderId (folder items
	// excluded), packed (idlist.go). One key per folder, not per item:
	// buntdb replays every key into RAM at open, so per-item keys doubled
	// the mount-ready time of a big path (schema v1 had them).
	tmplFolder = "folder:"
	// tmplDel = "del:<seq>:<itemId>" -> "": items whose latest state is
	// deleted.
	tmplDel = "del:"
	// tmplTree = "tree:<seq>:<itemId>" -> "": folder (and search folder)
	// items, so Folders never scans the messages.
	tmplTree = "tree:"
	// tmplDay = "day:<seq>:<yyyy-mm-dd>" -> number of states (decimal)
	// that started on that UTC day.
	tmplDay = "day:"
	// tmplDir = "dir:<relpath>" -> mtime (Unix ns, decimal) of a bucket
	// folder accounts/<id>/items/<NN> when it was last listed; "0" when
	// it must be listed again.
	tmplDir = "dir:"
)

// idWidth is the number of digits item and folder ids are padded to. Zimbra
// item ids are 32-bit; larger numbers are not item files
// (mailbox.MaxItemID).
const (
	idWidth   = 10
	maxItemID = mailbox.MaxItemID
)

func appendPadded(b []byte, n int) []byte {
	var tmp [20]byte
	s := strconv.AppendInt(tmp[:0], int64(n), 10)
	for i := len(s); i < idWidth; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

func seqPrefix(tmpl string, seq uint32) string {
	b := make([]byte, 0, len(tmpl)+12)
	b = append(b, tmpl...)
	b = strconv.AppendUint(b, uint64(seq), 10)
	return string(append(b, ':'))
}

func acctKey(seq uint32) string { return tmplAcct + strconv.FormatUint(uint64(seq), 10) }

func acctIDKey(id string) string { return tmplAcctID + id }

func acctNamePrefix(name string) string { return tmplAcctName + strings.ToLower(name) + ":" }

func acctNameKey(name string, seq uint32) string {
	return acctNamePrefix(name) + strconv.FormatUint(uint64(seq), 10)
}

// idKey is "<tmpl><seq>:<id padded>".
func idKey(tmpl string, seq uint32, id int) string {
	b := make([]byte, 0, len(tmpl)+12+idWidth)
	b = append(b, tmpl...)
	b = strconv.AppendUint(b, uint64(seq), 10)
	b = append(b, ':')
	return string(appendPadded(b, id))
}

func itemKey(seq uint32, id int) string { return idKey(tmplItem, seq, id) }
func delKey(seq uint32, id int) string  { return idKey(tmplDel, seq, id) }
func treeKey(seq uint32, id int) string { return idKey(tmplTree, seq, id) }

func folderKey(seq uint32, folder int) string { return idKey(tmplFolder, seq, folder) }

func dayKey(seq uint32, day string) string { return seqPrefix(tmplDay, seq) + day }

func dirKey(rel string) string { return tmplDir + rel }

// idOfKey parses the trailing padded id of a key.
func idOfKey(key string) (int, bool) {
	i := strings.LastIndexByte(key, ':')
	if i < 0 {
		return 0, false
	}
	n, err := strconv.Atoi(key[i+1:])
	return n, err == nil
}

// scanPrefix calls fn for every key starting with prefix, in key order,
// until fn returns false. Unlike AscendKeys it takes no pattern, so names
// holding '*' or '?' are safe.
func scanPrefix(tx *buntdb.Tx, prefix string, fn func(key, val string) bool) error {
	return tx.AscendGreaterOrEqual("", prefix, func(k, v string) bool {
		if !strings.HasPrefix(k, prefix) {
			return false
		}
		return fn(k, v)
	})
}
