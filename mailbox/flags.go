package mailbox

import (
	"sort"
	"strings"
)

// A state's flags are Zimbra's flag letters (docs/FORMAT.md § 7.2). This
// file holds every mapping between them and the other spellings cbfs
// meets: Zimbra's integer bitmask (foreign item files), IMAP flags (IMAP
// sources and targets, foreign item files) and Maildir info letters
// (Maildir sources and targets).
//
//	letter  meaning        bit   IMAP             Maildir
//	u       unread         512   no \Seen         no S
//	f       flagged        32    \Flagged         F
//	r       replied        4     \Answered        R
//	w       forwarded      8     $Forwarded       P
//	d       draft          64    \Draft           D
//	x       IMAP \Deleted  128   \Deleted         T
//	n       MDN sent       256   $MDNSent         -
//	s a ! ? / p t + ^ ( * b # i v y ~ o @ g: Zimbra's own (bits 0 1 10 11 12 14 15..28),
//	                       no IMAP or Maildir counterpart
//
// Zimbra's bitmask of flag id -n is bit n-1 (carbonio-mailbox Flag.java).
// Zimbra keeps unread apart from its flags (mail_item.unread, UnderlyingData
// uc): a bitmask from Zimbra's database has no bit 9; the state's unread
// key says it (decode.go). Flags without a letter (COPIED, IDX_DEFERRED,
// IN_DUMPSTER, UNCACHED: bits 4, 13, 29, 30) are dropped.

// flagOrder is the order letters are written in (others after, sorted).
const flagOrder = "ufrwdxn"

// CanonFlags sorts flag letters into the canonical order and drops
// duplicates.
func CanonFlags(letters string) string {
	var b strings.Builder
	for i := 0; i < len(flagOrder); i++ {
		if strings.IndexByte(letters, flagOrder[i]) >= 0 {
			b.WriteByte(flagOrder[i])
		}
	}
	var rest []byte
	for i := 0; i < len(letters); i++ {
		c := letters[i]
		if strings.IndexByte(flagOrder, c) < 0 && strings.IndexByte(string(rest), c) < 0 {
			rest = append(rest, c)
		}
	}
	sort.Slice(rest, func(i, j int) bool { return rest[i] < rest[j] })
	b.Write(rest)
	return b.String()
}

// zimbraFlagBits are Zimbra's flag letters by bit (Flag.java: bit n-1 for
// the flag with id -n).
var zimbraFlagBits = []struct {
	bit    uint
	letter byte
}{
	{0, 's'}, {1, 'a'}, {2, 'r'}, {3, 'w'}, {5, 'f'}, {6, 'd'}, {7, 'x'}, {8, 'n'},
	{9, 'u'}, {10, '!'}, {11, '?'}, {12, '/'}, {14, 'p'}, {15, 't'}, {16, '+'}, {17, '^'},
	{18, '('}, {19, '*'}, {20, 'b'}, {21, '#'}, {22, 'i'}, {23, 'v'}, {24, 'y'}, {25, '~'},
	{26, 'o'}, {27, '@'}, {28, 'g'},
}

// FlagsFromBits turns Zimbra's integer flag bitmask into flag letters
// (bits without a letter are dropped).
func FlagsFromBits(n int64) string {
	var b []byte
	for _, f := range zimbraFlagBits {
		if n&(1<<f.bit) != 0 {
			b = append(b, f.letter)
		}
	}
	return string(b)
}

// FlagBits turns flag letters into Zimbra's bitmask; the letters that have
// no bit are returned, in their order, as other.
func FlagBits(flags string) (mask int64, other string) {
	var o []byte
	for i := 0; i < len(flags); i++ {
		found := false
		for _, f := range zimbraFlagBits {
			if f.letter == flags[i] {
				mask |= 1 << f.bit
				found = true
				break
			}
		}
		if !found {
			o = append(o, flags[i])
		}
	}
	return mask, string(o)
}

// imapLetters maps IMAP flags (lower case) onto letters; \Seen is the
// absence of u.
var imapLetters = []struct {
	flag   string
	letter byte
}{
	{`\answered`, 'r'}, {`\flagged`, 'f'}, {`\draft`, 'd'}, {`\deleted`, 'x'},
	{`$forwarded`, 'w'}, {`$mdnsent`, 'n'},
}

// FlagsFromIMAP turns IMAP flags into flag letters (canonical order) and
// keywords: no \Seen means unread, \Recent and other system flags are
// dropped, anything else is a keyword (sorted, each once).
func FlagsFromIMAP(flags []string) (letters string, keywords []string) {
	seen := false
	var b []byte
	kw := map[string]bool{}
flags:
	for _, f := range flags {
		lf := strings.ToLower(f)
		if lf == `\seen` {
			seen = true
			continue
		}
		for _, m := range imapLetters {
			if m.flag == lf {
				b = append(b, m.letter)
				continue flags
			}
		}
		if f != "" && !strings.HasPrefix(f, `\`) {
			kw[f] = true
		}
	}
	if !seen {
		b = append(b, 'u')
	}
	for k := range kw {
		keywords = append(keywords, k)
	}
	sort.Strings(keywords)
	return CanonFlags(string(b)), keywords
}

// IMAPFlags lists the IMAP flags for flag letters, for a restore: x
// (\Deleted) is left out, as Carbonio's undelete strips it (a restored
// message marked \Deleted would vanish at the next EXPUNGE), and so are
// Zimbra's own letters.
func IMAPFlags(letters string) []string {
	has := func(c byte) bool { return strings.IndexByte(letters, c) >= 0 }
	var out []string
	if !has('u') {
		out = append(out, `\Seen`)
	}
	for _, f := range []struct {
		letter byte
		flag   string
	}{{'r', `\Answered`}, {'f', `\Flagged`}, {'d', `\Draft`}, {'w', `$Forwarded`}, {'n', `$MDNSent`}} {
		if has(f.letter) {
			out = append(out, f.flag)
		}
	}
	return out
}

// maildirLetters maps Maildir info letters onto flag letters; S is the
// absence of u.
var maildirLetters = []struct{ info, letter byte }{
	{'D', 'd'}, {'F', 'f'}, {'P', 'w'}, {'R', 'r'}, {'T', 'x'},
}

// FlagsFromMaildir turns a Maildir info part ("2,FRS", keyword letters
// a-z included) into flag letters (canonical order) and the keyword
// letters it holds.
func FlagsFromMaildir(info string) (letters string, keywordLetters []byte) {
	fl, ok := strings.CutPrefix(info, "2,")
	if !ok {
		return "u", nil
	}
	seen := false
	var b []byte
	for i := 0; i < len(fl); i++ {
		c := fl[i]
		switch {
		case c == 'S':
			seen = true
		case c >= 'a' && c <= 'z':
			keywordLetters = append(keywordLetters, c)
		default:
			for _, m := range maildirLetters {
				if m.info == c {
					b = append(b, m.letter)
				}
			}
		}
	}
	if !seen {
		b = append(b, 'u')
	}
	return CanonFlags(string(b)), keywordLetters
}

// MaildirFlags is the Maildir info letters (without "2," and keyword
// letters) for flag letters, sorted, for a restore: x is left out (see
// IMAPFlags).
func MaildirFlags(letters string) string {
	has := func(c byte) bool { return strings.IndexByte(letters, c) >= 0 }
	var b []byte
	for _, m := range maildirLetters {
		if m.letter != 'x' && has(m.letter) {
			b = append(b, m.info)
		}
	}
	if !has('u') {
		b = append(b, 'S')
	}
	sort.Slice(b, func(i, j int) bool { return b[i] < b[j] })
	return string(b)
}
