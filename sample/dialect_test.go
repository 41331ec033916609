package sample

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/mailbox"
)

// dialectOpts is a small sample with tags, several states per item and
// every kind of damage.
var dialectOpts = Options{Accounts: 3, Messages: 15, Seed: 3}

// genDialect generates the small sample in dialect.
func genDialect(t *testing.T, dialect string) (string, *Report) {
	t.Helper()
	o := dialectOpts
	o.Dialect = dialect
	root := filepath.Join(t.TempDir(), "bp")
	rep, err := Generate(context.Background(), root, o)
	require.NoError(t, err)
	return root, rep
}

// decodeJSON decodes b with json.Number numbers; ok is false when b is not
// one JSON value.
func decodeJSON(b []byte) (v any, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	if dec.More() {
		return nil, false
	}
	return v, true
}

// treeFile is one entry of a generated tree.
type treeFile struct {
	dir   bool
	mtime time.Time
	mode  fs.FileMode
	data  []byte
}

func readTree(t *testing.T, root string) map[string]treeFile {
	t.Helper()
	out := map[string]treeFile{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		f := treeFile{dir: d.IsDir(), mtime: fi.ModTime(), mode: fi.Mode()}
		if d.Type().IsRegular() {
			if f.data, err = os.ReadFile(path); err != nil {
				return err
			}
		}
		out[rel] = f
		return nil
	})
	require.NoError(t, err)
	return out
}

// kindOf classifies a path of the tree: "account", "item" or "" (anything
// else, which no dialect changes).
func kindOf(rel string) string {
	parts := strings.Split(filepath.ToSlash(rel), "/")
	switch {
	case len(parts) == 3 && parts[0] == backuppath.AccountsDir && parts[2] == backuppath.AccountInfoFile:
		return "account"
	case len(parts) == 5 && parts[0] == backuppath.AccountsDir && parts[2] == backuppath.ItemsDir && isItemName(parts[4]):
		return "item"
	}
	return ""
}

// cbfsOnly are state keys that only the cbfs dialect uses.
var cbfsOnly = []string{"startDate", "folderId", "digest", "tags", "imapUid", "from", "to"}

// checkConverted compares a foreign tree with the cbfs one: same entries,
// modes and mtimes; every file but account_info and the parseable item
// files byte for byte; the malformed item file unchanged. It calls item and
// account for each converted pair.
func checkConverted(t *testing.T, cbfs, foreign map[string]treeFile,
	item func(t *testing.T, rel string, orig []map[string]any, conv []any),
	account func(t *testing.T, id string, orig map[string]any, conv any),
) {
	t.Helper()
	require.Equal(t, len(cbfs), len(foreign), "number of entries")
	items, accounts, malformed := 0, 0, 0
	for rel, c := range cbfs {
		f, ok := foreign[rel]
		if !assert.True(t, ok, "%s missing", rel) {
			continue
		}
		assert.Equal(t, c.dir, f.dir, rel)
		assert.Equal(t, c.mode, f.mode, "mode of %s", rel)
		assert.True(t, c.mtime.Equal(f.mtime), "mtime of %s: %v, want %v", rel, f.mtime, c.mtime)
		kind := kindOf(rel)
		if c.dir || kind == "" {
			assert.True(t, bytes.Equal(c.data, f.data), "%s changed", rel)
			continue
		}
		orig, ok := decodeJSON(c.data)
		if !ok {
			malformed++
			assert.True(t, bytes.Equal(c.data, f.data), "unparseable %s changed", rel)
			continue
		}
		conv, ok := decodeJSON(f.data)
		if !assert.True(t, ok, "%s: converted file is not JSON", rel) {
			continue
		}
		t.Run(rel, func(t *testing.T) {
			if kind == "account" {
				accounts++
				account(t, filepath.Base(filepath.Dir(rel)), orig.(map[string]any), conv)
				return
			}
			items++
			states, ok := objects(orig)
			require.True(t, ok)
			arr, ok := conv.([]any)
			require.True(t, ok, "converted item file is not an array")
			// Each callback checks the number of states: the Zimbra
			// dialects may end an item by date instead of a deleted state.
			require.NotEmpty(t, arr, "states")
			for i, s := range arr {
				m, ok := s.(map[string]any)
				require.True(t, ok, "state %d is not an object", i)
				for _, k := range cbfsOnly {
					assert.NotContains(t, m, k, "state %d", i)
				}
			}
			item(t, rel, states, arr)
		})
	}
	assert.Equal(t, 3, accounts, "account_info files converted")
	assert.Greater(t, items, 50, "item files converted")
	assert.Equal(t, 1, malformed, "malformed item files")
}

func TestDialectDeterministic(t *testing.T) {
	_, base := genDialect(t, DialectCBFS)
	for _, d := range []string{DialectZimbra, DialectDelta, DialectZimbraUD, DialectZimbraNested} {
		t.Run(d, func(t *testing.T) {
			a, ra := genDialect(t, d)
			b, rb := genDialect(t, d)
			assert.Equal(t, treeHash(t, a), treeHash(t, b), "tree hashes")
			assert.Equal(t, ra, rb, "reports")
			assert.Equal(t, d, ra.Dialect)
			// The report is the cbfs sample's, dialect aside.
			ra.Dialect = ""
			assert.Equal(t, base, ra)
		})
	}
}

func TestDialectCBFSIsDefault(t *testing.T) {
	a, ra := genDialect(t, "")
	b, rb := genDialect(t, DialectCBFS)
	assert.Equal(t, treeHash(t, a), treeHash(t, b))
	assert.Equal(t, ra, rb)
	assert.Empty(t, ra.Dialect)
	require.NoError(t, ConvertDialect(a, DialectCBFS))
	assert.Equal(t, treeHash(t, a), treeHash(t, b), "converting to cbfs changes nothing")
}

func TestDialectUnknown(t *testing.T) {
	_, err := Generate(context.Background(), filepath.Join(t.TempDir(), "bp"), Options{Accounts: 3, Dialect: "carbonio"})
	require.ErrorContains(t, err, `unknown dialect "carbonio"`)
	require.ErrorContains(t, ConvertDialect(t.TempDir(), "x"), `unknown dialect "x"`)
}

// ---- zimbra ----

func TestZimbraFlags(t *testing.T) {
	tests := []struct {
		letters string
		mask    int64
		other   string
	}{
		{"", 0, ""},
		{"s", 1, ""},
		{"a", 2, ""},
		{"r", 4, ""},
		{"w", 8, ""},
		{"f", 32, ""},
		{"d", 64, ""},
		{"x", 128, ""},
		{"n", 256, ""},
		{"u", 512, ""},
		{"!", 1024, ""},
		{"?", 2048, ""},
		{"t", 32768, ""},
		{"uf", 544, ""},
		{"fu", 544, ""},
		{"au", 514, ""},
		{"sarwfdxnu!?t", 1 | 2 | 4 | 8 | 32 | 64 | 128 | 256 | 512 | 1024 | 2048 | 32768, ""},
		{"uZ", 512, "Z"},
		{"Zq9", 0, "Zq9"},
	}
	for _, tt := range tests {
		t.Run(tt.letters, func(t *testing.T) {
			mask, other := mailbox.FlagBits(tt.letters)
			assert.Equal(t, tt.mask, mask)
			assert.Equal(t, tt.other, other)
			if tt.other == "" {
				assert.Equal(t, letterSet(tt.letters), letterSet(zimbraLetters(mask)), "round trip")
			}
		})
	}
}

// zimbraLetters decodes a Zimbra flags bitmask, independently of
// ZimbraFlagBits: Zimbra's flag numbers n, bit 1 << (n-1).
func zimbraLetters(mask int64) string {
	byNumber := map[int]byte{1: 's', 2: 'a', 3: 'r', 4: 'w', 6: 'f', 7: 'd', 8: 'x', 9: 'n', 10: 'u', 11: '!', 12: '?', 16: 't'}
	var b []byte
	for n := 1; n <= 63; n++ {
		if mask&(1<<(n-1)) != 0 {
			c, ok := byNumber[n]
			if !ok {
				c = '#' // a bit no letter has
			}
			b = append(b, c)
		}
	}
	return string(b)
}

func letterSet(s string) string {
	b := []byte(s)
	sort.Slice(b, func(i, j int) bool { return b[i] < b[j] })
	return string(b)
}

func num(t *testing.T, v any) int64 {
	t.Helper()
	n, ok := v.(json.Number)
	require.True(t, ok, "%v (%T) is not a JSON number", v, v)
	i, err := n.Int64()
	require.NoError(t, err)
	return i
}

func TestDialectZimbra(t *testing.T) {
	croot, _ := genDialect(t, DialectCBFS)
	zroot, _ := genDialect(t, DialectZimbra)
	types := map[any]string{json.Number("1"): "FOLDER", json.Number("3"): "TAG", json.Number("5"): "MESSAGE",
		json.Number("6"): "CONTACT", json.Number("11"): "APPOINTMENT"}
	seenTypes := map[string]bool{}
	endedByDate, deletedState := 0, 0
	unread := map[bool]int{}
	checkConverted(t, readTree(t, croot), readTree(t, zroot),
		func(t *testing.T, rel string, orig []map[string]any, conv []any) {
			id, err := strconv.Atoi(filepath.Base(rel))
			require.NoError(t, err)
			if lastDeleted(orig) && id%2 == 1 {
				// Odd ids end by date: the deleted state goes, the one
				// before it ends when it began.
				require.Len(t, conv, len(orig)-1, "states")
				endedByDate++
			} else {
				require.Len(t, conv, len(orig), "states")
				if lastDeleted(orig) {
					deletedState++
				}
			}
			for i, c := range conv {
				z, o := c.(map[string]any), orig[i]
				assert.Equal(t, num(t, o["startDate"]), num(t, z["start_date"]), "start_date")
				if i+1 < len(orig) {
					assert.Equal(t, num(t, orig[i+1]["startDate"]), num(t, z["end_date"]), "end_date")
				} else {
					assert.NotContains(t, z, "end_date")
				}
				assert.Equal(t, int64(i+1), num(t, z["transaction_id"]))
				name, ok := types[o["type"]]
				require.True(t, ok, "unexpected type %v in the sample", o["type"])
				assert.Equal(t, name, z["type"])
				seenTypes[name] = true
				assert.Equal(t, string(o["folderId"].(json.Number)), z["folder_id"], "folder_id is a string")
				if name == "FOLDER" {
					want := int64(0)
					if p, ok := o["parentId"]; ok {
						want = num(t, p)
					}
					assert.Equal(t, want, num(t, z["parent_id"]), "parent_id")
				} else {
					assert.NotContains(t, z, "parent_id")
				}
				mask := num(t, z["flags"])
				letters := stringOf(o["flags"])
				assert.Zero(t, mask&512, "the unread bit is never in flags, as in Zimbra's mail_item")
				assert.Equal(t, letterSet(strings.ReplaceAll(letters, "u", "")), letterSet(zimbraLetters(mask)), "flags %d", mask)
				assert.Equal(t, map[bool]int64{false: 0, true: 1}[strings.Contains(letters, "u")], num(t, z["unread"]), "unread")
				unread[strings.Contains(letters, "u")]++
				assert.NotContains(t, z, "flags_other")
				if tags, ok := o["tags"]; ok {
					assert.Equal(t, tags, z["tag_names"])
				} else {
					assert.NotContains(t, z, "tag_names")
				}
				del := o["deleted"].(bool)
				assert.Equal(t, map[bool]int64{false: 0, true: 1}[del], num(t, z["deleted"]))
				if d, ok := o["digest"].(string); ok {
					bd, ok := z["blob_digest"].(string)
					require.True(t, ok, "blob_digest")
					assert.NotContains(t, bd, ",")
					assert.Equal(t, d, strings.ReplaceAll(bd, "/", ","))
				} else {
					assert.NotContains(t, z, "blob_digest")
				}
				if s, ok := o["size"]; ok {
					assert.Equal(t, num(t, s), num(t, z["size"]))
				} else {
					assert.NotContains(t, z, "size")
				}
				if d, ok := o["date"]; ok {
					assert.Equal(t, num(t, d)/1000, num(t, z["date"]), "date in seconds")
				} else {
					assert.NotContains(t, z, "date")
				}
				for from, to := range map[string]string{"subject": "subject", "name": "name", "from": "sender", "to": "recipients"} {
					assert.Equal(t, o[from], z[to], to)
				}
				for k := range z {
					assert.Contains(t, []string{"start_date", "end_date", "transaction_id", "type", "folder_id", "parent_id",
						"flags", "unread", "tag_names", "deleted", "blob_digest", "size", "date", "subject", "name", "sender", "recipients"}, k)
				}
			}
		},
		func(t *testing.T, id string, orig map[string]any, conv any) {
			z, ok := conv.(map[string]any)
			require.True(t, ok, "account_info is an object")
			for _, k := range []string{"id", "name", "status", "attrs", "createdDate", "deletedDate", "cosId", "cosName"} {
				assert.NotContains(t, z, k)
			}
			assert.Equal(t, id, z["zimbraId"])
			assert.Equal(t, orig["name"], z["zimbraMailDeliveryAddress"])
			assert.Equal(t, []any{orig["displayName"]}, z["displayName"])
			assert.Equal(t, orig["cosId"], z["zimbraCOSId"])
			created, err := time.Parse("20060102150405Z", z["zimbraCreateTimestamp"].(string))
			require.NoError(t, err)
			assert.Equal(t, num(t, orig["createdDate"])/1000, created.Unix())
			for k, v := range orig["attrs"].(map[string]any) {
				assert.Equal(t, v, z[k], "attribute %s merged", k)
			}
			if orig["status"] == mailbox.StatusDeleted {
				assert.Equal(t, "closed", z["zimbraAccountStatus"])
				del, err := time.Parse("20060102150405Z", z["zimbraBackupDeletedTimestamp"].(string))
				require.NoError(t, err)
				assert.Equal(t, num(t, orig["deletedDate"])/1000, del.Unix())
			} else {
				assert.Equal(t, "active", z["zimbraAccountStatus"])
				assert.NotContains(t, z, "zimbraBackupDeletedTimestamp")
			}
		})
	for _, ty := range []string{"FOLDER", "TAG", "MESSAGE", "CONTACT", "APPOINTMENT"} {
		assert.True(t, seenTypes[ty], "the sample has no %s", ty)
	}
	assert.Positive(t, endedByDate, "items that end by date")
	assert.Positive(t, deletedState, "items that end with a deleted state")
	assert.Positive(t, unread[true], "unread states")
	assert.Positive(t, unread[false], "read states")
}

// lastDeleted says whether an item's last cbfs state, after at least one
// other, is a deletion (what the Zimbra dialects may end by date).
func lastDeleted(states []map[string]any) bool {
	del, _ := states[len(states)-1]["deleted"].(bool)
	return len(states) > 1 && del
}

func TestZimbraItemEdges(t *testing.T) {
	// What the sample never writes: unknown flag letters, an IMAP UID,
	// unknown types and keys, a non-integer folder.
	states := []map[string]any{
		{"startDate": json.Number("1000"), "type": json.Number("9"), "folderId": json.Number("2"), "flags": "uZ",
			"deleted": false, "imapUid": json.Number("77"), "color": "red", "date": json.Number("1999")},
		{"startDate": json.Number("2000"), "type": json.Number("2"), "folderId": json.Number("1"), "parentId": json.Number("1"),
			"deleted": true},
	}
	got, ok := encodeStates(zimbraItem(2, states))
	require.True(t, ok)
	want := `[
{"color":"red","date":1,"deleted":0,"end_date":2000,"flags":0,"flags_other":"Z","folder_id":"2","imap_id":77,"start_date":1000,"transaction_id":1,"type":"9","unread":1},
{"deleted":1,"flags":0,"folder_id":"1","parent_id":1,"start_date":2000,"transaction_id":2,"type":"SEARCHFOLDER","unread":0}
]
`
	assert.Equal(t, want, string(got))
	// An odd id ends by date: the deleted state goes.
	got, ok = encodeStates(zimbraItem(3, states))
	require.True(t, ok)
	want = `[
{"color":"red","date":1,"deleted":0,"end_date":2000,"flags":0,"flags_other":"Z","folder_id":"2","imap_id":77,"start_date":1000,"transaction_id":1,"type":"9","unread":1}
]
`
	assert.Equal(t, want, string(got))
	// A lone deleted state has no state before it to end: it stays.
	got, ok = encodeStates(zimbraItem(3, states[1:]))
	require.True(t, ok)
	assert.Contains(t, string(got), `"deleted":1`)
}

// ---- delta ----

// fromDelta is a cbfs state from a replayed delta state, written
// independently of the converter: empty values mean absent.
func fromDelta(t *testing.T, d map[string]any) map[string]any {
	t.Helper()
	s := map[string]any{}
	for k, v := range d {
		if isEmpty(v) && k != "isDeleted" {
			continue
		}
		switch k {
		case "start-date", "received":
			tm, err := time.Parse(time.RFC3339Nano, v.(string))
			require.NoError(t, err, k)
			assert.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`, v, k)
			s[map[string]string{"start-date": "startDate", "received": "date"}[k]] = json.Number(strconv.FormatInt(tm.UnixMilli(), 10))
		case "item-type":
			str, ok := v.(string)
			require.True(t, ok, "item-type is a string")
			s["type"] = json.Number(str)
		case "parentId":
			s["folderId"] = v
		case "keywords":
			s["tags"] = v
		case "isDeleted":
			str, ok := v.(string)
			require.True(t, ok, "isDeleted is a string")
			b, err := strconv.ParseBool(str)
			require.NoError(t, err)
			s["deleted"] = b
		case "content":
			c, ok := v.(map[string]any)
			require.True(t, ok, "content is an object")
			assert.Equal(t, "gzip", c["encoding"])
			s["digest"] = c["sha256"]
		case "sizeBytes":
			s["size"] = v
		case "sender":
			s["from"] = v
		case "rcpt":
			s["to"] = v
		case "uid":
			s["imapUid"] = v
		default:
			s[k] = v
		}
	}
	return s
}

// concepts is a cbfs state as delta keeps it: empty values dropped and no
// parentId (delta has one key for the folder and the parent).
func concepts(s map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range s {
		if k != "parentId" && !isEmpty(v) {
			out[k] = v
		}
	}
	if _, ok := out["folderId"]; !ok && s["parentId"] != nil {
		out["folderId"] = s["parentId"]
	}
	return out
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

// checkDeltaReplay replays the delta states and compares each with the
// cbfs state it came from.
func checkDeltaReplay(t *testing.T, orig []map[string]any, conv []any) {
	t.Helper()
	cur := map[string]any{}
	for i, c := range conv {
		d := c.(map[string]any)
		require.Contains(t, d, "start-date", "state %d", i)
		if i == 0 {
			assert.Contains(t, d, "item-type", "the first state is full")
			assert.Contains(t, d, "isDeleted", "the first state is full")
		}
		for k, v := range d {
			cur[k] = v
		}
		assert.Equal(t, mustJSON(t, concepts(orig[i])), mustJSON(t, concepts(fromDelta(t, cur))), "state %d replayed", i)
	}
}

func TestDialectDelta(t *testing.T) {
	croot, _ := genDialect(t, DialectCBFS)
	droot, _ := genDialect(t, DialectDelta)
	later, changes := 0, 0
	checkConverted(t, readTree(t, croot), readTree(t, droot),
		func(t *testing.T, rel string, orig []map[string]any, conv []any) {
			require.Len(t, conv, len(orig), "states")
			checkDeltaReplay(t, orig, conv)
			for i, c := range conv {
				d := c.(map[string]any)
				for _, k := range []string{"type", "deleted", "size", "date", "folderId"} {
					assert.NotContains(t, d, k, "state %d", i)
				}
				if i == 0 {
					continue
				}
				later++
				// The sample never changes an item's type.
				assert.NotContains(t, d, "item-type", "state %d", i)
				if len(d) > 1 {
					changes++
				}
			}
		},
		func(t *testing.T, id string, orig map[string]any, conv any) {
			h, ok := conv.([]any)
			require.True(t, ok, "account_info is an array")
			require.Len(t, h, 2)
			first, cur := h[0].(map[string]any), h[1].(map[string]any)
			local, domain, _ := strings.Cut(orig["name"].(string), "@")
			assert.Equal(t, map[string]any{"at": orig["createdDate"], "uid": local, "domain": domain,
				"accountStatus": "active", "zimbraId": id}, first)
			assert.Equal(t, orig["name"], cur["mail"])
			assert.Equal(t, id, cur["zimbraId"])
			assert.Equal(t, orig["displayName"], cur["displayName"])
			assert.Equal(t, map[string]any{"id": orig["cosId"], "name": orig["cosName"]}, cur["cos"])
			assert.Equal(t, orig["status"], cur["accountStatus"])
			if orig["status"] == mailbox.StatusDeleted {
				assert.Equal(t, orig["deletedDate"], cur["at"])
			} else {
				assert.Equal(t, orig["createdDate"], cur["at"])
			}
			for _, k := range []string{"id", "name", "status", "cosId", "cosName", "createdDate", "deletedDate"} {
				assert.NotContains(t, cur, k)
			}
		})
	assert.Greater(t, later, 20, "later states")
	assert.Greater(t, changes, 20, "later states with changes")
}

func TestDeltaItemEdges(t *testing.T) {
	// What the sample never writes: tags and flags that disappear, content
	// that goes, a state with nothing changed, unknown keys, an IMAP UID.
	states := []map[string]any{
		{"startDate": json.Number("1690254040123"), "type": json.Number("5"), "folderId": json.Number("2"), "flags": "uf",
			"tags": []any{"work"}, "deleted": false, "digest": "a,b=", "size": json.Number("10"),
			"date": json.Number("1690254000000"), "imapUid": json.Number("4021"), "color": "red"},
		{"startDate": json.Number("1690254050000"), "type": json.Number("5"), "folderId": json.Number("2"), "flags": "uf",
			"tags": []any{"work"}, "deleted": false, "digest": "a,b=", "size": json.Number("10"),
			"date": json.Number("1690254000000"), "imapUid": json.Number("4021"), "color": "red"},
		{"startDate": json.Number("1690254060000"), "type": json.Number("5"), "folderId": json.Number("3"),
			"deleted": true, "imapUid": json.Number("4021")},
	}
	conv := deltaItem(states)
	got, ok := encodeStates(conv)
	require.True(t, ok)
	want := `[
{"color":"red","content":{"encoding":"gzip","sha256":"a,b="},"flags":"uf","isDeleted":"false","item-type":"5","keywords":["work"],"parentId":2,"received":"2023-07-25T03:00:00.000Z","sizeBytes":10,"start-date":"2023-07-25T03:00:40.123Z","uid":4021},
{"start-date":"2023-07-25T03:00:50.000Z"},
{"color":null,"content":{},"flags":"","isDeleted":"true","keywords":[],"parentId":3,"received":"","sizeBytes":0,"start-date":"2023-07-25T03:01:00.000Z"}
]
`
	assert.Equal(t, want, string(got))
	// Round trip through JSON, as a reader sees it.
	v, ok := decodeJSON(got)
	require.True(t, ok)
	checkDeltaReplay(t, states, v.([]any))
}

// TestDialectDocExamples checks that docs/DIALECTS.md shows what the
// converters write for the examples of docs/FORMAT.md §§ 5 and 7.5.
func TestDialectDocExamples(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "DIALECTS.md"))
	if err != nil {
		t.Skipf("docs/DIALECTS.md not found: %v", err)
	}
	item258 := `[
{"startDate":1714554000000,"type":5,"folderId":2,"flags":"u","deleted":false,"digest":"nky4b19t96pKvrA2mbBURd0eTwMonVOia4RtiCI,xJ4=","size":157,"date":1714553998000,"subject":"Q2 report","from":"Ann \u003cann@example.com\u003e","to":"john@example.com","imapUid":4021},
{"startDate":1714645800000,"type":5,"folderId":257,"flags":"f","tags":["work"],"deleted":false,"digest":"nky4b19t96pKvrA2mbBURd0eTwMonVOia4RtiCI,xJ4=","size":157,"date":1714553998000,"subject":"Q2 report","from":"Ann \u003cann@example.com\u003e","to":"john@example.com","imapUid":4021},
{"startDate":1714720500000,"type":5,"folderId":3,"flags":"f","tags":["work"],"deleted":true,"digest":"nky4b19t96pKvrA2mbBURd0eTwMonVOia4RtiCI,xJ4=","size":157,"date":1714553998000,"subject":"Q2 report","from":"Ann \u003cann@example.com\u003e","to":"john@example.com","imapUid":4021}
]`
	john := `{"id": "3b3c1a52-0d7a-4b54-9c0c-5a2bd2f4e0c1", "name": "john@example.com", "status": "deleted",
 "displayName": "John Smith", "cosId": "e00428a1-0c00-11d9-836a-000d93afea2a", "cosName": "default",
 "createdDate": 1714468320000, "deletedDate": 1714720500000, "backupEnabled": true,
 "attrs": {"zimbraMailQuota": "0", "zimbraPrefLocale": "en"}}`
	v, ok := decodeJSON([]byte(item258))
	require.True(t, ok)
	states, _ := objects(v)
	a, ok := decodeJSON([]byte(john))
	require.True(t, ok)
	for _, d := range []struct {
		name string
		item func(int64, []map[string]any) []any
		acct func(map[string]any) any
	}{
		{DialectZimbra, zimbraItem, zimbraAccount},
		{DialectDelta, func(_ int64, s []map[string]any) []any { return deltaItem(s) }, deltaAccount},
		{DialectZimbraUD, udItem, udAccount},
		{DialectZimbraNested, nestedItem, soapAccount},
	} {
		b, ok := encodeStates(d.item(258, states))
		require.True(t, ok)
		assert.Contains(t, string(doc), "```\n"+string(b)+"```\n", "%s item 258", d.name)
		j, err := json.MarshalIndent(d.acct(a.(map[string]any)), "", "  ")
		require.NoError(t, err)
		assert.Contains(t, string(doc), "```json\n"+string(j)+"\n```\n", "%s account_info", d.name)
	}
}

// ---- zimbra-ud and zimbra-nested ----

// bdecodeDict reads a Zimbra Metadata string of string and integer values,
// independently of bencode (string lengths in UTF-16 code units).
func bdecodeDict(t *testing.T, s string) map[string]any {
	t.Helper()
	r := []rune(s)
	pos := 0
	str := func() string {
		colon := pos
		for r[colon] != ':' {
			colon++
		}
		n, err := strconv.Atoi(string(r[pos:colon]))
		require.NoError(t, err, "length in %q", s)
		pos = colon + 1
		var b []rune
		for units := 0; units < n; pos++ {
			b = append(b, r[pos])
			units++
			if r[pos] >= 0x10000 {
				units++
			}
		}
		return string(b)
	}
	require.Equal(t, 'd', r[pos], "%q is a dictionary", s)
	pos++
	out := map[string]any{}
	for r[pos] != 'e' {
		k := str()
		if r[pos] == 'i' {
			end := pos
			for r[end] != 'e' {
				end++
			}
			n, err := strconv.ParseInt(string(r[pos+1:end]), 10, 64)
			require.NoError(t, err)
			out[k] = n
			pos = end + 1
			continue
		}
		out[k] = str()
	}
	require.Equal(t, len(r), pos+1, "nothing after the dictionary in %q", s)
	return out
}

func TestBencode(t *testing.T) {
	for _, m := range []map[string]any{
		{"s": "Ann <ann@example.com>", "t": "john@example.com", "v": int64(10)},
		{"s": "Zoë 😀 <z@example.com>", "v": int64(-3)},
		{},
	} {
		enc := bencode(m)
		assert.Equal(t, m, bdecodeDict(t, enc), enc)
	}
	assert.Equal(t, "d1:s3:Zoë1:t4:😀 x1:vi10ee", bencode(map[string]any{"s": "Zoë", "t": "😀 x", "v": int64(10)}),
		"lengths in UTF-16 units, keys sorted")
}

// fromUD is the cbfs state an UnderlyingData object and its transaction
// mean, written independently of the converter; dates stay in the
// dialect's units.
func fromUD(t *testing.T, tx, d map[string]any) map[string]any {
	t.Helper()
	s := map[string]any{}
	del, _ := tx["deleted"].(bool)
	s["deleted"] = del
	s["startDate"] = tx["start-date"]
	uc := num(t, d["uc"])
	require.Contains(t, []int64{0, 1}, uc, "uc")
	fg := num(t, d["fg"])
	assert.Zero(t, fg&512, "the unread bit is never in fg, as in Zimbra")
	letters := zimbraLetters(fg)
	if uc == 1 {
		letters += "u"
	}
	if letters != "" {
		s["flags"] = letterSet(letters)
	}
	for k, v := range d {
		switch k {
		case "tp":
			s["type"] = v
		case "fid":
			s["folderId"] = v
		case "pid":
			s["parentId"] = v
		case "tg":
			s["tags"] = v
		case "dgst":
			s["digest"] = v
		case "sz":
			s["size"] = v
		case "dt":
			s["date"] = v
		case "sbj":
			s["subject"] = v
		case "nm":
			s["name"] = v
		case "imap":
			s["imapUid"] = v
		case "meta":
			m := bdecodeDict(t, v.(string))
			assert.Equal(t, int64(10), m["v"], "metadata version")
			for mk, to := range map[string]string{"s": "from", "t": "to"} {
				if x, ok := m[mk]; ok {
					s[to] = x
				}
			}
		case "id", "uc", "fg", "modm", "modc", "dc", "start-date", "end-date", "deleted":
		default:
			s[k] = v
		}
	}
	return s
}

// inUnits is a cbfs state with its dates in seconds (or as is) and its
// flags as a sorted set, for comparison with fromUD.
func inUnits(t *testing.T, o map[string]any, secs bool) map[string]any {
	out := map[string]any{}
	for k, v := range o {
		out[k] = v
	}
	conv := func(v any) any { return v }
	if secs {
		conv = func(v any) any { return json.Number(strconv.FormatInt(num(t, v)/1000, 10)) }
	}
	out["startDate"] = conv(o["startDate"])
	if d, ok := o["date"]; ok {
		out["date"] = json.Number(strconv.FormatInt(num(t, d)/1000, 10)) // dt: always seconds
	}
	if f := stringOf(o["flags"]); f != "" {
		out["flags"] = letterSet(f)
	} else {
		delete(out, "flags")
	}
	return out
}

// checkUD compares one converted item (transactions and their
// UnderlyingData) with its cbfs states.
func checkUD(t *testing.T, rel string, orig []map[string]any, txs, data []map[string]any, secs bool, ended, unread *int) {
	t.Helper()
	id, err := strconv.Atoi(filepath.Base(rel))
	require.NoError(t, err)
	want := len(orig)
	if lastDeleted(orig) {
		want-- // ends by date
		*ended++
	}
	require.Len(t, txs, want, "states")
	date := func(v any) int64 {
		if secs {
			return num(t, v) / 1000
		}
		return num(t, v)
	}
	contentSeq := 0
	for i, tx := range txs {
		d := data[i]
		assert.Equal(t, int64(id), num(t, d["id"]), "id")
		assert.Equal(t, int64(i+1), num(t, d["modm"]), "modm")
		if i == 0 || !sameJSON(orig[i]["digest"], orig[i-1]["digest"]) {
			contentSeq++
		}
		assert.Equal(t, int64(contentSeq), num(t, d["modc"]), "modc")
		assert.Equal(t, num(t, orig[i]["startDate"])/1000, num(t, d["dc"]), "dc in seconds")
		switch {
		case i+1 < len(orig):
			assert.Equal(t, date(orig[i+1]["startDate"]), num(t, tx["end-date"]), "end-date of state %d", i)
		default:
			assert.NotContains(t, tx, "end-date", "the last state is open")
		}
		if strings.Contains(stringOf(orig[i]["flags"]), "u") {
			*unread++
		}
		assert.Equal(t, mustJSON(t, inUnits(t, orig[i], secs)), mustJSON(t, fromUD(t, tx, d)), "state %d round trip", i)
		for _, k := range cbfsOnly {
			assert.NotContains(t, d, k, "state %d", i)
		}
	}
}

// checkUDAttrs compares an account_info in the zimbra-ud attrs shape
// (already unwrapped) with the cbfs one.
func checkUDAttrs(t *testing.T, id string, orig map[string]any, attrs map[string]any) {
	t.Helper()
	assert.Equal(t, id, attrs["zimbraId"])
	assert.Equal(t, orig["name"], attrs["mail"])
	assert.Equal(t, orig["name"], attrs["zimbraMailDeliveryAddress"])
	want := map[string]string{mailbox.StatusDeleted: "closed", mailbox.StatusActive: "active"}[orig["status"].(string)]
	assert.Equal(t, want, attrs["zimbraAccountStatus"])
	for k, v := range orig["attrs"].(map[string]any) {
		if k != "zimbraAccountStatus" {
			assert.Equal(t, v, attrs[k], "attribute %s", k)
		}
	}
}

func TestDialectZimbraUD(t *testing.T) {
	croot, _ := genDialect(t, DialectCBFS)
	uroot, _ := genDialect(t, DialectZimbraUD)
	ended, unread := 0, 0
	checkConverted(t, readTree(t, croot), readTree(t, uroot),
		func(t *testing.T, rel string, orig []map[string]any, conv []any) {
			var txs, data []map[string]any
			for _, c := range conv {
				m := c.(map[string]any)
				tx := map[string]any{}
				for _, k := range []string{"start-date", "end-date", "deleted"} {
					if v, ok := m[k]; ok {
						tx[k] = v
					}
				}
				txs, data = append(txs, tx), append(data, m)
			}
			checkUD(t, rel, orig, txs, data, true, &ended, &unread)
		},
		func(t *testing.T, id string, orig map[string]any, conv any) {
			a, ok := conv.(map[string]any)
			require.True(t, ok, "account_info is an object")
			assert.Len(t, a, 2, "only id and attrs at the top")
			assert.Equal(t, id, a["id"])
			attrs, ok := a["attrs"].(map[string]any)
			require.True(t, ok, "attrs is an object")
			checkUDAttrs(t, id, orig, attrs)
		})
	assert.Positive(t, ended, "items that end by date")
	assert.Positive(t, unread, "unread states")
}

func TestDialectZimbraNested(t *testing.T) {
	croot, _ := genDialect(t, DialectCBFS)
	nroot, _ := genDialect(t, DialectZimbraNested)
	ended, unread := 0, 0
	checkConverted(t, readTree(t, croot), readTree(t, nroot),
		func(t *testing.T, rel string, orig []map[string]any, conv []any) {
			var txs, data []map[string]any
			for i, c := range conv {
				m := c.(map[string]any)
				item, ok := m["item"].(map[string]any)
				require.True(t, ok, "state %d: item is an object", i)
				for k := range m {
					assert.Contains(t, []string{"start-date", "end-date", "deleted", "item"}, k, "state %d", i)
				}
				for _, k := range []string{"start-date", "end-date"} {
					assert.NotContains(t, item, k, "state %d: the period is the transaction's", i)
				}
				txs, data = append(txs, m), append(data, item)
			}
			checkUD(t, rel, orig, txs, data, false, &ended, &unread)
		},
		func(t *testing.T, id string, orig map[string]any, conv any) {
			a, ok := conv.(map[string]any)
			require.True(t, ok, "account_info is an object")
			require.Len(t, a, 1, "only the list")
			list, ok := a["a"].([]any)
			require.True(t, ok, "a is a list")
			attrs := map[string]any{}
			prev := ""
			for _, e := range list {
				m := e.(map[string]any)
				require.Len(t, m, 2)
				n, v := m["n"].(string), m["_content"].(string)
				assert.LessOrEqual(t, prev, n, "sorted by name")
				prev = n
				if old, ok := attrs[n]; ok { // multi-valued
					attrs[n] = append(old.([]any), v)
				} else if n == "displayName" || n == "cn" {
					attrs[n] = []any{v}
				} else {
					attrs[n] = v
				}
			}
			checkUDAttrs(t, id, orig, attrs)
			assert.Equal(t, []any{orig["displayName"]}, attrs["displayName"])
		})
	assert.Positive(t, ended, "items that end by date")
	assert.Positive(t, unread, "unread states")
}

func TestUDItemEdges(t *testing.T) {
	// What the sample never writes: a lone deleted state, a deleted state
	// in the middle, unknown flag letters and keys, a changed digest.
	states := []map[string]any{
		{"startDate": json.Number("1000"), "type": json.Number("5"), "folderId": json.Number("2"), "flags": "uZ",
			"deleted": false, "digest": "a,b=", "color": "red"},
		{"startDate": json.Number("2000"), "type": json.Number("5"), "folderId": json.Number("3"), "deleted": true, "digest": "c,d="},
		{"startDate": json.Number("3000"), "type": json.Number("5"), "folderId": json.Number("2"), "deleted": false, "digest": "c,d="},
	}
	got, ok := encodeStates(nestedItem(7, states))
	require.True(t, ok)
	want := `[
{"end-date":2000,"item":{"color":"red","dc":1,"dgst":"a,b=","fg":0,"fg_other":"Z","fid":2,"id":7,"modc":1,"modm":1,"tp":5,"uc":1},"start-date":1000},
{"deleted":true,"end-date":3000,"item":{"dc":2,"dgst":"c,d=","fg":0,"fid":3,"id":7,"modc":2,"modm":2,"tp":5,"uc":0},"start-date":2000},
{"item":{"dc":3,"dgst":"c,d=","fg":0,"fid":2,"id":7,"modc":2,"modm":3,"tp":5,"uc":0},"start-date":3000}
]
`
	assert.Equal(t, want, string(got))
	got, ok = encodeStates(udItem(7, states[1:2]))
	require.True(t, ok)
	assert.Equal(t, "[\n"+`{"dc":2,"deleted":true,"dgst":"c,d=","fg":0,"fid":3,"id":7,"modc":1,"modm":1,"start-date":2,"tp":5,"uc":0}`+"\n]\n", string(got),
		"a lone deleted state stays")
}
