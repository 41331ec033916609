package imapmaster

import (
	"errors"
	"fmt"
)

// ErrOverLimit is wrapped by the error of a connection that its guard
// closed: the server sent more than the command in progress allows (see
// Limits).
var ErrOverLimit = errors.New("imap answer over a limit")

// Limits bound what the server may send while one command runs. The
// connection's guard (Conn) lexes the response stream as it arrives,
// before the IMAP client parses or allocates anything: each line is
// counted to its LF, a literal is announced by "{N}" (or "{N+}") ending a
// line and its N bytes are then skipped. When a bound is crossed, the
// connection is closed (the stream cannot be resynchronised) and every
// command on it fails with an error wrapping ErrOverLimit that says which
// bound, and by how much. Bounds are set by Conn.Arm before each command;
// a zero field takes DefaultLimits' value.
//
// A response is a line and, when it ends with a literal announcement, the
// literal and the lines after it, up to a line that announces none.
type Limits struct {
	Line      int64 // text bytes of one response (its lines, literals excluded)
	Literal   int64 // bytes of one literal, as announced
	Response  int64 // bytes of one response, literals included
	Responses int64 // responses of any kind until the next Arm
	Bytes     int64 // bytes of any kind until the next Arm
}

// The numbers, and why.
const (
	// MaxLine: a response line of a sane server is a few hundred bytes;
	// the longest are SEARCH results (about 7 bytes a UID: 1 MiB is
	// 150,000 hits, and the restore's searches are narrow) and FLAGS
	// lines of folders with many keywords. The hand-written MULTIAPPEND
	// client already refused lines over 1 MiB.
	MaxLine = 1 << 20
	// MaxSmallLiteral: a literal that is not a message (a folder name, an
	// envelope field) is a name or a header: 1 MiB is far above any.
	MaxSmallLiteral = 1 << 20
	// MaxFolders: folders one account's LIST may return. Accounts of a
	// few thousand folders exist; 100,000 leaves room and bounds what a
	// LIST can make the client hold (with MaxListBytes).
	MaxFolders = 100_000
	// MaxListBytes: all of a LIST's responses (LIST and, with
	// LIST-STATUS, STATUS lines): about 300 bytes a folder at MaxFolders.
	MaxListBytes = 32 << 20
	// MaxListLine: one LIST or STATUS response; a folder name is at most
	// a few hundred bytes on every server cbfs knows (Dovecot: 255 per
	// level).
	MaxListLine = 64 << 10
	// MaxMessages: messages a folder may hold by the server's own count
	// (EXISTS). Above it the folder is refused (skipped, reported), never
	// listed: a listing is held in memory (about 300 bytes a message in
	// the scan), and its budget grows with this count.
	MaxMessages = 1 << 20
	// ListingBytesPerMessage: the bytes a message's listing response (UID,
	// FLAGS, RFC822.SIZE, INTERNALDATE) may take on average over the
	// folder; a typical one is 110 bytes, one with 26 keywords of 15
	// characters (26: Dovecot's Maildir limit) about 530.
	ListingBytesPerMessage = 512
	// MaxListingLine: one message's listing response.
	MaxListingLine = 64 << 10
)

// DefaultLimits bound every command that does not say otherwise: lines
// of MaxLine, small literals, and a budget (a million responses, 64 MiB)
// that no command of cbfs but a listing, a LIST or a message fetch
// (which set their own) comes near; unsolicited responses of a busy
// folder (EXPUNGE, FETCH FLAGS) fit in it many times.
var DefaultLimits = Limits{
	Line:      MaxLine,
	Literal:   MaxSmallLiteral,
	Response:  MaxLine + MaxSmallLiteral,
	Responses: 1 << 20,
	Bytes:     64 << 20,
}

// ListLimits bound a LIST "" "*" (with LIST-STATUS: a STATUS response a
// folder besides its LIST response).
func ListLimits() Limits {
	return Limits{Line: MaxListLine, Response: MaxListLine + MaxSmallLiteral,
		Responses: 2*MaxFolders + 64, Bytes: MaxListBytes}
}

// ListingLimits bound a FETCH of n messages' UID, FLAGS, RFC822.SIZE and
// INTERNALDATE (n: the EXISTS the server announced, itself at most
// MaxMessages): n responses, and some room for untagged responses the
// server may add (EXISTS, EXPUNGE, flag updates).
func ListingLimits(n int64) Limits {
	slack := n/8 + 64
	return Limits{Line: MaxListingLine, Response: MaxListingLine + MaxSmallLiteral,
		Responses: n + slack, Bytes: (n + slack) * ListingBytesPerMessage}
}

// FetchLimits bound a FETCH of n messages' content (one literal each, of
// at most maxMessage bytes) and small items beside it (an envelope, a
// date).
func FetchLimits(n int, maxMessage int64) Limits {
	per := maxMessage + MaxLine + MaxSmallLiteral
	return Limits{Literal: max(maxMessage, MaxSmallLiteral), Response: per,
		Responses: int64(n) + 64, Bytes: (int64(n) + 1) * per}
}

// or fills l's zero fields from d.
func (l Limits) or(d Limits) Limits {
	if l.Line <= 0 {
		l.Line = d.Line
	}
	if l.Literal <= 0 {
		l.Literal = d.Literal
	}
	if l.Response <= 0 {
		l.Response = d.Response
	}
	if l.Responses <= 0 {
		l.Responses = d.Responses
	}
	if l.Bytes <= 0 {
		l.Bytes = d.Bytes
	}
	return l
}

// lexer follows the response stream: lines to their LF, literals by their
// announced size. It never copies or buffers a byte.
type lexer struct {
	lim             Limits
	responses, sent int64 // since the last Arm

	mid    bool // inside a response (its first byte was seen)
	tagged bool // the response began with a tag (not "*" or "+")
	tagBuf [maxTag]byte
	tagLen int
	inTag  bool     // still reading the tag
	tags   []string // tags of the responses ended in the last feed
	ends   int      // responses ended in the last feed
	text   int64    // text bytes of the response so far
	resp   int64    // bytes of the response so far
	lit    int64    // literal bytes still to come
	ann    uint8    // where in a "{N}" or "{N+}" announcement the line is
	num    int64    // the announced size so far
	big    bool     // the announced size overflows int64
}

// Announcement states: the line so far ends with...
const (
	annNone   = iota
	annOpen   // "{"
	annDigits // "{123"
	annPlus   // "{123+"
	annClose  // "{123}" (go-imap also takes "{123} " before the CRLF)
	annSP     // "{123} "
	annCR     // "{123}\r" or "{123} \r"
)

// maxTag is the longest tag followed (cbfs's are a few bytes).
const maxTag = 64

// isTagChar reports whether b may be part of a tag (an ATOM-CHAR but
// "+").
func isTagChar(b byte) bool {
	switch b {
	case '(', ')', '{', ' ', '%', '*', '"', '\\', ']', '+':
		return false
	}
	return b > 0x20 && b < 0x7f
}

// feed lexes p. It returns how many bytes of p may be passed on (all of
// them, or those before the one that crossed a bound), and the bound
// crossed. l.tags then holds the tags of the tagged responses that ended
// in them, l.ends how many responses of any kind did.
func (l *lexer) feed(p []byte) (n int, err error) {
	l.tags, l.ends = l.tags[:0], 0
	i := 0
	for i < len(p) {
		if l.lit > 0 {
			k := min(int64(len(p)-i), l.lit)
			if l.sent+k > l.lim.Bytes {
				return i, l.overBytes()
			}
			l.lit -= k
			l.resp += k
			l.sent += k
			i += int(k)
			continue
		}
		b := p[i]
		if !l.mid {
			l.mid = true
			l.tagged, l.inTag, l.tagLen = isTagChar(b), isTagChar(b), 0
			l.responses++
			if l.responses > l.lim.Responses {
				return i, fmt.Errorf("%w: more than %d responses to one command", ErrOverLimit, l.lim.Responses)
			}
		}
		if l.inTag {
			switch {
			case isTagChar(b) && l.tagLen < maxTag:
				l.tagBuf[l.tagLen] = b
				l.tagLen++
			case b == ' ':
				l.inTag = false
			default: // not "tag SP ...": no answer to anything
				l.inTag, l.tagged = false, false
			}
		}
		l.text++
		l.resp++
		l.sent++
		switch {
		case l.text > l.lim.Line:
			return i, fmt.Errorf("%w: a response line of more than %d bytes", ErrOverLimit, l.lim.Line)
		case l.resp > l.lim.Response:
			return i, fmt.Errorf("%w: a response of more than %d bytes", ErrOverLimit, l.lim.Response)
		case l.sent > l.lim.Bytes:
			return i, l.overBytes()
		}
		switch {
		case b == '\n':
			if l.ann == annClose || l.ann == annSP || l.ann == annCR {
				if l.big || l.num > l.lim.Literal {
					return i, fmt.Errorf("%w: a literal of %s bytes (at most %d)", ErrOverLimit, l.announced(), l.lim.Literal)
				}
				if l.resp+l.num > l.lim.Response {
					return i, fmt.Errorf("%w: a literal of %d bytes in a response of more than %d bytes", ErrOverLimit, l.num, l.lim.Response)
				}
				l.lit = l.num
			} else { // the response ends
				if l.tagged && !l.inTag {
					l.tags = append(l.tags, string(l.tagBuf[:l.tagLen]))
				}
				l.ends++
				l.mid, l.text, l.resp = false, 0, 0
			}
			l.ann = annNone
		case b == '{':
			l.ann, l.num, l.big = annOpen, 0, false
		case b >= '0' && b <= '9':
			if l.ann != annOpen && l.ann != annDigits {
				l.ann = annNone
				break
			}
			l.ann = annDigits
			if l.num > (1<<62)/10 {
				l.big = true
			} else {
				l.num = l.num*10 + int64(b-'0')
			}
		case b == '+' && l.ann == annDigits:
			l.ann = annPlus
		case b == '}' && (l.ann == annDigits || l.ann == annPlus):
			l.ann = annClose
		case b == ' ' && l.ann == annClose:
			l.ann = annSP
		case b == '\r' && (l.ann == annClose || l.ann == annSP):
			l.ann = annCR
		default:
			l.ann = annNone
		}
		i++
	}
	return len(p), nil
}

func (l *lexer) overBytes() error {
	return fmt.Errorf("%w: more than %d bytes of responses to one command", ErrOverLimit, l.lim.Bytes)
}

func (l *lexer) announced() string {
	if l.big {
		return "over 2^62"
	}
	return fmt.Sprint(l.num)
}

// arm starts a command's budget.
func (l *lexer) arm(lim Limits) {
	l.lim = lim.or(DefaultLimits)
	l.responses, l.sent = 0, 0
}
