package blob

import (
	"bytes"
	"compress/gzip"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// gz compresses data with the standard library (an encoder independent of
// the one under test).
func gz(tb testing.TB, data []byte) []byte {
	tb.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	_, err := zw.Write(data)
	require.NoError(tb, err)
	require.NoError(tb, zw.Close())
	return b.Bytes()
}

// sha1Digest is the old-style SHA-1 digest of data.
func sha1Digest(data []byte) Digest {
	s := sha1.Sum(data)
	return FromHash(s[:])
}

// writeRaw puts raw file bytes at blob d's path, bypassing Put.
func writeRaw(tb testing.TB, s *Store, d Digest, raw []byte) {
	tb.Helper()
	p := s.Path(d)
	require.NoError(tb, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(tb, os.WriteFile(p, raw, 0o644))
}

var words = strings.Fields(`the a of to and in is it you that he was for on are
with as I his they be at one have this from or had by hot word but what some we
can out other were all there when up use your how said an each she which do their
time if will way about many then them write would like so these her long make
thing see him two has look more day could go come did number sound no most people
my over know water than call first who may down side been now find meeting budget
quarterly invoice attached please regards thanks report schedule project review`)

// mailText is a realistic-ish plain-text message of about size bytes.
func mailText(size int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	var b bytes.Buffer
	fmt.Fprintf(&b, "Return-Path: <user%d@example.com>\r\nFrom: User %d <user%d@example.com>\r\n", seed, seed, seed)
	fmt.Fprintf(&b, "To: john@example.com\r\nSubject: Report %d\r\nDate: Mon, 3 Feb 2025 10:%02d:00 +0000\r\n", seed, seed%60)
	fmt.Fprintf(&b, "Message-ID: <%x@example.com>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n", r.Uint64())
	col := 0
	for b.Len() < size {
		w := words[r.IntN(len(words))]
		if col+len(w) > 72 {
			b.WriteString("\r\n")
			col = 0
			if r.IntN(8) == 0 {
				b.WriteString("\r\n")
			}
		}
		b.WriteString(w)
		b.WriteByte(' ')
		col += len(w) + 1
	}
	return b.Bytes()[:size]
}

// attachmentMail is a message of about size bytes: a text part, an HTML
// rendering of it (together about 40%, compressible) and a base64
// attachment of random bytes (incompressible beyond base64's 6 bits a byte).
func attachmentMail(size int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 2))
	var b bytes.Buffer
	text := mailText(size/5, seed)
	b.Write(text)
	b.WriteString("\r\n--b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>")
	b.Write(bytes.ReplaceAll(text[bytes.Index(text, []byte("\r\n\r\n"))+4:], []byte("\r\n\r\n"), []byte("</p>\r\n<p>")))
	b.WriteString("</p></body></html>\r\n--b1\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	raw := make([]byte, 57)
	for b.Len() < size {
		for i := range raw {
			raw[i] = byte(r.Uint32())
		}
		b.WriteString(base64.StdEncoding.EncodeToString(raw))
		b.WriteString("\r\n")
	}
	return b.Bytes()[:size]
}
