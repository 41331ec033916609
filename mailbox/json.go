package mailbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Millis is a point in time as milliseconds since the Unix epoch, the way
// Zimbra's metadata stores dates. It reads a JSON number or an RFC 3339
// string (tolerance for hand-edited or foreign files) and writes a number.
// Zero means "not set".
type Millis int64

// MillisOf converts t.
func MillisOf(t time.Time) Millis {
	if t.IsZero() {
		return 0
	}
	return Millis(t.UnixMilli())
}

// IsZero reports whether m is "not set".
func (m Millis) IsZero() bool { return m == 0 }

// Time is m as a UTC time (the zero time for 0).
func (m Millis) Time() time.Time {
	if m == 0 {
		return time.Time{}
	}
	return time.UnixMilli(int64(m)).UTC()
}

func (m *Millis) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		*m = 0
		return nil
	}
	if b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		if s == "" {
			*m = 0
			return nil
		}
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			*m = Millis(n)
			return nil
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return fmt.Errorf("date %q: want milliseconds since 1970 or RFC 3339", s)
		}
		*m = MillisOf(t)
		return nil
	}
	// A number: exact when it is an integer (a float64 would round values
	// above 2^53); a fraction or exponent is truncated to whole
	// milliseconds, and a value outside int64 is an error, not a wrapped one.
	var num json.Number
	if err := json.Unmarshal(b, &num); err != nil {
		return fmt.Errorf("date %s: want milliseconds since 1970 or RFC 3339", b)
	}
	if n, err := strconv.ParseInt(string(num), 10, 64); err == nil {
		*m = Millis(n)
		return nil
	}
	f, err := strconv.ParseFloat(string(num), 64)
	if err != nil || f != f || f >= 1<<63 || f < -(1<<63) {
		return fmt.Errorf("date %s: out of range for milliseconds since 1970", b)
	}
	*m = Millis(int64(f))
	return nil
}

// Extra holds the keys of a JSON object that cbfs does not know. They are
// kept on read and written back unchanged, so a file from a newer or foreign
// writer survives a round trip.
type Extra map[string]json.RawMessage

// knownKeys caches the JSON names of a struct type's fields.
var knownKeys sync.Map // reflect.Type -> map[string]int (JSON name -> field index)

func jsonKeys(t reflect.Type) map[string]int {
	if v, ok := knownKeys.Load(t); ok {
		return v.(map[string]int)
	}
	keys := map[string]int{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		keys[name] = i
	}
	knownKeys.Store(t, keys)
	return keys
}

// DecodeObject decodes the JSON object b into *known (a pointer to a plain
// struct, no custom UnmarshalJSON) and returns the keys known does not
// declare. Key matching is exact (case-sensitive), unlike encoding/json's
// default, so an unknown key that differs only in case is kept, not merged.
func DecodeObject(b []byte, known any) (Extra, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, err
	}
	if raw == nil {
		return nil, fmt.Errorf("want a JSON object, got null")
	}
	keys := jsonKeys(reflect.TypeOf(known).Elem())
	var extra Extra
	v := reflect.ValueOf(known).Elem()
	for k, msg := range raw {
		i, ok := keys[k]
		if !ok {
			if extra == nil {
				extra = Extra{}
			}
			extra[k] = msg
			continue
		}
		if err := json.Unmarshal(msg, v.Field(i).Addr().Interface()); err != nil {
			return nil, fmt.Errorf("key %q: %w", k, err)
		}
	}
	return extra, nil
}

// EncodeObject encodes known (a plain struct) and merges extra's keys in;
// a known key wins over an extra key of the same name. Keys are sorted, so
// the output is deterministic.
func EncodeObject(known any, extra Extra) ([]byte, error) {
	b, err := json.Marshal(known)
	if err != nil || len(extra) == 0 {
		return b, err
	}
	knownKeys := jsonKeys(reflect.TypeOf(known))
	shadowed := 0
	for k := range extra {
		if _, ok := knownKeys[k]; ok {
			shadowed++
		}
	}
	if shadowed == len(extra) {
		return b, nil // nothing to add: the same bytes as without extra
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	for k, v := range extra {
		if _, ok := m[k]; !ok {
			m[k] = v
		}
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			buf.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		buf.Write(kb)
		buf.WriteByte(':')
		buf.Write(m[k])
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// CheckDepth fails (ErrTooDeep) when b nests arrays and objects deeper
// than MaxDepth, scanning without recursion: call it before any recursive
// parser or validator (gjson's) sees foreign JSON.
func CheckDepth(b []byte) error { return checkDepth(b, MaxDepth) }
