package mailbox

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"sort"
	"strings"
	"unicode/utf16"
)

// MaxMaildirName is the longest Maildir++ folder name (in bytes, as
// stored) a Maildir target writes: NAME_MAX, one path component.
const MaxMaildirName = 255

// maildirHashLen is how many hex digits of the path's hash a shortened
// folder name ends with (64 bits).
const maildirHashLen = 16

// MaildirFolderName is the Maildir++ folder name of a folder path (not the
// inbox itself): "." + the names in IMAP's modified UTF-7 joined by ".", a
// "." inside a name becoming "_". A name that would pass MaxMaildirName
// bytes is shortened: the longest prefix of the path (cut between
// characters, never inside one, measured after encoding) followed by "~"
// and the first 16 hex digits of the SHA-256 of the full path (its names
// joined by NUL bytes). The result is at most MaxMaildirName bytes, the
// same on every run (so a rerun finds its files), and unique per path.
// Dovecot shows it under the parents its prefix still names.
func MaildirFolderName(path []string) string {
	parts := make([]string, len(path))
	for i, p := range path {
		parts[i] = strings.ReplaceAll(p, ".", "_")
	}
	plain := strings.Join(parts, ".")
	if name := "." + EncodeMUTF7(plain); len(name) <= MaxMaildirName {
		return name
	}
	sum := sha256.Sum256([]byte(strings.Join(path, "\x00")))
	suffix := "~" + hex.EncodeToString(sum[:])[:maildirHashLen]
	budget := MaxMaildirName - 1 - len(suffix)
	// The encoded length grows with the prefix: find the longest prefix
	// (on a rune boundary) that fits.
	var cuts []int
	for i := range plain {
		cuts = append(cuts, i)
	}
	n := sort.Search(len(cuts), func(k int) bool { return len(EncodeMUTF7(plain[:cuts[k]])) > budget })
	prefix := ""
	if n > 0 {
		prefix = plain[:cuts[n-1]]
	}
	return "." + EncodeMUTF7(prefix) + suffix
}

// EncodeMUTF7 encodes a folder name in IMAP's modified UTF-7 (RFC 3501
// 5.1.3), the form Dovecot stores Maildir++ folder names in.
func EncodeMUTF7(s string) string {
	var b strings.Builder
	var run []rune
	flush := func() {
		if len(run) == 0 {
			return
		}
		u := utf16.Encode(run)
		buf := make([]byte, 0, 2*len(u))
		for _, c := range u {
			buf = append(buf, byte(c>>8), byte(c))
		}
		enc := base64.StdEncoding.EncodeToString(buf)
		enc = strings.TrimRight(enc, "=")
		b.WriteByte('&')
		b.WriteString(strings.ReplaceAll(enc, "/", ","))
		b.WriteByte('-')
		run = run[:0]
	}
	for _, r := range s {
		if r >= 0x20 && r <= 0x7e {
			flush()
			if r == '&' {
				b.WriteString("&-")
			} else {
				b.WriteRune(r)
			}
			continue
		}
		run = append(run, r)
	}
	flush()
	return b.String()
}
