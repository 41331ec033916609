package search

import (
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Text normalisation, the same for what is indexed and what is asked:
// words are runs of letters and digits; each is lower-cased and stripped
// of its accents (NFD, combining marks dropped, a few letters that do not
// decompose spelled out: ß ss, æ ae, ø o...). So "Café", "CAFE" and
// "café" are one word. A word longer than MaxWord bytes (base64, hashes)
// is not indexed.

// MaxWord is the longest word indexed, in bytes after folding.
const MaxWord = 64

// foldTable holds the folded form of the runes below foldTableSize
// (Latin-1 and Latin Extended: nearly every accented letter of mail).
const foldTableSize = 0x250

var foldTable [foldTableSize]string

var special = map[rune]string{
	'ß': "ss", 'æ': "ae", 'Æ': "ae", 'ø': "o", 'Ø': "o", 'œ': "oe", 'Œ': "oe",
	'ł': "l", 'Ł': "l", 'đ': "d", 'Đ': "d", 'ð': "d", 'Ð': "d", 'þ': "th", 'Þ': "th", 'ı': "i",
}

func init() {
	for r := rune(0); r < foldTableSize; r++ {
		foldTable[r] = foldSlow(r)
	}
}

// foldSlow is the folded form of one letter or digit ("" for others).
func foldSlow(r rune) string {
	if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
		return ""
	}
	if s, ok := special[r]; ok {
		return s
	}
	var buf [16]byte
	out := make([]byte, 0, 8)
	for _, c := range string(norm.NFD.AppendString(buf[:0], string(r))) {
		if unicode.Is(unicode.Mn, c) {
			continue
		}
		out = utf8.AppendRune(out, unicode.ToLower(c))
	}
	if len(out) == 0 { // a letter that is all marks: keep it
		out = utf8.AppendRune(out, unicode.ToLower(r))
	}
	return string(out)
}

// fold appends the folded form of r to b; ok is false if r is not part
// of a word.
func fold(b []byte, r rune) ([]byte, bool) {
	if r < utf8.RuneSelf {
		switch {
		case 'a' <= r && r <= 'z', '0' <= r && r <= '9':
			return append(b, byte(r)), true
		case 'A' <= r && r <= 'Z':
			return append(b, byte(r)+'a'-'A'), true
		}
		return b, false
	}
	if r < foldTableSize {
		s := foldTable[r]
		return append(b, s...), s != ""
	}
	if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.Is(unicode.Mn, r) {
		return b, false
	}
	if unicode.Is(unicode.Mn, r) { // a combining mark of a precomposed-less letter
		return b, true
	}
	return append(b, foldSlow(r)...), true
}

// words calls fn with each folded word of s, in order. The slice fn gets
// is reused: copy it to keep it.
func words(s string, fn func(w []byte)) {
	buf := make([]byte, 0, 64)
	var in bool
	for _, r := range s {
		var ok bool
		n := len(buf)
		buf, ok = fold(buf, r)
		if ok {
			in = true
			continue
		}
		buf = buf[:n]
		if in {
			if len(buf) <= MaxWord {
				fn(buf)
			}
			buf, in = buf[:0], false
		}
	}
	if in && len(buf) > 0 && len(buf) <= MaxWord {
		fn(buf)
	}
}

// Words is the folded words of s (the query side of words).
func Words(s string) []string {
	var out []string
	words(s, func(w []byte) { out = append(out, string(w)) })
	return out
}

// Fold is s folded as one string: letters and digits as words fold them,
// every other character kept, lower-cased. Account names and folder paths
// are compared folded.
func Fold(s string) string {
	var out []byte
	for _, r := range s {
		var ok bool
		n := len(out)
		out, ok = fold(out, r)
		if !ok {
			out = out[:n]
			out = utf8.AppendRune(out, unicode.ToLower(r))
		}
	}
	return string(out)
}
