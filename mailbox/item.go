package mailbox

import (
	"encoding/json"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/cbfs/cbfs/blob"
)

// State is one state (transaction) of a mailbox item: what the item was from
// Start until the next state's Start. Field names are cbfs's own dialect
// (docs/FORMAT.md § 7.1); the reader also understands other dialects
// (decode.go) and keeps what it could not interpret in Extra, with a Note.
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
	End      Millis      `json:"endDate,omitempty"`  // foreign writers: the end of this state's validity (NewItem)
	Extra    Extra       `json:"-"`

	// What the reader made of the state (never written):
	Inherited Concepts `json:"-"` // concepts the state did not carry, taken from the state before it
	Notes     []string `json:"-"` // values it could not interpret (kept in Extra), and digests found by value
	has       Concepts // while decoding: the concepts the file carried (0 for a state built in Go)
	unread    bool     // while decoding: what the state's own unread key said (has CUnread)
	ended     bool     // made by NewItem: the item ended (the state before it has an End)
}

// Ended reports whether NewItem made the state: the deletion at the end
// of the validity period of the state before it (docs/FORMAT.md § 7.6).
// Encode leaves it out: the end date that made it is written.
func (s *State) Ended() bool { return s.ended }

type stateJSON State // no methods: plain encoding

// UnmarshalJSON decodes one state with the default decoder (any dialect).
func (s *State) UnmarshalJSON(b []byte) error {
	st, err := Default.decodeOne(b)
	if err != nil {
		return err
	}
	st.has = 0
	*s = st
	return nil
}

// MarshalJSON writes cbfs's own dialect, every concept the state stands for
// (a delta state of another dialect becomes a full one).
//
// Only the content is left out where the state inherited it (the rule that
// put it there puts it back), so rewriting an item file to append a state
// leaves the lines of the earlier states as they were.
func (s State) MarshalJSON() ([]byte, error) {
	if s.Inherited.Has(CDigest) {
		s.Digest = ""
	}
	if s.Inherited.Has(CSize) {
		s.Size = 0
	}
	return EncodeObject(stateJSON(s), s.Extra)
}

// Live reports whether the state is an existing (not deleted) item.
func (s *State) Live() bool { return s != nil && !s.Deleted }

// Item is one mailbox item: its id and every state it had, oldest first.
type Item struct {
	ID     int
	States []State

	// Where it came from, when read from a Backup Path:
	RelPath  string // item file, relative to the Backup Path root
	Err      string // why the item file could not be read or parsed ("" if fine)
	ErrClass string // "unreadable" or "broken" when Err is set
}

// NewItem makes an item of states read from a file: sorted by start date
// (stable, so equal dates keep file order) and with every concept a state
// did not carry filled in from the state before it, as docs/FORMAT.md
// § 7.6 says: the content (digest and size) always, everything else only
// in a delta state (one that does not say its type).
func NewItem(id int, states []State) *Item {
	sort.SliceStable(states, func(i, j int) bool { return states[i].Start < states[j].Start })
	for i := 1; i < len(states); i++ {
		inherit(&states[i], &states[i-1])
	}
	states = withEnds(states)
	for i := range states {
		// Decoding is over: parsed and built states compare equal.
		states[i].has, states[i].unread = 0, false
	}
	return &Item{ID: id, States: states}
}

// withEnds makes validity periods (docs/FORMAT.md § 7.6) plain states,
// so every consumer (the folders, deleted/, at/, getItem, the restores)
// agrees: after a state whose End comes before the next state's start, or
// that is the last, the item is deleted from End on. A state of its own,
// marked Ended, says so: the state before it, deleted, with a note.
func withEnds(states []State) []State {
	n := 0
	for i := range states {
		if endsAlone(states, i) {
			n++
		}
	}
	if n == 0 {
		return states
	}
	out := make([]State, 0, len(states)+n)
	for i := range states {
		out = append(out, states[i])
		if !endsAlone(states, i) {
			continue
		}
		e := states[i]
		e.Start, e.End, e.Deleted, e.ended = states[i].End, 0, true, true
		e.Extra, e.has = nil, 0
		e.Inherited = (Bit(numConcepts) - 1) &^ (Bit(CStart) | Bit(CDeleted) | Bit(CUnread) | Bit(CEnd))
		e.Notes = []string{"ended at " + states[i].End.Time().Format(time.RFC3339Nano) +
			" (the end date of the state before; no state follows then): deleted from then on"}
		out = append(out, e)
	}
	return out
}

// endsAlone reports whether states[i] ends before anything follows it. An
// end date at or before the state's own start says nothing and is ignored.
func endsAlone(states []State, i int) bool {
	s := &states[i]
	if s.End == 0 || s.End <= s.Start || s.Deleted || s.ended {
		return false
	}
	return i == len(states)-1 || s.End < states[i+1].Start
}

// inherit fills what s did not carry from p (only for decoded states).
func inherit(s, p *State) {
	if s.has == 0 {
		return
	}
	if !s.has.Has(CDigest) {
		s.Digest, s.Inherited = p.Digest, s.Inherited|Bit(CDigest)
		if !s.has.Has(CSize) {
			s.Size, s.Inherited = p.Size, s.Inherited|Bit(CSize)
		}
	} else if !s.has.Has(CSize) && s.Digest == p.Digest {
		s.Size, s.Inherited = p.Size, s.Inherited|Bit(CSize)
	}
	delta := s.has.Has(cDelta) || (!s.has.Has(CType) && !s.has.Has(cFull))
	if !delta {
		return
	}
	for c := CType; c < numConcepts; c++ {
		if s.has.Has(c) || c == CDigest || c == CSize {
			continue
		}
		s.Inherited |= Bit(c)
		switch c {
		case CType:
			s.Type = p.Type
		case CFolder:
			s.FolderID = p.FolderID
		case CFlags:
			s.Flags = p.Flags
			if s.has.Has(CUnread) {
				// A delta that states only unread changes only unread.
				s.Flags = withUnread(s.Flags, s.unread, s.Type)
			}
		case CTags:
			s.Tags = p.Tags
		case CDeleted:
			s.Deleted = p.Deleted
		case CDate:
			s.Date = p.Date
		case CSubject:
			s.Subject = p.Subject
		case CFrom:
			s.From = p.From
		case CTo:
			s.To = p.To
		case CName:
			s.Name = p.Name
		case CParent:
			s.ParentID = p.ParentID
		case CIMAPUID:
			s.IMAPUID = p.IMAPUID
		case CUnread, CEnd:
			// Unread is in the flags (below); an end date is the state's own.
		}
	}
}

// Latest is the item's newest state (nil for an item with none).
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

// IndexAt is the index in States of the state in force at t, or -1
// before the first; the zero t means the latest state.
func (it *Item) IndexAt(t time.Time) int {
	if t.IsZero() {
		return len(it.States) - 1
	}
	ms := MillisOf(t)
	return sort.Search(len(it.States), func(i int) bool { return it.States[i].Start > ms }) - 1
}

// LiveAt is the state at t if the item existed then and was not deleted
// (zero t: its latest state), else nil.
func (it *Item) LiveAt(t time.Time) *State {
	s := it.Latest()
	if !t.IsZero() {
		s = it.StateAt(t)
	}
	if s.Live() {
		return s
	}
	return nil
}

// IsDeleted reports whether the item's latest state is deleted: it is one
// of the account's "deleted items".
func (it *Item) IsDeleted() bool {
	l := it.Latest()
	return l != nil && l.Deleted
}

// ContentIndex is the index of the state whose blob is the content of state
// i: i itself, since the reader fills a state that carries no digest from
// the one before it; -1 when the state has no content (none of its states
// named a blob up to i).
func (it *Item) ContentIndex(i int) int {
	if i < 0 || i >= len(it.States) || it.States[i].Digest == "" {
		return -1
	}
	return i
}

// LiveBefore is the index of the last state before index i that is not
// deleted (how the item was just before it was deleted), or -1.
func (it *Item) LiveBefore(i int) int {
	for i--; i >= 0; i-- {
		if !it.States[i].Deleted {
			return i
		}
	}
	return -1
}

// Digests lists the distinct blobs the item's states name, in state order.
func (it *Item) Digests() []blob.Digest {
	var out []blob.Digest
	for i := range it.States {
		d := it.States[i].Digest
		if d != "" && !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out
}

// RecordSizes notes in sizes, for each blob the item's states name, the
// largest size a state records for it, or -1 once a state records none:
// the bound a whole-path check verifies the blob within (a blob read
// within a smaller size would be called broken for the state that
// records the larger).
func (it *Item) RecordSizes(sizes map[blob.Digest]int64) {
	for i := range it.States {
		st := &it.States[i]
		switch r, seen := sizes[st.Digest]; {
		case st.Digest == "":
		case st.Size <= 0:
			sizes[st.Digest] = -1
		case !seen || (r >= 0 && st.Size > r):
			sizes[st.Digest] = st.Size
		}
	}
}

// Encode renders the item file in cbfs's dialect: a JSON array, one state
// per line.
func (it *Item) Encode() ([]byte, error) {
	var b strings.Builder
	b.WriteString("[\n")
	states := it.States
	if slices.ContainsFunc(states, func(s State) bool { return s.ended }) {
		states = slices.DeleteFunc(slices.Clone(states), func(s State) bool { return s.ended })
	}
	for i, s := range states {
		j, err := json.Marshal(s)
		if err != nil {
			return nil, err
		}
		b.Write(j)
		if i < len(states)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString("]\n")
	return []byte(b.String()), nil
}

// MaxItemID is the largest item id: Zimbra's item ids are 32-bit signed.
// A file named by a larger number is not an item file (for cbctl, the
// index and the mount alike).
const MaxItemID = 1<<31 - 1

// ParseItemID reads an item id from a file name: canonical decimal (no
// sign, no leading zero but for "0"), 0..MaxItemID.
func ParseItemID(name string) (int, bool) {
	if name == "" || len(name) > 10 || (len(name) > 1 && name[0] == '0') {
		return 0, false
	}
	n := 0
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	if n > MaxItemID {
		return 0, false
	}
	return n, true
}

// NotItemIDReason says why a file name is not an item id ("" if it is):
// "id out of range" for a decimal number over MaxItemID, else "name is not
// an item id".
func NotItemIDReason(name string) string {
	if _, ok := ParseItemID(name); ok {
		return ""
	}
	digits := name != "" && (len(name) == 1 || name[0] != '0')
	for i := 0; i < len(name) && digits; i++ {
		digits = name[i] >= '0' && name[i] <= '9'
	}
	if digits {
		return "id out of range"
	}
	return "name is not an item id"
}

// PreferFile reports whether a file of item id in bucket folder a wins over
// one in bucket b when the same id is found twice: the writer's usual
// bucket (the id's last two digits) first, then the lower name.
func PreferFile(id int, a, b string) bool {
	std := Bucket(id)
	if a == std || b == std {
		return a == std
	}
	return a < b
}

// Bucket is the folder a writer puts item id in: its last two digits.
func Bucket(id int) string {
	n := id % 100
	if n < 0 {
		n = -n
	}
	return string([]byte{byte('0' + n/10), byte('0' + n%10)})
}

// ShownAt is the index of the state that shows item it as a file of its
// folder at t (zero t: now, its latest state): the state then, if the item
// was live and is content (a message, contact, ... with a blob). -1 when
// the item is not a file of any folder at t.
func (it *Item) ShownAt(t time.Time) int {
	i := it.IndexAt(t)
	if i < 0 {
		return -1
	}
	s := &it.States[i]
	if s.Deleted || !s.Type.HasContent() || s.Digest == "" {
		return -1
	}
	return i
}

// ShownDeleted is the index of the state that shows item it among the
// account's deleted items: its latest state, if that is deleted and the
// item is content. -1 otherwise.
func (it *Item) ShownDeleted() int {
	i := len(it.States) - 1
	if i < 0 {
		return -1
	}
	s := &it.States[i]
	if !s.Deleted || !s.Type.HasContent() || s.Digest == "" {
		return -1
	}
	return i
}

// DigestsIn returns the well-formed digests (FS-safe form, sorted, each
// once) that appear anywhere in b: what a damaged item file (one the
// decoder refuses) may still name, so purge keeps those blobs and export
// copies them.
func DigestsIn(b []byte) []blob.Digest {
	set := map[blob.Digest]bool{}
	for _, m := range digestRE.FindAll(b, -1) {
		if len(m) != blob.SHA256Len && len(m) != blob.SHA1Len && len(m) != blob.SHA384Len {
			continue
		}
		if d := NormalizeDigest(string(m)); d.Valid() {
			set[d] = true
		}
	}
	out := make([]blob.Digest, 0, len(set))
	for d := range set {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

var digestRE = regexp.MustCompile(`[A-Za-z0-9+/,]{27,64}=?`)
