package backuppath

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"

	"github.com/cbfs/cbfs/blob"
)

// ItemType is Zimbra's MailItem.Type code.
type ItemType int8

// Item type codes (Zimbra MailItem.Type).
const (
	TypeUnknown      ItemType = 0
	TypeFolder       ItemType = 1
	TypeSearchFolder ItemType = 2
	TypeTag          ItemType = 3
	TypeConversation ItemType = 4
	TypeMessage      ItemType = 5
	TypeContact      ItemType = 6
	TypeDocument     ItemType = 8
	TypeAppointment  ItemType = 11
	TypeTask         ItemType = 15
	TypeChat         ItemType = 16
)

var typeNames = map[ItemType]string{
	TypeFolder: "folder", TypeSearchFolder: "search", TypeTag: "tag",
	TypeConversation: "conversation", TypeMessage: "message", TypeContact: "contact",
	TypeDocument: "document", TypeAppointment: "appointment", TypeTask: "task", TypeChat: "chat",
}

// String is the lower-case name Carbonio's CLI prints ("message", ...).
func (t ItemType) String() string {
	if n, ok := typeNames[t]; ok {
		return n
	}
	return "type" + strconv.Itoa(int(t))
}

// ParseItemType accepts a name ("message", case-insensitive), a code ("5")
// or String's form of a code without a name ("type12").
func ParseItemType(s string) (ItemType, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	for t, n := range typeNames {
		if n == s {
			return t, nil
		}
	}
	if n, err := strconv.Atoi(strings.TrimPrefix(s, "type")); err == nil && n > 0 && n < 128 {
		return ItemType(n), nil
	}
	names := make([]string, 0, len(typeNames))
	for _, n := range typeNames {
		names = append(names, n)
	}
	sort.Strings(names)
	return 0, fmt.Errorf("unknown item type %q (want one of %s)", s, strings.Join(names, ", "))
}

// UnmarshalJSON accepts a code (5) or a name ("message").
func (t *ItemType) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		v, err := ParseItemType(s)
		*t = v
		return err
	}
	var n int
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("item type %s: %w", b, err)
	}
	if n < 0 || n > 127 {
		return fmt.Errorf("item type %d out of range", n)
	}
	*t = ItemType(n)
	return nil
}

// HasContent reports whether items of this type carry a blob.
func (t ItemType) HasContent() bool {
	switch t {
	case TypeFolder, TypeSearchFolder, TypeTag, TypeConversation:
		return false
	}
	return true
}

// Extension is the file extension for this type's content (without dot).
func (t ItemType) Extension() string {
	switch t {
	case TypeContact:
		return "vcf"
	case TypeAppointment, TypeTask:
		return "ics"
	case TypeDocument:
		return "bin"
	}
	return "eml"
}

// System folder ids (Zimbra Mailbox.ID_FOLDER_*).
const (
	FolderRoot      = 1
	FolderInbox     = 2
	FolderTrash     = 3
	FolderJunk      = 4
	FolderSent      = 5
	FolderDrafts    = 6
	FolderContacts  = 7
	FolderTags      = 8
	FolderCalendar  = 10
	FolderTasks     = 15
	FolderBriefcase = 16
)

// SystemFolderNames names the system folders when a Backup Path holds no
// folder item for them.
var SystemFolderNames = map[int]string{
	FolderRoot: "", FolderInbox: "Inbox", FolderTrash: "Trash", FolderJunk: "Junk",
	FolderSent: "Sent", FolderDrafts: "Drafts", FolderContacts: "Contacts",
	FolderCalendar: "Calendar", FolderTasks: "Tasks", FolderBriefcase: "Briefcase",
	13: "Emailed Contacts", 14: "Chats",
}

// State is one state (transaction) of a mailbox item: what the item was from
// Start until the next state's Start. Field names are cbfs's definition
// (docs/FORMAT.md); unknown keys are kept in Extra.
type State struct {
	Start    Millis      `json:"startDate"`          // when this state began
	Type     ItemType    `json:"type"`               // Zimbra type code
	FolderID int         `json:"folderId"`           // containing folder
	Flags    string      `json:"flags,omitempty"`    // Zimbra flag letters, e.g. "uf"
	Tags     []string    `json:"tags,omitempty"`     // tag names / IMAP keywords
	Deleted  bool        `json:"deleted"`            // the item no longer exists
	Digest   blob.Digest `json:"digest,omitempty"`   // blob of the content
	Size     int64       `json:"size,omitempty"`     // uncompressed blob size
	Date     Millis      `json:"date,omitempty"`     // the item's own date (message Date / received)
	Subject  string      `json:"subject,omitempty"`  // messages, appointments
	From     string      `json:"from,omitempty"`     // messages
	To       string      `json:"to,omitempty"`       // messages
	Name     string      `json:"name,omitempty"`     // folders, tags, documents, contacts
	ParentID int         `json:"parentId,omitempty"` // folders: the parent folder id
	IMAPUID  uint32      `json:"imapUid,omitempty"`  // cbfs: source UID, for incremental scans
	Extra    Extra       `json:"-"`
}

type stateJSON State // no methods: plain encoding

// UnmarshalJSON decodes one state (see state_decode.go for why by hand).
func (s *State) UnmarshalJSON(b []byte) error {
	if !gjson.ValidBytes(b) {
		var v any
		return json.Unmarshal(b, &v)
	}
	*s = State{}
	return s.decodeGJSON(gjson.ParseBytes(b))
}

func (s State) MarshalJSON() ([]byte, error) {
	return encodeWithExtra(stateJSON(s), s.Extra)
}

// Item is one mailbox item: its id and every state it had, oldest first.
type Item struct {
	ID     int
	States []State
}

// Latest is the item's newest state.
func (it *Item) Latest() *State {
	if len(it.States) == 0 {
		return nil
	}
	return &it.States[len(it.States)-1]
}

// StateAt is the state in force at t (the last one that started at or
// before t), or nil if the item did not exist yet.
func (it *Item) StateAt(t time.Time) *State {
	ms := MillisOf(t)
	i := sort.Search(len(it.States), func(i int) bool { return it.States[i].Start > ms })
	if i == 0 {
		return nil
	}
	return &it.States[i-1]
}

// ParseItem parses an item file: a JSON array of states. States are sorted
// by start date (stable), so readers can rely on the order whatever the
// writer did.
func ParseItem(id int, b []byte) (*Item, error) {
	states, err := parseStates(b)
	if err != nil {
		return nil, fmt.Errorf("item %d: malformed item file: %w", id, err)
	}
	if len(states) == 0 {
		return nil, fmt.Errorf("item %d: item file holds no state", id)
	}
	sort.SliceStable(states, func(i, j int) bool { return states[i].Start < states[j].Start })
	return &Item{ID: id, States: states}, nil
}

// Encode renders the item file: a JSON array, one state per line.
func (it *Item) Encode() ([]byte, error) {
	var b strings.Builder
	b.WriteString("[\n")
	for i, s := range it.States {
		j, err := json.Marshal(s)
		if err != nil {
			return nil, err
		}
		b.Write(j)
		if i < len(it.States)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString("]\n")
	return []byte(b.String()), nil
}

// Account statuses.
const (
	StatusActive  = "active"
	StatusDeleted = "deleted"
)

// Account is accounts/<id>/account_info.
type Account struct {
	ID            string                     `json:"id"`
	Name          string                     `json:"name"`
	Status        string                     `json:"status"`
	DisplayName   string                     `json:"displayName,omitempty"`
	COSID         string                     `json:"cosId,omitempty"`
	COSName       string                     `json:"cosName,omitempty"`
	Created       Millis                     `json:"createdDate,omitempty"`
	DeletedDate   Millis                     `json:"deletedDate,omitempty"`
	BackupEnabled *bool                      `json:"backupEnabled,omitempty"` // cbfs: account-level toggle; nil = inherit from COS
	Attrs         map[string]json.RawMessage `json:"attrs,omitempty"`
	Extra         Extra                      `json:"-"`
}

type accountJSON Account

func (a *Account) UnmarshalJSON(b []byte) error {
	var v accountJSON
	extra, err := decodeTolerant(b, &v)
	if err != nil {
		return err
	}
	*a = Account(v)
	a.Extra = extra
	return nil
}

func (a Account) MarshalJSON() ([]byte, error) { return encodeWithExtra(accountJSON(a), a.Extra) }

// Domain is the part of the account name after '@'.
func (a *Account) Domain() string {
	_, d, _ := strings.Cut(a.Name, "@")
	return d
}

// AccountStat is accounts/<id>/account_stat.
type AccountStat struct {
	LastItemID int    `json:"lastItemId"`             // highest item id backed up
	LastScan   Millis `json:"lastScanDate,omitempty"` // last scan that looked at this account
	ItemCount  int    `json:"itemCount"`              // items in the backup (any state)
	BlobBytes  int64  `json:"blobBytes,omitempty"`    // uncompressed bytes of the latest states
	Extra      Extra  `json:"-"`
}

type accountStatJSON AccountStat

func (a *AccountStat) UnmarshalJSON(b []byte) error {
	var v accountStatJSON
	extra, err := decodeTolerant(b, &v)
	if err != nil {
		return err
	}
	*a = AccountStat(v)
	a.Extra = extra
	return nil
}

func (a AccountStat) MarshalJSON() ([]byte, error) {
	return encodeWithExtra(accountStatJSON(a), a.Extra)
}

// BackupStat is the backup-wide statistics file "backupstat".
type BackupStat struct {
	ServerID      string `json:"serverId"`
	Hostname      string `json:"hostname,omitempty"`
	FirstRun      Millis `json:"firstRunDate"`
	LastScan      Millis `json:"lastScanDate,omitempty"`
	LastPurge     Millis `json:"lastPurgeDate,omitempty"`
	FormatVersion int    `json:"cbfsFormatVersion,omitempty"` // cbfs: version of docs/FORMAT.md written
	Extra         Extra  `json:"-"`
}

type backupStatJSON BackupStat

func (s *BackupStat) UnmarshalJSON(b []byte) error {
	var v backupStatJSON
	extra, err := decodeTolerant(b, &v)
	if err != nil {
		return err
	}
	*s = BackupStat(v)
	s.Extra = extra
	return nil
}

func (s BackupStat) MarshalJSON() ([]byte, error) { return encodeWithExtra(backupStatJSON(s), s.Extra) }

// Record is a provisioning record in a server config backup: a domain, a
// COS or a distribution list.
type Record struct {
	ID      string                     `json:"id"`
	Name    string                     `json:"name"`
	Members []string                   `json:"members,omitempty"` // distribution lists
	Attrs   map[string]json.RawMessage `json:"attrs,omitempty"`
	Extra   Extra                      `json:"-"`
}

type recordJSON Record

func (r *Record) UnmarshalJSON(b []byte) error {
	var v recordJSON
	extra, err := decodeTolerant(b, &v)
	if err != nil {
		return err
	}
	*r = Record(v)
	r.Extra = extra
	return nil
}

func (r Record) MarshalJSON() ([]byte, error) { return encodeWithExtra(recordJSON(r), r.Extra) }

// ServerConfig is one server/global configuration backup
// (server/config_DD_MM_YY#HH_MM_SS.json).
type ServerConfig struct {
	Date              Millis                     `json:"date"`
	ServerID          string                     `json:"serverId,omitempty"`
	Hostname          string                     `json:"hostname,omitempty"`
	ServerConfig      map[string]json.RawMessage `json:"serverConfig"`
	GlobalConfig      map[string]json.RawMessage `json:"globalConfig"`
	Domains           []Record                   `json:"domains,omitempty"`
	COS               []Record                   `json:"cos,omitempty"`
	DistributionLists []Record                   `json:"distributionLists,omitempty"`
	Extra             Extra                      `json:"-"`
}

type serverConfigJSON ServerConfig

func (c *ServerConfig) UnmarshalJSON(b []byte) error {
	var v serverConfigJSON
	extra, err := decodeTolerant(b, &v)
	if err != nil {
		return err
	}
	*c = ServerConfig(v)
	c.Extra = extra
	return nil
}

func (c ServerConfig) MarshalJSON() ([]byte, error) {
	return encodeWithExtra(serverConfigJSON(c), c.Extra)
}

// Map is a map_<serverId> file: after an external restore from the server
// ServerID, which source account id became which destination account id.
type Map struct {
	ServerID string            `json:"serverId"`
	Date     Millis            `json:"date,omitempty"`
	Accounts map[string]string `json:"accounts"`
	Extra    Extra             `json:"-"`
}

type mapJSON Map

func (m *Map) UnmarshalJSON(b []byte) error {
	var v mapJSON
	extra, err := decodeTolerant(b, &v)
	if err != nil {
		return err
	}
	*m = Map(v)
	m.Extra = extra
	return nil
}

func (m Map) MarshalJSON() ([]byte, error) { return encodeWithExtra(mapJSON(m), m.Extra) }
