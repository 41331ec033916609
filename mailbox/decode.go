package mailbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"github.com/cbfs/cbfs/blob"
)

// Item files are the bulk of a Backup Path (one per mailbox item), so their
// states are decoded by hand over gjson: cbfs's own keys are matched first,
// exactly, with their own value types (the fast path); any other key is
// folded (canonKey) and looked up among the aliases of every concept; a
// value is then read liberally (numbers as strings, booleans as 0/1, dates
// in ms, s or RFC 3339, flags as letters or Zimbra's bitmask...). A value
// that cannot be read is kept in Extra with a Note, and only that concept
// is lost, never the item.

// MaxDepth bounds the nesting of the JSON a decoder accepts. encoding/json
// stops at 10,000; gjson's validator recurses without a bound, so a file of
// ten million '[' would overflow the stack. No dialect nests deeper than a
// handful of levels.
const MaxDepth = 64

// ErrTooDeep: the JSON nests deeper than MaxDepth.
var ErrTooDeep = errors.New("JSON nested too deeply")

// checkDepth scans b once, without recursion, and fails when arrays and
// objects nest deeper than max.
func checkDepth[T string | []byte](b T, max int) error {
	// Most files hold too few brackets to nest that deep at all: counting
	// them (vectorised) costs far less than the scan.
	if strings.Count(string(b), "[")+strings.Count(string(b), "{") <= max {
		return nil
	}
	depth, inStr, esc := 0, false, false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inStr {
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
			continue
		}
		switch c {
		case '"':
			inStr = true
		case '[', '{':
			if depth++; depth > max {
				return fmt.Errorf("%w (more than %d levels)", ErrTooDeep, max)
			}
		case ']', '}':
			depth--
		}
	}
	return nil
}

// Decoder reads states and accounts of any dialect onto the model. The zero
// value is not usable: use Default or NewDecoder.
type Decoder struct {
	exact   map[string]Concept // key -> concept, cbfs's keys and the keymap's
	ignore  map[string]bool    // keys never interpreted (keymap)
	mode    Concepts           // Bit(cFull) or Bit(cDelta) when the keymap fixes it
	km      *KeyMap            // the keymap, for UnmatchedKeymap
	dotted  bool               // the keymap names keys below a state's own ("item.tp")
	account map[string]string  // keymap: account_info key -> account field

	// BlobExists, when set, says whether a digest names a blob of the
	// Backup Path: a digest found by value (under no known key) counts only
	// then. nil accepts any well-formed digest.
	BlobExists func(blob.Digest) bool

	// Census, when set, is told about every state key the decoder meets
	// (cbctl backup getFormatInfo).
	Census *Census
}

// Default decodes with cbfs's keys and every alias, and no keymap.
var Default = NewDecoder(nil)

// NewDecoder makes a decoder; km (may be nil) overrides the inference.
func NewDecoder(km *KeyMap) *Decoder {
	d := &Decoder{exact: make(map[string]Concept, numConcepts), ignore: map[string]bool{}}
	for c, k := range conceptKeys {
		d.exact[k] = Concept(c)
	}
	if km != nil {
		d.km = km
		for name, keys := range km.State {
			c, _ := ParseConcept(name) // checked by ParseKeyMap
			for _, k := range keys {
				d.exact[k] = c
				d.dotted = d.dotted || strings.Contains(k, ".")
			}
		}
		for _, k := range km.Ignore {
			d.ignore[k] = true
			d.dotted = d.dotted || strings.Contains(k, ".")
			delete(d.exact, k)
		}
		switch km.States {
		case "full":
			d.mode = Bit(cFull)
		case "delta":
			d.mode = Bit(cDelta)
		}
		d.account = km.Account
	}
	return d
}

// WithBlobs returns a copy of d that accepts digests found by value only
// when exists says the blob is there.
func (d *Decoder) WithBlobs(exists func(blob.Digest) bool) *Decoder {
	c := *d
	c.BlobExists = exists
	return &c
}

// ParseItem parses an item file: a JSON array of states (a single state
// object is accepted as a one-state history). States are sorted by start
// date and completed (NewItem). It fails only when the file is not JSON,
// nests too deeply, or holds no state object at all.
func (d *Decoder) ParseItem(id int, b []byte) (*Item, error) {
	return d.ParseItemString(id, string(b))
}

// ParseItemString is ParseItem of a file's bytes held in a string: the
// states' strings point into s instead of into a copy of it, so a caller
// that reads a big file straight into a string (the index build) holds it
// once, not twice.
func (d *Decoder) ParseItemString(id int, b string) (*Item, error) {
	states, err := d.parseStates(b)
	if err != nil {
		return nil, fmt.Errorf("item %d: malformed item file: %w", id, err)
	}
	if len(states) == 0 {
		return nil, fmt.Errorf("item %d: item file holds no state", id)
	}
	return NewItem(id, states), nil
}

// parseJSON checks b (depth first, so no recursive parser sees absurd
// nesting) and parses it.
func parseJSON(b string) (gjson.Result, error) {
	if err := checkDepth(b, MaxDepth); err != nil {
		return gjson.Result{}, err
	}
	if !gjson.Valid(b) {
		// Let encoding/json say what is wrong, with its offset.
		var v any
		if err := json.Unmarshal([]byte(b), &v); err != nil {
			return gjson.Result{}, err
		}
		return gjson.Result{}, errors.New("invalid JSON")
	}
	return gjson.Parse(b), nil
}

func (d *Decoder) parseStates(b string) ([]State, error) {
	r, err := parseJSON(b)
	if err != nil {
		return nil, err
	}
	switch {
	case r.Type == gjson.Null:
		return nil, nil // no states: the caller says so
	case r.IsObject():
		s := d.decodeState(r)
		return []State{s}, nil
	case !r.IsArray():
		return nil, fmt.Errorf("want a JSON array of states, got %s", jsonKind(r))
	}
	// Count first in a big file: 300k states grown by append allocated ~5x
	// the final slice (State is ~230 bytes) and held 2.25x at the peak. A
	// small file is not worth a second pass.
	var states []State
	if len(b) > 1<<20 {
		n := 0
		r.ForEach(func(_, v gjson.Result) bool {
			if v.IsObject() {
				n++
			}
			return true
		})
		states = make([]State, 0, n)
	}
	var bad []string
	r.ForEach(func(_, v gjson.Result) bool {
		if !v.IsObject() {
			bad = append(bad, jsonKind(v))
			return true
		}
		states = append(states, d.decodeState(v))
		return true
	})
	if len(states) == 0 && len(bad) > 0 {
		return nil, fmt.Errorf("want state objects, got %s", strings.Join(bad, ", "))
	}
	if len(bad) > 0 && len(states) > 0 {
		s := &states[0]
		s.Notes = append(s.Notes, fmt.Sprintf("%d array entries that are not state objects were skipped (%s)", len(bad), bad[0]))
	}
	return states, nil
}

// decodeOne decodes one state object (State.UnmarshalJSON).
func (d *Decoder) decodeOne(b []byte) (State, error) {
	r, err := parseJSON(string(b))
	if err != nil {
		return State{}, err
	}
	if !r.IsObject() {
		return State{}, fmt.Errorf("want a JSON object, got %s", jsonKind(r))
	}
	return d.decodeState(r), nil
}

func jsonKind(r gjson.Result) string {
	switch r.Type {
	case gjson.Null:
		return "null"
	case gjson.False, gjson.True:
		return "a boolean"
	case gjson.Number:
		return "a number"
	case gjson.String:
		return "a string"
	}
	if r.IsArray() {
		return "an array"
	}
	return "an object"
}

// MaxNestedStateDepth is how far below a state's top level the decoder
// looks for the item's own data (docs/FORMAT.md § 12.2): an object under a
// key, and one more object in it.
const MaxNestedStateDepth = 2

// later is what the decoder reads once a state's own keys are done: objects
// that may hold the item's data, and Zimbra metadata strings.
type later struct {
	nested []pathVal
	meta   []pathVal
}

type keyVal struct {
	key string
	val gjson.Result
}

type pathVal struct {
	path string
	val  gjson.Result
}

// decodeState reads one state object.
func (d *Decoder) decodeState(v gjson.Result) State {
	var s State
	// Two passes: cbfs's own (and the keymap's) keys first, so they win over
	// an alias of the same concept wherever they stand; then, only if the
	// state has other keys, the aliases and the rest.
	// The other keys are kept for the second pass (on the stack for a
	// state of up to 32 of them), so it does not walk and parse the JSON
	// again.
	var buf [32]keyVal
	others := buf[:0]
	v.ForEach(func(k, val gjson.Result) bool {
		key := stateKey(k)
		c, exact := d.exact[key]
		if !exact || d.ignore[key] {
			others = append(others, keyVal{key, val})
			return true
		}
		d.take(&s, "", key, c, val, conceptKeys[c] == key)
		return true
	})
	if len(others) > 0 {
		var l later
		for i := range others {
			d.other(&s, "", others[i].key, others[i].val, &l)
		}
		d.finish(&s, &l)
	}
	// A folder stated only as a parent (e.g. "parentId" for a message's
	// folder), and a folder item's parent stated only as its folder.
	if !s.has.Has(CFolder) && s.has.Has(CParent) {
		s.FolderID = s.ParentID
		s.has |= Bit(CFolder)
	}
	if (s.Type == TypeFolder || s.Type == TypeSearchFolder) && !s.has.Has(CParent) && s.has.Has(CFolder) {
		s.ParentID = s.FolderID
	}
	if s.has.Has(CUnread) {
		s.Flags = withUnread(s.Flags, s.unread, s.Type)
	}
	if !s.has.Has(CDigest) && (s.Type == TypeUnknown || s.Type.HasContent()) && len(s.Extra) > 0 {
		d.digestByValue(&s)
	}
	s.has |= Bit(numConcepts) | d.mode // "decoded" marker (never a concept)
	return s
}

// withUnread sets or clears the flag letter u as a state's own unread key
// says: it wins over the flags (Zimbra keeps unread apart from its flags
// bitmask). Only for items that can be unread: a folder's or a
// conversation's unread count counts the messages in it.
func withUnread(flags string, unread bool, t ItemType) string {
	if t != TypeUnknown && !t.HasContent() {
		return flags
	}
	has := strings.IndexByte(flags, 'u') >= 0
	switch {
	case unread && !has:
		return CanonFlags(flags + "u")
	case !unread && has:
		return strings.ReplaceAll(flags, "u", "")
	}
	return flags
}

// other reads a key that is not one of the exact keys: an alias, a key
// known but not needed, Zimbra metadata, an object that may hold the
// item's data, or a key kept as it is. top: the key is the state's own
// (kept in Extra when not read); below it, the object holding the key is
// kept whole.
func (d *Decoder) other(s *State, prefix, key string, val gjson.Result, l *later) {
	top := prefix == ""
	if (top || d.dotted) && d.ignore[prefix+key] {
		d.countAt(prefix, key, "", "ignored (keymap)")
		if top {
			s.keep(key, val)
		}
		return
	}
	c, what, ok := alias(key)
	if !ok {
		if what != "" {
			if d.Census != nil {
				d.countAt(prefix, key, "", "known ("+what+"), not needed")
			}
			if top {
				s.keep(key, val)
			}
			return
		}
		if val.IsObject() {
			l.nested = append(l.nested, pathVal{prefix + key, val})
		} else {
			d.countAt(prefix, key, "", notRead(val))
		}
		if top {
			s.keep(key, val)
		}
		return
	}
	switch {
	case c == cMeta:
		if top {
			s.keep(key, val)
		}
		switch {
		case val.Type == gjson.String:
			l.meta = append(l.meta, pathVal{prefix + key, val})
		case val.IsObject():
			l.nested = append(l.nested, pathVal{prefix + key, val})
		default:
			d.countAt(prefix, key, "", notRead(val))
		}
	default:
		d.take(s, prefix, key, c, val, false)
	}
}

// notRead is the census note for a key that is not interpreted: "not read"
// when it holds data, "empty" when it holds none.
func notRead(val gjson.Result) string {
	switch val.Type {
	case gjson.Null, gjson.False:
		return noteEmpty
	case gjson.String:
		if val.Str == "" {
			return noteEmpty
		}
	case gjson.Number:
		if val.Num == 0 {
			return noteEmpty
		}
	default:
		if r := strings.TrimSpace(val.Raw); r == "[]" || r == "{}" {
			return noteEmpty
		}
	}
	return noteNotRead
}

// finish reads what other left for after the state's own keys: the
// objects that may hold the item's data (when the state does not say its
// type: its data is elsewhere, or it is a delta), then Zimbra metadata.
// Neither overrides a concept the state stated.
func (d *Decoder) finish(s *State, l *later) {
	for i := 0; i < len(l.nested); i++ {
		n := l.nested[i]
		if s.has.Has(CType) || strings.Count(n.path, ".") >= MaxNestedStateDepth {
			d.count(n.path, "", notRead(n.val))
			continue
		}
		d.count(n.path, "", "object, its keys read below")
		prefix := n.path + "."
		n.val.ForEach(func(k, val gjson.Result) bool {
			key := stateKey(k)
			if d.dotted {
				if c, ok := d.exact[prefix+key]; ok && !d.ignore[prefix+key] {
					d.take(s, prefix, key, c, val, false)
					return true
				}
			}
			d.other(s, prefix, key, val, l)
			return true
		})
	}
	for _, m := range l.meta {
		d.zimbraMeta(s, m.path, m.val)
	}
}

func stateKey(k gjson.Result) string {
	if strings.IndexByte(k.Raw, '\\') < 0 {
		return k.Str
	}
	// Escapes in the key. Only here does key move to the heap (its
	// address is taken): a key shared by both paths cost an allocation
	// for every key of every state.
	key := k.Str
	decodeString(k, &key)
	return key
}

// take reads val under prefix+key as concept c, unless c is already known
// (the first key wins; the later one is kept as it is). prefix is "" for
// the state's own keys; below them ("item."), the holding object is kept
// whole, so nothing is kept, and a concept the state stated wins.
func (d *Decoder) take(s *State, prefix, key string, c Concept, val gjson.Result, cbfs bool) {
	top := prefix == ""
	if c == CTags && val.Type == gjson.Number {
		// mail_item.tags: Zimbra's bitmask of tag ids; the names are in
		// tag_names.
		d.countAt(prefix, key, "", "known (Zimbra tag bitmask; names are in tag_names), not needed")
		if top {
			s.keep(key, val)
		}
		return
	}
	if s.has.Has(c) {
		if top {
			d.countAt(prefix, key, c.String(), "duplicate, kept")
			s.keep(key, val)
		} else {
			d.countAt(prefix, key, c.String(), "stated above, not used")
		}
		return
	}
	if note := s.set(c, val, cbfs); note != "" {
		d.countAt(prefix, key, c.String(), noteUninterpretable)
		if top {
			s.keep(key, val)
		}
		s.Notes = append(s.Notes, fmt.Sprintf("%s%s: %s (kept)", prefix, key, note))
		return
	}
	d.countAt(prefix, key, c.String(), "")
	s.has |= Bit(c)
}

func (s *State) keep(key string, val gjson.Result) {
	if s.Extra == nil {
		s.Extra = Extra{}
	}
	s.Extra[key] = json.RawMessage(val.Raw)
}

func (d *Decoder) count(key, concept, how string) {
	if d.Census != nil {
		d.Census.stateKey(key, concept, how)
	}
}

// countAt counts the key prefix+key (joined only for a census).
func (d *Decoder) countAt(prefix, key, concept, how string) {
	if d.Census != nil {
		d.Census.stateKey(prefix+key, concept, how)
	}
}

// set reads val as concept c into s; it returns why it could not ("" when
// it could). cbfs: the key is cbfs's own spelling, read with cbfs's exact
// value types (dates are milliseconds, never guessed).
func (s *State) set(c Concept, val gjson.Result, cbfs bool) string {
	if val.Type == gjson.Null {
		return "" // present but empty: the zero value
	}
	switch c {
	case CStart:
		return readDate(val, cbfs, &s.Start)
	case CDate:
		return readDate(val, cbfs, &s.Date)
	case CType:
		t, ok := readType(val)
		if !ok {
			return "not an item type"
		}
		s.Type = t
	case CFolder:
		return readInt(val, &s.FolderID)
	case CParent:
		return readInt(val, &s.ParentID)
	case CFlags:
		f, ok := readFlags(val)
		if !ok {
			return "not flags (letters, a bitmask or IMAP flags)"
		}
		s.Flags = f
	case CTags:
		t, ok := readTags(val)
		if !ok {
			return "not a list of tag names"
		}
		s.Tags = t
	case CDeleted:
		b, ok := readBool(val)
		if !ok {
			return "not a boolean"
		}
		s.Deleted = b
	case CDigest:
		if val.Type == gjson.String {
			// The fast path: a digest as cbfs writes it is taken as it is
			// (the blob store checks it when it is read). Anything else is
			// normalised, and a string that is no digest at all stays the
			// digest, so the state's content is reported invalid instead
			// of silently being the previous state's.
			str := strings.TrimSpace(val.Str)
			if strings.ContainsAny(str, "/\\") || (len(str) != blob.SHA256Len && len(str) != blob.SHA1Len && len(str) != blob.SHA384Len) {
				if dg, ok := parseDigestValue(str); ok {
					str = string(dg)
				}
			}
			s.Digest = blob.Digest(str)
			return ""
		}
		dg, ok := digestIn(val, 0)
		if !ok {
			return "not a blob digest"
		}
		s.Digest = dg
	case CSize:
		n, ok := readInt64(val)
		if !ok || n < 0 {
			return "not a size"
		}
		s.Size = n
	case CSubject:
		return readString(val, &s.Subject)
	case CFrom:
		return readString(val, &s.From)
	case CTo:
		return readString(val, &s.To)
	case CName:
		return readString(val, &s.Name)
	case CIMAPUID:
		n, ok := readInt64(val)
		if !ok || n < -1 || n > math.MaxUint32 {
			return "not an IMAP UID"
		}
		if n > 0 { // Zimbra's -1 and 0: none
			s.IMAPUID = uint32(n)
		}
	case CUnread:
		// A flag (true, "yes"...) or Zimbra's unread count (uc, mail_item's
		// unread): above 0 is unread.
		if n, ok := readInt64(val); ok {
			s.unread = n > 0
		} else if b, ok := readBool(val); ok {
			s.unread = b
		} else {
			return "not an unread flag or count"
		}
	case CEnd:
		return readDate(val, cbfs, &s.End)
	}
	return ""
}

// digestByValue looks for the content digest among the keys the decoder
// did not know (nested values too, keys in sorted order): the first string
// that is a well-formed digest and names an existing blob. When none names
// an existing blob, a well-formed digest under a key that says it is one
// (digestHints) is taken all the same, so a missing blob is reported
// missing instead of the state silently keeping the content before it.
func (d *Decoder) digestByValue(s *State) {
	keys := make([]string, 0, len(s.Extra))
	for k := range s.Extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var fallback blob.Digest
	var fallbackKey string
	for _, k := range keys {
		var found, first blob.Digest
		walkStrings(gjson.ParseBytes(s.Extra[k]), 0, func(str string) bool {
			dg, ok := parseDigestValue(str)
			if !ok {
				return true
			}
			if first == "" {
				first = dg
			}
			if d.BlobExists == nil || d.BlobExists(dg) {
				found = dg
				return false
			}
			return true
		})
		if found != "" {
			d.takeByValue(s, k, found, "content digest found by value")
			return
		}
		if first != "" && fallback == "" && hintsDigest(k, s.Extra[k]) {
			fallback, fallbackKey = first, k
		}
	}
	if fallback != "" {
		d.takeByValue(s, fallbackKey, fallback, "content digest found by value (its blob is not in items/)")
	}
}

// digestHints are words in a key (or the keys nested in its value) that
// say it holds a content digest.
var digestHints = []string{"sha", "hash", "digest", "blob", "content", "checksum"}

func hintsDigest(key string, raw []byte) bool {
	text := strings.ToLower(key + " " + string(raw))
	for _, h := range digestHints {
		if strings.Contains(text, h) {
			return true
		}
	}
	return false
}

func (d *Decoder) takeByValue(s *State, key string, dg blob.Digest, note string) {
	s.Digest = dg
	s.has |= Bit(CDigest)
	s.Notes = append(s.Notes, key+": "+note)
	if d.Census != nil {
		d.Census.foundByValue(key)
	}
}

// walkStrings calls fn for every string in v (depth-first, bounded), until
// fn returns false.
func walkStrings(v gjson.Result, depth int, fn func(string) bool) bool {
	if depth > MaxDepth {
		return true
	}
	switch {
	case v.Type == gjson.String:
		return fn(v.Str)
	case v.IsArray() || v.IsObject():
		more := true
		v.ForEach(func(_, e gjson.Result) bool {
			more = walkStrings(e, depth+1, fn)
			return more
		})
		return more
	}
	return true
}

// digestIn reads a digest from a value: a string (digest, '/' form, or a
// blob path ending in items/<2>/<digest>), or the first digest in an object
// or array.
func digestIn(v gjson.Result, depth int) (blob.Digest, bool) {
	var found blob.Digest
	walkStrings(v, depth, func(str string) bool {
		if dg, ok := parseDigestValue(str); ok {
			found = dg
			return false
		}
		return true
	})
	return found, found != ""
}

// parseDigestValue reads a digest written as a digest (FS-safe or with
// '/'), or as a blob path ".../items/<2 chars>/<digest>".
func parseDigestValue(s string) (blob.Digest, bool) {
	s = strings.TrimSpace(s)
	if d, err := blob.ParseDigest(s); err == nil {
		return d, true
	}
	if i := strings.LastIndex(s, "items/"); i >= 0 {
		rest := s[i+len("items/"):]
		if len(rest) > 3 && rest[2] == '/' {
			if d, err := blob.ParseDigest(rest[3:]); err == nil && d.Dir() == strings.ReplaceAll(rest[:2], "/", ",") {
				return d, true
			}
		}
	}
	return "", false
}

// NormalizeDigest turns a digest as a state may write it (plain base64 with
// '/', a blob path, spaces around) into its FS-safe form; it returns the
// trimmed input unchanged when it is no digest at all.
func NormalizeDigest(s string) blob.Digest {
	if d, ok := parseDigestValue(s); ok {
		return d
	}
	return blob.Digest(strings.TrimSpace(s))
}

// ---- value readers ----

func readString(v gjson.Result, out *string) string {
	switch v.Type {
	case gjson.String:
		return decodeString(v, out)
	case gjson.Number, gjson.True, gjson.False:
		*out = v.Raw
		return ""
	}
	if v.IsArray() { // LDAP-style single value in an array
		if a := v.Array(); len(a) > 0 && a[0].Type == gjson.String {
			return decodeString(a[0], out)
		}
	}
	return "not a string"
}

// decodeString decodes a JSON string; invalid UTF-8 is replaced as
// encoding/json would.
func decodeString(v gjson.Result, s *string) string {
	if v.Type != gjson.String {
		return "not a string"
	}
	raw := v.Raw
	plain := true
	for i := 1; i < len(raw)-1; i++ {
		if c := raw[i]; c == '\\' || c >= 0x80 {
			plain = false
			break
		}
	}
	if plain && len(raw) >= 2 {
		*s = raw[1 : len(raw)-1]
		return ""
	}
	if err := json.Unmarshal([]byte(raw), s); err != nil {
		*s = strings.ToValidUTF8(v.Str, string(utf8.RuneError))
	}
	return ""
}

func readInt64(v gjson.Result) (int64, bool) {
	var raw string
	switch v.Type {
	case gjson.Number:
		raw = v.Raw
	case gjson.String:
		raw = strings.TrimSpace(v.Str)
	default:
		if v.IsArray() {
			if a := v.Array(); len(a) == 1 {
				return readInt64(a[0])
			}
		}
		return 0, false
	}
	if n, err := strconv.ParseInt(raw, 10, 64); err == nil {
		return n, true
	}
	f, err := strconv.ParseFloat(raw, 64)
	if err != nil || f != math.Trunc(f) || f >= 1<<63 || f < -(1<<63) {
		return 0, false
	}
	return int64(f), true
}

func readInt(v gjson.Result, out *int) string {
	n, ok := readInt64(v)
	if !ok || n > math.MaxInt32 || n < math.MinInt32 {
		return "not an id"
	}
	*out = int(n)
	return ""
}

func readBool(v gjson.Result) (bool, bool) {
	switch v.Type {
	case gjson.True:
		return true, true
	case gjson.False:
		return false, true
	case gjson.Number:
		switch v.Raw {
		case "0":
			return false, true
		case "1":
			return true, true
		}
	case gjson.String:
		switch strings.ToLower(strings.TrimSpace(v.Str)) {
		case "true", "1", "yes", "y", "t", "on":
			return true, true
		case "false", "0", "no", "n", "f", "off", "":
			return false, true
		}
	}
	return false, false
}

// typeSynonyms are further names of item types met in other writers.
var typeSynonyms = map[string]ItemType{
	"searchfolder": TypeSearchFolder, "search_folder": TypeSearchFolder, "msg": TypeMessage,
	"mail": TypeMessage, "email": TypeMessage, "conv": TypeConversation,
	"virtualconversation": TypeVirtualConversation, "virtual_conversation": TypeVirtualConversation,
	"file": TypeDocument, "event": TypeAppointment, "calendaritem": TypeAppointment,
	"comment": TypeCalendarGroup, "calendargroup": TypeCalendarGroup, "calendar_group": TypeCalendarGroup,
}

func readType(v gjson.Result) (ItemType, bool) {
	if n, ok := readInt64(v); ok {
		if n < 0 || n > 127 {
			return 0, false
		}
		return ItemType(n), true
	}
	if v.Type != gjson.String {
		return 0, false
	}
	s := strings.ToLower(strings.TrimSpace(v.Str))
	if t, err := ParseItemType(s); err == nil {
		return t, true
	}
	t, ok := typeSynonyms[strings.ReplaceAll(s, "-", "")]
	return t, ok
}

func readFlags(v gjson.Result) (string, bool) {
	switch v.Type {
	case gjson.Number:
		n, ok := readInt64(v)
		if !ok || n < 0 {
			return "", false
		}
		return FlagsFromBits(n), true
	case gjson.String:
		var s string
		decodeString(v, &s)
		if t := strings.TrimSpace(s); t != "" && t[0] >= '0' && t[0] <= '9' {
			if n, err := strconv.ParseInt(t, 10, 64); err == nil && n >= 0 {
				return FlagsFromBits(n), true
			}
		}
		if strings.HasPrefix(strings.TrimSpace(s), `\`) || strings.HasPrefix(strings.TrimSpace(s), "$") {
			l, _ := FlagsFromIMAP(strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' }))
			return l, true
		}
		return s, true // letters, kept as they are (unknown ones too)
	}
	if v.IsArray() {
		var list []string
		for _, e := range v.Array() {
			if e.Type != gjson.String {
				return "", false
			}
			list = append(list, e.Str)
		}
		l, _ := FlagsFromIMAP(list)
		return l, true
	}
	return "", false
}

func readTags(v gjson.Result) ([]string, bool) {
	switch {
	case v.Type == gjson.String:
		// Comma-separated, or NUL-separated as Zimbra's tag_names and tg
		// ("\x00work\x00todo\x00", DbTag.serializeTags).
		sep := ","
		if strings.IndexByte(v.Str, 0) >= 0 {
			sep = "\x00"
		}
		var out []string
		for _, t := range strings.Split(v.Str, sep) {
			if t = strings.TrimSpace(t); t != "" {
				out = append(out, t)
			}
		}
		return out, true
	case v.IsArray():
		out := []string{}
		for _, e := range v.Array() {
			var s string
			if readString(e, &s) != "" {
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	}
	return nil, false
}

// dateLayouts are the date strings readDate understands besides numbers.
var dateLayouts = []string{
	time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999", "20060102150405Z", "20060102150405.999Z",
	"02/01/2006 15:04:05", time.RFC1123Z, time.RFC1123, "2006-01-02",
}

// readDate reads a date. A number's unit is inferred from its magnitude:
// below 10^11 it is seconds (10^11 ms is March 1973, before any mail a
// backup holds), above 10^14 microseconds, above 10^17 nanoseconds. cbfs's
// own keys hold milliseconds (or an RFC 3339 string): there a number below
// 10^8 (the first day of 1970) is taken as milliseconds as written, so
// only seconds are told apart, for writers that put seconds under cbfs's
// key names.
func readDate(v gjson.Result, cbfs bool, out *Millis) string {
	if cbfs {
		var m Millis
		if v.Type == gjson.Number {
			if n, err := strconv.ParseInt(v.Raw, 10, 64); err == nil {
				if n > -1e8 && n < 1e8 {
					*out = Millis(n)
				} else {
					*out = millisByMagnitude(n)
				}
				return ""
			}
		}
		if err := m.UnmarshalJSON([]byte(v.Raw)); err == nil {
			*out = m
			return ""
		}
	}
	if n, ok := readInt64(v); ok {
		*out = millisByMagnitude(n)
		return ""
	}
	if v.Type == gjson.String {
		s := strings.TrimSpace(v.Str)
		for _, l := range dateLayouts {
			if t, err := time.Parse(l, s); err == nil {
				*out = MillisOf(t)
				return ""
			}
		}
	}
	return "not a date (ms, s or RFC 3339)"
}

func millisByMagnitude(n int64) Millis {
	a := n
	if a < 0 {
		a = -a
	}
	switch {
	case a == 0:
		return 0
	case a < 1e11:
		return Millis(n * 1000)
	case a >= 1e17:
		return Millis(n / 1e6)
	case a >= 1e14:
		return Millis(n / 1e3)
	}
	return Millis(n)
}
