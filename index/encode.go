package index

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/mailbox"
)

// itemRec is what an item key holds: where the item file is, the file's
// modification time and size when it was read (to see whether it changed),
// and either the states or why the file could not be read.
//
// Binary layout (all integers varints; "zz" = zig-zag signed varint;
// strings are a uvarint length and the bytes):
//
//	hdr byte        recBucket | recErr
//	[bucket string] when recBucket (file not in mailbox.Bucket(id))
//	mtime zz        Unix ns; 0 = re-read on the next refresh
//	size uvarint
//	[err string, class byte] when recErr (class: 1 unreadable, 2 broken)
//	n uvarint       number of states, then each state:
//	  start zz      ms, first absolute, then the delta from the previous start
//	  type byte
//	  flags byte    stDeleted | stFlags | stTags | stDigest | stSize | stDate | stName | stParent
//	  folder zz
//	  [flags string] [tags: uvarint n, n strings]
//	  [digest: kind byte (0 same as previous state, 1 raw SHA-256, 2 raw SHA-1, 3 string), bytes]
//	  [size zz] [date zz: ms relative to start] [name string] [parent zz]
type itemRec struct {
	Bucket   string // "" when the file is in its usual bucket
	MTime    int64
	Size     int64
	Err      string
	ErrClass string
	States   []mailbox.State
}

const (
	recBucket = 1 << iota
	recErr
)

const (
	stDeleted = 1 << iota
	stFlags
	stTags
	stDigest
	stSize
	stDate
	stName
	stParent
)

const (
	digSame byte = iota
	digSHA256
	digSHA1
	digString
)

var errCorrupt = errors.New("corrupt index record")

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// rawDigest returns d as raw hash bytes if that converts back exactly.
func rawDigest(d blob.Digest) ([]byte, bool) {
	if len(d) != blob.SHA256Len && len(d) != blob.SHA1Len {
		return nil, false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(string(d), ",", "/"))
	if err != nil || (len(raw) != 32 && len(raw) != 20) || blob.FromHash(raw) != d {
		return nil, false
	}
	return raw, true
}

// encodeItem renders r in the binary layout.
func encodeItem(buf []byte, r *itemRec) []byte {
	b := buf[:0]
	var hdr byte
	if r.Bucket != "" {
		hdr |= recBucket
	}
	if r.Err != "" {
		hdr |= recErr
	}
	b = append(b, hdr)
	if r.Bucket != "" {
		b = appendString(b, r.Bucket)
	}
	b = binary.AppendVarint(b, r.MTime)
	b = binary.AppendUvarint(b, uint64(max(r.Size, 0)))
	if r.Err != "" {
		b = appendString(b, r.Err)
		c := byte(1)
		if r.ErrClass == "broken" {
			c = 2
		}
		b = append(b, c)
	}
	b = binary.AppendUvarint(b, uint64(len(r.States)))
	var prevStart int64
	var prevDigest blob.Digest
	for i := range r.States {
		s := &r.States[i]
		start := int64(s.Start)
		b = binary.AppendVarint(b, start-prevStart)
		prevStart = start
		b = append(b, byte(s.Type))
		var f byte
		if s.Deleted {
			f |= stDeleted
		}
		if s.Flags != "" {
			f |= stFlags
		}
		if len(s.Tags) > 0 {
			f |= stTags
		}
		if s.Digest != "" {
			f |= stDigest
		}
		if s.Size != 0 {
			f |= stSize
		}
		if s.Date != 0 {
			f |= stDate
		}
		if s.Name != "" {
			f |= stName
		}
		if s.ParentID != 0 {
			f |= stParent
		}
		b = append(b, f)
		b = binary.AppendVarint(b, int64(s.FolderID))
		if f&stFlags != 0 {
			b = appendString(b, s.Flags)
		}
		if f&stTags != 0 {
			b = binary.AppendUvarint(b, uint64(len(s.Tags)))
			for _, t := range s.Tags {
				b = appendString(b, t)
			}
		}
		if f&stDigest != 0 {
			if s.Digest == prevDigest {
				b = append(b, digSame)
			} else if raw, ok := rawDigest(s.Digest); ok {
				if len(raw) == 32 {
					b = append(b, digSHA256)
				} else {
					b = append(b, digSHA1)
				}
				b = append(b, raw...)
			} else {
				b = append(b, digString)
				b = appendString(b, string(s.Digest))
			}
			prevDigest = s.Digest
		}
		if f&stSize != 0 {
			b = binary.AppendVarint(b, s.Size)
		}
		if f&stDate != 0 {
			b = binary.AppendVarint(b, int64(s.Date)-start)
		}
		if f&stName != 0 {
			b = appendString(b, s.Name)
		}
		if f&stParent != 0 {
			b = binary.AppendVarint(b, int64(s.ParentID))
		}
	}
	return b
}

// decoder reads the binary layout; the first error sticks.
type decoder struct {
	s   string
	err error
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errCorrupt
	}
	d.s = ""
}

func (d *decoder) byte() byte {
	if len(d.s) == 0 {
		d.fail()
		return 0
	}
	c := d.s[0]
	d.s = d.s[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	var x uint64
	var shift uint
	for i := 0; i < binary.MaxVarintLen64; i++ {
		if i >= len(d.s) {
			break
		}
		c := d.s[i]
		if c < 0x80 {
			d.s = d.s[i+1:]
			return x | uint64(c)<<shift
		}
		x |= uint64(c&0x7f) << shift
		shift += 7
	}
	d.fail()
	return 0
}

func (d *decoder) varint() int64 {
	u := d.uvarint()
	x := int64(u >> 1)
	if u&1 != 0 {
		x = ^x
	}
	return x
}

func (d *decoder) str() string {
	n := d.uvarint()
	if n > uint64(len(d.s)) {
		d.fail()
		return ""
	}
	v := d.s[:n]
	d.s = d.s[n:]
	return v
}

func (d *decoder) raw(n int) string {
	if n > len(d.s) {
		d.fail()
		return ""
	}
	v := d.s[:n]
	d.s = d.s[n:]
	return v
}

// decodeHeader reads the fields before the states.
func decodeHeader(d *decoder, r *itemRec) {
	hdr := d.byte()
	if hdr&^(recBucket|recErr) != 0 {
		d.fail()
		return
	}
	if hdr&recBucket != 0 {
		r.Bucket = strings.Clone(d.str())
	}
	r.MTime = d.varint()
	r.Size = int64(d.uvarint())
	if hdr&recErr != 0 {
		r.Err = strings.Clone(d.str())
		switch d.byte() {
		case 1:
			r.ErrClass = "unreadable"
		case 2:
			r.ErrClass = "broken"
		default:
			d.fail()
		}
	}
}

// decodeFileInfo reads only where the file was and its mtime and size.
func decodeFileInfo(v string) (itemRec, error) {
	var r itemRec
	d := decoder{s: v}
	decodeHeader(&d, &r)
	return r, d.err
}

// decodeItem reads a whole item record. Strings are copied, so the result
// does not pin the database's value.
func decodeItem(v string) (itemRec, error) {
	var r itemRec
	d := decoder{s: v}
	decodeHeader(&d, &r)
	n := d.uvarint()
	if n > uint64(len(d.s)) { // every state takes at least 4 bytes
		d.fail()
	}
	if d.err != nil {
		return r, d.err
	}
	if n > 0 {
		r.States = make([]mailbox.State, n)
	}
	var start int64
	var prevDigest blob.Digest
	for i := range r.States {
		s := &r.States[i]
		start += d.varint()
		s.Start = mailbox.Millis(start)
		s.Type = mailbox.ItemType(int8(d.byte()))
		f := d.byte()
		s.Deleted = f&stDeleted != 0
		s.FolderID = int(d.varint())
		if f&stFlags != 0 {
			s.Flags = strings.Clone(d.str())
		}
		if f&stTags != 0 {
			nt := d.uvarint()
			if nt > uint64(len(d.s)) {
				d.fail()
				break
			}
			s.Tags = make([]string, nt)
			for j := range s.Tags {
				s.Tags[j] = strings.Clone(d.str())
			}
		}
		if f&stDigest != 0 {
			switch d.byte() {
			case digSame:
				s.Digest = prevDigest
			case digSHA256:
				s.Digest = blob.FromHash([]byte(d.raw(32)))
			case digSHA1:
				s.Digest = blob.FromHash([]byte(d.raw(20)))
			case digString:
				s.Digest = blob.Digest(strings.Clone(d.str()))
			default:
				d.fail()
			}
			prevDigest = s.Digest
		}
		if f&stSize != 0 {
			s.Size = d.varint()
		}
		if f&stDate != 0 {
			s.Date = mailbox.Millis(start + d.varint())
		}
		if f&stName != 0 {
			s.Name = strings.Clone(d.str())
		}
		if f&stParent != 0 {
			s.ParentID = int(d.varint())
		}
		if d.err != nil {
			break
		}
	}
	if d.err == nil && len(d.s) != 0 {
		d.fail()
	}
	if d.err != nil {
		return itemRec{}, d.err
	}
	return r, nil
}

// acctRec is what an acct key holds (JSON: few records, easy to inspect).
type acctRec struct {
	Seq         uint32 `json:"seq"`
	ID          string `json:"id"`
	Name        string `json:"name"`
	Status      string `json:"status,omitempty"`
	DisplayName string `json:"displayName,omitempty"`
	COSID       string `json:"cosId,omitempty"`
	COSName     string `json:"cosName,omitempty"`
	Created     int64  `json:"created,omitempty"`  // ms
	Deleted     int64  `json:"deleted,omitempty"`  // ms
	Items       int    `json:"items"`              // as of the shard's last refresh
	BadItems    int    `json:"badItems,omitempty"` // unreadable or broken item files
	Indexed     bool   `json:"indexed,omitempty"`  // the shard was built once
	Err         string `json:"err,omitempty"`
	ErrClass    string `json:"errClass,omitempty"`
	InfoMTime   int64  `json:"infoMtime,omitempty"` // account_info when read (Unix ns; 0 = read again)
	InfoSize    int64  `json:"infoSize,omitempty"`
}

func (a *acctRec) encode() string {
	b, err := json.Marshal(a)
	if err != nil { // cannot happen: plain fields only
		panic(fmt.Sprintf("index: encode account record: %v", err))
	}
	return string(b)
}

func decodeAcct(v string) (*acctRec, error) {
	var a acctRec
	if err := json.Unmarshal([]byte(v), &a); err != nil {
		return nil, fmt.Errorf("%w: account record: %w", errCorrupt, err)
	}
	return &a, nil
}

func (a *acctRec) account() Account {
	return Account{
		Account: mailbox.Account{
			ID:          a.ID,
			Name:        a.Name,
			Status:      a.Status,
			DisplayName: a.DisplayName,
			COSID:       a.COSID,
			COSName:     a.COSName,
			Created:     mailbox.Millis(a.Created),
			DeletedDate: mailbox.Millis(a.Deleted),
		},
		Seq:      a.Seq,
		Items:    a.Items,
		Indexed:  a.Indexed,
		Err:      a.Err,
		ErrClass: a.ErrClass,
	}
}
