package sample

import (
	"bytes"
	"encoding/base64"
	"mime"
	"net/mail"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// addr is a mailbox: display name and address.
type addr struct{ name, email string }

func (a addr) String() string {
	return (&mail.Address{Name: a.name, Address: a.email}).String()
}

func addrList(as []addr) string {
	switch len(as) {
	case 0:
		return ""
	case 1:
		return as[0].String()
	}
	var b strings.Builder
	for i, a := range as {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(a.String())
	}
	return b.String()
}

// Body layouts.
const (
	layoutPlain = iota // text/plain
	layoutAlt          // multipart/alternative: text/plain + text/html
	layoutMixed        // multipart/mixed: body (plain or alternative) + attachments
)

// attSpec is one attachment.
type attSpec struct {
	name, ctype, magic string
	size               int // raw (decoded) bytes
	seed               uint64
	text               bool // textual content (csv, txt)
}

// mailSpec says everything a message is made of; the same spec always gives
// the same bytes.
type mailSpec struct {
	from      addr
	to, cc    []addr
	subject   string // decoded
	date      time.Time
	msgID     string
	inReplyTo string
	layout    int
	altInside bool // layoutMixed: body is multipart/alternative
	bodySeed  uint64
	bodySize  int
	atts      []attSpec
	delivered bool   // has Return-Path/Received (a delivered copy, not a draft or sent copy)
	boundary  string // unique per message
	mailer    string // X-Mailer
}

// mailer builds messages into reusable buffers.
type mailer struct {
	text, raw []byte
}

const crlf = "\r\n"

var paraSep = []byte("\r\n\r\n")

func appendHeader(dst []byte, name, value string) []byte {
	dst = append(dst, name...)
	dst = append(dst, ": "...)
	dst = append(dst, value...)
	return append(dst, crlf...)
}

// encodeHeader returns v as is when it is ASCII, else as RFC 2047 words.
func encodeHeader(v string) string {
	for i := 0; i < len(v); i++ {
		if v[i] >= utf8.RuneSelf {
			return mime.BEncoding.Encode("UTF-8", v)
		}
	}
	return v
}

// build appends the RFC 5322 message of s to dst.
func (m *mailer) build(dst []byte, s *mailSpec) []byte {
	date := s.date.Format(time.RFC1123Z)
	if s.delivered {
		dst = appendHeader(dst, "Return-Path", "<"+s.from.email+">")
		dst = appendHeader(dst, "Received", "from mail.example.com (LHLO mail.example.com) (127.0.0.1)"+crlf+
			"\tby mail.example.com with LMTP; "+s.date.Add(7*time.Second).Format(time.RFC1123Z))
	}
	dst = appendHeader(dst, "Date", date)
	dst = appendHeader(dst, "From", s.from.String())
	if len(s.to) > 0 {
		dst = appendHeader(dst, "To", addrList(s.to))
	}
	if len(s.cc) > 0 {
		dst = appendHeader(dst, "Cc", addrList(s.cc))
	}
	dst = appendHeader(dst, "Subject", encodeHeader(s.subject))
	dst = appendHeader(dst, "Message-ID", s.msgID)
	if s.inReplyTo != "" {
		dst = appendHeader(dst, "In-Reply-To", s.inReplyTo)
		dst = appendHeader(dst, "References", s.inReplyTo)
	}
	dst = appendHeader(dst, "MIME-Version", "1.0")
	if s.mailer != "" {
		dst = appendHeader(dst, "X-Mailer", s.mailer)
	}
	m.text = m.text[:0]
	if len(s.to) > 0 && s.to[0].name != "" {
		first, _, _ := strings.Cut(s.to[0].name, " ")
		m.text = append(m.text, "Hi "+first+","+crlf+crlf...)
	}
	m.text = appendText(m.text, s.bodySeed, s.bodySize)
	if s.from.name != "" {
		m.text = append(m.text, crlf+"Best regards,"+crlf+s.from.name+crlf...)
	}
	switch s.layout {
	case layoutPlain:
		dst = appendHeader(dst, "Content-Type", "text/plain; charset=utf-8")
		dst = appendHeader(dst, "Content-Transfer-Encoding", "7bit")
		dst = append(dst, crlf...)
		dst = append(dst, m.text...)
	case layoutAlt:
		dst = m.appendAlt(dst, s.boundary+"_alt")
	default:
		b := s.boundary + "_mix"
		dst = appendHeader(dst, "Content-Type", `multipart/mixed; boundary="`+b+`"`)
		dst = append(dst, crlf+"This is a multi-part message in MIME format."+crlf+crlf...)
		dst = append(dst, "--"+b+crlf...)
		if s.altInside {
			dst = m.appendAlt(dst, s.boundary+"_alt")
		} else {
			dst = appendHeader(dst, "Content-Type", "text/plain; charset=utf-8")
			dst = appendHeader(dst, "Content-Transfer-Encoding", "7bit")
			dst = append(dst, crlf...)
			dst = append(dst, m.text...)
		}
		for i := range s.atts {
			dst = append(dst, crlf+"--"+b+crlf...)
			dst = m.appendAttachment(dst, &s.atts[i])
		}
		dst = append(dst, crlf+"--"+b+"--"+crlf...)
	}
	return dst
}

// appendAlt appends a multipart/alternative entity (headers and body) of
// m.text and its HTML rendering.
func (m *mailer) appendAlt(dst []byte, b string) []byte {
	dst = appendHeader(dst, "Content-Type", `multipart/alternative; boundary="`+b+`"`)
	dst = append(dst, crlf...)
	dst = append(dst, "--"+b+crlf...)
	dst = appendHeader(dst, "Content-Type", "text/plain; charset=utf-8")
	dst = appendHeader(dst, "Content-Transfer-Encoding", "7bit")
	dst = append(dst, crlf...)
	dst = append(dst, m.text...)
	dst = append(dst, crlf+"--"+b+crlf...)
	dst = appendHeader(dst, "Content-Type", "text/html; charset=utf-8")
	dst = appendHeader(dst, "Content-Transfer-Encoding", "7bit")
	dst = append(dst, crlf+"<html><body>"+crlf+"<p>"...)
	text := m.text
	for len(text) > 0 {
		i := bytes.Index(text, paraSep)
		if i < 0 {
			dst = append(dst, text...)
			break
		}
		dst = append(dst, text[:i]...)
		dst = append(dst, "</p>"+crlf+"<p>"...)
		text = text[i+4:]
	}
	dst = append(dst, "</p>"+crlf+"</body></html>"+crlf...)
	return append(dst, crlf+"--"+b+"--"+crlf...)
}

// appendAttachment appends a base64 attachment entity.
func (m *mailer) appendAttachment(dst []byte, a *attSpec) []byte {
	ct := a.ctype + `; name="` + a.name + `"`
	if a.text {
		ct = a.ctype + `; charset=utf-8; name="` + a.name + `"`
	}
	dst = appendHeader(dst, "Content-Type", ct)
	dst = appendHeader(dst, "Content-Disposition", `attachment; filename="`+a.name+`"`)
	dst = appendHeader(dst, "Content-Transfer-Encoding", "base64")
	dst = append(dst, crlf...)
	const line = 57 // raw bytes per 76-character base64 line
	if a.text {
		m.raw = appendText(m.raw[:0], a.seed, a.size)
		return appendBase64(dst, m.raw)
	}
	t := newTextGen(a.seed)
	const chunk = line * 1024
	if cap(m.raw) < chunk {
		m.raw = make([]byte, chunk)
	}
	raw := m.raw[:chunk]
	left := a.size
	first := true
	for left > 0 {
		n := min(left, chunk)
		t.fill(raw[:n])
		if first {
			copy(raw, a.magic)
			first = false
		}
		dst = appendBase64(dst, raw[:n])
		left -= n
	}
	return dst
}

// appendBase64 appends b as base64 in 76-character CRLF lines. Only the
// last call for an attachment may pass a length that is not a multiple of
// 57.
func appendBase64(dst, b []byte) []byte {
	const line = 57
	for len(b) > 0 {
		n := min(len(b), line)
		dst = base64.StdEncoding.AppendEncode(dst, b[:n])
		dst = append(dst, crlf...)
		b = b[n:]
	}
	return dst
}

// msgID makes a Message-ID.
func msgID(n uint64, seq int, domain string) string {
	return "<" + strconv.FormatUint(n, 36) + "." + strconv.Itoa(seq) + "@" + domain + ">"
}
