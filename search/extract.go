package search

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"strings"
	"sync"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // every charset golang.org/x/text knows, for bodies and headers
	"github.com/emersion/go-message/mail"
	"golang.org/x/net/html"
)

// Bounds on what one message costs to index, whatever it holds: a blob is
// foreign input (hostile-input rules, docs/DESIGN.md "Threat model").
const (
	// MaxRead is the most decompressed bytes read of one message: parts
	// after it (their text and attachment names) are not indexed, and the
	// message is counted as truncated.
	MaxRead = 32 << 20
	// MaxText is the most body text (bytes, after decoding) indexed of one
	// message; an HTML part is read up to MaxHTML bytes before its tags
	// are stripped.
	MaxText = 1 << 20
	MaxHTML = 4 << 20
	// MaxParts and MaxDepth bound the MIME tree walked.
	MaxParts = 500
	MaxDepth = 16
	// maxHeader bounds each header block (the top one's and an attached
	// message's by go-message's ReadOptions; part headers by MaxRead).
	maxHeader = 1 << 20
	// fieldGap separates two values of one field (two addresses of To, two
	// body parts): a phrase never spans them.
	fieldGap = 16
)

// The fields of a message, each a byte that prefixes its words in the
// term dictionary (docs/FORMAT.md § 20).
const (
	fFrom       = 'f'
	fTo         = 't'
	fCc         = 'c'
	fSubject    = 's'
	fBody       = 'b'
	fAttachment = 'a'
	fMessageID  = 'm' // the whole id, folded, as one word
)

// textFields are the fields free text searches.
var textFields = []byte{fFrom, fTo, fCc, fSubject, fBody, fAttachment}

// Document flags.
const (
	docAttachment = 1 << iota // has at least one attachment (a named or attachment part)
	docTruncated              // not all of it was indexed (MaxRead, MaxText, MaxParts, MaxDepth)
	docBroken                 // its blob could not be read whole: only what came before the fault is indexed
)

// docTerms is one message's words, field by field, with their positions.
type docTerms struct {
	terms   map[string][]uint32 // field byte + folded word -> positions
	pos     [128]uint32         // next position, by field byte
	words   uint32
	key     []byte
	subject string
	from    string
	date    int64 // Unix ms of the Date header, 0 if none
	flags   uint32
}

// docPool keeps docTerms (their maps) between messages.
var docPool = sync.Pool{New: func() any { return &docTerms{terms: make(map[string][]uint32, 256)} }}

func newDocTerms() *docTerms { return docPool.Get().(*docTerms) }

// release gives d back to the pool; d must not be used after.
func (d *docTerms) release() {
	clear(d.terms)
	*d = docTerms{terms: d.terms, key: d.key[:0]}
	docPool.Put(d)
}

// add indexes the words of s under field f.
func (d *docTerms) add(f byte, s string) {
	base := d.pos[f]
	n := words(s, false, func(w []byte, p uint32) { d.addWord(f, w, base+p) })
	d.words += n
	d.pos[f] = base + n + fieldGap
}

func (d *docTerms) addWord(f byte, w []byte, p uint32) {
	d.key = append(append(d.key[:0], f), w...)
	if ps, ok := d.terms[string(d.key)]; ok {
		d.terms[string(d.key)] = append(ps, p)
		return
	}
	d.terms[string(d.key)] = []uint32{p}
}

// extractor walks one message within the bounds above.
type extractor struct {
	d        *docTerms
	text     int  // body text bytes indexed
	parts    int  // parts seen
	skipText bool // inside a multipart/alternative whose text was taken
}

// extract indexes the message read from r (at most MaxRead bytes of it).
// An error is the reader's (a broken blob): what came before is kept.
func extract(r io.Reader) (*docTerms, error) {
	cr := &capReader{r: r, left: MaxRead}
	x := &extractor{d: newDocTerms()}
	e, err := message.ReadWithOptions(cr, &message.ReadOptions{MaxHeaderBytes: maxHeader})
	if e == nil {
		if cr.err != nil {
			return x.d, cr.err
		}
		// Not a message we can parse: nothing but its bytes as text.
		return x.d, nil
	}
	_ = err // unknown charset or encoding: e is still readable
	x.headers(mail.Header{Header: e.Header})
	x.entity(e, 0)
	if cr.capped {
		x.d.flags |= docTruncated
	}
	if cr.err != nil {
		x.d.flags |= docBroken
		return x.d, cr.err
	}
	return x.d, nil
}

func (x *extractor) headers(h mail.Header) {
	d := x.d
	for _, f := range []struct {
		key   string
		field byte
	}{{"From", fFrom}, {"To", fTo}, {"Cc", fCc}} {
		v := addresses(h, f.key)
		for _, a := range v {
			d.add(f.field, a)
		}
		if f.field == fFrom && len(v) > 0 {
			d.from = v[0]
		}
	}
	s, err := h.Subject()
	if err != nil {
		s = h.Get("Subject")
	}
	d.subject = clip(s, 200)
	d.add(fSubject, s)
	if id := strings.Trim(strings.TrimSpace(h.Get("Message-Id")), "<>"); id != "" && len(id) < 1000 {
		d.key = append(append(d.key[:0], fMessageID), Fold(id)...)
		d.terms[string(d.key)] = []uint32{0}
	}
	if t, err := h.Date(); err == nil && !t.IsZero() {
		d.date = t.UnixMilli()
	}
}

// addresses is the header's addresses as "Name address" strings, or its
// decoded text when it does not parse as an address list.
func addresses(h mail.Header, key string) []string {
	if list, err := h.AddressList(key); err == nil {
		out := make([]string, 0, len(list))
		for _, a := range list {
			out = append(out, strings.TrimSpace(a.Name+" "+a.Address))
		}
		return out
	}
	v, err := h.Text(key)
	if err != nil {
		v = h.Get(key)
	}
	if v == "" {
		return nil
	}
	return []string{v}
}

func clip(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 { // not in the middle of a UTF-8 sequence
		n--
	}
	return s[:n]
}

// entity indexes one MIME entity (a message or a part).
func (x *extractor) entity(e *message.Entity, depth int) {
	mt, params, _ := e.Header.ContentType()
	if mr := e.MultipartReader(); mr != nil {
		if depth >= MaxDepth {
			x.d.flags |= docTruncated
			return
		}
		alt := mt == "multipart/alternative"
		outer := x.skipText
		for {
			p, err := mr.NextPart()
			if p == nil || (err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err)) {
				if err != nil && !errors.Is(err, io.EOF) {
					x.d.flags |= docTruncated // a malformed multipart: what came before is kept
				}
				break
			}
			x.parts++
			if x.parts > MaxParts {
				x.d.flags |= docTruncated
				break
			}
			before := x.text
			x.entity(p, depth+1)
			if alt && x.text > before {
				x.skipText = true // one alternative's text is enough
			}
		}
		x.skipText = outer
		return
	}
	disp, dparams, _ := e.Header.ContentDisposition()
	name := dparams["filename"]
	if ah := (mail.AttachmentHeader{Header: e.Header}); name != "" || disp != "" {
		if n, err := ah.Filename(); err == nil && n != "" {
			name = n
		}
	}
	if name == "" && params["name"] != "" {
		name = decodeWord(params["name"])
	}
	if mt == "message/rfc822" || mt == "message/global" {
		x.d.flags |= docAttachment
		if name != "" {
			x.d.add(fAttachment, name)
		}
		x.attached(e, depth)
		return
	}
	if disp == "attachment" || name != "" {
		x.d.flags |= docAttachment
		if name != "" {
			x.d.add(fAttachment, name)
		}
		return
	}
	if x.skipText || x.text >= MaxText {
		if x.text >= MaxText {
			x.d.flags |= docTruncated
		}
		return
	}
	switch mt {
	case "text/plain", "":
		b, _ := io.ReadAll(io.LimitReader(e.Body, int64(MaxText-x.text)+1))
		x.body(string(b))
	case "text/html":
		b, _ := io.ReadAll(io.LimitReader(e.Body, MaxHTML+1))
		if len(b) > MaxHTML {
			x.d.flags |= docTruncated
		}
		x.body(htmlText(b, MaxText-x.text+1))
	}
}

// attached indexes a message attached to (or forwarded in) the one
// indexed: the names and addresses of its From, To and Cc and its Subject
// as words of the attachment field, its body text as body text, its own
// attachments' names as attachment names (and its attached messages the
// same way). It is one more level of the MIME tree: MaxDepth, MaxParts,
// MaxText and MaxRead bound it together with the rest of the message.
func (x *extractor) attached(e *message.Entity, depth int) {
	if depth+1 >= MaxDepth {
		x.d.flags |= docTruncated
		return
	}
	inner, err := message.ReadWithOptions(e.Body, &message.ReadOptions{MaxHeaderBytes: maxHeader})
	if inner == nil {
		if err != nil && !errors.Is(err, io.EOF) {
			x.d.flags |= docTruncated // a header that does not end (or too long): nothing of it
		}
		return
	}
	h := mail.Header{Header: inner.Header}
	for _, key := range []string{"From", "To", "Cc"} {
		for _, a := range addresses(h, key) {
			x.d.add(fAttachment, a)
		}
	}
	s, err := h.Subject()
	if err != nil {
		s = h.Get("Subject")
	}
	x.d.add(fAttachment, s)
	outer := x.skipText
	x.skipText = false // its own text, whatever the part around it
	x.entity(inner, depth+1)
	x.skipText = outer
}

func (x *extractor) body(s string) {
	if room := MaxText - x.text; len(s) > room {
		s = s[:room]
		x.d.flags |= docTruncated
	}
	if s == "" {
		return
	}
	x.text += len(s)
	x.d.add(fBody, s)
}

// decodeWord decodes an RFC 2047 encoded word (a name= parameter some
// mailers write that way).
func decodeWord(s string) string {
	if d, err := new(mime.WordDecoder).DecodeHeader(s); err == nil {
		return d
	}
	return s
}

// htmlText is the text of an HTML document (no script or style), at most
// max bytes of it.
func htmlText(b []byte, max int) string {
	z := html.NewTokenizer(bytes.NewReader(b))
	var out strings.Builder
	skip := 0
	for out.Len() < max {
		switch z.Next() {
		case html.ErrorToken:
			return out.String()
		case html.StartTagToken:
			if n, _ := z.TagName(); string(n) == "script" || string(n) == "style" {
				skip++
			}
			out.WriteByte(' ')
		case html.EndTagToken:
			if n, _ := z.TagName(); (string(n) == "script" || string(n) == "style") && skip > 0 {
				skip--
			}
			out.WriteByte(' ')
		case html.SelfClosingTagToken:
			out.WriteByte(' ')
		case html.TextToken:
			if skip == 0 {
				out.Write(z.Text())
			}
		}
	}
	return out.String()
}

// capReader reads at most left bytes of r, then reports EOF and capped;
// a read error of r is kept in err (and returned, so parsing stops).
type capReader struct {
	r      io.Reader
	left   int64
	capped bool
	err    error
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		c.capped = true
		return 0, io.EOF
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if err != nil && err != io.EOF {
		c.err = err
	}
	return n, err
}
