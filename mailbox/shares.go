package mailbox

import (
	"encoding/json"
	"sort"
	"strings"
)

// Shares: Carbonio shares a folder by a grant (an ACL entry) on the folder
// naming a grantee account by id. cbfs does not model grants (its restore
// targets, Maildir and IMAP, have no Carbonio shares), so the decoder keeps
// them in the state's Extra; Grantees is the one place that reads them.

// shareKeys are the folder-state keys that hold grants in Carbonio's and
// Zimbra's metadata, compared case-insensitively.
var shareKeys = []string{"acl", "grants", "grant", "shares"}

// granteeKeys are the keys of a grant object that name its grantee
// (Carbonio's and Zimbra's spellings), the first present wins.
var granteeKeys = []string{"zid", "grantee", "granteeId", "id"}

// Grantees lists the grantees (ids, or names, as recorded) of the grants a
// state records, in key order then list order; nil when it records none.
// A grant list is an array of objects with zid, grantee, granteeId or id,
// or of strings, or an object holding such an array under "grant", or one
// grant object.
func (s *State) Grantees() []string {
	keys := make([]string, 0, len(s.Extra))
	for k := range s.Extra {
		for _, sk := range shareKeys {
			if strings.EqualFold(k, sk) {
				keys = append(keys, k)
				break
			}
		}
	}
	sort.Strings(keys)
	var out []string
	for _, k := range keys {
		out = append(out, granteesIn(s.Extra[k])...)
	}
	return out
}

// granteesIn reads the grantees of one grant list.
func granteesIn(raw json.RawMessage) []string {
	var list []any
	if err := json.Unmarshal(raw, &list); err != nil {
		var obj map[string]any
		if err := json.Unmarshal(raw, &obj); err != nil {
			return nil
		}
		if inner, ok := obj["grant"].([]any); ok {
			list = inner
		} else {
			list = []any{obj}
		}
	}
	var out []string
	for _, e := range list {
		switch v := e.(type) {
		case string:
			out = append(out, v)
		case map[string]any:
			for _, k := range granteeKeys {
				if s, ok := v[k].(string); ok && s != "" {
					out = append(out, s)
					break
				}
			}
		}
	}
	return out
}
