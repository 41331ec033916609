package backuppath

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/mailbox"
	"github.com/tidwall/gjson"
)

// Map files (map_<serverId>) and id maps (accounts/<id>/id_mapper.log):
// their content format is not public (FINDINGS), so both are read in the
// encodings a writer plausibly uses (docs/FORMAT.md § 8, § 10):
//
//   - JSON: cbfs's map object ({"serverId", "date", "accounts": ...}); a
//     plain object old → new; an array of pairs (["old", "new"]) or of
//     objects ({"old": ..., "new": ...}, or from/to, source/destination...);
//   - text: one "old new" pair a line, separated by spaces, tabs, '=',
//     ':' or ','; blank lines and lines starting with '#' skipped.
//
// Anything else is blob.ErrBroken naming the file and the first bad line.

// pair is one old → new entry and the line it came from (0: unknown).
type pair struct {
	old, new string
	line     int
}

// mapContainerKeys hold the pairs inside a JSON object with other keys
// (folded: lower case, no '_', '-', '.').
var mapContainerKeys = []string{"accounts", "map", "mapping", "mappings", "ids", "items", "entries"}

// pairSide says whether a folded key names the old (1) or the new (2) side
// of a pair object.
func pairSide(k string) int {
	switch fold(k) {
	case "old", "oldid", "from", "fromid", "source", "sourceid", "src", "srcid", "orig", "origid",
		"original", "originalid", "sourceaccount", "sourceaccountid", "oldaccountid", "olditemid",
		"originalitemid", "sourceitemid", "key":
		return 1
	case "new", "newid", "to", "toid", "destination", "destinationid", "dest", "destid", "dst", "dstid",
		"restored", "restoredid", "target", "targetid", "destinationaccount", "destinationaccountid",
		"newaccountid", "newitemid", "restoreditemid", "destinationitemid", "value":
		return 2
	}
	return 0
}

func fold(k string) string {
	return strings.NewReplacer("_", "", "-", "", ".", "", " ", "").Replace(strings.ToLower(k))
}

// lineOf is the 1-based line of byte offset off in b.
func lineOf(b []byte, off int) int {
	if off > len(b) {
		off = len(b)
	}
	return bytes.Count(b[:max(off, 0)], []byte("\n")) + 1
}

// scalar reads a JSON string or number as text.
func scalar(v gjson.Result) (string, bool) {
	switch v.Type {
	case gjson.String:
		return strings.TrimSpace(v.Str), true
	case gjson.Number:
		return v.Raw, true
	}
	return "", false
}

// snippet is a short, quoted excerpt of a bad line for an error.
func snippet(s string) string {
	if len(s) > 60 {
		s = s[:60] + "..."
	}
	return strconv.Quote(s)
}

// mapMeta is what a JSON map object says besides its pairs.
type mapMeta struct {
	serverID string
	date     mailbox.Millis
	extra    mailbox.Extra
}

// parsePairs reads the pairs of a map or id-map file (name is for errors)
// in any encoding above.
func parsePairs(name string, b []byte) ([]pair, *mapMeta, error) {
	bad := func(line int, format string, a ...any) error {
		return fmt.Errorf("%s line %d: %w: %s", name, line, blob.ErrBroken, fmt.Sprintf(format, a...))
	}
	t := bytes.TrimLeft(b, " \t\r\n\ufeff")
	if len(t) > 0 && (t[0] == '{' || t[0] == '[') {
		if err := mailbox.CheckDepth(b); err != nil {
			return nil, nil, fmt.Errorf("%s: %w: %w", name, blob.ErrBroken, err)
		}
		if !gjson.ValidBytes(b) {
			var syn *json.SyntaxError
			var v any
			line := 1
			if err := json.Unmarshal(b, &v); err != nil && asSyntax(err, &syn) {
				line = lineOf(b, int(syn.Offset))
			}
			return nil, nil, bad(line, "not valid JSON (a map is JSON or \"OLD NEW\" lines)")
		}
		return jsonPairs(b, bad)
	}
	var out []pair
	for n, line := range strings.Split(string(b), "\n") {
		l := strings.TrimSpace(strings.TrimSuffix(line, "\r"))
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		f := strings.FieldsFunc(l, func(r rune) bool {
			return r == ' ' || r == '\t' || r == '=' || r == ':' || r == ','
		})
		if len(f) != 2 {
			return nil, nil, bad(n+1, "want \"OLD NEW\" (separated by space, tab, =, : or ,), got %s", snippet(l))
		}
		out = append(out, pair{old: f[0], new: f[1], line: n + 1})
	}
	return out, nil, nil
}

// readMillis reads a date as mailbox.Millis does (numbers, digit strings,
// RFC 3339) and reports whether it could.
func readMillis(v gjson.Result, d *mailbox.Millis) bool {
	return json.Unmarshal([]byte(v.Raw), d) == nil
}

func asSyntax(err error, syn **json.SyntaxError) bool {
	s, ok := err.(*json.SyntaxError)
	if ok {
		*syn = s
	}
	return ok
}

func jsonPairs(b []byte, bad func(int, string, ...any) error) ([]pair, *mapMeta, error) {
	r := gjson.ParseBytes(b)
	meta := &mapMeta{}
	if r.IsObject() {
		// cbfs's map, or another object holding the pairs under one key.
		container := ""
		for _, k := range mapContainerKeys {
			r.ForEach(func(key, v gjson.Result) bool {
				if fold(key.Str) == k && (v.IsObject() || v.IsArray()) {
					container = key.Str
					return false
				}
				return true
			})
			if container != "" {
				break
			}
		}
		if container != "" {
			var inner gjson.Result
			r.ForEach(func(key, v gjson.Result) bool {
				switch {
				case key.Str == container:
					inner = v
				case fold(key.Str) == "serverid" || fold(key.Str) == "sourceserverid":
					meta.serverID, _ = scalar(v)
				case fold(key.Str) == "date" && readMillis(v, &meta.date):
				default:
					if meta.extra == nil {
						meta.extra = mailbox.Extra{}
					}
					meta.extra[key.Str] = json.RawMessage(v.Raw)
				}
				return true
			})
			ps, err := containerPairs(b, inner, bad)
			return ps, meta, err
		}
		// A plain object old -> new; serverId and date, if any, say what
		// they say.
		var rest []string
		r.ForEach(func(key, v gjson.Result) bool {
			switch f := fold(key.Str); {
			case (f == "serverid" || f == "sourceserverid") && v.Type == gjson.String:
				meta.serverID = v.Str
			case f == "date" && readMillis(v, &meta.date):
			default:
				rest = append(rest, key.Str)
			}
			return true
		})
		if len(rest) < len(r.Map()) {
			ps, err := containerPairs(b, r, bad)
			kept := ps[:0]
			for _, p := range ps {
				if slices.Contains(rest, p.old) {
					kept = append(kept, p)
				}
			}
			return kept, meta, err
		}
		ps, err := containerPairs(b, r, bad)
		return ps, meta, err
	}
	ps, err := containerPairs(b, r, bad)
	return ps, meta, err
}

// containerPairs reads an object old → new or an array of pairs.
func containerPairs(b []byte, r gjson.Result, bad func(int, string, ...any) error) ([]pair, error) {
	var out []pair
	var err error
	if r.IsObject() {
		r.ForEach(func(k, v gjson.Result) bool {
			nv, ok := scalar(v)
			if !ok {
				err = bad(lineOf(b, v.Index), "the value of %s is not a string or number", snippet(k.Str))
				return false
			}
			out = append(out, pair{old: strings.TrimSpace(k.Str), new: nv, line: lineOf(b, k.Index)})
			return true
		})
		return out, err
	}
	r.ForEach(func(_, e gjson.Result) bool {
		line := lineOf(b, e.Index)
		var p pair
		ok := false
		switch {
		case e.IsArray():
			a := e.Array()
			if len(a) == 2 {
				var ok1, ok2 bool
				p.old, ok1 = scalar(a[0])
				p.new, ok2 = scalar(a[1])
				ok = ok1 && ok2
			}
		case e.IsObject():
			var haveOld, haveNew bool
			e.ForEach(func(k, v gjson.Result) bool {
				s, isScalar := scalar(v)
				switch side := pairSide(k.Str); {
				case side == 1 && isScalar && !haveOld:
					p.old, haveOld = s, true
				case side == 2 && isScalar && !haveNew:
					p.new, haveNew = s, true
				}
				return true
			})
			ok = haveOld && haveNew
		}
		if !ok {
			err = bad(line, "want a pair [OLD, NEW] or {\"old\": ..., \"new\": ...}, got %s", snippet(e.Raw))
			return false
		}
		p.line = line
		out = append(out, p)
		return true
	})
	return out, err
}

// ParseMap reads a map file's content in any encoding above. name (the
// file's path, for errors and the server id: map_<serverId>) is not
// opened.
func ParseMap(name string, b []byte) (*Map, error) {
	ps, meta, err := parsePairs(name, b)
	if err != nil {
		return nil, err
	}
	m := &Map{Accounts: make(map[string]string, len(ps))}
	if meta != nil {
		m.ServerID, m.Date, m.Extra = meta.serverID, meta.date, meta.extra
	}
	if m.ServerID == "" {
		base := name[strings.LastIndexByte(name, '/')+1:]
		m.ServerID = strings.TrimPrefix(base, MapPrefix)
	}
	for _, p := range ps {
		if p.old == "" || p.new == "" {
			return nil, fmt.Errorf("%s line %d: %w: an empty account id", name, p.line, blob.ErrBroken)
		}
		m.Accounts[p.old] = p.new
	}
	return m, nil
}

// ParseIDMap reads an id map's content (original item id → restored item
// id; a later line for the same id wins) in any encoding above.
func ParseIDMap(name string, b []byte) (map[int]int, error) {
	ps, _, err := parsePairs(name, b)
	if err != nil {
		return nil, err
	}
	m := make(map[int]int, len(ps))
	for _, p := range ps {
		a, err1 := strconv.Atoi(p.old)
		c, err2 := strconv.Atoi(p.new)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("%s line %d: %w: want \"ORIGINAL_ID RESTORED_ID\" (item ids), got %s",
				name, p.line, blob.ErrBroken, snippet(p.old+" "+p.new))
		}
		m[a] = c
	}
	return m, nil
}

// AppendIDMap records that item orig of the source became restored on the
// destination, as one "orig restored" line in accounts/<id>/id_mapper.log.
// The file is rewritten atomically with the new line at its end.
func (p *Path) AppendIDMap(accountID string, orig, restored int) error {
	if err := checkName("account id", accountID); err != nil {
		return fmt.Errorf("append to %s: %w", IDMapperFile, err)
	}
	path := filepath.Join(p.AccountDir(accountID), IDMapperFile)
	old, err := p.readFile(filepath.Join(AccountsDir, accountID, IDMapperFile))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	line := fmt.Sprintf("%d %d\n", orig, restored)
	return p.Writer().WriteFile(path, append(old, line...), 0o644)
}

// ReadIDMap reads accounts/<id>/id_mapper.log, or id_mapper when that is
// absent (original id -> restored id), in any encoding ParseIDMap reads.
func (p *Path) ReadIDMap(accountID string) (map[int]int, error) {
	if err := checkName("account id", accountID); err != nil {
		return nil, fmt.Errorf("read %s: %w", IDMapperFile, err)
	}
	rel := filepath.Join(AccountsDir, accountID, IDMapperFile)
	b, err := p.readFile(rel)
	if errors.Is(err, fs.ErrNotExist) {
		// The wiki calls it id_mapper: read that spelling too.
		if b2, err2 := p.readFile(filepath.Join(AccountsDir, accountID, IDMapperAlt)); !errors.Is(err2, fs.ErrNotExist) {
			rel, b, err = filepath.Join(AccountsDir, accountID, IDMapperAlt), b2, err2
		}
	}
	if err != nil {
		return nil, err
	}
	return ParseIDMap(filepath.Join(p.Root, rel), b)
}

// MapFiles lists the map_<serverId> files at the root (server ids, sorted).
func (p *Path) MapFiles() ([]string, error) {
	ents, err := p.listDir(".")
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, e := range ents {
		if id, ok := strings.CutPrefix(e.Name(), MapPrefix); ok && !e.IsDir() && id != "" {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// ReadMap reads map_<serverID>, in any encoding ParseMap reads.
func (p *Path) ReadMap(serverID string) (*Map, error) {
	if err := checkName("server id", serverID); err != nil {
		return nil, fmt.Errorf("read map: %w", err)
	}
	b, err := p.readFile(MapPrefix + serverID)
	if err != nil {
		return nil, err
	}
	return ParseMap(filepath.Join(p.Root, MapPrefix+serverID), b)
}

// WriteMap replaces map_<m.ServerID>.
func (p *Path) WriteMap(m *Map) error {
	if err := checkName("server id", m.ServerID); err != nil {
		return fmt.Errorf("write map: %w", err)
	}
	return p.writeJSON(filepath.Join(p.Root, MapPrefix+m.ServerID), m)
}
