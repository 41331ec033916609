package search

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cbfs/cbfs/internal/atomicfile"
)

// The index file (docs/FORMAT.md § 18): a magic, sections, and a trailer
// that says where each section is. Every number is little-endian.
//
//	"CBFSSRCH"  8 bytes
//	sections    meta (JSON), docs, docData, states, stateNames, termTable, termBytes, postings
//	trailer     for each section: offset u64, length u64; then "CBFSSRCH"
//
// Readers map the file and decode nothing up front but the meta: a term
// is found by binary search in termTable, its postings read in place.

// FormatVersion is the version of the index file this code writes; an
// index of another version is rebuilt (docs/FORMAT.md § 18 says what each
// changed).
const FormatVersion = 3

const magic = "CBFSSRCH"

// Sections, in file order.
const (
	secMeta = iota
	secDocs
	secDocData
	secStates
	secStateNames
	secTermTable
	secTermBytes
	secPostings
	nSections
)

const (
	docRecSize   = 32 // dataOff u32, dataLen u32, words u32, flags u32, date i64, firstState u32, nStates u32
	stateRecSize = 40 // account u32, folder u32, item u32, doc u32, start i64, flags u32, nameOff u32, nameLen u32, folderID u32
	termRecSize  = 16 // termOff u32, df u32, postOff u64 (one more record ends the last term)
)

// ErrCorrupt is an index file that is not what this code writes: rebuild
// it (doIndexMessages rebuild true).
var ErrCorrupt = errors.New("search index corrupt")

// Meta is the index's description of itself.
type Meta struct {
	Version  int           `json:"version"`
	Root     string        `json:"root"` // the Backup Path indexed
	Built    time.Time     `json:"built"`
	Docs     int           `json:"docs"`
	States   int           `json:"states"`
	Terms    int           `json:"terms"`
	Words    int64         `json:"words"` // words of every document (their mean length ranks)
	Accounts []AccountInfo `json:"accounts"`
	Folders  []string      `json:"folders"`
}

// AccountInfo is an account of the index.
type AccountInfo struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Listing string `json:"listing"` // its folder name under the mount's accounts/
}

// write writes the index file atomically; it returns its size and the
// number of terms.
func (b *builder) write(file string, meta *Meta, states []stateRec) (int64, int, error) {
	terms := make([]string, 0, len(b.terms))
	for t := range b.terms {
		terms = append(terms, t)
	}
	sort.Strings(terms)
	meta.Docs, meta.States, meta.Terms = len(b.docs), len(states), len(terms)
	meta.Words = 0
	for _, d := range b.docs {
		meta.Words += int64(d.words)
	}
	mj, err := json.Marshal(meta)
	if err != nil {
		return 0, 0, err
	}

	// Each document's range of states (states are sorted by doc).
	first := make([]uint32, len(b.docs))
	count := make([]uint32, len(b.docs))
	for i := len(states) - 1; i >= 0; i-- {
		if d := states[i].doc; d != noDoc {
			first[d] = uint32(i)
			count[d]++
		}
	}
	var docs, docData []byte
	for i, d := range b.docs {
		off := len(docData)
		for _, s := range []string{d.digest, d.subject, d.from} {
			docData = binary.AppendUvarint(docData, uint64(len(s)))
			docData = append(docData, s...)
		}
		docs = binary.LittleEndian.AppendUint32(docs, uint32(off))
		docs = binary.LittleEndian.AppendUint32(docs, uint32(len(docData)-off))
		docs = binary.LittleEndian.AppendUint32(docs, d.words)
		docs = binary.LittleEndian.AppendUint32(docs, d.flags)
		docs = binary.LittleEndian.AppendUint64(docs, uint64(d.date))
		docs = binary.LittleEndian.AppendUint32(docs, first[i])
		docs = binary.LittleEndian.AppendUint32(docs, count[i])
	}
	var sts, names []byte
	for _, s := range states {
		sts = binary.LittleEndian.AppendUint32(sts, s.account)
		sts = binary.LittleEndian.AppendUint32(sts, s.folder)
		sts = binary.LittleEndian.AppendUint32(sts, uint32(s.item))
		sts = binary.LittleEndian.AppendUint32(sts, s.doc)
		sts = binary.LittleEndian.AppendUint64(sts, uint64(s.start))
		sts = binary.LittleEndian.AppendUint32(sts, s.flags)
		sts = binary.LittleEndian.AppendUint32(sts, uint32(len(names)))
		sts = binary.LittleEndian.AppendUint32(sts, uint32(len(s.dirName)))
		sts = binary.LittleEndian.AppendUint32(sts, uint32(s.folderID))
		names = append(names, s.dirName...)
	}
	var table, tbytes []byte
	var postLen uint64
	for _, t := range terms {
		pl := b.terms[t]
		table = binary.LittleEndian.AppendUint32(table, uint32(len(tbytes)))
		table = binary.LittleEndian.AppendUint32(table, pl.df)
		table = binary.LittleEndian.AppendUint64(table, postLen)
		tbytes = append(tbytes, t...)
		postLen += uint64(len(pl.buf))
	}
	table = binary.LittleEndian.AppendUint32(table, uint32(len(tbytes)))
	table = binary.LittleEndian.AppendUint32(table, 0)
	table = binary.LittleEndian.AppendUint64(table, postLen)
	if len(tbytes) > 1<<32-1 || len(docData) > 1<<32-1 || len(names) > 1<<32-1 {
		return 0, 0, fmt.Errorf("search index too large for format %d", FormatVersion)
	}

	var size int64
	err = atomicfile.Write(file, 0o600, func(w io.Writer) error {
		bw := bufio.NewWriterSize(w, 1<<20)
		var trailer []byte
		off := uint64(len(magic))
		bw.WriteString(magic)
		put := func(parts ...[]byte) {
			var n uint64
			for _, p := range parts {
				bw.Write(p)
				n += uint64(len(p))
			}
			trailer = binary.LittleEndian.AppendUint64(trailer, off)
			trailer = binary.LittleEndian.AppendUint64(trailer, n)
			off += n
		}
		put(mj)
		put(docs)
		put(docData)
		put(sts)
		put(names)
		put(table)
		put(tbytes)
		// postings, term by term
		var n uint64
		for _, t := range terms {
			p := b.terms[t].buf
			bw.Write(p)
			n += uint64(len(p))
		}
		trailer = binary.LittleEndian.AppendUint64(trailer, off)
		trailer = binary.LittleEndian.AppendUint64(trailer, n)
		off += n
		bw.Write(trailer)
		bw.WriteString(magic)
		size = int64(off) + int64(len(trailer)) + int64(len(magic))
		return bw.Flush()
	})
	return size, len(terms), err
}

// Index is an open index file, read-only; safe for concurrent use.
type Index struct {
	data []byte // the mapped file
	meta Meta
	sec  [nSections][]byte

	nDocs, nStates, nTerms int
	avgWords               float64
}

// Open maps the index file. An index of another version, or one that is
// not whole, is ErrCorrupt (wrapped); a missing one os.ErrNotExist.
func Open(file string) (*Index, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %w: not a regular file", file, ErrCorrupt)
	}
	size := fi.Size()
	trailerLen := int64(nSections*16 + len(magic))
	if size < int64(len(magic))+trailerLen || size > 1<<40 {
		return nil, fmt.Errorf("%s: %w: %d bytes", file, ErrCorrupt, size)
	}
	data, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("%s: map: %w", file, err)
	}
	ix := &Index{data: data}
	if err := ix.init(); err != nil {
		ix.Close()
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return ix, nil
}

func (ix *Index) init() error {
	d := ix.data
	if string(d[:len(magic)]) != magic || string(d[len(d)-len(magic):]) != magic {
		return fmt.Errorf("%w: no magic", ErrCorrupt)
	}
	tr := d[len(d)-len(magic)-nSections*16 : len(d)-len(magic)]
	for i := range nSections {
		off := binary.LittleEndian.Uint64(tr[i*16:])
		n := binary.LittleEndian.Uint64(tr[i*16+8:])
		if off > uint64(len(d)) || n > uint64(len(d))-off {
			return fmt.Errorf("%w: section %d out of the file", ErrCorrupt, i)
		}
		ix.sec[i] = d[off : off+n]
	}
	if err := json.Unmarshal(ix.sec[secMeta], &ix.meta); err != nil {
		return fmt.Errorf("%w: meta: %v", ErrCorrupt, err)
	}
	m := &ix.meta
	if m.Version != FormatVersion {
		return fmt.Errorf("%w: version %d, not %d", ErrCorrupt, m.Version, FormatVersion)
	}
	if m.Docs < 0 || m.States < 0 || m.Terms < 0 ||
		len(ix.sec[secDocs]) != m.Docs*docRecSize ||
		len(ix.sec[secStates]) != m.States*stateRecSize ||
		len(ix.sec[secTermTable]) != (m.Terms+1)*termRecSize {
		return fmt.Errorf("%w: tables do not match their counts", ErrCorrupt)
	}
	ix.nDocs, ix.nStates, ix.nTerms = m.Docs, m.States, m.Terms
	if m.Docs > 0 {
		ix.avgWords = float64(m.Words) / float64(m.Docs)
	}
	if ix.avgWords < 1 {
		ix.avgWords = 1
	}
	return nil
}

// Close unmaps the file.
func (ix *Index) Close() error {
	if ix.data == nil {
		return nil
	}
	err := unix.Munmap(ix.data)
	ix.data = nil
	return err
}

// Meta is the index's description of itself.
func (ix *Index) Meta() Meta { return ix.meta }

// docRecord is one document as stored.
type docRecord struct {
	info          docInfo
	digest        string
	flags         uint32
	first, states uint32
}

func (ix *Index) docRec(i uint32) docRecord {
	r := ix.sec[secDocs][int(i)*docRecSize:][:docRecSize]
	le := binary.LittleEndian
	var dr docRecord
	off, n := le.Uint32(r), le.Uint32(r[4:])
	dr.info.words = le.Uint32(r[8:])
	dr.info.flags = le.Uint32(r[12:])
	dr.info.date = int64(le.Uint64(r[16:]))
	dr.first, dr.states = le.Uint32(r[24:]), le.Uint32(r[28:])
	data := ix.sec[secDocData]
	if uint64(off)+uint64(n) <= uint64(len(data)) {
		data = data[off : off+n]
		var strs [3]string
		for k := range strs {
			l, w := binary.Uvarint(data)
			if w <= 0 || l > uint64(len(data)-w) {
				break
			}
			strs[k] = string(data[w : w+int(l)])
			data = data[w+int(l):]
		}
		dr.info.digest, dr.info.subject, dr.info.from = strs[0], strs[1], strs[2]
	}
	dr.digest, dr.flags = dr.info.digest, dr.info.flags
	return dr
}

// stateRecord is one state as stored.
type stateRecord struct {
	account, folder, item, doc uint32
	start                      int64
	flags                      uint32
	name                       string
	folderID                   uint32
}

func (ix *Index) stateRec(i int) stateRecord {
	r := ix.sec[secStates][i*stateRecSize:][:stateRecSize]
	le := binary.LittleEndian
	s := stateRecord{account: le.Uint32(r), folder: le.Uint32(r[4:]), item: le.Uint32(r[8:]), doc: le.Uint32(r[12:]),
		start: int64(le.Uint64(r[16:])), flags: le.Uint32(r[24:]), folderID: le.Uint32(r[36:])}
	off, n := le.Uint32(r[28:]), le.Uint32(r[32:])
	if names := ix.sec[secStateNames]; uint64(off)+uint64(n) <= uint64(len(names)) {
		s.name = string(names[off : off+n])
	}
	return s
}

func (ix *Index) termRec(t int) (off uint32, df uint32, post uint64) {
	r := ix.sec[secTermTable][t*termRecSize:][:termRecSize]
	return binary.LittleEndian.Uint32(r), binary.LittleEndian.Uint32(r[4:]), binary.LittleEndian.Uint64(r[8:])
}

// termBytes is term t's bytes (nil if the table is bad).
func (ix *Index) termBytes(t int) []byte {
	a, _, _ := ix.termRec(t)
	b, _, _ := ix.termRec(t + 1)
	tb := ix.sec[secTermBytes]
	if a > b || uint64(b) > uint64(len(tb)) {
		return nil
	}
	return tb[a:b]
}

// termAt is term t and a reader of its postings.
func (ix *Index) termAt(t int) (string, *postings, error) {
	tb := ix.termBytes(t)
	if tb == nil {
		return "", nil, fmt.Errorf("%w: term %d", ErrCorrupt, t)
	}
	p, err := ix.postingsOf(t)
	return string(tb), p, err
}

func (ix *Index) postingsOf(t int) (*postings, error) {
	_, df, a := ix.termRec(t)
	_, _, b := ix.termRec(t + 1)
	pb := ix.sec[secPostings]
	if a > b || b > uint64(len(pb)) {
		return nil, fmt.Errorf("%w: postings of term %d", ErrCorrupt, t)
	}
	return &postings{buf: pb[a:b], df: df, nDocs: uint32(ix.nDocs)}, nil
}

// find is the term's number, or -1.
func (ix *Index) find(term string) int {
	i := sort.Search(ix.nTerms, func(i int) bool { return string(ix.termBytes(i)) >= term })
	if i < ix.nTerms && string(ix.termBytes(i)) == term {
		return i
	}
	return -1
}

// postings reads one term's postings in place.
type postings struct {
	buf   []byte
	df    uint32
	nDocs uint32
	doc   uint32
	tf    uint32
	pos   []byte // the current document's position deltas
	first bool
	err   error
}

func (p *postings) uvarint() uint64 {
	v, n := binary.Uvarint(p.buf)
	if n <= 0 {
		p.err = fmt.Errorf("%w: postings", ErrCorrupt)
		p.buf = nil
		return 0
	}
	p.buf = p.buf[n:]
	return v
}

// next moves to the next document; false at the end (or on error).
func (p *postings) next() bool {
	if p.pos != nil { // skip the positions not read
		for range p.tf {
			p.uvarint()
		}
		p.pos = nil
	}
	if len(p.buf) == 0 || p.err != nil {
		return false
	}
	delta := p.uvarint()
	if p.first && delta == 0 {
		p.err = fmt.Errorf("%w: postings out of order", ErrCorrupt)
		return false
	}
	p.first = true
	doc := uint64(p.doc) + delta
	tf := p.uvarint()
	if p.err != nil || doc >= uint64(p.nDocs) || tf > uint64(len(p.buf)) {
		if p.err == nil {
			p.err = fmt.Errorf("%w: postings", ErrCorrupt)
		}
		return false
	}
	p.doc, p.tf = uint32(doc), uint32(tf)
	p.pos = p.buf
	return true
}

// positions appends the current document's positions to out.
func (p *postings) positions(out []uint32) []uint32 {
	if p.pos == nil {
		return out
	}
	var cur uint32
	for range p.tf {
		cur += uint32(p.uvarint())
		out = append(out, cur)
	}
	p.pos = nil
	return out
}
