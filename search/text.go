package search

import (
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
	"golang.org/x/text/width"
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
	if r >= 0xFF01 && r <= 0xFF5E { // full-width ASCII (Ａ１ of Japanese mail)
		return foldSlow(r - 0xFEE0)
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

// CJK text (Han, Hiragana, Katakana, Hangul) is written without spaces
// between words, so it is cut in overlapping pairs of characters
// (bigrams) and single characters (unigrams): a run of n such characters
// takes n positions, the bigram of characters i and i+1 and the unigram
// of character i both at position i. A query's run of two or more is
// the phrase of its bigrams, a query's single character the unigram: "東
// 京都" finds 東京都庁 (bigrams 東京 京都 at consecutive positions), 京
// finds it too. A CJK character also ends a word of other letters
// ("Windows版" is windows and 版). CJK characters are not folded but for
// half-width katakana, kept as their full-width forms.

// isCJK reports whether r is written in a script cut in bigrams.
func isCJK(r rune) bool {
	switch {
	case r < 0x1100:
		return false
	case r >= 0x4E00 && r <= 0x9FFF, r >= 0xAC00 && r <= 0xD7AF:
		return true // the common Han, Hangul syllables
	case r >= 0x3040 && r <= 0x30FF: // kana and ー, not the marks, ゠ or ・
		return !(r >= 0x3099 && r <= 0x309C) && r != 0x30A0 && r != 0x30FB
	case r >= 0xFF66 && r <= 0xFF9D: // half-width katakana and ｰ
		return true
	}
	return unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul)
}

// foldCJK is the form of a CJK character that is indexed.
func foldCJK(r rune) rune {
	if r >= 0xFF61 && r <= 0xFF9F { // half-width katakana
		if f, _ := utf8.DecodeRuneInString(width.Widen.String(string(r))); f != utf8.RuneError {
			return f
		}
	}
	return r
}

// isVoicing reports whether r is a kana voicing mark (dakuten,
// handakuten), combining or half-width.
func isVoicing(r rune) bool {
	return r == 0x3099 || r == 0x309A || r == 0xFF9E || r == 0xFF9F
}

// voiced is kana c with voicing mark m (ｶﾞ or カ+U+3099: ガ), 0 if they
// do not compose.
func voiced(c, m rune) rune {
	switch m {
	case 0xFF9E:
		m = 0x3099
	case 0xFF9F:
		m = 0x309A
	}
	var buf [8]byte
	b := norm.NFC.Append(buf[:0], utf8.AppendRune(utf8.AppendRune(nil, c), m)...)
	if v, n := utf8.DecodeRune(b); n == len(b) && v != utf8.RuneError {
		return v
	}
	return 0
}

// words calls fn with each folded word of s, in order, with its position
// (counted from 0 in s), and returns the positions s takes. With query,
// a CJK run gives its bigrams only (its unigram if it is one character);
// else it gives both (see above). The slice fn gets is reused: copy it
// to keep it.
func words(s string, query bool, fn func(w []byte, pos uint32)) uint32 {
	buf := make([]byte, 0, 64)
	var in bool
	var pos uint32
	var prev rune // the CJK character before, 0 if none
	run := 0      // CJK characters in the run so far
	endRun := func() {
		if query && run == 1 {
			fn(utf8.AppendRune(buf[:0], prev), pos-1)
		}
		prev, run = 0, 0
	}
	skip := 0 // a voicing mark taken with the kana before it
	for i, r := range s {
		if i < skip {
			continue
		}
		if r >= 0x1100 && isCJK(r) {
			if in {
				if len(buf) > 0 && len(buf) <= MaxWord {
					fn(buf, pos)
				}
				pos++
				buf, in = buf[:0], false
			}
			c := foldCJK(r)
			if m, n := utf8.DecodeRuneInString(s[i+utf8.RuneLen(r):]); isVoicing(m) {
				if v := voiced(c, m); v != 0 {
					c, skip = v, i+utf8.RuneLen(r)+n
				}
			}
			if run > 0 {
				fn(utf8.AppendRune(utf8.AppendRune(buf[:0], prev), c), pos-1)
			}
			if !query {
				fn(utf8.AppendRune(buf[:0], c), pos)
			}
			prev = c
			run++
			pos++
			continue
		}
		if run > 0 {
			endRun()
			buf = buf[:0]
		}
		var ok bool
		n := len(buf)
		buf, ok = fold(buf, r)
		if ok {
			in = true
			continue
		}
		buf = buf[:n]
		if in {
			if len(buf) > 0 && len(buf) <= MaxWord {
				fn(buf, pos)
			}
			pos++
			buf, in = buf[:0], false
		}
	}
	if run > 0 {
		endRun()
	}
	if in {
		if len(buf) > 0 && len(buf) <= MaxWord {
			fn(buf, pos)
		}
		pos++
	}
	return pos
}

// Words is the folded words of s as a query reads them: a CJK run as
// its bigrams (see words).
func Words(s string) []string {
	ws, _ := queryWords(s)
	return ws
}

// queryWords is the folded words of s as a query reads them, and the
// position of each relative to the first: a phrase matches where word i
// is at start + pos[i].
func queryWords(s string) (ws []string, pos []uint32) {
	first := uint32(0)
	words(s, true, func(w []byte, p uint32) {
		if len(ws) == 0 {
			first = p
		}
		ws = append(ws, string(w))
		pos = append(pos, p-first)
	})
	return ws, pos
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
