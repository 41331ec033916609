package mailbox

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tidwall/gjson"
)

// Zimbra keeps an item's metadata (a message's sender, recipients,
// fragment; a folder's view, ACL...) as one string in its own encoding
// (carbonio-mailbox BEncoding.java, Metadata.java), in mail_item.metadata
// and UnderlyingData's "meta":
//
//	d          a dictionary: key value key value ... e (keys are strings)
//	l          a list: value value ... e
//	i<n>e      an integer (Java's long)
//	<len>:<s>  a string of len UTF-16 code units (Java chars, not bytes)
//
// Metadata.toString adds the key "v" (the legacy metadata version, 10),
// which Zimbra drops on reading. An example: d1:f5:hello1:s11:a@b.example1:vi10ee.

// MaxZimbraMetaDepth bounds the nesting of decoded Zimbra metadata:
// Zimbra's own nests a handful of levels (an ACL in a folder's metadata, a
// calendar item's invites).
const MaxZimbraMetaDepth = 32

// ErrZimbraMeta: a string is not Zimbra metadata.
var ErrZimbraMeta = errors.New("not Zimbra metadata")

// DecodeZimbraMetadata decodes Zimbra's encoded metadata: a dictionary
// (map[string]any) whose values are int64, string, []any and
// map[string]any. Like Zimbra, it retries a string whose UTF-8 was read as
// ISO-8859-1 (Zimbra bug 87718). It never panics: input it cannot read is
// an error wrapping ErrZimbraMeta.
func DecodeZimbraMetadata(s string) (map[string]any, error) {
	m, err := decodeZMeta(s)
	if err != nil {
		if fixed, ok := latin1ToUTF8(s); ok {
			if m2, err2 := decodeZMeta(fixed); err2 == nil {
				return m2, nil
			}
		}
		return nil, err
	}
	return m, nil
}

func decodeZMeta(s string) (map[string]any, error) {
	p := zparser{s: s}
	if len(s) == 0 || s[0] != 'd' {
		return nil, fmt.Errorf("%w: does not start with a dictionary", ErrZimbraMeta)
	}
	v, end, err := p.value(0)
	if err != nil {
		return nil, err
	}
	if end {
		return nil, fmt.Errorf("%w: 'e' at offset 0", ErrZimbraMeta)
	}
	if p.i != len(s) {
		return nil, fmt.Errorf("%w: extra characters at offset %d", ErrZimbraMeta, p.i)
	}
	return v.(map[string]any), nil
}

type zparser struct {
	s string
	i int
}

func (p *zparser) fail(what string) error {
	return fmt.Errorf("%w: %s at offset %d", ErrZimbraMeta, what, p.i)
}

// value reads one value; end reports the 'e' that closes a dictionary or
// list instead.
func (p *zparser) value(depth int) (v any, end bool, err error) {
	if depth > MaxZimbraMetaDepth {
		return nil, false, p.fail("nested too deeply")
	}
	if p.i >= len(p.s) {
		return nil, false, p.fail("truncated")
	}
	switch c := p.s[p.i]; c {
	case 'e':
		p.i++
		return nil, true, nil
	case 'd':
		p.i++
		m := map[string]any{}
		for {
			k, end, err := p.value(depth + 1)
			if err != nil {
				return nil, false, err
			}
			if end {
				return m, false, nil
			}
			var key string
			switch k := k.(type) {
			case string:
				key = k
			case int64: // Java would take its toString
				key = strconv.FormatInt(k, 10)
			default:
				return nil, false, p.fail("a dictionary key that is not a string")
			}
			val, end, err := p.value(depth + 1)
			if err != nil {
				return nil, false, err
			}
			if end {
				return nil, false, p.fail("missing dictionary value for key " + strconv.Quote(key))
			}
			m[key] = val
		}
	case 'l':
		p.i++
		var list []any
		for {
			e, end, err := p.value(depth + 1)
			if err != nil {
				return nil, false, err
			}
			if end {
				return list, false, nil
			}
			list = append(list, e)
		}
	case 'i':
		p.i++
		n, err := p.long('e')
		return n, false, err
	default:
		n, err := p.long(':')
		if err != nil {
			return nil, false, err
		}
		str, err := p.chars(n)
		return str, false, err
	}
}

// long reads a Java long up to the terminator.
func (p *zparser) long(term byte) (int64, error) {
	j := strings.IndexByte(p.s[p.i:], term)
	if j < 0 {
		return 0, p.fail("unterminated number")
	}
	n, err := strconv.ParseInt(p.s[p.i:p.i+j], 10, 64)
	if err != nil {
		return 0, p.fail("not a number")
	}
	p.i += j + 1
	return n, nil
}

// chars reads a string of n UTF-16 code units.
func (p *zparser) chars(n int64) (string, error) {
	if n < 0 || n > int64(len(p.s)-p.i) {
		// A code unit takes at least one byte of UTF-8.
		return "", p.fail("string length out of range")
	}
	start := p.i
	for units := int64(0); units < n; {
		if p.i >= len(p.s) {
			return "", p.fail("string shorter than its length")
		}
		c := p.s[p.i]
		if c < utf8.RuneSelf {
			p.i++
			units++
			continue
		}
		r, size := utf8.DecodeRuneInString(p.s[p.i:])
		p.i += size
		if r > 0xFFFF {
			units += 2 // a surrogate pair in Java
		} else {
			units++
		}
		if units > n {
			return "", p.fail("string length splits a character")
		}
	}
	return p.s[start:p.i], nil
}

// latin1ToUTF8 undoes UTF-8 read as ISO-8859-1: every rune below 256 taken
// as a byte; false when that is not valid UTF-8 or changes nothing.
func latin1ToUTF8(s string) (string, bool) {
	b := make([]byte, 0, len(s))
	changed := false
	for _, r := range s {
		if r > 0xFF {
			return "", false
		}
		if r >= 0x80 {
			changed = true
		}
		b = append(b, byte(r))
	}
	if !changed || !utf8.Valid(b) {
		return "", false
	}
	return string(b), true
}

// zimbraMetaConcepts are the keys of a message's metadata (Message.java
// encodeMetadata, Metadata.FN_*) that fill concepts.
var zimbraMetaConcepts = map[string]Concept{
	"s": CFrom,    // FN_SENDER
	"t": CTo,      // FN_RECIPIENTS
	"r": CSubject, // FN_RAW_SUBJ: the subject as written, when it is not the normalized one plus a prefix
}

// zimbraMetaKnown are the other keys of Zimbra's metadata cbfs recognises
// but does not need.
var zimbraMetaKnown = map[string]string{
	"f": "fragment", "p": "subject prefix", "v": "metadata version", "mdver": "metadata version",
	"ver": "content version", "c": "color", "ua": "user agent", "vt": "folder view",
	"acl": "ACL", "aclm": "ACL", "d": "draft", "ais": "calendar item ids", "cif": "calendar intended for",
	"fld": "contact fields", "u": "UID next or IMAP UID", "i4l": "IMAP recent", "i4r": "IMAP recent cutoff",
	"i4d": "IMAP deleted", "i4du": "IMAP deleted unread", "mseq": "modseq", "rp": "retention policy",
	"sz": "total size", "unxt": "UID next", "xd": "extra data", "de": "description",
}

// zimbraMeta reads a state's Zimbra metadata string (under path): its
// sender, recipients and subject fill the concepts the state did not
// state; the string stays in Extra as it was.
func (d *Decoder) zimbraMeta(s *State, path string, val gjson.Result) {
	var str string
	decodeString(val, &str)
	if strings.TrimSpace(str) == "" {
		d.count(path, "", noteEmpty)
		return
	}
	m, err := DecodeZimbraMetadata(str)
	if err != nil {
		d.count(path, "", noteUninterpretable)
		s.Notes = append(s.Notes, fmt.Sprintf("%s: %v (kept)", path, err))
		return
	}
	if d.Census == nil {
		// The same as below, without the census's names and order.
		for k, c := range zimbraMetaConcepts {
			if v, ok := m[k].(string); ok && !s.has.Has(c) {
				setSummary(s, c, v)
			}
		}
		if p, ok := m["p"].(string); ok && s.has.Has(CSubject) && m["r"] == nil {
			s.Subject = p + s.Subject
		}
		return
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	d.count(path, "", "decoded Zimbra metadata (keys "+strings.Join(keys, " ")+")")
	for _, k := range keys {
		sub := path + "." + k
		c, ok := zimbraMetaConcepts[k]
		v, isStr := m[k].(string)
		switch {
		case ok && isStr && !s.has.Has(c):
			setSummary(s, c, v)
			d.count(sub, c.String(), "")
		case ok && isStr:
			d.count(sub, c.String(), "stated above, not used")
		case k == "p" && isStr && s.has.Has(CSubject) && m["r"] == nil:
			// Zimbra's raw subject is the prefix ("Re: ") and the
			// normalized subject (the sbj key).
			s.Subject = v + s.Subject
			d.count(sub, CSubject.String(), "subject prefix")
		default:
			if what, known := zimbraMetaKnown[k]; known {
				d.count(sub, "", "known (Zimbra metadata: "+what+"), not needed")
			} else {
				d.count(sub, "", "in Zimbra metadata, not needed")
			}
		}
	}
}

func setSummary(s *State, c Concept, v string) {
	switch c {
	case CFrom:
		s.From = v
	case CTo:
		s.To = v
	case CSubject:
		s.Subject = v
	}
	s.has |= Bit(c)
}
