package mailbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/tidwall/gjson"
)

// Account statuses cbfs writes. Readers keep other values (Zimbra's
// "locked", "closed", ...) as they are.
const (
	StatusActive  = "active"
	StatusDeleted = "deleted"
)

// Account is an account: what accounts/<id>/account_info says of it. The
// JSON keys are cbfs's own dialect (docs/FORMAT.md § 5); ParseAccount also
// reads LDAP attribute objects and histories.
type Account struct {
	ID            string                     `json:"id"`
	Name          string                     `json:"name"`
	Status        string                     `json:"status"`
	DisplayName   string                     `json:"displayName,omitempty"`
	COSID         string                     `json:"cosId,omitempty"`
	COSName       string                     `json:"cosName,omitempty"`
	Created       Millis                     `json:"createdDate,omitempty"`
	DeletedDate   Millis                     `json:"deletedDate,omitempty"`
	BackupEnabled *bool                      `json:"backupEnabled,omitempty"` // cbfs: account-level toggle; nil = inherit from COS
	Attrs         map[string]json.RawMessage `json:"attrs,omitempty"`
	Extra         Extra                      `json:"-"`

	// What the reader made of it (never written):
	NameSource string   `json:"-"` // the key(s) the name was taken from ("name", "mail", "uid+domain"...)
	Notes      []string `json:"-"` // values it could not interpret (kept in Extra)
}

type accountJSON Account

// UnmarshalJSON reads account_info of any dialect (Default.ParseAccount,
// without the folder-name checks).
func (a *Account) UnmarshalJSON(b []byte) error {
	acc, err := Default.decodeAccount(b)
	if err != nil {
		return err
	}
	*a = *acc
	return nil
}

// MarshalJSON writes cbfs's own dialect.
func (a Account) MarshalJSON() ([]byte, error) { return EncodeObject(accountJSON(a), a.Extra) }

// Domain is the part of the account name after '@'.
func (a *Account) Domain() string {
	_, d, _ := strings.Cut(a.Name, "@")
	return d
}

// Active reports whether the account's status is active.
func (a *Account) Active() bool { return a.Status == StatusActive }

// ErrNoName: account_info names no address under any key cbfs knows.
var ErrNoName = errors.New("account has no name (looked for name, mail, zimbraMailDeliveryAddress, email, uid+domain)")

// ParseAccount reads an account_info file of the account folder id: a JSON
// object (cbfs's keys or LDAP-style attributes, values strings or arrays of
// strings), or an array of such objects (a history, oldest first: later
// entries override earlier ones). The id, when the file has one, must match
// the folder; without one the folder's is used. The status defaults to
// active; a deletion date makes it deleted unless the status says active.
func (d *Decoder) ParseAccount(id string, b []byte) (*Account, error) {
	a, err := d.decodeAccount(b)
	if err != nil {
		return nil, err
	}
	if a.ID == "" {
		a.ID = id
	}
	if a.ID != id {
		return nil, fmt.Errorf("account id %q does not match its folder", a.ID)
	}
	if a.Name == "" {
		return nil, ErrNoName
	}
	if d.Census != nil {
		d.Census.NameSource(a.NameSource)
	}
	return a, nil
}

// account field names, for the keymap and aliases.
const (
	afID = iota
	afName
	afStatus
	afDisplay
	afCOSID
	afCOSName
	afCreated
	afDeleted
	afBackup
	afAttrs
	afUID
	afDomain
	afCOS
)

// accountAliases maps canonical keys (canonKey) to account fields, with a
// rank: for the name, a lower rank wins when several keys are present.
var accountAliases = map[string]struct{ field, rank int }{
	"id": {afID, 0}, "zimbraid": {afID, 1}, "accountid": {afID, 2}, "uuid": {afID, 3},
	"name": {afName, 0}, "mail": {afName, 1}, "zimbramaildeliveryaddress": {afName, 2},
	"email": {afName, 3}, "emailaddress": {afName, 3}, "address": {afName, 4}, "accountname": {afName, 5},
	"status": {afStatus, 0}, "zimbraaccountstatus": {afStatus, 1}, "accountstatus": {afStatus, 2}, "state": {afStatus, 3},
	"displayname": {afDisplay, 0}, "cn": {afDisplay, 1}, "fullname": {afDisplay, 2},
	"cosid": {afCOSID, 0}, "zimbracosid": {afCOSID, 1},
	"cosname":     {afCOSName, 0},
	"cos":         {afCOS, 0},
	"createddate": {afCreated, 0}, "zimbracreatetimestamp": {afCreated, 1}, "createtimestamp": {afCreated, 2},
	"created": {afCreated, 3}, "createdat": {afCreated, 3}, "creationdate": {afCreated, 3},
	"deleteddate": {afDeleted, 0}, "deletedat": {afDeleted, 1}, "deletiondate": {afDeleted, 1},
	"zimbrabackupdeletedtimestamp": {afDeleted, 2}, "deletedtimestamp": {afDeleted, 2},
	"backupenabled": {afBackup, 0}, "zimbrafeaturebackupenabled": {afBackup, 1},
	"attrs": {afAttrs, 0},
	"uid":   {afUID, 0}, "domain": {afDomain, 0}, "zimbradomainname": {afDomain, 1}, "domainname": {afDomain, 2},
}

var accountFieldByName = map[string]int{
	"id": afID, "name": afName, "status": afStatus, "displayName": afDisplay, "cosId": afCOSID,
	"cosName": afCOSName, "createdDate": afCreated, "deletedDate": afDeleted,
}

func (d *Decoder) decodeAccount(b []byte) (*Account, error) {
	r, err := parseJSON(string(b))
	if err != nil {
		return nil, err
	}
	switch {
	case r.IsObject():
		var acc accountDec
		acc.read(d, r)
		return acc.finish(), nil
	case r.IsArray():
		var acc accountDec
		n := 0
		r.ForEach(func(_, e gjson.Result) bool {
			if e.IsObject() {
				acc.read(d, e)
				n++
			}
			return true
		})
		if n == 0 {
			return nil, errors.New("want an account object or a history of them")
		}
		a := acc.finish()
		if n > 1 {
			a.Notes = append(a.Notes, fmt.Sprintf("a history of %d entries: later entries override earlier ones", n))
		}
		return a, nil
	}
	return nil, fmt.Errorf("want a JSON object, got %s", jsonKind(r))
}

// accountDec gathers one account from one or more objects.
type accountDec struct {
	a              Account
	nameRank       int
	uid, domain    string
	statusExplicit bool
	have           map[int]int // field -> rank of the key that set it
}

// aEntry is one attribute of an account_info object: a key of its own, or
// one of a SOAP attribute list ({"n": key, "_content": value}).
type aEntry struct {
	key  string
	v    gjson.Result
	soap bool // from a SOAP list: kept in Attrs, not as a key of its own
}

// soapAttr is one attribute of a SOAP list, its values in order.
type soapAttr struct {
	n    string
	vals []string
}

// soapList reads Zimbra's SOAP attribute list ("a": [{"n": "mail",
// "_content": "..."}, ...]): ok when v is a non-empty array of objects
// that each name an attribute. Several entries with one name are one
// multi-valued attribute.
func soapList(v gjson.Result) ([]soapAttr, bool) {
	if !v.IsArray() {
		return nil, false
	}
	var out []soapAttr
	idx := map[string]int{}
	ok := true
	v.ForEach(func(_, e gjson.Result) bool {
		n := e.Get("n")
		if !e.IsObject() || n.Type != gjson.String || n.Str == "" {
			ok = false
			return false
		}
		var val string
		if c := e.Get("_content"); c.Exists() && readString(c, &val) != "" {
			ok = false
			return false
		}
		i, seen := idx[n.Str]
		if !seen {
			i = len(out)
			idx[n.Str] = i
			out = append(out, soapAttr{n: n.Str})
		}
		out[i].vals = append(out[i].vals, val)
		return true
	})
	return out, ok && len(out) > 0
}

// json is the attribute's value as Zimbra's LDAP has it: a string, or an
// array of strings when it has several.
func (a soapAttr) json() json.RawMessage {
	var b []byte
	if len(a.vals) == 1 {
		b, _ = json.Marshal(a.vals[0])
	} else {
		b, _ = json.Marshal(a.vals)
	}
	return b
}

// entriesOf lists an object's attributes: its keys, with each SOAP
// attribute list (under any key: "a", "attrs"...) read as the attributes
// it holds.
func entriesOf(r gjson.Result) (out []aEntry, soap []soapAttr) {
	r.ForEach(func(k, v gjson.Result) bool {
		if l, ok := soapList(v); ok {
			soap = append(soap, l...)
			for _, a := range l {
				out = append(out, aEntry{key: a.n, v: gjson.ParseBytes(a.json()), soap: true})
			}
			if k.Str != "a" { // "attrs": [...] is also the key of the attributes
				out = append(out, aEntry{key: k.Str, v: v})
			}
			return true
		}
		out = append(out, aEntry{key: k.Str, v: v})
		return true
	})
	return out, soap
}

// children are the objects one level below r where an account's
// attributes may sit ({"attrs": {...}}, {"account": {...}}, Zimbra JSON's
// one-element arrays {"account": [{...}]}), in file order; not a COS.
func children(r gjson.Result) []childObj {
	var out []childObj
	r.ForEach(func(k, v gjson.Result) bool {
		if al, ok := accountAliases[canonKey(k.Str)]; ok && al.field == afCOS {
			return true
		}
		if v.IsArray() {
			if a := v.Array(); len(a) == 1 {
				v = a[0]
			}
		}
		if v.IsObject() {
			out = append(out, childObj{path: k.Str, v: v})
		}
		return true
	})
	return out
}

type childObj struct {
	path string
	v    gjson.Result
}

// knownStatus: the account statuses Zimbra's LDAP and cbfs write; below
// the top level only these are read as the account's status.
var knownStatus = map[string]bool{"active": true, "locked": true, "lockout": true, "closed": true,
	"maintenance": true, "pending": true, "deleted": true, "removed": true}

// maxAccountNesting: how many levels below the top an account's
// attributes are looked for.
const maxAccountNesting = 2

func (x *accountDec) read(d *Decoder, r gjson.Result) {
	if x.have == nil {
		x.have = map[int]int{}
		x.nameRank = 1 << 30
	}
	mapped := map[string]int{}
	for f, k := range d.account {
		mapped[k] = accountFieldByName[f]
	}
	// In a history, a later entry overrides: ranks only decide between
	// keys of the same entry.
	seen := map[int]int{}
	entries, soap := entriesOf(r)
	for _, a := range soap {
		if x.a.Attrs == nil {
			x.a.Attrs = map[string]json.RawMessage{}
		}
		x.a.Attrs[a.n] = a.json()
	}
	for _, e := range entries {
		key, v := e.key, e.v
		f, rank := -1, 0
		if mf, ok := mapped[key]; ok {
			f, rank = mf, -1
		} else if al, ok := accountAliases[canonKey(key)]; ok {
			f, rank = al.field, al.rank
		}
		if f < 0 || v.Type == gjson.Null {
			if !e.soap {
				x.keep(key, v)
			}
			continue
		}
		if pr, ok := seen[f]; ok && pr <= rank {
			if !e.soap {
				x.keep(key, v)
			}
			continue
		}
		if note := x.set(f, key, v); note != "" {
			x.a.Notes = append(x.a.Notes, fmt.Sprintf("%s: %s (kept)", key, note))
			if !e.soap {
				x.keep(key, v)
			}
			continue
		}
		seen[f] = rank
	}
	// What the top level lacks, from the objects one and two levels down
	// (their raw JSON stays where it is, in Extra or Attrs).
	level := children(r)
	for depth := 1; depth <= maxAccountNesting && len(level) > 0; depth++ {
		var next []childObj
		for _, c := range level {
			x.readNested(mapped, c, seen)
			for _, g := range children(c.v) {
				next = append(next, childObj{path: c.path + "." + g.path, v: g.v})
			}
		}
		level = next
	}
}

// readNested reads the attributes of one object below the top level into
// the fields no level above (nor an earlier object of its level) set. It
// is stricter than the top level, since such an object may be anything
// (a COS, a signature): no id (the folder's is the account's), a name
// only if it is an address, a status only if Zimbra knows it; what it
// cannot read is skipped silently, its raw JSON being kept above.
func (x *accountDec) readNested(mapped map[string]int, c childObj, seen map[int]int) {
	entries, _ := entriesOf(c.v)
	local := map[int]int{}
	for _, e := range entries {
		f, rank := -1, 0
		if mf, ok := mapped[e.key]; ok {
			f, rank = mf, -1
		} else if al, ok := accountAliases[canonKey(e.key)]; ok {
			f, rank = al.field, al.rank
		}
		switch f {
		case -1, afID, afCOS, afAttrs:
			continue
		}
		if _, up := seen[f]; up || e.v.Type == gjson.Null {
			continue
		}
		if pr, ok := local[f]; ok && pr <= rank {
			continue
		}
		var s string
		switch f {
		case afName:
			if readString(e.v, &s) != "" || !strings.Contains(s, "@") {
				continue
			}
		case afStatus:
			if readString(e.v, &s) != "" || !knownStatus[strings.ToLower(strings.TrimSpace(s))] {
				continue
			}
		}
		saved := x.a
		if note := x.set(f, c.path+"."+e.key, e.v); note != "" {
			x.a = saved
			continue
		}
		local[f] = rank
	}
	for f, r := range local {
		seen[f] = r
	}
}

func (x *accountDec) keep(key string, v gjson.Result) {
	if x.a.Extra == nil {
		x.a.Extra = Extra{}
	}
	x.a.Extra[key] = json.RawMessage(v.Raw)
}

func (x *accountDec) set(f int, key string, v gjson.Result) string {
	var s string
	str := func() string { return readString(v, &s) }
	switch f {
	case afID:
		if n := str(); n != "" {
			return n
		}
		x.a.ID = strings.TrimSpace(s)
	case afName:
		if n := str(); n != "" {
			return n
		}
		x.a.Name, x.a.NameSource = strings.TrimSpace(s), key
	case afUID:
		if n := str(); n != "" {
			return n
		}
		x.uid = strings.TrimSpace(s)
	case afDomain:
		if n := str(); n != "" {
			return n
		}
		x.domain = strings.TrimSpace(s)
	case afStatus:
		if n := str(); n != "" {
			return n
		}
		x.a.Status, x.statusExplicit = strings.ToLower(strings.TrimSpace(s)), true
	case afDisplay:
		if n := str(); n != "" {
			return n
		}
		x.a.DisplayName = s
	case afCOSID:
		if n := str(); n != "" {
			return n
		}
		x.a.COSID = s
	case afCOSName:
		if n := str(); n != "" {
			return n
		}
		x.a.COSName = s
	case afCOS:
		if v.IsObject() {
			v.ForEach(func(k, e gjson.Result) bool {
				switch canonKey(k.Str) {
				case "id", "cosid", "zimbraid":
					readString(e, &x.a.COSID)
				case "name", "cosname", "cn":
					readString(e, &x.a.COSName)
				}
				return true
			})
			return ""
		}
		if n := str(); n != "" {
			return n
		}
		x.a.COSName = s
	case afCreated:
		return readDate(v, key == "createdDate", &x.a.Created)
	case afDeleted:
		return readDate(v, key == "deletedDate", &x.a.DeletedDate)
	case afBackup:
		b, ok := readBool(v)
		if !ok {
			return "not a boolean"
		}
		x.a.BackupEnabled = &b
	case afAttrs:
		if l, ok := soapList(v); ok { // "attrs": [{"n": ..., "_content": ...}]
			if x.a.Attrs == nil {
				x.a.Attrs = map[string]json.RawMessage{}
			}
			for _, a := range l {
				x.a.Attrs[a.n] = a.json()
			}
			return ""
		}
		if !v.IsObject() {
			return "not an object of attributes"
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal([]byte(v.Raw), &m); err != nil {
			return "not an object of attributes"
		}
		if l, ok := soapList(v.Get("a")); ok { // "attrs": {"a": [...]}
			delete(m, "a")
			for _, a := range l {
				m[a.n] = a.json()
			}
		}
		for k, raw := range x.a.Attrs { // a top-level SOAP list's, read first
			if _, dup := m[k]; !dup {
				m[k] = raw
			}
		}
		x.a.Attrs = m
	}
	return ""
}

func (x *accountDec) finish() *Account {
	a := x.a
	if a.Name == "" && x.uid != "" {
		if x.domain != "" && !strings.Contains(x.uid, "@") {
			a.Name, a.NameSource = x.uid+"@"+x.domain, "uid+domain"
		} else if strings.Contains(x.uid, "@") {
			a.Name, a.NameSource = x.uid, "uid"
		}
	}
	switch a.Status {
	case "":
		a.Status = StatusActive
		if a.DeletedDate != 0 {
			a.Status = StatusDeleted
		}
	case "removed", "deleted":
		a.Status = StatusDeleted
	case StatusActive:
	default:
		if a.DeletedDate != 0 {
			a.Status = StatusDeleted
		}
	}
	return &a
}

// Prefer reports whether account a is the one a name means rather than b,
// when both have that name (a deleted account and its successor share
// one): an active account first, then the most recently created, then the
// lower id. Every part of cbfs resolves names by this one rule.
func Prefer(a, b *Account) bool {
	if a.Active() != b.Active() {
		return a.Active()
	}
	if a.Created != b.Created {
		return a.Created > b.Created
	}
	return a.ID < b.ID
}

// Resolve finds the account ref means among accts: the account whose id is
// ref, else the preferred (Prefer) of those whose name is ref, case
// insensitively, else the account listed under ref (ListingNames: the
// name the mount shows, "name (id)" or a disambiguated safe name). nil
// when none.
func Resolve(accts []Account, ref string) *Account {
	ref = strings.TrimSpace(ref)
	var best *Account
	for i := range accts {
		a := &accts[i]
		if a.ID == ref {
			return a
		}
		if a.Name != "" && strings.EqualFold(a.Name, ref) && (best == nil || Prefer(a, best)) {
			best = a
		}
	}
	if best != nil || ref == "" {
		return best
	}
	for i, n := range ListingNames(accts) {
		if strings.EqualFold(n, ref) {
			return &accts[i]
		}
	}
	return nil
}

// ListingNames gives each account a unique name for listings and paths
// (parallel to accts), one path component each, the same for the same
// accounts on every run:
//
//   - The preferred account of a name (Prefer; names compared case
//     insensitively) is shown by its name, the others as "<name> (<id>)";
//     an account without a usable name (none, ".", "..") by its id.
//   - Names are made path-safe (SafeName: "/" becomes "_", NUL dropped).
//   - Two accounts whose names still coincide, case insensitively (an
//     "a/b@x" made "a_b@x" beside a real "a_b@x" or "A_b@x"): the one shown
//     as it is named keeps the name (an id first, then an account's own
//     name, then a "name (id)"; ties by id), the other gets " (<id>)"
//     appended, again until the name is free. So every name is unique
//     (also on a case-insensitive file system), and a name SafeName had to
//     change never takes the place of one it did not.
func ListingNames(accts []Account) []string {
	const (
		byID   = iota // shown by its id
		byName        // the preferred account of its name
		byDup         // "<name> (<id>)"
	)
	groups := map[string][]int{}
	for i := range accts {
		if n := accts[i].Name; usableName(n) {
			k := strings.ToLower(n)
			groups[k] = append(groups[k], i)
		}
	}
	out := make([]string, len(accts))
	kind := make([]int, len(accts))
	changed := make([]bool, len(accts))
	for i := range accts {
		out[i], kind[i] = accts[i].ID, byID
	}
	for _, g := range groups {
		best := g[0]
		for _, i := range g[1:] {
			if Prefer(&accts[i], &accts[best]) {
				best = i
			}
		}
		for _, i := range g {
			out[i], kind[i] = accts[i].Name, byName
			if i != best {
				out[i], kind[i] = accts[i].Name+" ("+accts[i].ID+")", byDup
			}
		}
	}
	for i := range out {
		safe := SafeName(out[i], 0)
		changed[i] = safe != out[i]
		out[i] = safe
	}
	// Unique names: the unchanged first, then by kind and id.
	order := make([]int, len(accts))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(x, y int) bool {
		a, b := order[x], order[y]
		if changed[a] != changed[b] {
			return !changed[a]
		}
		if kind[a] != kind[b] {
			return kind[a] < kind[b]
		}
		if accts[a].ID != accts[b].ID {
			return accts[a].ID < accts[b].ID
		}
		return a < b
	})
	taken := make(map[string]bool, len(accts))
	for _, i := range order {
		for taken[strings.ToLower(out[i])] {
			out[i] += " (" + SafeName(accts[i].ID, 0) + ")"
		}
		taken[strings.ToLower(out[i])] = true
	}
	return out
}

// usableName reports whether an account's name can be shown: not empty,
// ".", ".." or made only of what SafeName drops.
func usableName(n string) bool {
	switch strings.ReplaceAll(n, "\x00", "") {
	case "", ".", "..":
		return false
	}
	return true
}
