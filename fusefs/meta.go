package fusefs

import (
	"encoding/json"
	"sort"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/index"
	"github.com/cbfs/cbfs/internal/confined"
	"github.com/cbfs/cbfs/mailbox"
)

// maxRaw bounds how much of a malformed item file meta.json quotes.
const maxRaw = 64 << 10

func indentJSON(v any) []byte {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		b, _ = json.MarshalIndent(map[string]string{"error": "render: " + err.Error()}, "", "  ")
	}
	return append(b, '\n')
}

// accountJSON renders account.json: account_info as cbfs reads it (unknown
// keys kept), or, if it cannot be read, what the index knows and the error.
func (f *FS) accountJSON(a index.Account) []byte {
	acc, err := f.bp.ReadAccount(a.ID)
	if err == nil {
		// account_info as cbfs reads it, with where the name came from and
		// what could not be interpreted (cbfs's own keys, marked as such).
		b, err := json.Marshal(acc)
		var m map[string]json.RawMessage
		if err == nil {
			err = json.Unmarshal(b, &m)
		}
		if err != nil {
			return indentJSON(map[string]string{"error": "render: " + err.Error()})
		}
		if acc.NameSource != "" {
			m["cbfsNameSource"], _ = json.Marshal(acc.NameSource)
		}
		if len(acc.Notes) > 0 {
			m["cbfsNotes"], _ = json.Marshal(acc.Notes)
		}
		return indentJSON(m)
	}
	return indentJSON(map[string]any{
		"id":         a.ID,
		"name":       a.Name,
		"status":     a.Status,
		"error":      err.Error(),
		"errorClass": blob.Class(err),
	})
}

// fullStates re-reads the item file for every state with all its keys. If
// that fails, the index's states are rendered instead, with the error.
func (f *FS) fullStates(it *index.Item) (states []json.RawMessage, read []mailbox.State, rawFile string, err error) {
	bi, err := f.bp.ReadItemFile(it.RelPath, it.ID)
	if err == nil && len(bi.States) == len(it.States) {
		for _, s := range bi.States {
			b, _ := json.Marshal(s)
			states = append(states, b)
		}
		return states, bi.States, "", nil
	}
	for _, s := range it.States {
		b, _ := json.Marshal(s)
		states = append(states, b)
	}
	if err != nil {
		// Confined: a symlinked or FIFO item file is not shown (nor waited for).
		if b, rerr := confined.ReadFile(f.bp.Root, it.RelPath, backuppath.MaxMetadataFile); rerr == nil {
			if len(b) > maxRaw {
				b = b[:maxRaw]
			}
			rawFile = string(b)
		}
	}
	return states, nil, rawFile, err
}

type stateMeta struct {
	Folder string `json:"name"` // the state folder's name
	// The content's health, the one report (mailbox.ContentHealth): status
	// (ok, broken, unreadable), error and reason when it fails, digest, and
	// then where the newest earlier healthy state is shown and what the
	// .partial file beside it holds.
	mailbox.ContentHealth
	State json.RawMessage `json:"state"` // the state as cbfs reads it (keys it does not know kept as they are)
	// What the reader made of a state of another dialect:
	Inherited []string `json:"inherited,omitempty"` // concepts the state did not say, taken from the state before it
	Notes     []string `json:"notes,omitempty"`     // values it could not interpret (kept in state), digests found by value
}

func (f *FS) stateMeta(it *index.Item, states []json.RawMessage, read []mailbox.State, i int, name string) stateMeta {
	m := stateMeta{Folder: name, ContentHealth: f.contentHealth(it, i), State: states[i]}
	if i < len(read) {
		m.Inherited, m.Notes = read[i].Inherited.List(), read[i].Notes
	}
	return m
}

// itemMetaJSON renders items/<id>/meta.json: the whole state history, the
// item's status (the worst of its item file's and its states' blobs',
// mailbox.WorseStatus; error says which, the item file's first), and each
// state's blob status.
func (f *FS) itemMetaJSON(a index.Account, it *index.Item, names []string) []byte {
	out := struct {
		Account   string      `json:"account"`
		AccountID string      `json:"accountId"`
		ItemID    int         `json:"itemId"`
		File      string      `json:"file"`
		Status    string      `json:"status"`
		Error     string      `json:"error,omitempty"`
		Raw       string      `json:"raw,omitempty"`
		States    []stateMeta `json:"states"`
	}{Account: a.Name, AccountID: a.ID, ItemID: it.ID, File: it.RelPath, Status: "ok", States: []stateMeta{}}
	if it.Err != "" {
		out.Status, out.Error = it.ErrClass, it.Err
	}
	states, read, raw, err := f.fullStates(it)
	if err != nil && out.Error == "" {
		out.Status, out.Error = blob.Class(err), err.Error()
	}
	out.Raw = raw
	worst := -1 // the most damaged state, the newest of equals
	for i := range it.States {
		m := f.stateMeta(it, states, read, i, names[i])
		if m.Status != "ok" && (worst < 0 || mailbox.WorseStatus(m.Status, out.States[worst].Status) == m.Status) {
			worst = i
		}
		out.States = append(out.States, m)
	}
	if worst >= 0 {
		w := out.States[worst]
		out.Status = mailbox.WorseStatus(out.Status, w.Status)
		if out.Error == "" {
			out.Error = "state " + w.Folder + ": " + w.Error
		}
	}
	return indentJSON(out)
}

// stateMetaJSON renders items/<id>/<date>/meta.json.
func (f *FS) stateMetaJSON(a index.Account, it *index.Item, i int, names []string) []byte {
	name := names[i]
	states, read, _, _ := f.fullStates(it)
	out := struct {
		Account   string `json:"account"`
		AccountID string `json:"accountId"`
		ItemID    int    `json:"itemId"`
		File      string `json:"file"`
		Index     int    `json:"index"` // 0 = first state
		Count     int    `json:"count"` // states of the item
		stateMeta
	}{a.Name, a.ID, it.ID, it.RelPath, i, len(it.States), f.stateMeta(it, states, read, i, name)}
	return indentJSON(out)
}

type namedData struct {
	name string
	data []byte
}

// configFiles are the files of server/config/<date>/: config.json as it is,
// and one file per section under the names getServerConfig uses
// (serverConfig.json, globalConfig.json, cos.json, domain.json,
// distributionList.json, and <key>.json for each key cbfs does not know),
// sorted by name. A file that cannot be read or
// parsed gives error.txt.
func (f *FS) configFiles(sf backuppath.ServerFile) []namedData {
	var out []namedData
	// Both reads are confined beneath the Backup Path (no symbolic link
	// followed, regular files only).
	raw, err := confined.ReadFile(f.bp.Root, sf.RelPath, backuppath.MaxMetadataFile)
	if err != nil {
		return []namedData{{"error.txt", []byte(err.Error() + "\n")}}
	}
	out = append(out, namedData{"config.json", raw})
	c, err := f.bp.ReadServerConfig(sf.RelPath)
	if err != nil {
		out = append(out, namedData{"error.txt", []byte(err.Error() + "\n")})
	} else {
		for k, v := range c.Sections() {
			out = append(out, namedData{k + ".json", indentJSON(v)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}
