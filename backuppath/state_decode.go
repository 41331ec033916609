package backuppath

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/tidwall/gjson"

	"github.com/cbfs/cbfs/blob"
)

// Item files are the bulk of a Backup Path (one per mailbox item), so their
// states are decoded by hand over gjson instead of through decodeTolerant
// (a map plus reflection per state), which made ParseItem half of the
// index build's CPU time. The semantics are encoding/json's, exactly: the
// same inputs are accepted, the same values result, unknown keys go to
// Extra. TestStateDecodeMatchesReflect and FuzzStateDecode hold the two
// decoders to each other.

// parseStates decodes an item file: a JSON array of state objects.
func parseStates(b []byte) ([]State, error) {
	if !gjson.ValidBytes(b) {
		// Let encoding/json say what is wrong, with its offset.
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("invalid JSON")
	}
	r := gjson.ParseBytes(b)
	if r.Type == gjson.Null {
		return nil, nil // no states: the caller says so
	}
	if !r.IsArray() {
		return nil, fmt.Errorf("want a JSON array of states, got %s", jsonKind(r))
	}
	var states []State
	var err error
	r.ForEach(func(_, v gjson.Result) bool {
		var s State
		if err = s.decodeGJSON(v); err != nil {
			err = fmt.Errorf("state %d: %w", len(states), err)
			return false
		}
		states = append(states, s)
		return true
	})
	return states, err
}

func jsonKind(r gjson.Result) string {
	switch r.Type {
	case gjson.Null:
		return "null"
	case gjson.False, gjson.True:
		return "a boolean"
	case gjson.Number:
		return "a number"
	case gjson.String:
		return "a string"
	}
	if r.IsArray() {
		return "an array"
	}
	return "an object"
}

// decodeGJSON fills s from one state object. s must be zero.
func (s *State) decodeGJSON(v gjson.Result) error {
	if !v.IsObject() {
		return fmt.Errorf("want a JSON object, got %s", jsonKind(v))
	}
	var err error
	v.ForEach(func(k, val gjson.Result) bool {
		var key string
		decodeString(k, &key) // keys too: same escapes and UTF-8 repair
		switch key {
		case "startDate":
			err = decodeMillis(val, &s.Start)
		case "type":
			if val.Type != gjson.Null {
				err = s.Type.UnmarshalJSON([]byte(val.Raw))
			}
		case "folderId":
			err = decodeInt(val, &s.FolderID)
		case "flags":
			err = decodeString(val, &s.Flags)
		case "tags":
			err = decodeStrings(val, &s.Tags)
		case "deleted":
			err = decodeBool(val, &s.Deleted)
		case "digest":
			var d string
			if err = decodeString(val, &d); err == nil && val.Type != gjson.Null {
				s.Digest = blob.Digest(d)
			}
		case "size":
			var n int
			if err = decodeInt(val, &n); err == nil && val.Type != gjson.Null {
				s.Size = int64(n)
			}
		case "date":
			err = decodeMillis(val, &s.Date)
		case "subject":
			err = decodeString(val, &s.Subject)
		case "from":
			err = decodeString(val, &s.From)
		case "to":
			err = decodeString(val, &s.To)
		case "name":
			err = decodeString(val, &s.Name)
		case "parentId":
			err = decodeInt(val, &s.ParentID)
		case "imapUid":
			err = decodeUint32(val, &s.IMAPUID)
		default:
			if s.Extra == nil {
				s.Extra = Extra{}
			}
			s.Extra[key] = json.RawMessage(val.Raw)
		}
		if err != nil {
			err = fmt.Errorf("key %q: %w", key, err)
			return false
		}
		return true
	})
	return err
}

func decodeMillis(v gjson.Result, m *Millis) error {
	if v.Type == gjson.Number {
		if n, err := strconv.ParseInt(v.Raw, 10, 64); err == nil {
			*m = Millis(n)
			return nil
		}
	}
	return m.UnmarshalJSON([]byte(v.Raw))
}

func decodeInt(v gjson.Result, n *int) error {
	switch v.Type {
	case gjson.Null:
		return nil
	case gjson.Number:
		x, err := strconv.ParseInt(v.Raw, 10, 64)
		if err != nil {
			return fmt.Errorf("cannot use number %s as an integer", v.Raw)
		}
		*n = int(x)
		return nil
	}
	return fmt.Errorf("cannot use %s as an integer", jsonKind(v))
}

// decodeUint32 follows encoding/json: an unsigned decimal ("-0" included
// is refused) that fits in 32 bits.
func decodeUint32(v gjson.Result, n *uint32) error {
	switch v.Type {
	case gjson.Null:
		return nil
	case gjson.Number:
		x, err := strconv.ParseUint(v.Raw, 10, 32)
		if err != nil {
			return fmt.Errorf("cannot use number %s as an unsigned 32-bit integer", v.Raw)
		}
		*n = uint32(x)
		return nil
	}
	return fmt.Errorf("cannot use %s as an integer", jsonKind(v))
}

func decodeBool(v gjson.Result, b *bool) error {
	switch v.Type {
	case gjson.Null:
		return nil
	case gjson.True, gjson.False:
		*b = v.Type == gjson.True
		return nil
	}
	return fmt.Errorf("cannot use %s as a boolean", jsonKind(v))
}

// decodeString decodes a JSON string. Strings with escapes or non-ASCII
// bytes go through encoding/json, so invalid UTF-8 is replaced exactly as
// it would be there.
func decodeString(v gjson.Result, s *string) error {
	switch v.Type {
	case gjson.Null:
		return nil
	case gjson.String:
		raw := v.Raw
		plain := true
		for i := 1; i < len(raw)-1; i++ {
			if c := raw[i]; c == '\\' || c >= 0x80 {
				plain = false
				break
			}
		}
		if plain {
			*s = raw[1 : len(raw)-1]
			return nil
		}
		return json.Unmarshal([]byte(raw), s)
	}
	return fmt.Errorf("cannot use %s as a string", jsonKind(v))
}

func decodeStrings(v gjson.Result, out *[]string) error {
	switch {
	case v.Type == gjson.Null:
		*out = nil
		return nil
	case !v.IsArray():
		return fmt.Errorf("cannot use %s as a list of strings", jsonKind(v))
	}
	list := []string{}
	var err error
	v.ForEach(func(_, e gjson.Result) bool {
		var s string
		if err = decodeString(e, &s); err != nil {
			return false
		}
		list = append(list, s)
		return true
	})
	if err != nil {
		return err
	}
	*out = list
	return nil
}
