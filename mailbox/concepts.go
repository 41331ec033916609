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
	numConcepts

	// Not concepts: markers in a state's has set, from a keymap's "states".
	cFull  Concept = 30 // every state is full
	cDelta Concept = 31 // every state is a delta
)

// conceptKeys are cbfs's own keys for the concepts (docs/FORMAT.md § 7.1).
var conceptKeys = [numConcepts]string{
	"startDate", "type", "folderId", "flags", "tags", "deleted", "digest", "size",
	"date", "subject", "from", "to", "name", "parentId", "imapUid",
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

	"type": CType, "itemtype": CType, "kind": CType, "typename": CType, "typecode": CType,
	"mailitemtype": CType, "objecttype": CType,

	"folderid": CFolder, "folder": CFolder, "fid": CFolder, "mailboxfolderid": CFolder,
	"locationid": CFolder,

	"flags": CFlags, "flag": CFlags, "flagbits": CFlags, "flagsbitmask": CFlags,
	"zimbraflags": CFlags, "imapflags": CFlags,

	"tags": CTags, "tagnames": CTags, "keywords": CTags, "labels": CTags, "tagname": CTags,

	"deleted": CDeleted, "isdeleted": CDeleted, "removed": CDeleted, "isremoved": CDeleted,
	"deletedflag": CDeleted, "expunged": CDeleted,

	"digest": CDigest, "blobdigest": CDigest, "contentdigest": CDigest, "blob": CDigest,
	"blobid": CDigest, "blobpath": CDigest, "hash": CDigest, "sha256": CDigest,
	"contenthash": CDigest, "checksum": CDigest, "blobhash": CDigest, "storedigest": CDigest,

	"size": CSize, "blobsize": CSize, "length": CSize, "contentlength": CSize,
	"sizebytes": CSize, "bytes": CSize, "rawsize": CSize, "msgsize": CSize, "messagesize": CSize,

	"date": CDate, "itemdate": CDate, "received": CDate, "receiveddate": CDate,
	"sentdate": CDate, "msgdate": CDate, "messagedate": CDate, "internaldate": CDate,

	"subject": CSubject, "summary": CSubject, "title": CSubject,
	"from": CFrom, "sender": CFrom,
	"to": CTo, "recipients": CTo, "rcpt": CTo, "recipient": CTo,
	"name": CName, "foldername": CName, "filename": CName, "displayname": CName,

	"parentid": CParent, "parent": CParent, "parentfolderid": CParent, "parentfolder": CParent,

	"imapuid": CIMAPUID, "uid": CIMAPUID, "imapid": CIMAPUID,
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
