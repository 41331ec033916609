package mailbox

import "strings"

// Concept is one thing a state says about its item, whatever key a dialect
// spells it with.
type Concept uint8

// The concepts of a state. CStart must stay first.
const (
	CStart Concept = iota
	CType
	CFolder
	CFlags
	CTags
	CDeleted
	CDigest
	CSize
	CDate
	CSubject
	CFrom
	CTo
	CName
	CParent
	CIMAPUID
	CUnread // Zimbra keeps it apart from the flags; read into the flag letter u
	CEnd    // the end of the state's validity period
	numConcepts

	// Not concepts: what the alias tables may also answer for a key.
	cMeta  Concept = 27 // Zimbra's encoded metadata string (zmeta.go)
	cKnown Concept = 28 // a key Zimbra or Carbonio writes that cbfs does not need (knownKeys)

	// Not concepts: markers in a state's has set, from a keymap's "states".
	cFull  Concept = 30 // every state is full
	cDelta Concept = 31 // every state is a delta
)

// conceptKeys are cbfs's own keys for the concepts (docs/FORMAT.md § 7.1).
var conceptKeys = [numConcepts]string{
	"startDate", "type", "folderId", "flags", "tags", "deleted", "digest", "size",
	"date", "subject", "from", "to", "name", "parentId", "imapUid", "unread", "endDate",
}

// String is the concept's name: cbfs's own key for it.
func (c Concept) String() string {
	if c < numConcepts {
		return conceptKeys[c]
	}
	return "?"
}

// ParseConcept reads a concept name (cbfs's key, any case).
func ParseConcept(s string) (Concept, bool) {
	for c, k := range conceptKeys {
		if strings.EqualFold(k, s) {
			return Concept(c), true
		}
	}
	return 0, false
}

// Concepts is a set of concepts.
type Concepts uint32

// Bit is the set holding only c.
func Bit(c Concept) Concepts { return 1 << c }

// Has reports whether c is in the set.
func (s Concepts) Has(c Concept) bool { return s&(1<<c) != 0 }

// List names the concepts in the set, in concept order.
func (s Concepts) List() []string {
	var out []string
	for c := CStart; c < numConcepts; c++ {
		if s.Has(c) {
			out = append(out, c.String())
		}
	}
	return out
}

// stateAliases maps a canonical key (lower case, without '_', '-', '.' and
// spaces: canonKey) to the concept it stands for in the dialects cbfs has
// met or can expect: Zimbra's mail_item columns, camelCase, snake_case,
// hyphenated and common synonyms. cbfs's own keys are tried first, exactly
// (decoder.exact), so these cost nothing on cbfs's own files.
var stateAliases = map[string]Concept{
	"startdate": CStart, "start": CStart, "starttime": CStart, "starttimestamp": CStart,
	"startts": CStart, "begin": CStart, "begindate": CStart, "validfrom": CStart,
	"since": CStart, "transactiondate": CStart, "txdate": CStart, "statedate": CStart,

	"enddate": CEnd, "end": CEnd, "endtime": CEnd, "endtimestamp": CEnd, "endts": CEnd,
	"validto": CEnd, "validuntil": CEnd, "until": CEnd, "enddatetime": CEnd,

	// tp: UnderlyingData's type.
	"type": CType, "itemtype": CType, "kind": CType, "typename": CType, "typecode": CType,
	"mailitemtype": CType, "objecttype": CType, "tp": CType,

	// fid: UnderlyingData's folder.
	"folderid": CFolder, "folder": CFolder, "fid": CFolder, "mailboxfolderid": CFolder,
	"locationid": CFolder,

	// fg: UnderlyingData's flags (a bitmask without unread, like the
	// mail_item column).
	"flags": CFlags, "flag": CFlags, "flagbits": CFlags, "flagsbitmask": CFlags,
	"zimbraflags": CFlags, "imapflags": CFlags, "fg": CFlags,

	// tg: UnderlyingData's tag names (NUL-separated, as mail_item.tag_names).
	"tags": CTags, "tagnames": CTags, "keywords": CTags, "labels": CTags, "tagname": CTags,
	"tg": CTags,

	"deleted": CDeleted, "isdeleted": CDeleted, "removed": CDeleted, "isremoved": CDeleted,
	"deletedflag": CDeleted, "expunged": CDeleted,

	// dgst: UnderlyingData's blob digest.
	"digest": CDigest, "blobdigest": CDigest, "contentdigest": CDigest, "blob": CDigest,
	"blobid": CDigest, "blobpath": CDigest, "hash": CDigest, "sha256": CDigest,
	"contenthash": CDigest, "checksum": CDigest, "blobhash": CDigest, "storedigest": CDigest,
	"dgst": CDigest,

	// sz: UnderlyingData's size.
	"size": CSize, "blobsize": CSize, "length": CSize, "contentlength": CSize,
	"sizebytes": CSize, "bytes": CSize, "rawsize": CSize, "msgsize": CSize, "messagesize": CSize,
	"sz": CSize,

	// dt: UnderlyingData's date (seconds, like mail_item.date).
	"date": CDate, "itemdate": CDate, "received": CDate, "receiveddate": CDate,
	"sentdate": CDate, "msgdate": CDate, "messagedate": CDate, "internaldate": CDate,
	"dt": CDate,

	// sbj, nm: UnderlyingData's subject and name.
	"subject": CSubject, "summary": CSubject, "title": CSubject, "sbj": CSubject,
	"from": CFrom, "sender": CFrom,
	"to": CTo, "recipients": CTo, "rcpt": CTo, "recipient": CTo,
	"name": CName, "foldername": CName, "filename": CName, "displayname": CName, "nm": CName,

	// pid: UnderlyingData's parent (a message's conversation, a folder's
	// parent folder).
	"parentid": CParent, "parent": CParent, "parentfolderid": CParent, "parentfolder": CParent,
	"pid": CParent,

	// imap: UnderlyingData's IMAP UID (mail_item.imap_id).
	"imapuid": CIMAPUID, "uid": CIMAPUID, "imapid": CIMAPUID, "imap": CIMAPUID,

	// uc: UnderlyingData's unread count (mail_item.unread): above 0 is unread.
	"unread": CUnread, "uc": CUnread, "unreadcount": CUnread, "isunread": CUnread,

	// meta: UnderlyingData's metadata, mail_item.metadata (zmeta.go).
	"meta": cMeta, "metadata": cMeta,
}

// zimbraKnownKeys are keys Zimbra (UnderlyingData, mail_item) or Carbonio's
// backup write that cbfs recognises but does not need, by canonical key,
// with what they hold: the census reports them as known, not as data it
// failed to read.
var zimbraKnownKeys = map[string]string{
	"id": "Zimbra item id", "itemid": "Zimbra item id", "mailboxid": "Zimbra mailbox id",
	"uuid": "Zimbra item UUID", "pfid": "Zimbra previous folders", "prevfolders": "Zimbra previous folders",
	"idx": "Zimbra index id", "indexid": "Zimbra index id",
	"loc": "Zimbra blob locator (volume)", "locator": "Zimbra blob locator (volume)", "volumeid": "Zimbra blob volume",
	"modm": "Zimbra change number of the metadata", "modmetadata": "Zimbra change number of the metadata",
	"modc": "Zimbra change number of the content", "modcontent": "Zimbra change number of the content",
	"dc": "Zimbra change date", "changedate": "Zimbra change date",
	"ef":            "field openzal's Item lists, not in carbonio-mailbox",
	"transactionid": "Carbonio transaction id", "txid": "Carbonio transaction id",
	"version": "Zimbra content version", "ver": "Zimbra content version",
	"mdver": "Zimbra metadata version",
}

// alias looks key up, folded (canonKey), among the aliases (ok) and the
// keys known but not needed (what they hold). It folds into a buffer on
// the stack: map lookups by string(bytes) do not allocate.
func alias(key string) (c Concept, known string, ok bool) {
	var buf [40]byte
	if len(key) > len(buf) {
		canon := canonKey(key)
		if c, ok := stateAliases[canon]; ok {
			return c, "", true
		}
		return 0, zimbraKnownKeys[canon], false
	}
	b := buf[:0]
	for i := 0; i < len(key); i++ {
		switch c := key[i]; {
		case c == '_' || c == '-' || c == '.' || c == ' ':
		case c >= 'A' && c <= 'Z':
			b = append(b, c+'a'-'A')
		default:
			b = append(b, c)
		}
	}
	if c, ok := stateAliases[string(b)]; ok {
		return c, "", true
	}
	return 0, zimbraKnownKeys[string(b)], false
}

// canonKey folds a key for alias lookup: lower case, without '_', '-', '.'
// and spaces.
func canonKey(k string) string {
	plain := true
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c >= 'A' && c <= 'Z' || c == '_' || c == '-' || c == '.' || c == ' ' {
			plain = false
			break
		}
	}
	if plain {
		return k
	}
	b := make([]byte, 0, len(k))
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case c == '_' || c == '-' || c == '.' || c == ' ':
		case c >= 'A' && c <= 'Z':
			b = append(b, c+'a'-'A')
		default:
			b = append(b, c)
		}
	}
	return string(b)
}
