package backuppath

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// The server configuration as getServerConfig shows it and the mount's
// server/config/<date>/ serves it: one reading of a configuration backup
// (ServerConfig), its sections and its query language.

// Tree is the configuration backup as getServerConfig queries it
// (ConfigQuery), named as Carbonio names it: sections serverConfig,
// globalConfig (key -> value), cos, domain, distributionList (name ->
// record, its attributes at the record's top level) and zimlets (name ->
// settings).
func (cfg *ServerConfig) Tree() (map[string]any, error) {
	tree := map[string]any{
		"serverConfig": rawMap(cfg.ServerConfig),
		"globalConfig": rawMap(cfg.GlobalConfig),
	}
	for _, sec := range []struct {
		name string
		recs []Record
	}{{"cos", cfg.COS}, {"domain", cfg.Domains}, {"distributionList", cfg.DistributionLists}} {
		m := map[string]any{}
		for _, r := range sec.recs {
			b, err := json.Marshal(r)
			if err != nil {
				return nil, err
			}
			var v map[string]any
			if err := json.Unmarshal(b, &v); err != nil {
				return nil, err
			}
			// Attributes are shown at the record's top level, like Carbonio's
			// cos/NAME/KEY queries expect.
			if attrs, ok := v["attrs"].(map[string]any); ok {
				delete(v, "attrs")
				for k, a := range attrs {
					if _, dup := v[k]; !dup {
						v[k] = a
					}
				}
			}
			name := r.Name
			if name == "" {
				name = r.ID
			}
			m[name] = v
		}
		tree[sec.name] = m
	}
	// Zimlets: Carbonio's backups have a zimlets section (name -> settings);
	// cbfs's scans write none, so it is whatever the file holds, or empty.
	zimlets := map[string]any{}
	if raw, ok := cfg.Extra["zimlets"]; ok {
		var v any
		if err := json.Unmarshal(raw, &v); err == nil {
			switch z := v.(type) {
			case map[string]any:
				zimlets = z
			case []any:
				for i, e := range z {
					name := fmt.Sprint(i)
					if m, ok := e.(map[string]any); ok {
						if n, ok := m["name"].(string); ok && n != "" {
							name = n
						}
					}
					zimlets[name] = e
				}
			}
		}
	}
	tree["zimlets"] = zimlets
	return tree, nil
}

// rawMap decodes each value of m (a value that is not JSON stays its text).
func rawMap(m map[string]json.RawMessage) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		var x any
		if err := json.Unmarshal(v, &x); err != nil {
			x = string(v)
		}
		out[k] = x
	}
	return out
}

// ConfigQuery is a parsed "type/id/key" query of a configuration
// backup's Tree (getServerConfig's query).
type ConfigQuery []string

// ErrBadQuery is wrapped by ParseConfigQuery's errors: the query itself is
// wrong, whatever the backup holds.
var ErrBadQuery = errors.New("bad query")

// ConfigSections are the sections of a Tree, as a query names them.
var ConfigSections = []string{"serverConfig", "globalConfig", "cos", "domain", "distributionList", "zimlets"}

// ParseConfigQuery reads a query: TYPE[/ID[/KEY]] (serverConfig/KEY/SERVER
// for Carbonio's per-server form), the type any case, slashes around it
// optional; "" and "/" are everything.
func ParseConfigQuery(s string) (ConfigQuery, error) {
	s = strings.Trim(strings.TrimSpace(s), "/")
	if s == "" {
		return nil, nil
	}
	parts := strings.Split(s, "/")
	for i, p := range parts {
		if p == "" {
			return nil, fmt.Errorf("%w %q: empty part", ErrBadQuery, s)
		}
		if i == 0 {
			found := false
			for _, sec := range ConfigSections {
				if strings.EqualFold(sec, p) {
					parts[0], found = sec, true
				}
			}
			if !found {
				return nil, fmt.Errorf("%w %q: unknown type %q (want %s)", ErrBadQuery, s, p, strings.Join(ConfigSections, ", "))
			}
		}
	}
	records := parts[0] != "serverConfig" && parts[0] != "globalConfig"
	// serverConfig/KEY/SERVER: Carbonio's per-server form.
	if (records && len(parts) > 3) || (parts[0] == "globalConfig" && len(parts) > 2) || len(parts) > 3 {
		return nil, fmt.Errorf("%w %q: too many parts", ErrBadQuery, s)
	}
	return ConfigQuery(parts), nil
}

// String is the query as /TYPE/ID/KEY.
func (q ConfigQuery) String() string { return "/" + strings.Join(q, "/") }

// IsServer reports whether name is the backed-up server's hostname or id
// (any case; a backup that records neither matches any name).
func (cfg *ServerConfig) IsServer(name string) bool {
	if cfg.Hostname == "" && cfg.ServerID == "" {
		return true
	}
	return strings.EqualFold(name, cfg.Hostname) || strings.EqualFold(name, cfg.ServerID)
}

// SplitServer takes the SERVER off serverConfig/KEY/SERVER.
func (q ConfigQuery) SplitServer() (ConfigQuery, string) {
	if len(q) == 3 && q[0] == "serverConfig" {
		return q[:2], q[2]
	}
	return q, ""
}

// Leaf is the name a listing of the result starts from: the last part of
// the query, or "" for everything.
func (q ConfigQuery) Leaf() string {
	if len(q) == 0 {
		return ""
	}
	return q[len(q)-1]
}

// Apply selects the queried part of tree (a Tree). Keys match exactly,
// then case-insensitively; records also match by id.
func (q ConfigQuery) Apply(tree map[string]any) (any, error) {
	var cur any = tree
	for i, part := range q {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("query %s: %s is a value, not a section", q, strings.Join(q[:i], "/"))
		}
		next, found := lookup(m, part, i == 1 && len(q) > 1 && q[0] != "serverConfig" && q[0] != "globalConfig")
		if !found {
			return nil, fmt.Errorf("query %s: no %q", q, part)
		}
		cur = next
	}
	return cur, nil
}

// lookup finds key in m (exactly, then any case; a record by its id when
// byID).
func lookup(m map[string]any, key string, byID bool) (any, bool) {
	if v, ok := m[key]; ok {
		return v, true
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	if byID {
		for _, v := range m {
			if r, ok := v.(map[string]any); ok && r["id"] == key {
				return v, true
			}
		}
	}
	return nil, false
}

// Sections are the configuration backup's sections under the names
// Carbonio's queries and getServerConfig use (ConfigSections: serverConfig,
// globalConfig, cos, domain, distributionList), each as read (records as
// a list), and any other key of the file but config and error: the mount
// serves one file per section. Tree is the same backup shaped for queries.
func (cfg *ServerConfig) Sections() map[string]any {
	sections := map[string]any{
		"serverConfig":     cfg.ServerConfig,
		"globalConfig":     cfg.GlobalConfig,
		"domain":           cfg.Domains,
		"cos":              cfg.COS,
		"distributionList": cfg.DistributionLists,
	}
	for k, v := range cfg.Extra {
		if _, known := sections[k]; !known && k != "config" && k != "error" {
			sections[k] = v
		}
	}
	return sections
}
