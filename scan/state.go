package scan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/mailbox"
)

// StateFile is cbfs's per-account scan state, accounts/<id>/cbfs_scan_state
// (see the package documentation for its format).
const StateFile = "cbfs_scan_state"

// StateVersion is the version of the scan-state format written.
const StateVersion = 1

// Keys cbfs adds to the states it writes, so the scan state can be rebuilt
// from the item files alone.
const (
	extraSource     = "cbfsSource"     // the source's key of the message or folder
	extraSourcePath = "cbfsSourcePath" // folders: the source's folder path ("A/B")
)

// FolderEntry is what the last scan knew of one folder.
type FolderEntry struct {
	ID       int    `json:"id"`                 // folder item id (system ids for Inbox...)
	Key      string `json:"key,omitempty"`      // the source's stable folder key, if any
	Path     string `json:"path"`               // the source's path, "/"-separated
	Name     string `json:"name,omitempty"`     // the folder item's name
	ParentID int    `json:"parentId,omitempty"` // the folder item's parent
	Token    string `json:"token,omitempty"`    // the source's change token when last listed completely
}

// MessageEntry maps one source message to its item.
type MessageEntry struct {
	Key       string      `json:"key"`
	ItemID    int         `json:"id"`
	FolderID  int         `json:"folderId"`
	Flags     string      `json:"flags,omitempty"`
	Tags      []string    `json:"tags,omitempty"`
	Size      int64       `json:"size"`
	Digest    blob.Digest `json:"digest"`
	MessageID string      `json:"messageId,omitempty"`
}

// ScanState is the content of a cbfs_scan_state file.
type ScanState struct {
	Version    int             `json:"version"`
	Source     string          `json:"source"`
	Account    string          `json:"account"`
	Saved      mailbox.Millis  `json:"savedDate"`
	LastItemID int             `json:"lastItemId"`
	Folders    []*FolderEntry  `json:"folders"`
	Messages   []*MessageEntry `json:"messages"`
}

// state is the in-memory form of one account's scan state.
type state struct {
	folders   map[int]*FolderEntry
	byKey     map[string]*MessageEntry
	byItem    map[int]*MessageEntry
	itemPaths map[int]string // every item file of the account: id -> relative path
	maxItemID int            // highest id in use (files, stat, state), at least 256
	saved     time.Time
	repaired  int // entries taken from item files newer than the state file
}

func newState() *state {
	return &state{folders: map[int]*FolderEntry{}, byKey: map[string]*MessageEntry{},
		byItem: map[int]*MessageEntry{}, itemPaths: map[int]string{}, maxItemID: 256}
}

func (s *state) put(e *MessageEntry) {
	if old := s.byItem[e.ItemID]; old != nil && old.Key != e.Key {
		delete(s.byKey, old.Key)
	}
	if old := s.byKey[e.Key]; old != nil && old.ItemID != e.ItemID {
		delete(s.byItem, old.ItemID)
	}
	s.byKey[e.Key] = e
	s.byItem[e.ItemID] = e
}

func (s *state) drop(e *MessageEntry) {
	if s.byKey[e.Key] == e {
		delete(s.byKey, e.Key)
	}
	if s.byItem[e.ItemID] == e {
		delete(s.byItem, e.ItemID)
	}
}

// repairSlack: item files modified this long before the state file was
// saved are re-read too (mtimes come from a coarser clock).
const repairSlack = time.Second

// loadState reads the account's scan state and brings it up to date with
// the item files: any item file newer than the state (a scan killed after
// writing items but before saving the state) is read back through its
// cbfsSource key. A missing or malformed state file is rebuilt from all
// item files.
func loadState(bp *backuppath.Path, accountID string) (*state, error) {
	s := newState()
	full := false
	var ss ScanState
	b, err := os.ReadFile(filepath.Join(bp.AccountDir(accountID), StateFile))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		full = true
	case err != nil:
		return nil, fmt.Errorf("read scan state of account %s: %w", accountID, err)
	default:
		if err := json.Unmarshal(b, &ss); err != nil || ss.Version != StateVersion {
			full = true // rebuildable: start from the item files
			ss = ScanState{}
		}
	}
	for _, f := range ss.Folders {
		if f != nil {
			s.folders[f.ID] = f
		}
	}
	for _, m := range ss.Messages {
		if m != nil && m.Key != "" {
			s.put(m)
		}
	}
	s.saved = ss.Saved.Time()
	if ss.LastItemID > s.maxItemID {
		s.maxItemID = ss.LastItemID
	}
	if st, err := bp.ReadAccountStat(accountID); err == nil && st.LastItemID > s.maxItemID {
		s.maxItemID = st.LastItemID
	}
	files, _, err := bp.ItemFiles(accountID)
	if err != nil {
		return nil, err
	}
	cut := s.saved.Add(-repairSlack)
	for _, f := range files {
		if _, dup := s.itemPaths[f.ItemID]; !dup {
			s.itemPaths[f.ItemID] = f.RelPath
		}
		if f.ItemID > s.maxItemID {
			s.maxItemID = f.ItemID
		}
		if !full && f.ItemID <= ss.LastItemID && f.ModTime.Before(cut) {
			continue
		}
		it, err := bp.ReadItemFile(f.RelPath, f.ItemID)
		if err != nil {
			continue // not ours to fix; the id stays reserved
		}
		if s.apply(it) {
			s.repaired++
		}
	}
	if s.repaired > 0 || full {
		for _, f := range s.folders {
			f.Token = "" // list everything again once
		}
	}
	return s, nil
}

func extraString(e mailbox.Extra, k string) string {
	raw, ok := e[k]
	if !ok {
		return ""
	}
	var v string
	if json.Unmarshal(raw, &v) != nil {
		return ""
	}
	return v
}

// apply brings the entries in line with an item's latest state; it
// reports whether anything changed.
func (s *state) apply(it *mailbox.Item) bool {
	l := it.Latest()
	if l == nil {
		return false
	}
	src := extraString(l.Extra, extraSource)
	if src == "" {
		return false
	}
	switch l.Type {
	case mailbox.TypeFolder:
		old := s.folders[it.ID]
		if l.Deleted {
			if old == nil {
				return false
			}
			delete(s.folders, it.ID)
			return true
		}
		f := &FolderEntry{ID: it.ID, Path: extraString(l.Extra, extraSourcePath), Name: l.Name, ParentID: l.ParentID}
		if k, ok := cutPrefix(src, "folder:"); ok && k != f.Path {
			f.Key = k
		}
		// The path is derived (a parent's rename changes it without a
		// state of this folder): an entry that agrees on the rest stands.
		if old != nil && old.Name == f.Name && old.ParentID == f.ParentID && (old.Key == f.Key || f.Key == "") {
			return false
		}
		s.folders[it.ID] = f
		return true
	default:
		old := s.byItem[it.ID]
		if l.Deleted {
			if old == nil {
				return false
			}
			s.drop(old)
			return true
		}
		e := &MessageEntry{Key: src, ItemID: it.ID, FolderID: l.FolderID, Flags: l.Flags,
			Tags: l.Tags, Size: l.Size, Digest: l.Digest}
		if old != nil && old.Key == e.Key && old.FolderID == e.FolderID && old.Flags == e.Flags &&
			equalTags(old.Tags, e.Tags) && old.Size == e.Size && old.Digest == e.Digest {
			return false
		}
		if old != nil && old.Key == e.Key {
			e.MessageID = old.MessageID
		}
		s.put(e)
		return true
	}
}

func cutPrefix(s, p string) (string, bool) {
	if len(s) >= len(p) && s[:len(p)] == p {
		return s[len(p):], true
	}
	return s, false
}

func equalTags(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// encode renders the state file: one JSON object, one folder or message
// per line, sorted by id, so it diffs well and reads with any JSON parser.
func (s *state) encode(source, account string, saved time.Time, lastItemID int) ([]byte, error) {
	var b bytes.Buffer
	head, err := json.Marshal(struct {
		Version    int            `json:"version"`
		Source     string         `json:"source"`
		Account    string         `json:"account"`
		Saved      mailbox.Millis `json:"savedDate"`
		LastItemID int            `json:"lastItemId"`
	}{StateVersion, source, account, mailbox.MillisOf(saved), lastItemID})
	if err != nil {
		return nil, err
	}
	b.Write(head[:len(head)-1])
	b.WriteString(",\n\"folders\":[")
	fids := make([]int, 0, len(s.folders))
	for id := range s.folders {
		fids = append(fids, id)
	}
	sort.Ints(fids)
	for i, id := range fids {
		j, err := json.Marshal(s.folders[id])
		if err != nil {
			return nil, err
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
		b.Write(j)
	}
	b.WriteString("],\n\"messages\":[")
	ids := make([]int, 0, len(s.byItem))
	for id := range s.byItem {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	enc := json.NewEncoder(&b)
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
		if err := enc.Encode(s.byItem[id]); err != nil {
			return nil, err
		}
		b.Truncate(b.Len() - 1) // Encode's newline
	}
	b.WriteString("]}\n")
	return b.Bytes(), nil
}
