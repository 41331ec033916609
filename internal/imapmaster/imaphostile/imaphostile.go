// Package imaphostile is a scripted IMAP server for tests: on loopback, it
// serves accounts through a master login ("account*admin", password
// "pw") well enough for cbfs's scan source and restore target (LIST,
// STATUS, SELECT/EXAMINE, FETCH and UID FETCH of listings, envelopes and
// contents, UID SEARCH, CREATE, SUBSCRIBE, APPEND), and, per account,
// answers one command the way a hostile or broken server would (a
// Scenario): a literal of 10 GB, an endless LIST, an endless line, an
// endless FETCH listing, one line a second forever, a folder named "",
// a name that is not modified UTF-7, an absurd EXISTS, or a slow but
// steady link. It keeps no state on disk; APPENDed messages are kept in
// memory.
package imaphostile

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Scenario is what goes wrong, at the command it names.
type Scenario string

const (
	Sane Scenario = ""
	// HugeLiteral: a FETCH of message contents (in Account.In) answers
	// "BODY[] {10000000000}" and streams zeros as fast as the client takes
	// them.
	HugeLiteral Scenario = "huge-literal"
	// EndlessList: LIST answers folder after folder, forever, fast.
	EndlessList Scenario = "endless-list"
	// EndlessLine: Account.At (LIST by default) is answered by one
	// untagged line that never ends, fast.
	EndlessLine Scenario = "endless-line"
	// EndlessFetch: the listing FETCH (in Account.In) answers message
	// after message, forever, fast, though SELECT announced the folder's
	// real count.
	EndlessFetch Scenario = "endless-fetch"
	// Trickle: Account.At (the listing FETCH by default) is answered by
	// one untagged line a second, forever.
	Trickle Scenario = "trickle"
	// EmptyName: LIST has a folder named "" besides the others.
	EmptyName Scenario = "empty-name"
	// BadName: LIST has a folder whose name is not modified UTF-7
	// ("Bad&Jjo", an unterminated shift) besides the others.
	BadName Scenario = "bad-utf7"
	// HugeExists: SELECT of Account.In announces 4,000,000,000 messages.
	HugeExists Scenario = "huge-exists"
	// SlowSteady: message contents (in Account.In) are sent at Rate bytes
	// a second: a slow link, not a hostile server.
	SlowSteady Scenario = "slow-steady"
	// HugeSearch: UID SEARCH is answered by ESEARCH "ALL 1:4294967295"
	// (4e9 hits, 16 GB once expanded); StarSearch by "ALL 1:*" (a set
	// that cannot be expanded: go-imap's AllUIDs panics).
	HugeSearch Scenario = "huge-search"
	StarSearch Scenario = "star-search"
	// FakeTag: Account.At (APPEND by default) is answered by a tagged OK
	// bearing a tag the client never sent, then one line a second forever.
	FakeTag Scenario = "fake-tag"
)

// Message is a message of a folder.
type Message struct {
	UID   uint32
	Body  []byte
	Flags []string
	Date  time.Time
}

// Account is an account of the server.
type Account struct {
	Folders map[string][]*Message // name -> messages (INBOX is always there)
	Bad     Scenario
	In      string // the folder Bad applies to, for folder scenarios ("" every folder)
	At      string // the command Bad answers, for EndlessLine and Trickle
	Rate    int    // SlowSteady's bytes a second
	Fat     int    // EndlessList: each name this long (a few bytes if 0); EndlessFetch: keywords of this many bytes a message
	Exists  int    // EndlessFetch: the count SELECT announces (the folder's own if 0)
	// MultiAppend: the server offers MULTIAPPEND to this account (RFC
	// 3502: APPEND of several messages, stored together).
	MultiAppend bool

	mu   sync.Mutex
	uidv map[string]uint32
}

// Server is a running hostile server.
type Server struct {
	Addr     string
	accounts map[string]*Account

	mu    sync.Mutex
	conns []net.Conn
}

// Start listens on loopback and serves accounts (address -> account) until
// the test ends.
func Start(t testing.TB, accounts map[string]*Account) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Addr: ln.Addr().String(), accounts: accounts}
	for _, a := range accounts {
		if a.Folders == nil {
			a.Folders = map[string][]*Message{}
		}
		if _, ok := a.Folders["INBOX"]; !ok {
			a.Folders["INBOX"] = nil
		}
		a.uidv = map[string]uint32{}
		i := uint32(0)
		for _, name := range sortedNames(a.Folders) {
			i++
			a.uidv[name] = 1000 + i
			for k, m := range a.Folders[name] {
				if m.UID == 0 {
					m.UID = uint32(k + 1)
				}
			}
		}
	}
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, c := range s.conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
			go (&session{srv: s, c: c, r: bufio.NewReader(c), w: bufio.NewWriterSize(c, 64<<10)}).serve()
		}
	}()
	return s
}

// URL is the server's imap:// master-login URL with extra query
// parameters (such as "timeout=2s").
func (s *Server) URL(query string) string {
	u := "imap://admin:pw@" + s.Addr
	if query != "" {
		u += "?" + query
	}
	return u
}

func sortedNames(m map[string][]*Message) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

type session struct {
	srv      *Server
	c        net.Conn
	r        *bufio.Reader
	w        *bufio.Writer
	acct     *Account
	selected string
	isSel    bool
}

const caps = "IMAP4rev1 LITERAL+ UIDPLUS"

// caps are the capabilities: MULTIAPPEND too, once logged in as an
// account that has it.
func (s *session) caps() string {
	if s.acct != nil && s.acct.MultiAppend {
		return caps + " MULTIAPPEND"
	}
	return caps
}

func (s *session) out(format string, args ...any) {
	fmt.Fprintf(s.w, format+"\r\n", args...)
}

func (s *session) serve() {
	defer s.c.Close()
	s.out("* OK [CAPABILITY %s] hostile test server ready", caps)
	s.w.Flush()
	for {
		tag, cmd, args, err := s.readCommand()
		if err != nil {
			return
		}
		if !s.handle(tag, cmd, args) {
			return
		}
		if s.w.Flush() != nil {
			return
		}
	}
}

// readCommand reads "tag COMMAND args"; a literal is an argument of its own.
func (s *session) readCommand() (tag, cmd string, args []string, err error) {
	var toks []string
	for {
		part, err := s.r.ReadBytes('\n')
		if err != nil {
			return "", "", nil, err
		}
		part = bytes.TrimRight(part, "\r\n")
		n, sync, ok := literalSuffix(part)
		if !ok {
			toks = append(toks, tokens(string(part))...)
			break
		}
		toks = append(toks, tokens(string(part[:bytes.LastIndexByte(part, '{')]))...)
		if sync {
			s.out("+ go ahead")
			s.w.Flush()
		}
		lit := make([]byte, n)
		if _, err := io.ReadFull(s.r, lit); err != nil {
			return "", "", nil, err
		}
		toks = append(toks, litMark+string(lit))
	}
	if len(toks) < 2 {
		return "", "", nil, fmt.Errorf("short command %q", toks)
	}
	tag, cmd, args = toks[0], strings.ToUpper(toks[1]), toks[2:]
	if cmd == "UID" && len(args) > 0 {
		cmd, args = "UID "+strings.ToUpper(args[0]), args[1:]
	}
	if cmd != "APPEND" { // only APPEND tells literals from other strings
		for i := range args {
			args[i] = strings.TrimPrefix(args[i], litMark)
		}
	}
	return tag, cmd, args, nil
}

// litMark marks a literal argument (APPEND's messages).
const litMark = "\x00lit:"

func literalSuffix(b []byte) (int, bool, bool) {
	if !bytes.HasSuffix(b, []byte("}")) {
		return 0, false, false
	}
	i := bytes.LastIndexByte(b, '{')
	if i < 0 {
		return 0, false, false
	}
	num := string(b[i+1 : len(b)-1])
	sync := !strings.HasSuffix(num, "+")
	n, err := strconv.Atoi(strings.TrimSuffix(num, "+"))
	if err != nil {
		return 0, false, false
	}
	return n, sync, true
}

// tokens splits a command line: atoms, "quoted" strings (unquoted), and
// parenthesised lists kept whole.
func tokens(s string) []string {
	var out []string
	for i := 0; i < len(s); {
		switch c := s[i]; {
		case c == ' ':
			i++
		case c == '"':
			j := i + 1
			var sb strings.Builder
			for j < len(s) && s[j] != '"' {
				if s[j] == '\\' && j+1 < len(s) {
					j++
				}
				sb.WriteByte(s[j])
				j++
			}
			out = append(out, sb.String())
			i = j + 1
		case c == '(':
			depth, j := 0, i
			for ; j < len(s); j++ {
				if s[j] == '(' {
					depth++
				} else if s[j] == ')' {
					depth--
					if depth == 0 {
						break
					}
				}
			}
			out = append(out, s[i:min(j+1, len(s))])
			i = j + 1
		default:
			j := i
			for j < len(s) && s[j] != ' ' {
				j++
			}
			out = append(out, s[i:j])
			i = j
		}
	}
	return out
}

func quote(s string) string {
	return `"` + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), `"`, `\"`) + `"`
}

// defaultAt is the command each scenario answers when Account.At is "":
// LISTING is a FETCH of flags and sizes, FETCH one of contents or
// envelopes.
var defaultAt = map[Scenario]string{
	HugeLiteral: "FETCH", EndlessList: "LIST", EndlessLine: "LIST", EndlessFetch: "LISTING",
	Trickle: "LISTING", HugeExists: "SELECT", SlowSteady: "FETCH", FakeTag: "APPEND",
}

// bad reports whether the account's scenario sc applies to this command:
// at is the command, and, for commands on the selected folder, the folder
// must be Account.In (when set).
func (s *session) bad(sc Scenario, at string) bool {
	a := s.acct
	if a == nil || a.Bad != sc {
		return false
	}
	want := a.At
	if want == "" {
		want = defaultAt[sc]
	}
	if want != at {
		return false
	}
	if a.In != "" && (at == "FETCH" || at == "LISTING" || at == "SELECT") && a.In != s.selected {
		return false
	}
	return true
}

// endless writes lines made by f(i) forever, until the client goes.
func (s *session) endless(f func(i int) string) {
	for i := 1; ; i++ {
		if _, err := s.w.WriteString(f(i) + "\r\n"); err != nil {
			return
		}
	}
}

// trickle writes one line a second forever.
func (s *session) trickle() {
	for {
		s.out("* OK still working")
		if s.w.Flush() != nil {
			return
		}
		time.Sleep(time.Second)
	}
}

// handle answers one command; false ends the session.
func (s *session) handle(tag, cmd string, args []string) bool {
	at := cmd
	if cmd == "FETCH" || cmd == "UID FETCH" {
		at = "LISTING"
		if len(args) > 1 && (strings.Contains(strings.ToUpper(args[1]), "BODY") || strings.Contains(strings.ToUpper(args[1]), "ENVELOPE")) {
			at = "FETCH"
		}
	}
	if cmd == "EXAMINE" {
		at = "SELECT"
	}
	if s.acct != nil && len(args) > 0 && (cmd == "SELECT" || cmd == "EXAMINE") {
		s.selected = args[0] // the folder scenarios look at it
	}
	switch {
	case s.bad(EndlessLine, at):
		s.w.WriteString("* OK ")
		chunk := bytes.Repeat([]byte("x"), 64<<10)
		for {
			if _, err := s.w.Write(chunk); err != nil {
				return false
			}
		}
	case s.bad(Trickle, at):
		s.trickle()
		return false
	case s.bad(FakeTag, at):
		s.out("zz1 OK done")
		s.trickle()
		return false
	}
	switch cmd {
	case "CAPABILITY":
		s.out("* CAPABILITY %s", s.caps())
	case "NOOP", "CHECK", "SUBSCRIBE", "UNSUBSCRIBE", "ENABLE", "ID":
	case "LOGOUT":
		s.out("* BYE bye")
		s.out("%s OK bye", tag)
		s.w.Flush()
		return false
	case "LOGIN":
		if len(args) != 2 {
			s.out("%s BAD LOGIN takes 2 arguments", tag)
			return true
		}
		name, admin, ok := strings.Cut(args[0], "*")
		a := s.srv.accounts[name]
		if !ok || admin != "admin" || args[1] != "pw" || a == nil {
			s.out("%s NO [AUTHENTICATIONFAILED] no", tag)
			return true
		}
		s.acct = a
		s.out("%s OK [CAPABILITY %s] logged in", tag, s.caps())
		return true
	case "LIST":
		if s.acct == nil {
			s.out("%s BAD log in first", tag)
			return true
		}
		if s.bad(EndlessList, "LIST") {
			pad := strings.Repeat("x", max(0, s.acct.Fat-15))
			s.endless(func(i int) string { return fmt.Sprintf(`* LIST (\HasNoChildren) "/" "folder%09d%s"`, i, pad) })
			return false
		}
		s.acct.mu.Lock()
		names := sortedNames(s.acct.Folders)
		s.acct.mu.Unlock()
		for _, n := range names {
			s.out(`* LIST (\HasNoChildren) "/" %s`, quote(n))
		}
		switch s.acct.Bad {
		case EmptyName:
			s.out(`* LIST (\HasNoChildren) "/" ""`)
		case BadName:
			s.out(`* LIST (\HasNoChildren) "/" "Bad&Jjo"`)
		}
	case "STATUS":
		if len(args) < 1 {
			s.out("%s BAD STATUS what", tag)
			return true
		}
		msgs, uidv, ok := s.folder(args[0])
		if !ok {
			s.out("%s NO [NONEXISTENT] no such folder", tag)
			return true
		}
		s.out("* STATUS %s (MESSAGES %d UIDNEXT %d UIDVALIDITY %d)", quote(args[0]), len(msgs), uidNext(msgs), uidv)
	case "SELECT", "EXAMINE":
		msgs, uidv, ok := s.folder(args[0])
		if !ok {
			s.isSel = false
			s.out("%s NO [NONEXISTENT] no such folder", tag)
			return true
		}
		s.isSel = true
		n := len(msgs)
		if s.bad(HugeExists, "SELECT") {
			n = 4_000_000_000
		}
		if s.acct.Exists > 0 && s.bad(EndlessFetch, "LISTING") {
			n = s.acct.Exists
		}
		s.out(`* FLAGS (\Seen \Answered \Flagged \Deleted \Draft)`)
		s.out("* %d EXISTS", n)
		s.out("* OK [UIDVALIDITY %d] ok", uidv)
		s.out("* OK [UIDNEXT %d] ok", uidNext(msgs))
		s.out("%s OK [READ-ONLY] selected", tag)
		return true
	case "CLOSE", "UNSELECT":
		s.isSel = false
	case "CREATE":
		s.acct.mu.Lock()
		if _, ok := s.acct.Folders[args[0]]; !ok {
			s.acct.Folders[args[0]] = nil
			s.acct.uidv[args[0]] = uint32(2000 + len(s.acct.uidv))
		}
		s.acct.mu.Unlock()
	case "APPEND":
		return s.append(tag, args)
	case "UID SEARCH", "SEARCH":
		if s.acct != nil && (s.acct.Bad == HugeSearch || s.acct.Bad == StarSearch) {
			set := "1:4294967295"
			if s.acct.Bad == StarSearch {
				set = "1:*"
			}
			s.out(`* ESEARCH (TAG "%s") UID ALL %s`, tag, set)
			break
		}
		msgs, _, _ := s.folder(s.selected)
		var sb strings.Builder
		sb.WriteString("* SEARCH")
		for i, m := range msgs {
			if cmd == "SEARCH" {
				fmt.Fprintf(&sb, " %d", i+1)
			} else {
				fmt.Fprintf(&sb, " %d", m.UID)
			}
		}
		s.out("%s", sb.String())
	case "FETCH", "UID FETCH":
		if len(args) < 2 || !s.isSel {
			s.out("%s BAD FETCH what", tag)
			return true
		}
		return s.fetch(tag, cmd == "UID FETCH", args[0], strings.ToUpper(args[1]), at)
	default:
		s.out("%s BAD unknown command %s", tag, cmd)
		return true
	}
	s.out("%s OK done", tag)
	return true
}

func uidNext(msgs []*Message) uint32 {
	if len(msgs) == 0 {
		return 1
	}
	return msgs[len(msgs)-1].UID + 1
}

func (s *session) folder(name string) ([]*Message, uint32, bool) {
	if s.acct == nil {
		return nil, 0, false
	}
	if strings.EqualFold(name, "INBOX") {
		name = "INBOX"
	}
	s.acct.mu.Lock()
	defer s.acct.mu.Unlock()
	msgs, ok := s.acct.Folders[name]
	if !ok && (s.acct.Bad == EmptyName && name == "" || s.acct.Bad == BadName && name == "Bad&Jjo") {
		return nil, 7, true
	}
	return slices.Clone(msgs), s.acct.uidv[name], ok
}

// inSet reports whether n is in a sequence set such as "1:*" or "3,5:7"
// (star: the largest number).
func inSet(set string, n, star uint32) bool {
	for _, p := range strings.Split(set, ",") {
		lo, hi, isRange := strings.Cut(p, ":")
		a, b := num(lo, star), num(hi, star)
		if !isRange {
			b = a
		}
		if a > b {
			a, b = b, a
		}
		if n >= a && n <= b {
			return true
		}
	}
	return false
}

func num(s string, star uint32) uint32 {
	if s == "*" {
		return star
	}
	n, _ := strconv.ParseUint(s, 10, 32)
	return uint32(n)
}

func (s *session) fetch(tag string, uid bool, set, items string, at string) bool {
	msgs, _, _ := s.folder(s.selected)
	star := uint32(len(msgs))
	if uid && len(msgs) > 0 {
		star = msgs[len(msgs)-1].UID
	}
	if at == "LISTING" && s.bad(EndlessFetch, "LISTING") {
		fat := ""
		for k := 0; len(fat) < s.acct.Fat; k++ {
			fat += fmt.Sprintf(" kw%d%s", k, strings.Repeat("x", 26))
		}
		s.endless(func(i int) string {
			return fmt.Sprintf(`* %d FETCH (UID %d FLAGS (\Seen%s) RFC822.SIZE 100 INTERNALDATE "01-Jan-2024 00:00:00 +0000")`, i, i, fat)
		})
		return false
	}
	for i, m := range msgs {
		key := uint32(i + 1)
		if uid {
			key = m.UID
		}
		if !inSet(set, key, star) {
			continue
		}
		var parts []string
		if uid || strings.Contains(items, "UID") {
			parts = append(parts, fmt.Sprintf("UID %d", m.UID))
		}
		if strings.Contains(items, "FLAGS") {
			parts = append(parts, "FLAGS ("+strings.Join(m.Flags, " ")+")")
		}
		if strings.Contains(items, "RFC822.SIZE") {
			parts = append(parts, fmt.Sprintf("RFC822.SIZE %d", len(m.Body)))
		}
		if strings.Contains(items, "INTERNALDATE") {
			parts = append(parts, `INTERNALDATE "`+m.Date.Format("02-Jan-2006 15:04:05 -0700")+`"`)
		}
		if strings.Contains(items, "ENVELOPE") {
			parts = append(parts, `ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)`)
		}
		if !strings.Contains(items, "BODY") {
			s.out("* %d FETCH (%s)", i+1, strings.Join(parts, " "))
			continue
		}
		fmt.Fprintf(s.w, "* %d FETCH (%s BODY[] ", i+1, strings.Join(parts, " "))
		switch {
		case s.bad(HugeLiteral, "FETCH"):
			s.w.WriteString("{10000000000}\r\n")
			zeros := make([]byte, 64<<10)
			for {
				if _, err := s.w.Write(zeros); err != nil {
					return false
				}
			}
		case s.bad(SlowSteady, "FETCH"):
			fmt.Fprintf(s.w, "{%d}\r\n", len(m.Body))
			step := max(1, s.acct.Rate/10)
			for b := m.Body; len(b) > 0; {
				k := min(step, len(b))
				s.w.Write(b[:k])
				if s.w.Flush() != nil {
					return false
				}
				b = b[k:]
				time.Sleep(100 * time.Millisecond)
			}
			s.w.WriteString(")\r\n")
		default:
			fmt.Fprintf(s.w, "{%d}\r\n", len(m.Body))
			s.w.Write(m.Body)
			s.w.WriteString(")\r\n")
		}
	}
	s.out("%s OK done", tag)
	return true
}

// append stores "APPEND mailbox ([flags]) [date] literal ..." (several
// messages: MULTIAPPEND).
func (s *session) append(tag string, args []string) bool {
	if s.acct == nil || len(args) < 2 {
		s.out("%s BAD APPEND what", tag)
		return true
	}
	name := args[0]
	if strings.EqualFold(name, "INBOX") {
		name = "INBOX"
	}
	var batch []*Message
	m := &Message{Date: time.Now()}
	for _, a := range args[1:] {
		switch {
		case strings.HasPrefix(a, litMark):
			m.Body = []byte(strings.TrimPrefix(a, litMark))
			batch = append(batch, m)
			m = &Message{Date: time.Now()}
		case strings.HasPrefix(a, "("):
			m.Flags = strings.Fields(strings.Trim(a, "()"))
		default:
			if d, err := time.Parse("_2-Jan-2006 15:04:05 -0700", a); err == nil {
				m.Date = d
			}
		}
	}
	s.acct.mu.Lock()
	msgs, ok := s.acct.Folders[name]
	if !ok {
		s.acct.mu.Unlock()
		s.out("%s NO [TRYCREATE] no such folder", tag)
		return true
	}
	first := uidNext(msgs)
	for i, m := range batch {
		m.UID = first + uint32(i)
		msgs = append(msgs, m)
	}
	s.acct.Folders[name] = msgs
	uidv := s.acct.uidv[name]
	s.acct.mu.Unlock()
	set := fmt.Sprint(first)
	if len(batch) > 1 {
		set += fmt.Sprintf(":%d", first+uint32(len(batch))-1)
	}
	s.out("%s OK [APPENDUID %d %s] stored", tag, uidv, set)
	return true
}
