package restore

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/cbfs/cbfs/internal/imapmaster"
)

// MULTIAPPEND (RFC 3502) on a connection of its own.
//
// go-imap v2's client has no MULTIAPPEND, and its connection cannot be
// shared: the client owns the tag sequence and a reader goroutine that
// takes every response line, so a command written beside it would have its
// tagged answer swallowed (or mistaken for another command's). An account
// opened on a server offering MULTIAPPEND therefore gets one or more
// further connections, logged in the same way (master login), on which a
// small hand-written client sends only APPEND, LOGIN, CAPABILITY and
// LOGOUT: it reads lines, inlines the literals of lines that have one,
// ignores untagged responses, and keeps the tagged answers it reads while
// waiting for another tag. APPEND needs no selected mailbox. Everything
// else (LIST, CREATE, STATUS, the duplicate check's SEARCH and FETCH, the
// one-by-one APPENDs after a refused batch) stays on the go-imap
// connection.
//
// Its connections are imapmaster.Conns, as go-imap's: the lines it reads
// (at most maxRespLine, literals inlined) are also bounded on the wire,
// and the Watchdog is armed before each command and each wait.
//
// Literals are non-synchronizing with LITERAL+ (LITERAL- up to 4096
// bytes); otherwise each waits for the server's "+" and a tagged answer
// arriving instead ends the command there. Commands are pipelined: a batch
// is written while earlier ones are still being stored.

// Batching limits (IMAPTarget.Batch, IMAPTarget.AppendConns are the knobs).
const (
	batchBytes    = 8 << 20 // a batch is sent once it holds this many bytes
	batchInFlight = 2       // batches written and unanswered per append connection
	maxRespLine   = 1 << 20 // longest response line (literals inlined) read
	mainKeepalive = 5 * time.Minute
)

// imapStats counts what the MULTIAPPEND path did (tests and the benchmark
// read it).
type imapStats struct {
	batches   atomic.Int64 // MULTIAPPEND commands answered OK
	batched   atomic.Int64 // messages stored by them
	fallbacks atomic.Int64 // batches refused and appended one by one
}

// appendConn is one connection dedicated to APPEND.
type appendConn struct {
	srv      *imapmaster.Server
	conn     *imapmaster.Conn // Arm before each command
	r        *bufio.Reader
	w        *bufio.Writer
	next     int
	caps     map[string]bool
	results  map[string]appendResult // tagged answers read while waiting for another tag
	open     map[string]bool         // tags sent and not yet answered
	inflight int                     // batches written, answer not yet taken
	bad      bool                    // answered BAD: nothing more is sent on it
}

// appendResult is a tagged answer.
type appendResult struct {
	status      string // OK, NO or BAD
	text        string // the rest of the line, response code included
	uidValidity uint32 // APPENDUID (RFC 4315)
	uids        []uint32
}

// errNotLoggedIn: the server refused the append connection's login (it
// accepted the account's first one): no MULTIAPPEND for that account.
var errNotLoggedIn = errors.New("append connection refused")

// dialAppend opens and logs in an append connection as account.
func dialAppend(ctx context.Context, srv *imapmaster.Server, account string) (*appendConn, error) {
	d := net.Dialer{Timeout: 30 * time.Second}
	raw, err := d.DialContext(ctx, "tcp", srv.Addr)
	if err != nil {
		return nil, fmt.Errorf("imap %s: %w", srv.Addr, err)
	}
	conn := srv.Wrap(raw)
	c := &appendConn{srv: srv, conn: conn, r: bufio.NewReaderSize(conn, 16<<10), w: bufio.NewWriterSize(conn, 64<<10),
		caps: map[string]bool{}, results: map[string]appendResult{}, open: map[string]bool{}}
	if err := c.login(account); err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
}

func (c *appendConn) login(account string) error {
	c.conn.Arm(imapmaster.DefaultLimits)
	greet, err := c.readLine()
	if err != nil {
		return fmt.Errorf("imap %s: greeting: %w", c.srv.Addr, err)
	}
	if !strings.HasPrefix(greet, "* OK") && !strings.HasPrefix(greet, "* PREAUTH") {
		return fmt.Errorf("imap %s: greeting %q: %w", c.srv.Addr, greet, errNotLoggedIn)
	}
	// LOGIN may need synchronizing literals: caps are not known yet.
	tag := c.tag()
	c.conn.Arm(imapmaster.DefaultLimits)
	c.w.WriteString(tag + " LOGIN ")
	res, ended, err := c.astring(tag, account+c.srv.Sep+c.srv.User)
	if err == nil && !ended {
		c.w.WriteByte(' ')
		res, ended, err = c.astring(tag, c.srv.Pass)
	}
	if err == nil && !ended {
		c.w.WriteString("\r\n")
		if err = c.w.Flush(); err == nil {
			res, err = c.wait(tag)
		}
	}
	if err != nil {
		return fmt.Errorf("imap login as %s%s%s: %w", account, c.srv.Sep, c.srv.User, err)
	}
	if res.status != "OK" {
		return fmt.Errorf("imap login as %s%s%s: %s %s: %w", account, c.srv.Sep, c.srv.User, res.status, res.text, errNotLoggedIn)
	}
	tag = c.tag()
	c.conn.Arm(imapmaster.DefaultLimits)
	c.w.WriteString(tag + " CAPABILITY\r\n")
	if err := c.w.Flush(); err != nil {
		return err
	}
	for {
		line, err := c.readLine()
		if err != nil {
			return fmt.Errorf("imap %s: CAPABILITY: %w", c.srv.Addr, err)
		}
		if rest, ok := strings.CutPrefix(line, "* CAPABILITY "); ok {
			for _, f := range strings.Fields(rest) {
				c.caps[strings.ToUpper(f)] = true
			}
			continue
		}
		if t, st, _ := splitTagged(line); t != "" {
			if err := c.answer(t); err != nil {
				return err
			}
			if st != "OK" {
				return fmt.Errorf("imap %s: CAPABILITY: %s: %w", c.srv.Addr, line, errNotLoggedIn)
			}
			return nil
		}
	}
}

func (c *appendConn) tag() string {
	c.next++
	t := "m" + strconv.Itoa(c.next)
	c.open[t] = true
	return t
}

// answer takes a tagged answer off the open commands: an answer to a
// command not sent (or answered already) is the server's error, not
// something to keep.
func (c *appendConn) answer(t string) error {
	if !c.open[t] {
		return fmt.Errorf("imap %s: an answer tagged %q, to no command sent", c.srv.Addr, t)
	}
	delete(c.open, t)
	return nil
}

// astring writes s as a quoted string, or as a literal when it cannot be
// one. ended reports that the server answered tag (refused) instead of
// inviting the literal.
func (c *appendConn) astring(tag, s string) (appendResult, bool, error) {
	quotable := len(s) < 1024
	for i := 0; i < len(s) && quotable; i++ {
		if s[i] == 0 || s[i] == '\r' || s[i] == '\n' || s[i] >= 0x80 {
			quotable = false
		}
	}
	if quotable {
		c.w.WriteString(quote(s))
		return appendResult{}, false, nil
	}
	return c.literal(tag, []byte(s))
}

// literal writes one literal: non-synchronizing when the server allows it,
// otherwise after the server's continuation.
func (c *appendConn) literal(tag string, data []byte) (appendResult, bool, error) {
	n := strconv.Itoa(len(data))
	if c.caps["LITERAL+"] || (c.caps["LITERAL-"] && len(data) <= 4096) {
		c.w.WriteString("{" + n + "+}\r\n")
	} else {
		c.w.WriteString("{" + n + "}\r\n")
		if err := c.w.Flush(); err != nil {
			return appendResult{}, false, err
		}
		res, ended, err := c.continuation(tag)
		if err != nil || ended {
			return res, ended, err
		}
	}
	_, err := c.w.Write(data)
	return appendResult{}, false, err
}

// continuation reads until the server's "+" (ended false) or the tagged
// answer of tag (ended true: the command is over).
func (c *appendConn) continuation(tag string) (appendResult, bool, error) {
	for {
		line, err := c.readLine()
		if err != nil {
			return appendResult{}, false, err
		}
		if strings.HasPrefix(line, "+") {
			return appendResult{}, false, nil
		}
		if t, _, _ := splitTagged(line); t != "" {
			if err := c.answer(t); err != nil {
				return appendResult{}, false, err
			}
			res := parseTagged(line)
			if t == tag {
				return res, true, nil
			}
			c.results[t] = res
		}
	}
}

// wait returns tag's tagged answer, reading (and keeping the answers of
// other tags) until it comes.
func (c *appendConn) wait(tag string) (appendResult, error) {
	if res, ok := c.results[tag]; ok {
		delete(c.results, tag)
		return res, nil
	}
	for {
		line, err := c.readLine()
		if err != nil {
			return appendResult{}, err
		}
		t, _, _ := splitTagged(line)
		if t == "" {
			continue // untagged, or an unexpected continuation
		}
		if err := c.answer(t); err != nil {
			return appendResult{}, err
		}
		res := parseTagged(line)
		if t == tag {
			return res, nil
		}
		c.results[t] = res
	}
}

// readLine reads one response line without its CRLF, literals inlined.
func (c *appendConn) readLine() (string, error) {
	var sb strings.Builder
	for {
		part, err := c.r.ReadSlice('\n')
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return "", c.conn.Explain(err)
		}
		sb.Write(part)
		if sb.Len() > maxRespLine {
			return "", fmt.Errorf("imap %s: response line over %d bytes", c.srv.Addr, maxRespLine)
		}
		if err != nil { // buffer full: the line goes on
			continue
		}
		line := strings.TrimSuffix(strings.TrimSuffix(sb.String(), "\n"), "\r")
		n, ok := literalSuffix(line)
		if !ok {
			return line, nil
		}
		if n > maxRespLine-sb.Len() {
			return "", fmt.Errorf("imap %s: response literal of %d bytes", c.srv.Addr, n)
		}
		sb.Reset()
		sb.WriteString(line)
		sb.WriteString("\r\n")
		buf := make([]byte, n)
		if _, err := io.ReadFull(c.r, buf); err != nil {
			return "", c.conn.Explain(err)
		}
		sb.Write(buf)
	}
}

// literalSuffix finds "{n}" ending a line.
func literalSuffix(line string) (int, bool) {
	if !strings.HasSuffix(line, "}") {
		return 0, false
	}
	i := strings.LastIndexByte(line, '{')
	if i < 0 {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSuffix(line[i+1:len(line)-1], "+"))
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// splitTagged splits "tag STATUS rest"; tag is "" for untagged ("*") and
// continuation ("+") lines.
func splitTagged(line string) (tag, status, rest string) {
	if strings.HasPrefix(line, "*") || strings.HasPrefix(line, "+") {
		return "", "", ""
	}
	tag, after, _ := strings.Cut(line, " ")
	status, rest, _ = strings.Cut(after, " ")
	return tag, strings.ToUpper(status), rest
}

// parseTagged reads a tagged answer and its APPENDUID response code.
func parseTagged(line string) appendResult {
	_, status, rest := splitTagged(line)
	res := appendResult{status: status, text: rest}
	if !strings.HasPrefix(rest, "[") {
		return res
	}
	code, _, ok := strings.Cut(rest[1:], "]")
	if !ok {
		return res
	}
	f := strings.Fields(code)
	if len(f) == 3 && strings.EqualFold(f[0], "APPENDUID") {
		uv, err := strconv.ParseUint(f[1], 10, 32)
		if err != nil {
			return res
		}
		uids, ok := parseUIDSet(f[2], 1<<16)
		if ok {
			res.uidValidity, res.uids = uint32(uv), uids
		}
	}
	return res
}

// parseUIDSet expands "5:9,12" into its UIDs in order (at most limit).
func parseUIDSet(s string, limit int) ([]uint32, bool) {
	var out []uint32
	for _, p := range strings.Split(s, ",") {
		a, b, isRange := strings.Cut(p, ":")
		lo, err := strconv.ParseUint(a, 10, 32)
		if err != nil || lo == 0 {
			return nil, false
		}
		hi := lo
		if isRange {
			if hi, err = strconv.ParseUint(b, 10, 32); err != nil || hi == 0 {
				return nil, false
			}
		}
		if hi < lo { // a range is a set: "9:5" is 5, 6, ... 9, appended in that order
			lo, hi = hi, lo
		}
		if hi-lo >= uint64(limit-len(out)) {
			return nil, false
		}
		for u := lo; u <= hi; u++ {
			out = append(out, uint32(u))
		}
	}
	return out, true
}

// quote makes s an IMAP quoted string (s holds no CR, LF, NUL).
func quote(s string) string {
	if !strings.ContainsAny(s, `"\`) {
		return `"` + s + `"`
	}
	var sb strings.Builder
	sb.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			sb.WriteByte('\\')
		}
		sb.WriteByte(s[i])
	}
	sb.WriteByte('"')
	return sb.String()
}

// mailboxArg is a mailbox name as go-imap's client sends it: INBOX as an
// atom, any other name in modified UTF-7 (RFC 3501 5.1.3), quoted.
func mailboxArg(name string) string {
	if strings.EqualFold(name, "INBOX") {
		return "INBOX"
	}
	return quote(utf7Encode(name))
}

// utf7Encode is IMAP's modified UTF-7: printable ASCII stays ("&" is
// "&-"), anything else is "&" + base64 of UTF-16BE with "," for "/" + "-".
func utf7Encode(s string) string {
	const b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,"
	var sb strings.Builder
	for i := 0; i < len(s); {
		if ch := s[i]; ch >= 0x20 && ch <= 0x7e {
			sb.WriteByte(ch)
			if ch == '&' {
				sb.WriteByte('-')
			}
			i++
			continue
		}
		var u []uint16
		for i < len(s) && (s[i] < 0x20 || s[i] > 0x7e) {
			r, n := utf8.DecodeRuneInString(s[i:])
			i += n
			if r1, r2 := utf16.EncodeRune(r); r1 != utf8.RuneError {
				u = append(u, uint16(r1), uint16(r2))
			} else {
				u = append(u, uint16(r))
			}
		}
		b := make([]byte, 0, 2*len(u))
		for _, x := range u {
			b = append(b, byte(x>>8), byte(x))
		}
		sb.WriteByte('&')
		var acc uint32
		bits := 0
		for _, x := range b {
			acc = acc<<8 | uint32(x)
			bits += 8
			for bits >= 6 {
				bits -= 6
				sb.WriteByte(b64[(acc>>bits)&63])
			}
		}
		if bits > 0 {
			sb.WriteByte(b64[(acc<<(6-bits))&63])
		}
		sb.WriteByte('-')
	}
	return sb.String()
}

// sendAppend writes one APPEND of items to mailbox. A server that answers
// before all its literals are sent (synchronizing literals only) has its
// answer kept for wait. The bytes of each message are sent as they are.
func (c *appendConn) sendAppend(mailbox string, items []batchItem) (string, error) {
	tag := c.tag()
	c.conn.Arm(imapmaster.DefaultLimits)
	c.w.WriteString(tag + " APPEND " + mailboxArg(mailbox))
	for _, it := range items {
		c.w.WriteString(" (" + strings.Join(it.flags, " ") + ")")
		if !it.msg.Date.IsZero() {
			c.w.WriteString(` "` + it.msg.Date.Format("_2-Jan-2006 15:04:05 -0700") + `"`)
		}
		c.w.WriteByte(' ')
		res, ended, err := c.literal(tag, it.msg.Body)
		if err != nil {
			return "", err
		}
		if ended {
			c.results[tag] = res
			return tag, nil
		}
	}
	c.w.WriteString("\r\n")
	if err := c.w.Flush(); err != nil {
		return "", err
	}
	return tag, nil
}

// logout says goodbye (best effort) and closes.
func (c *appendConn) close() {
	c.conn.SetDeadline(time.Now().Add(5 * time.Second))
	if !c.bad && c.inflight == 0 {
		tag := c.tag()
		c.w.WriteString(tag + " LOGOUT\r\n")
		if c.w.Flush() == nil {
			c.wait(tag)
		}
	}
	c.conn.Close()
}

// batchItem is one message waiting in, or sent with, a batch.
type batchItem struct {
	msg   *Message
	flags []string
	done  func(Appended, error)
}

// appendBatch is consecutive messages to one mailbox, sent as one APPEND.
type appendBatch struct {
	mailbox string
	items   []batchItem
	bytes   int
	conn    *appendConn
	tag     string
}

// openAppendConns opens the account's append connections when the server
// offers MULTIAPPEND. A refused login leaves the account on one-by-one
// APPENDs; a connection error is returned (the target is gone).
func (b *imapBox) openAppendConns(ctx context.Context) error {
	if b.t.Batch < 2 || b.t.AppendConns < 1 || !b.c.Caps().Has("MULTIAPPEND") {
		return nil
	}
	for range b.t.AppendConns {
		c, err := dialAppend(ctx, &b.t.Server, b.account)
		if errors.Is(err, errNotLoggedIn) {
			break
		}
		if err != nil {
			b.closeAppendConns()
			return fmt.Errorf("imap target: %w", err)
		}
		if !c.caps["MULTIAPPEND"] {
			c.close()
			break
		}
		b.multi = append(b.multi, c)
	}
	return nil
}

func (b *imapBox) closeAppendConns() {
	for _, c := range b.multi {
		c.close()
	}
	b.multi = nil
}

// batching reports whether Append goes through MULTIAPPEND.
func (b *imapBox) batching() bool {
	for _, c := range b.multi {
		if !c.bad {
			return true
		}
	}
	return false
}

// enqueue adds a message to the batch being gathered, sending the batch
// first if the message cannot join it (another mailbox, full) and after if
// it is now full.
func (b *imapBox) enqueue(name string, msg *Message, flags []string, done func(Appended, error)) error {
	if cur := b.cur; cur != nil && (cur.mailbox != name || cur.bytes+len(msg.Body) > batchBytes) {
		if err := b.sendBatch(); err != nil {
			return err
		}
	}
	if b.cur == nil {
		b.cur = &appendBatch{mailbox: name}
	}
	b.cur.items = append(b.cur.items, batchItem{msg: msg, flags: flags, done: done})
	b.cur.bytes += len(msg.Body)
	if len(b.cur.items) >= b.t.Batch || b.cur.bytes >= batchBytes {
		return b.sendBatch()
	}
	return nil
}

// sendBatch writes the gathered batch on the least busy append connection,
// first taking answers until that connection has room.
func (b *imapBox) sendBatch() error {
	bt := b.cur
	if bt == nil {
		return nil
	}
	b.keepMainAlive()
	for {
		var c *appendConn
		for i := range b.multi {
			x := b.multi[(b.rr+i)%len(b.multi)]
			if !x.bad && (c == nil || x.inflight < c.inflight) {
				c = x
			}
		}
		if c == nil {
			// No connection left for batches (all answered BAD): one by
			// one, after the batches still in flight.
			for len(b.sent) > 0 {
				if err := b.waitBatch(); err != nil {
					return err
				}
			}
			b.cur = nil
			return b.appendEach(bt)
		}
		if c.inflight < batchInFlight {
			b.rr++
			tag, err := c.sendAppend(bt.mailbox, bt.items)
			if err != nil {
				return fmt.Errorf("imap target: APPEND of %d messages to %s as %s: %w", len(bt.items), bt.mailbox, b.account, err)
			}
			bt.conn, bt.tag = c, tag
			c.inflight++
			b.sent = append(b.sent, bt)
			b.cur = nil
			return nil
		}
		if err := b.waitBatch(); err != nil {
			return err
		}
	}
}

// waitBatch takes the answer of the oldest batch in flight and reports its
// messages: all stored (OK), or, the batch being refused as a whole (NO,
// BAD: RFC 3502 stores none of it), each appended again on its own so that
// only a message the server refuses by itself is refused.
func (b *imapBox) waitBatch() error {
	bt := b.sent[0]
	b.sent = b.sent[1:]
	c := bt.conn
	c.conn.Arm(imapmaster.DefaultLimits)
	res, err := c.wait(bt.tag)
	c.inflight--
	if err != nil {
		return fmt.Errorf("imap target: APPEND of %d messages to %s as %s: %w", len(bt.items), bt.mailbox, b.account, err)
	}
	if res.status != "OK" {
		if res.status != "NO" {
			// BAD: what the server made of the rest of that connection's
			// input is unknown; send nothing more on it.
			c.bad = true
		}
		b.t.stats.fallbacks.Add(1)
		return b.appendEach(bt)
	}
	b.t.stats.batches.Add(1)
	b.t.stats.batched.Add(int64(len(bt.items)))
	uids := res.uids
	if len(uids) != len(bt.items) {
		uids = nil // no UIDPLUS, or an answer that does not fit: no UIDs
	}
	for i, it := range bt.items {
		var uid uint32
		if uids != nil {
			uid = uids[i]
		}
		a := Appended{ID: restoredID(bt.mailbox, res.uidValidity, uid)}
		if uid != 0 {
			a.UIDValidity, a.UID = res.uidValidity, uid
		}
		it.done(a, nil)
	}
	return nil
}

// appendEach appends a batch's messages one by one on the go-imap
// connection, reporting each before returning.
func (b *imapBox) appendEach(bt *appendBatch) error {
	for _, it := range bt.items {
		if err := b.appendOne(bt.mailbox, it.msg, it.flags, it.done); err != nil {
			return err
		}
	}
	return b.waitSingles()
}

// keepMainAlive sends a NOOP on the go-imap connection when it has been
// idle a while (appends going elsewhere), so the server does not log it
// out for inactivity before the next duplicate check or refused batch.
func (b *imapBox) keepMainAlive() {
	if time.Since(b.lastMain) < mainKeepalive {
		return
	}
	b.deadline()
	b.c.Noop().Wait() // an error shows on the next command
}
