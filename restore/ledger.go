package restore

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/buntdb"
)

// Ledger key templates (fixed prefix first, so a prefix is a range scan):
//
//	ledger:<serverId>:<target>:<dest account>:<source accountId>:<itemId>:<digest>  -> Entry (JSON)
//	ledgeruid:<target>:<dest account>:<mailbox>:<uidvalidity>:<uid>                 -> the ledger key
//	meta:schema                                                                     -> schema version
//
// <serverId> is the source Backup Path's server id (backupstat), <target>
// the Target's ID (no password), <dest account> the account restored into
// (the source account's name, or the new account's). The digest is the
// restored state's blob digest: a later state with other content (an edited
// draft) is another restore. ledgeruid records which IMAP message belongs to
// which item, so the duplicate check never takes one item's message for
// another's.
const (
	tmplEntry     = "ledger:"
	tmplUID       = "ledgeruid:"
	keySchema     = "meta:schema"
	schemaVersion = "1"
)

// Entry is one restored item.
type Entry struct {
	ServerID        string    `json:"serverId"`
	Target          string    `json:"target"`
	Account         string    `json:"account"`         // restored into
	SourceAccountID string    `json:"sourceAccountId"` // the source account
	ItemID          int       `json:"itemId"`
	Digest          string    `json:"digest"`
	RestoredID      string    `json:"restoredId"` // Maildir file name, or MAILBOX;UIDVALIDITY=v;UID=u
	Folder          string    `json:"folder"`     // target folder, "/"-separated
	UIDValidity     uint32    `json:"uidValidity,omitempty"`
	UID             uint32    `json:"uid,omitempty"`
	Found           bool      `json:"found,omitempty"` // found on the target after a stop, not written by the run that recorded it
	At              time.Time `json:"at"`
}

// Ledger is the restore ledger: which item state went where. It lives in
// the service's state folder, never in the source Backup Path (which may be
// read-only). buntdb syncs its file once a second: an entry lost to a power
// cut is found again by the targets' duplicate checks (see the package
// doc), so nothing is restored twice.
type Ledger struct {
	db   *buntdb.DB
	path string
}

// OpenLedger opens (creating if needed) the ledger file at path; ":memory:"
// keeps it in RAM.
func OpenLedger(path string) (*Ledger, error) {
	if path != ":memory:" {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("open restore ledger %s: %w", path, err)
		}
	}
	db, err := buntdb.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open restore ledger %s: %w", path, err)
	}
	l := &Ledger{db: db, path: path}
	err = db.Update(func(tx *buntdb.Tx) error {
		v, err := tx.Get(keySchema)
		switch {
		case errors.Is(err, buntdb.ErrNotFound):
			_, _, err = tx.Set(keySchema, schemaVersion, nil)
			return err
		case err != nil:
			return err
		case v != schemaVersion:
			return fmt.Errorf("schema version %q, this cbfs knows %q", v, schemaVersion)
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open restore ledger %s: %w", path, err)
	}
	return l, nil
}

// Close closes the ledger file.
func (l *Ledger) Close() error {
	if err := l.db.Close(); err != nil {
		return fmt.Errorf("close restore ledger %s: %w", l.path, err)
	}
	return nil
}

// entryKey is the ledger key of one item state restored into an account.
func entryKey(serverID, target, account, srcAccountID string, itemID int, digest string) string {
	return tmplEntry + serverID + ":" + target + ":" + strings.ToLower(account) + ":" + srcAccountID + ":" +
		strconv.Itoa(itemID) + ":" + digest
}

func (e *Entry) key() string {
	return entryKey(e.ServerID, e.Target, e.Account, e.SourceAccountID, e.ItemID, e.Digest)
}

func uidKey(target, account, mailbox string, uidValidity, uid uint32) string {
	return tmplUID + target + ":" + strings.ToLower(account) + ":" + mailbox + ":" +
		strconv.FormatUint(uint64(uidValidity), 10) + ":" + strconv.FormatUint(uint64(uid), 10)
}

// Has reports whether the item state is recorded as restored.
func (l *Ledger) Has(serverID, target, account, srcAccountID string, itemID int, digest string) (bool, error) {
	k := entryKey(serverID, target, account, srcAccountID, itemID, digest)
	var found bool
	err := l.db.View(func(tx *buntdb.Tx) error {
		_, err := tx.Get(k)
		if errors.Is(err, buntdb.ErrNotFound) {
			return nil
		}
		found = err == nil
		return err
	})
	if err != nil {
		return false, fmt.Errorf("restore ledger: %w", err)
	}
	return found, nil
}

// Claimed reports whether an IMAP message (by mailbox, UIDVALIDITY and UID)
// is recorded for an item other than key.
func (l *Ledger) claimed(target, account, mailbox string, uidValidity, uid uint32, key string) bool {
	var owner string
	l.db.View(func(tx *buntdb.Tx) error {
		owner, _ = tx.Get(uidKey(target, account, mailbox, uidValidity, uid))
		return nil
	})
	return owner != "" && owner != key
}

// Record stores e. An entry is recorded only once the target confirmed
// the item.
func (l *Ledger) Record(e *Entry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("restore ledger: %w", err)
	}
	k := e.key()
	err = l.db.Update(func(tx *buntdb.Tx) error {
		if _, _, err := tx.Set(k, string(b), nil); err != nil {
			return err
		}
		if e.UID != 0 {
			mailbox, _, _ := strings.Cut(e.RestoredID, ";")
			if _, _, err := tx.Set(uidKey(e.Target, e.Account, mailbox, e.UIDValidity, e.UID), k, nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("restore ledger: record item %d: %w", e.ItemID, err)
	}
	return nil
}

// Forget removes the entry of one item state (and its UID record). It
// reports whether there was one. Used by tests and by an administrator who
// wants an item restored again.
func (l *Ledger) Forget(serverID, target, account, srcAccountID string, itemID int, digest string) (bool, error) {
	k := entryKey(serverID, target, account, srcAccountID, itemID, digest)
	var found bool
	err := l.db.Update(func(tx *buntdb.Tx) error {
		v, err := tx.Delete(k)
		if errors.Is(err, buntdb.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		found = true
		var e Entry
		if json.Unmarshal([]byte(v), &e) == nil && e.UID != 0 {
			mailbox, _, _ := strings.Cut(e.RestoredID, ";")
			tx.Delete(uidKey(e.Target, e.Account, mailbox, e.UIDValidity, e.UID))
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("restore ledger: forget item %d: %w", itemID, err)
	}
	return found, nil
}

// Map lists every entry (for `backup getMap`), sorted by server, target,
// account, source account and item id.
func (l *Ledger) Map() ([]Entry, error) {
	var out []Entry
	var derr error
	err := l.db.View(func(tx *buntdb.Tx) error {
		return tx.AscendKeys(tmplEntry+"*", func(k, v string) bool {
			var e Entry
			if err := json.Unmarshal([]byte(v), &e); err != nil {
				derr = fmt.Errorf("entry %s: %w", k, err)
				return false
			}
			out = append(out, e)
			return true
		})
	})
	if err == nil {
		err = derr
	}
	if err != nil {
		return nil, fmt.Errorf("restore ledger: %w", err)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := &out[i], &out[j]
		switch {
		case a.ServerID != b.ServerID:
			return a.ServerID < b.ServerID
		case a.Target != b.Target:
			return a.Target < b.Target
		case a.Account != b.Account:
			return a.Account < b.Account
		case a.SourceAccountID != b.SourceAccountID:
			return a.SourceAccountID < b.SourceAccountID
		case a.ItemID != b.ItemID:
			return a.ItemID < b.ItemID
		}
		return a.At.Before(b.At)
	})
	return out, nil
}

// Len is the number of entries.
func (l *Ledger) Len() (int, error) {
	n := 0
	err := l.db.View(func(tx *buntdb.Tx) error {
		return tx.AscendKeys(tmplEntry+"*", func(string, string) bool { n++; return true })
	})
	return n, err
}
