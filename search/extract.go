package search

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"strings"
	"sync"
	"time"
	"unsafe"

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
	n       int         // terms of the message
	names   []string    // its terms (field byte + folded word), by slot
	lists   [][]uint32  // their positions, by slot (capacity kept between messages)
	dict    *termDict   // while extracting: the terms' slots
	pos     [128]uint32 // next position, by field byte
	words   uint32
	key     []byte
	subject string
	from    string
	date    int64 // Unix ms of the Date header, 0 if none
	flags   uint32
}

// termDict numbers the terms one extracting goroutine has met, so that a
// word costs one map lookup and no allocation once its term is known
// (the term's string is made once, and shared with the builder's table).
type termDict struct {
	ids   map[string]int32
	names []string
	slot  []int32 // by id: its slot + 1 in the message being read, 0 if none yet
	used  []int32 // the ids with a slot
	buf   []byte  // a part's text (extractor.read)
}

// maxDictTerms bounds a termDict: past it, it starts again empty.
const maxDictTerms = 1 << 20

// docPool keeps docTerms (their slices) between messages, dictPool the
// termDicts.
var (
	docPool  = sync.Pool{New: func() any { return &docTerms{} }}
	dictPool = sync.Pool{New: func() any { return &termDict{ids: make(map[string]int32, 1<<12)} }}
)

func newDocTerms() *docTerms { return docPool.Get().(*docTerms) }

// attach gives d a termDict for its words; detach gives it back.
func (d *docTerms) attach() {
	t := dictPool.Get().(*termDict)
	if len(t.names) > maxDictTerms {
		clear(t.ids)
		t.names, t.slot = t.names[:0], t.slot[:0]
	}
	d.dict = t
}

func (d *docTerms) detach() {
	t := d.dict
	for _, id := range t.used {
		t.slot[id] = 0
	}
	t.used = t.used[:0]
	if cap(t.buf) > 1<<20 { // keep what a usual part needs, not a bomb's
		t.buf = nil
	}
	d.dict = nil
	dictPool.Put(t)
}

// release gives d back to the pool; d must not be used after.
func (d *docTerms) release() {
	clear(d.names[:d.n])
	for i := range d.lists[:d.n] {
		if cap(d.lists[i]) > 1024 { // a word a message said very often
			d.lists[i] = nil
		}
	}
	*d = docTerms{names: d.names, lists: d.lists, key: d.key[:0]}
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
	t := d.dict
	id, ok := t.ids[string(d.key)]
	if !ok {
		name := string(d.key)
		id = int32(len(t.names))
		t.ids[name] = id
		t.names = append(t.names, name)
		t.slot = append(t.slot, 0)
	}
	if s := t.slot[id]; s != 0 {
		d.lists[s-1] = append(d.lists[s-1], p)
		return
	}
	if d.n < len(d.lists) {
		d.lists[d.n] = append(d.lists[d.n][:0], p)
		d.names[d.n] = t.names[id]
	} else {
		d.lists = append(d.lists, []uint32{p})
		d.names = append(d.names, t.names[id])
	}
	d.n++
	t.slot[id] = int32(d.n)
	t.used = append(t.used, id)
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
	x.d.attach()
	defer x.d.detach()
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
		d.addWord(fMessageID, []byte(Fold(id)), 0)
	}
	if t, err := parseDate(h); err == nil && !t.IsZero() {
		d.date = t.UnixMilli()
	}
}

// parseDate is the Date header: the form nearly every mailer writes
// first (one parse), else net/mail's many forms (each a failed parse
// before the one that fits).
func parseDate(h mail.Header) (time.Time, error) {
	if t, err := time.Parse("Mon, 2 Jan 2006 15:04:05 -0700", strings.TrimSpace(h.Get("Date"))); err == nil {
		return t, nil
	}
	return h.Date()
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
		b := x.read(e.Body, MaxText-x.text+1)
		if len(b) > 0 {
			// b is the dictionary's buffer, unchanged until the next read
			// and not kept: words copy what they keep.
			x.body(unsafe.String(&b[0], len(b)))
		}
	case "text/html":
		b := x.read(e.Body, MaxHTML+1)
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

// read reads at most max bytes of r into the termDict's buffer (reused
// by the next read).
func (x *extractor) read(r io.Reader, max int) []byte {
	t := x.d.dict
	t.buf = t.buf[:0]
	for len(t.buf) < max {
		if len(t.buf) == cap(t.buf) {
			t.buf = append(t.buf, 0)[:len(t.buf)]
		}
		n, err := r.Read(t.buf[len(t.buf):min(cap(t.buf), max)])
		t.buf = t.buf[:len(t.buf)+n]
		if err != nil {
			break
		}
	}
	return t.buf
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
