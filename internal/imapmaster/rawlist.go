package imapmaster

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// Mailbox is a folder as ListRaw reads it.
type Mailbox struct {
	Name  string   // decoded (modified UTF-7 to UTF-8); INBOX in any case is "INBOX"
	Raw   string   // as the server sent it
	Delim rune     // hierarchy delimiter, 0 for NIL
	Attrs []string // as sent (\Noselect, \Trash, ...)
	Err   error    // the name cannot be decoded: Name is Raw
}

// ListRaw lists the account's folders (LIST "" "*") over a connection of
// its own, logged in through the master login, without go-imap. go-imap
// v2 fails a whole LIST, and closes its connection, on one name that is
// not valid modified UTF-7; a caller falls back on ListRaw then, so that
// such a folder costs itself (its Err is set) and not the account. The
// connection is watched and guarded as Dial's (ListLimits).
func (s *Server) ListRaw(ctx context.Context, account string) ([]Mailbox, error) {
	d := net.Dialer{Timeout: 30 * time.Second}
	raw, err := d.DialContext(ctx, "tcp", s.Addr)
	if err != nil {
		return nil, fmt.Errorf("imap %s: %w", s.Addr, err)
	}
	conn := s.Wrap(raw)
	defer conn.Close()
	rc := &rawClient{conn: conn, r: bufio.NewReaderSize(conn, 16<<10), w: bufio.NewWriter(conn)}
	conn.Arm(DefaultLimits)
	if line, err := rc.line(); err != nil {
		return nil, fmt.Errorf("imap %s: greeting: %w", s.Addr, conn.Explain(err))
	} else if !strings.HasPrefix(line, "* OK") {
		return nil, fmt.Errorf("imap %s: greeting %q", s.Addr, line)
	}
	conn.Arm(DefaultLimits)
	if err := rc.login(account+s.Sep+s.User, s.Pass); err != nil {
		return nil, fmt.Errorf("imap login as %s%s%s: %w", account, s.Sep, s.User, conn.Explain(err))
	}
	conn.Arm(ListLimits())
	rc.w.WriteString("l2 LIST \"\" \"*\"\r\n")
	if err := rc.w.Flush(); err != nil {
		return nil, conn.Explain(err)
	}
	var out []Mailbox
	for {
		mb, done, err := rc.listResponse("l2")
		if err != nil {
			return nil, fmt.Errorf("imap LIST: %w", conn.Explain(err))
		}
		if done {
			break
		}
		if mb != nil {
			out = append(out, *mb)
		}
	}
	conn.Arm(DefaultLimits)
	rc.w.WriteString("l3 LOGOUT\r\n")
	rc.w.Flush()
	return out, nil
}

type rawClient struct {
	conn *Conn
	r    *bufio.Reader
	w    *bufio.Writer
}

// line reads a line without its CRLF (the guard bounds it).
func (c *rawClient) line() (string, error) {
	var sb strings.Builder
	for {
		part, err := c.r.ReadSlice('\n')
		sb.Write(part)
		if err == nil {
			return strings.TrimRight(sb.String(), "\r\n"), nil
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return "", err
		}
	}
}

// skipLine reads the rest of a response, literals included.
func (c *rawClient) skipLine() error {
	for {
		l, err := c.line()
		if err != nil {
			return err
		}
		n, ok := literalAtEnd(l)
		if !ok {
			return nil
		}
		if _, err := io.CopyN(io.Discard, c.r, n); err != nil {
			return err
		}
	}
}

func literalAtEnd(l string) (int64, bool) {
	l = strings.TrimSuffix(l, " ")
	if !strings.HasSuffix(l, "}") {
		return 0, false
	}
	i := strings.LastIndexByte(l, '{')
	if i < 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSuffix(l[i+1:len(l)-1], "+"), 10, 64)
	return n, err == nil && n >= 0
}

// login sends LOGIN with quoted strings, or synchronizing literals for
// what cannot be quoted.
func (c *rawClient) login(user, pass string) error {
	c.w.WriteString("l1 LOGIN ")
	for i, s := range []string{user, pass} {
		if i > 0 {
			c.w.WriteByte(' ')
		}
		if quotable(s) {
			c.w.WriteString(`"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`)
			continue
		}
		c.w.WriteString("{" + strconv.Itoa(len(s)) + "}\r\n")
		if err := c.w.Flush(); err != nil {
			return err
		}
		for {
			l, err := c.line()
			if err != nil {
				return err
			}
			if strings.HasPrefix(l, "+") {
				break
			}
			if strings.HasPrefix(l, "l1 ") {
				return fmt.Errorf("%s", l)
			}
		}
		c.w.WriteString(s)
	}
	c.w.WriteString("\r\n")
	if err := c.w.Flush(); err != nil {
		return err
	}
	for {
		l, err := c.line()
		if err != nil {
			return err
		}
		if rest, ok := strings.CutPrefix(l, "l1 "); ok {
			if !strings.HasPrefix(strings.ToUpper(rest), "OK") {
				return fmt.Errorf("%s", rest)
			}
			return nil
		}
		if n, ok := literalAtEnd(l); ok {
			if _, err := io.CopyN(io.Discard, c.r, n); err != nil {
				return err
			}
			if err := c.skipLine(); err != nil {
				return err
			}
		}
	}
}

func quotable(s string) bool {
	if len(s) >= 1024 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// listResponse reads one response: a LIST (mb), the tagged end of tag
// (done), or another (neither).
func (c *rawClient) listResponse(tag string) (mb *Mailbox, done bool, err error) {
	d := rawDec{r: c.r}
	first, err := d.atom()
	if err != nil {
		return nil, false, err
	}
	if first == tag {
		l, err := c.line()
		if err != nil {
			return nil, false, err
		}
		l = strings.TrimSpace(l)
		if !strings.HasPrefix(strings.ToUpper(l), "OK") {
			return nil, false, fmt.Errorf("%s", l)
		}
		return nil, true, nil
	}
	if first != "*" {
		return nil, false, c.skipLine()
	}
	d.sp()
	kind, err := d.atom()
	if err != nil {
		return nil, false, err
	}
	if !strings.EqualFold(kind, "LIST") {
		return nil, false, c.skipLine()
	}
	mb = &Mailbox{}
	if !d.sp() {
		return nil, false, errors.New("LIST: no attributes")
	}
	if mb.Attrs, err = d.atomList(); err != nil {
		return nil, false, fmt.Errorf("LIST attributes: %w", err)
	}
	if !d.sp() {
		return nil, false, errors.New("LIST: no delimiter")
	}
	delim, isNil, err := d.nstring()
	if err != nil {
		return nil, false, fmt.Errorf("LIST delimiter: %w", err)
	}
	if !isNil {
		r, n := utf8.DecodeRuneInString(delim)
		if r == utf8.RuneError || n != len(delim) {
			return nil, false, fmt.Errorf("LIST delimiter %q", delim)
		}
		mb.Delim = r
	}
	if !d.sp() {
		return nil, false, errors.New("LIST: no name")
	}
	name, isNil, err := d.nstring()
	if err != nil || isNil {
		return nil, false, fmt.Errorf("LIST name: %v", err)
	}
	mb.Raw = name
	switch dec, err := DecodeMUTF7(name); {
	case strings.EqualFold(name, "INBOX"):
		mb.Name = "INBOX"
	case err != nil:
		mb.Name, mb.Err = name, fmt.Errorf("folder name %q is not modified UTF-7: %w", name, err)
	default:
		mb.Name = dec
	}
	return mb, false, c.skipLine() // extended data, CRLF
}

// rawDec reads the few IMAP tokens a LIST response holds.
type rawDec struct{ r *bufio.Reader }

func (d *rawDec) sp() bool {
	b, err := d.r.ReadByte()
	if err != nil {
		return false
	}
	if b != ' ' {
		d.r.UnreadByte()
		return false
	}
	return true
}

func isAtomChar(b byte) bool {
	switch b {
	case '(', ')', '{', ' ', '"', '\r', '\n':
		return false
	}
	return b >= 0x20 && b != 0x7f
}

func (d *rawDec) atom() (string, error) {
	var sb strings.Builder
	for {
		b, err := d.r.ReadByte()
		if err != nil {
			return "", err
		}
		if !isAtomChar(b) {
			d.r.UnreadByte()
			break
		}
		sb.WriteByte(b)
	}
	if sb.Len() == 0 {
		b, _ := d.r.Peek(1)
		return "", fmt.Errorf("expected an atom, got %q", b)
	}
	return sb.String(), nil
}

func (d *rawDec) atomList() ([]string, error) {
	if b, err := d.r.ReadByte(); err != nil || b != '(' {
		return nil, errors.New("expected (")
	}
	var out []string
	for {
		b, err := d.r.ReadByte()
		if err != nil {
			return nil, err
		}
		switch b {
		case ')':
			return out, nil
		case ' ':
			continue
		}
		d.r.UnreadByte()
		a, err := d.atom()
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
}

// nstring reads a quoted string, a literal, or NIL (or any atom: an
// unquoted mailbox name).
func (d *rawDec) nstring() (s string, isNil bool, err error) {
	b, err := d.r.ReadByte()
	if err != nil {
		return "", false, err
	}
	switch b {
	case '"':
		var sb strings.Builder
		for {
			b, err := d.r.ReadByte()
			if err != nil {
				return "", false, err
			}
			if b == '"' {
				return sb.String(), false, nil
			}
			if b == '\\' {
				if b, err = d.r.ReadByte(); err != nil {
					return "", false, err
				}
			}
			if b == '\r' || b == '\n' {
				return "", false, errors.New("line ends in a quoted string")
			}
			sb.WriteByte(b)
		}
	case '{':
		num, err := d.r.ReadString('}')
		if err != nil {
			return "", false, err
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSuffix(num, "}"), "+"), 10, 64)
		if err != nil || n < 0 || n > MaxSmallLiteral {
			return "", false, fmt.Errorf("literal {%s", num)
		}
		if _, err := d.r.ReadString('\n'); err != nil {
			return "", false, err
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(d.r, buf); err != nil {
			return "", false, err
		}
		return string(buf), false, nil
	}
	d.r.UnreadByte()
	a, err := d.atom()
	if err != nil {
		return "", false, err
	}
	if strings.EqualFold(a, "NIL") {
		return "", true, nil
	}
	return a, false, nil
}

// DecodeMUTF7 decodes IMAP's modified UTF-7 (RFC 3501 5.1.3) strictly,
// as go-imap does: printable ASCII as is, "&-" for "&", "&...-" base64
// (with "," for "/") of UTF-16BE; raw UTF-8 is taken as it is (servers
// with UTF8=ACCEPT). Anything else is an error: control characters, an
// unterminated or empty shift, two shifts in a row, bad base64, odd or
// unpaired UTF-16.
func DecodeMUTF7(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", errors.New("invalid UTF-8")
	}
	var sb strings.Builder
	shifted := false // the previous token was a base64 shift
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == 0x7f {
			return "", fmt.Errorf("control character %#x", c)
		}
		if c != '&' {
			sb.WriteByte(c)
			shifted = false
			continue
		}
		j := strings.IndexByte(s[i+1:], '-')
		if j < 0 {
			return "", errors.New("unterminated shift")
		}
		enc := s[i+1 : i+1+j]
		i += j + 1
		if enc == "" {
			sb.WriteByte('&')
			shifted = false
			continue
		}
		if shifted {
			return "", errors.New("two shifts in a row")
		}
		raw, err := base64.RawStdEncoding.Strict().DecodeString(strings.ReplaceAll(enc, ",", "/"))
		if err != nil || len(raw) == 0 || len(raw)%2 != 0 {
			return "", fmt.Errorf("bad base64 %q", enc)
		}
		u := make([]uint16, len(raw)/2)
		for k := range u {
			u[k] = uint16(raw[2*k])<<8 | uint16(raw[2*k+1])
		}
		for k := 0; k < len(u); k++ {
			r := rune(u[k])
			if utf16.IsSurrogate(r) {
				if k+1 >= len(u) {
					return "", errors.New("unpaired surrogate")
				}
				r = utf16.DecodeRune(r, rune(u[k+1]))
				if r == utf8.RuneError {
					return "", errors.New("unpaired surrogate")
				}
				k++
			}
			sb.WriteRune(r)
		}
		shifted = true
	}
	return sb.String(), nil
}
