package search

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/cbfs/cbfs/internal/grammar"
)

// The query language (docs/DESIGN.md "Search"):
//
//	words and "quoted phrases"        in From, To, Cc, Subject, body text or attachment names
//	from: to: cc: subject: body: attachment:   a word or "a phrase" in that field (an
//	                                  attached message's body is body:, its From, To,
//	                                  Cc and Subject attachment:)
//	message-id:ID                     the Message-ID (without < >)
//	account:NAME  folder:PATH         the item's account (name, local part or id) and folder
//	before:DATE after:DATE on:DATE    the message's Date (else the state's start): before the
//	                                  date, at or after it, on that day (grammar.ParseDate forms)
//	has:attachment  is:deleted is:unread is:read is:flagged
//	a b (a AND b)   a OR b   NOT a, -a   ( ... )
//
// Words are compared folded (case and accents ignored, see Fold); a field
// value of several words is a phrase, and so is a run of CJK characters
// (its bigrams, see words).

// ErrQuery is a query that does not parse (wrapped with what was wrong).
var ErrQuery = errors.New("bad query")

// Query is a parsed query.
type Query struct {
	root node
	src  string
}

func (q *Query) String() string { return q.src }

type node interface{}

type andNode struct{ kids []node }
type orNode struct{ kids []node }
type notNode struct{ kid node }

// textNode is a word or phrase in some fields.
type textNode struct {
	fields []byte
	words  []string
	pos    []uint32 // of each word, relative to the first (queryWords)
}

type msgIDNode struct{ id string }

// stateFilter is a test of one state (account, folder, flags, dates).
type stateFilter struct {
	what  string
	value string
	lo    int64 // dates: [lo, hi) in Unix ms
	hi    int64
}

var fieldKeys = map[string][]byte{
	"from": {fFrom}, "to": {fTo}, "cc": {fCc}, "subject": {fSubject}, "body": {fBody},
	"attachment": {fAttachment}, "filename": {fAttachment},
}

var filterKeys = map[string]bool{"account": true, "folder": true, "before": true, "after": true, "on": true, "has": true, "is": true, "message-id": true, "msgid": true}

type qtoken struct {
	kind   byte // 'w' word, 'q' quoted, '(' , ')', 'A' AND, 'O' OR, 'N' NOT
	neg    bool
	field  string
	value  string
	quoted bool
}

func lex(s string) ([]qtoken, error) {
	var out []qtoken
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
			continue
		case c == '(' || c == ')':
			out = append(out, qtoken{kind: c})
			i++
			continue
		}
		var t qtoken
		if c == '-' && i+1 < len(s) && s[i+1] != ' ' {
			t.neg = true
			i++
		}
		if i < len(s) && s[i] == '"' {
			v, n, err := quoted(s[i:])
			if err != nil {
				return nil, err
			}
			i += n
			t.kind, t.value, t.quoted = 'q', v, true
			out = append(out, t)
			continue
		}
		j := i
		for j < len(s) && !strings.ContainsRune(" \t\r\n()\"", rune(s[j])) {
			j++
		}
		w := s[i:j]
		i = j
		if k := strings.IndexByte(w, ':'); k > 0 {
			key := strings.ToLower(w[:k])
			if fieldKeys[key] != nil || filterKeys[key] {
				t.field = key
				w = w[k+1:]
				if w == "" && i < len(s) && s[i] == '"' {
					v, n, err := quoted(s[i:])
					if err != nil {
						return nil, err
					}
					i += n
					w, t.quoted = v, true
				}
				if w == "" {
					return nil, fmt.Errorf("%w: %s: has no value", ErrQuery, key)
				}
			}
		}
		t.kind, t.value = 'w', w
		if t.field == "" && !t.neg {
			switch w {
			case "AND":
				t.kind = 'A'
			case "OR":
				t.kind = 'O'
			case "NOT":
				t.kind = 'N'
			}
		}
		out = append(out, t)
	}
	return out, nil
}

// quoted reads a "..." at the start of s: its content and length.
func quoted(s string) (string, int, error) {
	end := strings.IndexByte(s[1:], '"')
	if end < 0 {
		return "", 0, fmt.Errorf("%w: a quote is not closed: %s", ErrQuery, s)
	}
	return s[1 : 1+end], end + 2, nil
}

// Parse reads a query.
func Parse(s string) (*Query, error) {
	toks, err := lex(s)
	if err != nil {
		return nil, err
	}
	if len(toks) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrQuery)
	}
	p := &parser{toks: toks}
	n, err := p.or(0)
	if err != nil {
		return nil, err
	}
	if p.i < len(p.toks) {
		return nil, fmt.Errorf("%w: unexpected %q", ErrQuery, p.describe())
	}
	return &Query{root: n, src: s}, nil
}

type parser struct {
	toks []qtoken
	i    int
}

const maxNesting = 100

func (p *parser) peek() byte {
	if p.i < len(p.toks) {
		return p.toks[p.i].kind
	}
	return 0
}

func (p *parser) describe() string {
	t := p.toks[p.i]
	switch t.kind {
	case '(', ')':
		return string(t.kind)
	}
	return t.value
}

func (p *parser) or(depth int) (node, error) {
	a, err := p.and(depth)
	if err != nil {
		return nil, err
	}
	kids := []node{a}
	for p.peek() == 'O' {
		p.i++
		b, err := p.and(depth)
		if err != nil {
			return nil, err
		}
		kids = append(kids, b)
	}
	if len(kids) == 1 {
		return a, nil
	}
	return &orNode{kids}, nil
}

func (p *parser) and(depth int) (node, error) {
	var kids []node
	for {
		switch p.peek() {
		case 0, ')', 'O':
			if len(kids) == 0 {
				if p.peek() == 0 {
					return nil, fmt.Errorf("%w: an operator with nothing after it", ErrQuery)
				}
				return nil, fmt.Errorf("%w: nothing before %q", ErrQuery, p.describe())
			}
			if len(kids) == 1 {
				return kids[0], nil
			}
			return &andNode{kids}, nil
		case 'A':
			p.i++
			if len(kids) == 0 {
				return nil, fmt.Errorf("%w: AND with nothing before it", ErrQuery)
			}
			continue
		}
		n, err := p.unary(depth)
		if err != nil {
			return nil, err
		}
		kids = append(kids, n)
	}
}

func (p *parser) unary(depth int) (node, error) {
	if depth > maxNesting {
		return nil, fmt.Errorf("%w: nested deeper than %d", ErrQuery, maxNesting)
	}
	switch p.peek() {
	case 'N':
		p.i++
		if p.peek() == 0 {
			return nil, fmt.Errorf("%w: NOT with nothing after it", ErrQuery)
		}
		n, err := p.unary(depth + 1)
		if err != nil {
			return nil, err
		}
		return &notNode{n}, nil
	case '(':
		p.i++
		n, err := p.or(depth + 1)
		if err != nil {
			return nil, err
		}
		if p.peek() != ')' {
			return nil, fmt.Errorf("%w: a parenthesis is not closed", ErrQuery)
		}
		p.i++
		return n, nil
	case ')':
		return nil, fmt.Errorf("%w: unexpected )", ErrQuery)
	}
	t := p.toks[p.i]
	p.i++
	n, err := atom(t)
	if err != nil {
		return nil, err
	}
	if t.neg {
		return &notNode{n}, nil
	}
	return n, nil
}

// atom is one word, phrase or key:value.
func atom(t qtoken) (node, error) {
	if f := fieldKeys[t.field]; f != nil {
		ws, pos := queryWords(t.value)
		if len(ws) == 0 {
			return nil, fmt.Errorf("%w: %s:%s has no word to search", ErrQuery, t.field, t.value)
		}
		return &textNode{fields: f, words: ws, pos: pos}, nil
	}
	v := t.value
	switch t.field {
	case "":
		ws, pos := queryWords(v)
		if len(ws) == 0 {
			return nil, fmt.Errorf("%w: %q has no word to search", ErrQuery, v)
		}
		return &textNode{fields: textFields, words: ws, pos: pos}, nil
	case "message-id", "msgid":
		return &msgIDNode{id: Fold(strings.Trim(v, "<>"))}, nil
	case "account", "folder":
		return &stateFilter{what: t.field, value: v}, nil
	case "has":
		if strings.ToLower(v) != "attachment" {
			return nil, fmt.Errorf("%w: has:%s: only has:attachment is known", ErrQuery, v)
		}
		return &stateFilter{what: "attachment"}, nil
	case "is":
		switch w := strings.ToLower(v); w {
		case "deleted", "unread", "read", "flagged":
			return &stateFilter{what: w}, nil
		}
		return nil, fmt.Errorf("%w: is:%s: want is:deleted, is:unread, is:read or is:flagged", ErrQuery, v)
	case "before", "after", "on":
		d, err := grammar.ParseDate(v)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrQuery, t.field, err)
		}
		f := &stateFilter{what: "date", lo: math.MinInt64, hi: math.MaxInt64}
		switch t.field {
		case "before":
			f.hi = d.UnixMilli()
		case "after":
			f.lo = d.UnixMilli()
		case "on":
			day := d.In(time.Local)
			start := time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, time.Local)
			f.lo, f.hi = start.UnixMilli(), start.AddDate(0, 0, 1).UnixMilli()
		}
		return f, nil
	}
	return nil, fmt.Errorf("%w: unknown key %s", ErrQuery, t.field)
}

// set is a set of states, as bits.
type set []uint64

func newSet(n int) set { return make(set, (n+63)/64) }

func (s set) add(i int) { s[i>>6] |= 1 << (i & 63) }
func (s set) and(o set) {
	for i := range s {
		s[i] &= o[i]
	}
}
func (s set) or(o set) {
	for i := range s {
		s[i] |= o[i]
	}
}
func (s set) not(n int) {
	for i := range s {
		s[i] = ^s[i]
	}
	s.trim(n)
}
func (s set) trim(n int) {
	if r := n & 63; r != 0 && len(s) > 0 {
		s[len(s)-1] &= 1<<r - 1
	}
}

// Field weights of the ranking (BM25 per field, summed).
var fieldWeight = map[byte]float32{fSubject: 2, fFrom: 1.5, fTo: 1.2, fCc: 1.2, fAttachment: 1.5, fBody: 1}

// eval is one query's evaluation over an index.
type eval struct {
	ix     *Index
	scores []float32 // by document
	err    error
}

func (e *eval) node(n node, negated bool) set {
	s := newSet(e.ix.nStates)
	switch n := n.(type) {
	case *andNode:
		for i, k := range n.kids {
			ks := e.node(k, negated)
			if i == 0 {
				s = ks
			} else {
				s.and(ks)
			}
		}
	case *orNode:
		for _, k := range n.kids {
			s.or(e.node(k, negated))
		}
	case *notNode:
		s = e.node(n.kid, !negated)
		s.not(e.ix.nStates)
	case *textNode:
		for _, f := range n.fields {
			e.text(s, f, n.words, n.pos, negated)
		}
	case *msgIDNode:
		if t := e.ix.find(string(fMessageID) + n.id); t >= 0 {
			e.postingsDocs(s, t, 0, false)
		}
	case *stateFilter:
		e.filter(s, n)
	}
	return s
}

// docStates adds the states of document d to s.
func (e *eval) docStates(s set, d uint32) {
	r := e.ix.sec[secDocs][int(d)*docRecSize:][:docRecSize]
	first := int(binary.LittleEndian.Uint32(r[24:]))
	n := int(binary.LittleEndian.Uint32(r[28:]))
	if first+n > e.ix.nStates {
		e.err = fmt.Errorf("%w: document %d's states", ErrCorrupt, d)
		return
	}
	for i := first; i < first+n; i++ {
		s.add(i)
	}
}

func (e *eval) docWords(d uint32) float32 {
	return float32(binary.LittleEndian.Uint32(e.ix.sec[secDocs][int(d)*docRecSize+8:]))
}

// postingsDocs adds the states of every document of term t; with score,
// the term's BM25 weight is added to each document's score.
func (e *eval) postingsDocs(s set, t int, f byte, score bool) {
	p, err := e.ix.postingsOf(t)
	if err != nil {
		e.err = err
		return
	}
	idf := e.idf(p.df)
	for p.next() {
		e.docStates(s, p.doc)
		if score {
			e.score(p.doc, f, p.tf, idf)
		}
	}
	if p.err != nil {
		e.err = p.err
	}
}

func (e *eval) idf(df uint32) float32 {
	n := float64(e.ix.nDocs)
	return float32(math.Log(1 + (n-float64(df)+0.5)/(float64(df)+0.5)))
}

func (e *eval) score(d uint32, f byte, tf uint32, idf float32) {
	const k1, b = 1.2, 0.75
	l := e.docWords(d) / float32(e.ix.avgWords)
	t := float32(tf)
	e.scores[d] += fieldWeight[f] * idf * t * (k1 + 1) / (t + k1*(1-b+b*l))
}

// text adds the states of the documents holding words (a phrase if more
// than one: word i at start + at[i]) in field f.
func (e *eval) text(s set, f byte, words []string, at []uint32, negated bool) {
	if len(words) == 1 {
		if t := e.ix.find(string(f) + words[0]); t >= 0 {
			e.postingsDocs(s, t, f, !negated)
		}
		return
	}
	// A phrase: word i at start+at[i]. The rarest word first gives the
	// candidate documents and starts; each other word keeps the starts it
	// continues.
	type word struct {
		t  int
		k  uint32
		df uint32
	}
	ws := make([]word, len(words))
	var idf float32
	for k, w := range words {
		t := e.ix.find(string(f) + w)
		if t < 0 {
			return
		}
		_, df, _ := e.ix.termRec(t)
		ws[k] = word{t, at[k], df}
		idf += e.idf(df)
	}
	slices.SortStableFunc(ws, func(a, b word) int { return int(a.df) - int(b.df) })
	// The candidates, in document order: docs[i]'s possible starts are
	// starts[off[i]:off[i+1]].
	var docs []uint32
	var off []int
	var flat []uint32
	var pos []uint32
	for n, w := range ws {
		p, err := e.ix.postingsOf(w.t)
		if err != nil {
			e.err = err
			return
		}
		var nd []uint32
		var noff []int
		var nflat []uint32
		ci := 0
		for p.next() {
			var prev []uint32
			if n > 0 {
				for ci < len(docs) && docs[ci] < p.doc {
					ci++
				}
				if ci == len(docs) {
					break
				}
				if docs[ci] != p.doc {
					continue
				}
				prev = flat[off[ci]:off[ci+1]]
			}
			pos = p.positions(pos[:0])
			mark := len(nflat)
			for _, q := range pos {
				if q < w.k {
					continue
				}
				if st := q - w.k; n == 0 || containsSorted(prev, st) {
					nflat = append(nflat, st)
				}
			}
			if len(nflat) > mark {
				nd = append(nd, p.doc)
				noff = append(noff, mark)
			}
		}
		if p.err != nil {
			e.err = p.err
			return
		}
		docs, flat = nd, nflat
		off = append(noff, len(nflat))
		if len(docs) == 0 {
			return
		}
	}
	for i, d := range docs {
		e.docStates(s, d)
		if !negated {
			e.score(d, f, uint32(off[i+1]-off[i]), idf)
		}
	}
}

func containsSorted(a []uint32, v uint32) bool {
	i := sort.Search(len(a), func(i int) bool { return a[i] >= v })
	return i < len(a) && a[i] == v
}

// filter adds the states that pass f.
func (e *eval) filter(s set, f *stateFilter) {
	ix := e.ix
	switch f.what {
	case "account":
		want := map[uint32]bool{}
		v := Fold(strings.TrimSpace(f.value))
		for i, a := range ix.meta.Accounts {
			name := Fold(a.Name)
			local, _, _ := strings.Cut(name, "@")
			if v == name || v == local || v == Fold(a.Listing) || strings.EqualFold(f.value, a.ID) {
				want[uint32(i)] = true
			}
		}
		for i := 0; i < ix.nStates; i++ {
			if want[binary.LittleEndian.Uint32(ix.sec[secStates][i*stateRecSize:])] {
				s.add(i)
			}
		}
	case "folder":
		want := map[uint32]bool{}
		v := strings.Trim(Fold(strings.TrimSpace(f.value)), "/")
		for i, p := range ix.meta.Folders {
			fp := strings.Trim(Fold(p), "/")
			last := fp[strings.LastIndexByte(fp, '/')+1:]
			if v == fp || v == last {
				want[uint32(i)] = true
			}
		}
		for i := 0; i < ix.nStates; i++ {
			if want[binary.LittleEndian.Uint32(ix.sec[secStates][i*stateRecSize+4:])] {
				s.add(i)
			}
		}
	case "deleted", "unread", "read", "flagged":
		bit := map[string]uint32{"deleted": stDeleted, "unread": stUnread, "read": stUnread, "flagged": stFlagged}[f.what]
		want := f.what != "read"
		for i := 0; i < ix.nStates; i++ {
			fl := binary.LittleEndian.Uint32(ix.sec[secStates][i*stateRecSize+24:])
			if (fl&bit != 0) == want {
				s.add(i)
			}
		}
	case "attachment":
		for d := 0; d < ix.nDocs; d++ {
			if binary.LittleEndian.Uint32(ix.sec[secDocs][d*docRecSize+12:])&docAttachment != 0 {
				e.docStates(s, uint32(d))
			}
		}
	case "date":
		for i := 0; i < ix.nStates; i++ {
			t := e.stateDate(i)
			if t >= f.lo && t < f.hi {
				s.add(i)
			}
		}
	}
}

// stateDate is the message's Date header, else the state's start.
func (e *eval) stateDate(i int) int64 {
	r := e.ix.sec[secStates][i*stateRecSize:][:stateRecSize]
	if d := binary.LittleEndian.Uint32(r[12:]); d != noDoc && int(d) < e.ix.nDocs {
		if t := int64(binary.LittleEndian.Uint64(e.ix.sec[secDocs][int(d)*docRecSize+16:])); t != 0 {
			return t
		}
	}
	return int64(binary.LittleEndian.Uint64(r[16:]))
}

// Hit is one matching item: the latest of its states that match.
type Hit struct {
	Account    string    `json:"account"` // the name it has under the mount's accounts/
	AccountID  string    `json:"accountId"`
	Folder     string    `json:"folder"` // "/Inbox/Projects"
	FolderID   int       `json:"folderId"`
	ItemID     int       `json:"itemId"`
	StateDate  time.Time `json:"stateDate"` // the state's start
	Date       time.Time `json:"date,omitzero"`
	Subject    string    `json:"subject,omitempty"`
	From       string    `json:"from,omitempty"`
	Deleted    bool      `json:"deleted"`
	Unread     bool      `json:"unread"`
	Attachment bool      `json:"attachment"`
	Digest     string    `json:"digest,omitempty"`
	Score      float64   `json:"score"`
	States     int       `json:"matchingStates"` // states of the item that match
	MountPath  string    `json:"mountPath"`      // relative to the mount point
}

// SearchOptions narrow a search.
type SearchOptions struct {
	// AccountIDs, if set, are the only accounts searched.
	AccountIDs []string
	// Limit is the most hits returned (0: all), best first.
	Limit int
	// Latest, if "deleted" or "not_deleted", keeps only the items whose
	// latest state (matching or not) is deleted, or is not (Carbonio's
	// search_filter).
	Latest string
}

// Search runs q: the matching items, best first, and how many matched in
// all (before Limit). Only the hits returned are decoded.
func (ix *Index) Search(q *Query, opt SearchOptions) (hits []Hit, total int, err error) {
	defer func() {
		if r := recover(); r != nil { // a table that lies about its lengths
			hits, total, err = nil, 0, fmt.Errorf("%w: %v", ErrCorrupt, r)
		}
	}()
	e := &eval{ix: ix, scores: make([]float32, ix.nDocs)}
	s := e.node(q.root, false)
	if e.err != nil {
		return nil, 0, e.err
	}
	var only []bool // by account index
	if len(opt.AccountIDs) > 0 {
		only = make([]bool, len(ix.meta.Accounts))
		for i, a := range ix.meta.Accounts {
			only[i] = slices.Contains(opt.AccountIDs, a.ID)
		}
	}
	le := binary.LittleEndian
	st := ix.sec[secStates]
	itemKey := func(i int) uint64 {
		return uint64(le.Uint32(st[i*stateRecSize:]))<<32 | uint64(le.Uint32(st[i*stateRecSize+8:]))
	}
	start := func(i int) int64 { return int64(le.Uint64(st[i*stateRecSize+16:])) }

	// The latest matching state of each item, and how many match.
	type group struct {
		state int32
		count int32
	}
	best := map[uint64]group{}
	for w, word := range s {
		for word != 0 {
			b := bits.TrailingZeros64(word)
			word &^= 1 << b
			i := w*64 + b
			if only != nil {
				if a := le.Uint32(st[i*stateRecSize:]); int(a) >= len(only) || !only[a] {
					continue
				}
			}
			k := itemKey(i)
			g, ok := best[k]
			if !ok || start(int(g.state)) < start(i) {
				g.state = int32(i)
			}
			g.count++
			best[k] = g
		}
	}
	if opt.Latest == "deleted" || opt.Latest == "not_deleted" {
		latest := make(map[uint64]int32, len(best)) // the latest state of every item found, matching or not
		for i := 0; i < ix.nStates; i++ {
			k := itemKey(i)
			if _, hit := best[k]; !hit {
				continue
			}
			if j, ok := latest[k]; !ok || start(int(j)) <= start(i) {
				latest[k] = int32(i)
			}
		}
		for k, j := range latest {
			if (le.Uint32(st[int(j)*stateRecSize+24:])&stDeleted != 0) != (opt.Latest == "deleted") {
				delete(best, k)
			}
		}
	}

	// Rank: score, then the message's date, newest first, then account and item.
	type cand struct {
		state int32
		count int32
		score float32
		date  int64
		key   uint64
	}
	cands := make([]cand, 0, len(best))
	for k, g := range best {
		c := cand{state: g.state, count: g.count, key: k, date: e.stateDate(int(g.state))}
		if d := le.Uint32(st[int(g.state)*stateRecSize+12:]); d != noDoc && int(d) < ix.nDocs {
			c.score = e.scores[d]
		}
		cands = append(cands, c)
	}
	better := func(x, y cand) int {
		switch {
		case x.score != y.score:
			return cmpDesc(x.score, y.score)
		case x.date != y.date:
			return cmpDesc(x.date, y.date)
		case x.key < y.key:
			return -1
		case x.key > y.key:
			return 1
		}
		return 0
	}
	total = len(cands)
	if n := opt.Limit; n > 0 && len(cands) > 2*n {
		// The best n by a heap whose root is the worst kept: n log n,
		// not a sort of every match.
		top := cands[:n]
		worseFirst := func(i, j int) bool { return better(top[i], top[j]) > 0 }
		h := &candHeap[cand]{s: top, less: worseFirst}
		heapInit(h)
		for _, c := range cands[n:] {
			if better(c, top[0]) < 0 {
				top[0] = c
				heapDown(h, 0)
			}
		}
		cands = top
	}
	slices.SortFunc(cands, better)
	if opt.Limit > 0 && len(cands) > opt.Limit {
		cands = cands[:opt.Limit]
	}
	hits = make([]Hit, 0, len(cands))
	for _, c := range cands {
		hits = append(hits, ix.hit(int(c.state), e, int(c.count)))
	}
	return hits, total, nil
}

// candHeap is a binary heap over s ordered by less (the root is least).
type candHeap[T any] struct {
	s    []T
	less func(i, j int) bool
}

func heapInit[T any](h *candHeap[T]) {
	for i := len(h.s)/2 - 1; i >= 0; i-- {
		heapDown(h, i)
	}
}

func heapDown[T any](h *candHeap[T], i int) {
	n := len(h.s)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && h.less(r, l) {
			m = r
		}
		if !h.less(m, i) {
			return
		}
		h.s[i], h.s[m] = h.s[m], h.s[i]
		i = m
	}
}

func cmpDesc[T int64 | float32](a, b T) int {
	if a > b {
		return -1
	}
	return 1
}

func (ix *Index) hit(i int, e *eval, states int) Hit {
	st := ix.stateRec(i)
	h := Hit{ItemID: int(st.item), FolderID: int(st.folderID), StateDate: time.UnixMilli(st.start).UTC(),
		Deleted: st.flags&stDeleted != 0, Unread: st.flags&stUnread != 0, States: states}
	if int(st.account) < len(ix.meta.Accounts) {
		a := ix.meta.Accounts[st.account]
		h.Account, h.AccountID = a.Listing, a.ID
	}
	if int(st.folder) < len(ix.meta.Folders) {
		h.Folder = ix.meta.Folders[st.folder]
	}
	if st.doc != noDoc && int(st.doc) < ix.nDocs {
		dr := ix.docRec(st.doc)
		h.Subject, h.From, h.Digest = dr.info.subject, dr.info.from, dr.digest
		h.Attachment = dr.flags&docAttachment != 0
		if dr.info.date != 0 {
			h.Date = time.UnixMilli(dr.info.date).UTC()
		}
		h.Score = float64(e.scores[st.doc])
	}
	h.MountPath = "accounts/" + h.Account + "/items/" + fmt.Sprint(h.ItemID) + "/" + st.name + "/message.eml"
	return h
}
