package sample

// Foreign dialects: the same sample with other key names, value encodings
// and state layouts, so that tests and demos can show that cbfs's reader
// copes with Backup Paths written by something other than cbfs. The
// dialects are cbfs's own inventions (Carbonio's real keys are not public),
// built from variations real foreign writers use; docs/DIALECTS.md
// describes them key by key.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/internal/atomicfile"
	"github.com/cbfs/cbfs/mailbox"
)

// Dialects of the generated Backup Path.
const (
	DialectCBFS         = "cbfs"          // docs/FORMAT.md, as cbfs writes it
	DialectZimbra       = "zimbra"        // full states, snake_case, Zimbra's mail_item columns, LDAP account
	DialectDelta        = "delta"         // delta states, camelCase/hyphenated, RFC 3339 dates, account history
	DialectZimbraUD     = "zimbra-ud"     // flat states in UnderlyingData's short keys, seconds, account attrs nested
	DialectZimbraNested = "zimbra-nested" // transactions holding the item under "item", SOAP account attributes
)

// Dialects lists every dialect Generate and ConvertDialect accept.
var Dialects = []string{DialectCBFS, DialectZimbra, DialectDelta, DialectZimbraUD, DialectZimbraNested}

// ConvertDialect rewrites, in place, the account_info and item files of the
// cbfs-dialect Backup Path at root in the given dialect. Files that are not
// the JSON shape cbfs writes (such as the planted malformed item file) are
// left byte for byte as they are; blobs, server/, backupstat and
// account_stat are not touched. Each rewritten file is replaced atomically
// and keeps its modification time and mode; its folder keeps its
// modification time too. The output depends only on the input: the same
// tree gives the same bytes. DialectCBFS (or "") changes nothing.
func ConvertDialect(root string, dialect string) error {
	var item func(id int64, states []map[string]any) []any
	var acct func(map[string]any) any
	switch dialect {
	case "", DialectCBFS:
		return nil
	case DialectZimbra:
		item, acct = zimbraItem, zimbraAccount
	case DialectDelta:
		item, acct = func(_ int64, s []map[string]any) []any { return deltaItem(s) }, deltaAccount
	case DialectZimbraUD:
		item, acct = udItem, udAccount
	case DialectZimbraNested:
		item, acct = nestedItem, soapAccount
	default:
		return fmt.Errorf("sample: unknown dialect %q (known: %s)", dialect, strings.Join(Dialects, ", "))
	}
	accounts := filepath.Join(root, backuppath.AccountsDir)
	ids, err := readDirNames(accounts)
	if err != nil {
		return fmt.Errorf("sample: convert to %s: %w", dialect, err)
	}
	for _, id := range ids {
		dir := filepath.Join(accounts, id)
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			continue
		}
		err := rewriteJSON(filepath.Join(dir, backuppath.AccountInfoFile), func(v any) ([]byte, bool) {
			m, ok := v.(map[string]any)
			if !ok {
				return nil, false
			}
			b, err := json.MarshalIndent(acct(m), "", "  ")
			if err != nil {
				return nil, false
			}
			return append(b, '\n'), true
		})
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("sample: convert to %s: %w", dialect, err)
		}
		itemsDir := filepath.Join(dir, backuppath.ItemsDir)
		buckets, err := readDirNames(itemsDir)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			return fmt.Errorf("sample: convert to %s: %w", dialect, err)
		}
		for _, bk := range buckets {
			names, err := readDirNames(filepath.Join(itemsDir, bk))
			if err != nil {
				continue // not a folder: not a bucket
			}
			for _, n := range names {
				if !isItemName(n) {
					continue
				}
				id, _ := strconv.ParseInt(n, 10, 64)
				err := rewriteJSON(filepath.Join(itemsDir, bk, n), func(v any) ([]byte, bool) {
					states, ok := objects(v)
					if !ok || len(states) == 0 {
						return nil, false
					}
					return encodeStates(item(id, states))
				})
				if err != nil {
					return fmt.Errorf("sample: convert to %s: %w", dialect, err)
				}
			}
		}
	}
	return nil
}

// readDirNames lists dir's names, sorted, without temporary files.
func readDirNames(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), atomicfile.TempPrefix) {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// isItemName says whether name is an item id as docs/FORMAT.md § 7 writes
// it: decimal, no sign, no leading zeros.
func isItemName(name string) bool {
	if name == "" || (name[0] == '0' && name != "0") {
		return false
	}
	for _, c := range []byte(name) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// objects returns v as a list of JSON objects, if it is one.
func objects(v any) ([]map[string]any, bool) {
	arr, ok := v.([]any)
	if !ok {
		return nil, false
	}
	out := make([]map[string]any, len(arr))
	for i, e := range arr {
		if out[i], ok = e.(map[string]any); !ok {
			return nil, false
		}
	}
	return out, true
}

// encodeStates lays states out as cbfs lays out item files: one compact
// object per line.
func encodeStates(states []any) ([]byte, bool) {
	var b bytes.Buffer
	b.WriteString("[\n")
	for i, s := range states {
		j, err := json.Marshal(s)
		if err != nil {
			return nil, false
		}
		b.Write(j)
		if i < len(states)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString("]\n")
	return b.Bytes(), true
}

// rewriteJSON replaces the regular file at path with conv of its decoded
// content (numbers as json.Number), keeping its mode and modification time
// and its folder's modification time. A file that is not exactly one JSON
// value, or that conv declines, is left as it is.
func rewriteJSON(path string, conv func(any) ([]byte, bool)) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return nil
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil // trailing data: not one JSON value
	}
	out, ok := conv(v)
	if !ok {
		return nil
	}
	dir := filepath.Dir(path)
	dfi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	// The sample is made again rather than recovered after a crash.
	if err := (atomicfile.Options{NoSync: true}).WriteFile(path, out, fi.Mode().Perm()); err != nil {
		return err
	}
	// The same mode as the file it replaces (atomicfile applies its umask).
	if err := os.Chmod(path, fi.Mode().Perm()); err != nil {
		return err
	}
	if err := os.Chtimes(path, fi.ModTime(), fi.ModTime()); err != nil {
		return err
	}
	return os.Chtimes(dir, dfi.ModTime(), dfi.ModTime())
}

// ---- value helpers ----

// intOf reads an integral JSON number (or a Go integer).
func intOf(v any) (int64, bool) {
	switch n := v.(type) {
	case json.Number:
		i, err := n.Int64()
		return i, err == nil
	case int64:
		return n, true
	case int:
		return int64(n), true
	}
	return 0, false
}

func stringOf(v any) string {
	s, _ := v.(string)
	return s
}

// isEmpty says whether v is a JSON zero value: null, "", 0, false, [] or
// {} — what cbfs leaves out with omitempty.
func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case bool:
		return !x
	case json.Number:
		f, err := x.Float64()
		return err == nil && f == 0
	case int64:
		return x == 0
	case int:
		return x == 0
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

// rfc3339Millis is a cbfs date (ms since the epoch) as RFC 3339 UTC with
// milliseconds.
func rfc3339Millis(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

// ldapTime is a cbfs date as LDAP generalized time (UTC, whole seconds).
func ldapTime(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("20060102150405Z")
}

// ---- zimbra ----

// zimbraTypeNames are Zimbra's MailItem type names by cbfs type code.
var zimbraTypeNames = map[int64]string{
	int64(mailbox.TypeFolder):       "FOLDER",
	int64(mailbox.TypeSearchFolder): "SEARCHFOLDER",
	int64(mailbox.TypeTag):          "TAG",
	int64(mailbox.TypeConversation): "CONVERSATION",
	int64(mailbox.TypeMessage):      "MESSAGE",
	int64(mailbox.TypeContact):      "CONTACT",
	int64(mailbox.TypeDocument):     "DOCUMENT",
	int64(mailbox.TypeAppointment):  "APPOINTMENT",
	int64(mailbox.TypeTask):         "TASK",
	int64(mailbox.TypeChat):         "CHAT",
}

// endedByDate splits off the last state of an item when it is a deletion
// that can be told by the validity period of the state before it, as
// Carbonio's engine reads it: the item no longer exists after the last
// state's end date. It returns the states to write and the end date of the
// last of them (nil: the last state is open). A deleted state that is not
// the last, or has no state before it, stays.
func endedByDate(states []map[string]any) (kept []map[string]any, end any) {
	n := len(states)
	if n < 2 {
		return states, nil
	}
	if del, _ := states[n-1]["deleted"].(bool); !del {
		return states, nil
	}
	end, ok := states[n-1]["startDate"]
	if !ok {
		return states, nil
	}
	return states[:n-1], end
}

// zimbraItem converts the states of one item file. An item with an odd id
// whose last state is a deletion ends by date instead (endedByDate); one
// with an even id keeps its deleted state, so both spellings of a deletion
// occur in the dialect.
func zimbraItem(id int64, states []map[string]any) []any {
	var end any
	if id%2 == 1 {
		states, end = endedByDate(states)
	}
	out := make([]any, len(states))
	for i, s := range states {
		z := zimbraState(s)
		z["transaction_id"] = i + 1
		if i+1 < len(states) {
			if next, ok := states[i+1]["startDate"]; ok {
				z["end_date"] = next
			}
		} else if end != nil {
			z["end_date"] = end
		}
		out[i] = z
	}
	return out
}

// unreadLetter is the flag letter Zimbra keeps out of its flags bitmask:
// MailItem's flags do not include Flag.BITMASK_UNREAD; the mail_item table
// has an unread column and UnderlyingData an unread count.
const unreadLetter = "u"

// zimbraUnread splits flag letters into Zimbra's bitmask without the
// unread bit, the letters with no bit, and the unread count (0 or 1).
func zimbraUnread(letters string) (mask int64, other string, unread int) {
	if strings.Contains(letters, unreadLetter) {
		unread = 1
	}
	mask, other = mailbox.FlagBits(strings.ReplaceAll(letters, unreadLetter, ""))
	return mask, other, unread
}

// zimbraKnown are the cbfs state keys zimbraState renames or re-encodes.
var zimbraKnown = map[string]bool{
	"startDate": true, "type": true, "folderId": true, "parentId": true, "flags": true, "tags": true,
	"deleted": true, "digest": true, "size": true, "date": true, "from": true, "to": true, "imapUid": true,
}

func zimbraState(s map[string]any) map[string]any {
	z := make(map[string]any, len(s)+2)
	for k, v := range s { // unknown keys first, so known ones win a clash
		if !zimbraKnown[k] {
			z[k] = v
		}
	}
	if v, ok := s["startDate"]; ok {
		z["start_date"] = v
	}
	code, isCode := intOf(s["type"])
	if v, ok := s["type"]; ok {
		if name, known := zimbraTypeNames[code]; isCode && known {
			z["type"] = name
		} else if isCode {
			z["type"] = strconv.FormatInt(code, 10)
		} else {
			z["type"] = v
		}
	}
	if v, ok := s["folderId"]; ok {
		if n, isInt := intOf(v); isInt {
			z["folder_id"] = strconv.FormatInt(n, 10)
		} else {
			z["folder_id"] = v
		}
	}
	if isCode && (code == int64(mailbox.TypeFolder) || code == int64(mailbox.TypeSearchFolder)) {
		// The parent; cbfs leaves parentId out for the root (0).
		if v, ok := s["parentId"]; ok {
			z["parent_id"] = v
		} else {
			z["parent_id"] = 0
		}
	}
	mask, other, unread := zimbraUnread(stringOf(s["flags"]))
	z["flags"] = mask
	z["unread"] = unread
	if other != "" {
		z["flags_other"] = other
	}
	if v, ok := s["tags"]; ok && !isEmpty(v) {
		z["tag_names"] = v
	}
	if v, ok := s["deleted"]; ok {
		if b, _ := v.(bool); b {
			z["deleted"] = 1
		} else {
			z["deleted"] = 0
		}
	}
	if d := stringOf(s["digest"]); d != "" {
		z["blob_digest"] = strings.ReplaceAll(d, ",", "/")
	}
	if v, ok := s["size"]; ok && !isEmpty(v) {
		z["size"] = v
	}
	if v, ok := s["date"]; ok && !isEmpty(v) {
		if ms, isInt := intOf(v); isInt {
			z["date"] = ms / 1000
		} else {
			z["date"] = v
		}
	}
	for from, to := range map[string]string{"from": "sender", "to": "recipients", "imapUid": "imap_id"} {
		if v, ok := s[from]; ok {
			z[to] = v
		}
	}
	return z
}

// zimbraAccount turns account_info into an LDAP-style attribute object.
func zimbraAccount(a map[string]any) any {
	z := make(map[string]any, len(a)+8)
	for k, v := range a {
		switch k {
		case "id", "name", "status", "displayName", "cosId", "cosName", "createdDate", "deletedDate", "backupEnabled", "attrs":
		default:
			z[k] = v
		}
	}
	if attrs, ok := a["attrs"].(map[string]any); ok {
		for k, v := range attrs {
			z[k] = v
		}
	}
	if v, ok := a["id"]; ok {
		z["zimbraId"] = v
	}
	if v, ok := a["name"]; ok {
		z["zimbraMailDeliveryAddress"] = v
	}
	switch st := stringOf(a["status"]); st {
	case "", mailbox.StatusActive:
		z["zimbraAccountStatus"] = "active"
	case mailbox.StatusDeleted:
		z["zimbraAccountStatus"] = "closed"
	default:
		z["zimbraAccountStatus"] = st
	}
	if d := stringOf(a["displayName"]); d != "" {
		z["displayName"] = []any{d}
		z["cn"] = []any{d}
	}
	if v := stringOf(a["cosId"]); v != "" {
		z["zimbraCOSId"] = v
	}
	created, hasCreated := intOf(a["createdDate"])
	if hasCreated && created != 0 {
		z["zimbraCreateTimestamp"] = ldapTime(created)
	}
	if stringOf(a["status"]) == mailbox.StatusDeleted {
		if del, ok := intOf(a["deletedDate"]); ok && del != 0 {
			z["zimbraBackupDeletedTimestamp"] = ldapTime(del)
		} else if hasCreated && created != 0 {
			z["zimbraBackupDeletedTimestamp"] = ldapTime(created)
		}
	}
	if b, ok := a["backupEnabled"].(bool); ok {
		z["zimbraFeatureBackupEnabled"] = strings.ToUpper(strconv.FormatBool(b))
	}
	return z
}

// ---- zimbra-ud and zimbra-nested ----

// udKnown are the cbfs state keys udData renames or re-encodes.
var udKnown = map[string]bool{
	"startDate": true, "type": true, "folderId": true, "parentId": true, "flags": true, "tags": true,
	"deleted": true, "digest": true, "size": true, "date": true, "subject": true, "name": true,
	"from": true, "to": true, "imapUid": true,
}

// udData is one cbfs state as Zimbra's MailItem.UnderlyingData.serialize
// writes an item (carbonio-mailbox MailItem.java): id, tp, fid, pid (of a
// folder), dgst, dt (s), sz, uc, fg (without the unread bit), tg, sbj, nm,
// imap, meta (sender and recipients in Zimbra's Metadata encoding), modm,
// modc and dc (s). seq is the state's position (1, 2, …) and contentSeq
// the number of content changes up to it. Keys cbfs does not define are
// kept as they are.
func udData(id int64, s map[string]any, seq, contentSeq int) map[string]any {
	z := make(map[string]any, len(s)+6)
	for k, v := range s {
		if !udKnown[k] {
			z[k] = v
		}
	}
	z["id"] = id
	if v, ok := s["type"]; ok {
		z["tp"] = v
	}
	if v, ok := s["folderId"]; ok {
		z["fid"] = v
	}
	if v, ok := s["parentId"]; ok {
		z["pid"] = v
	}
	mask, other, unread := zimbraUnread(stringOf(s["flags"]))
	z["fg"] = mask
	z["uc"] = unread
	if other != "" {
		z["fg_other"] = other
	}
	if v, ok := s["tags"]; ok && !isEmpty(v) {
		z["tg"] = v
	}
	if v, ok := s["digest"]; ok && !isEmpty(v) {
		z["dgst"] = v
	}
	if v, ok := s["size"]; ok && !isEmpty(v) {
		z["sz"] = v
	}
	if v, ok := s["date"]; ok && !isEmpty(v) {
		z["dt"] = seconds(v)
	}
	for from, to := range map[string]string{"subject": "sbj", "name": "nm", "imapUid": "imap"} {
		if v, ok := s[from]; ok {
			z[to] = v
		}
	}
	meta := map[string]any{}
	if v, ok := s["from"].(string); ok && v != "" {
		meta["s"] = v
	}
	if v, ok := s["to"].(string); ok && v != "" {
		meta["t"] = v
	}
	if len(meta) > 0 {
		meta["v"] = int64(zimbraMetadataVersion)
		z["meta"] = bencode(meta)
	}
	z["modm"] = seq
	z["modc"] = contentSeq
	if v, ok := s["startDate"]; ok {
		z["dc"] = seconds(v)
	}
	return z
}

// zimbraMetadataVersion is the "v" of the Metadata strings written
// (Zimbra's MailItem metadata version of 8.x, kept by Carbonio).
const zimbraMetadataVersion = 10

// seconds turns a cbfs date (ms) into whole seconds; any other value is
// kept.
func seconds(v any) any {
	if ms, ok := intOf(v); ok {
		return ms / 1000
	}
	return v
}

// bencode writes m in Zimbra's Metadata encoding (BEncoding.encode): a
// dictionary "d…e" of its keys in byte order, each string as
// "<length>:<string>" (the length in UTF-16 code units, as Java counts),
// each integer as "i<n>e".
func bencode(m map[string]any) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	str := func(s string) {
		b.WriteString(strconv.Itoa(utf16Len(s)))
		b.WriteByte(':')
		b.WriteString(s)
	}
	b.WriteByte('d')
	for _, k := range keys {
		str(k)
		switch v := m[k].(type) {
		case int64:
			b.WriteString("i" + strconv.FormatInt(v, 10) + "e")
		default:
			str(fmt.Sprint(v))
		}
	}
	b.WriteByte('e')
	return b.String()
}

// utf16Len is the length of s in UTF-16 code units (Java's String.length).
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n++
		if r >= 0x10000 {
			n++
		}
	}
	return n
}

// udStates converts an item's states into UnderlyingData objects, with the
// transaction's start date and end date (each state ends where the next
// begins; a final deletion becomes the end of the state before it, see
// endedByDate). date turns a cbfs date into the transaction's unit.
func udStates(id int64, states []map[string]any, date func(any) any) (txs []map[string]any, data []map[string]any) {
	states, end := endedByDate(states)
	contentSeq := 0
	var prevDigest any
	for i, s := range states {
		if d := s["digest"]; i == 0 || !sameJSON(d, prevDigest) {
			contentSeq++
			prevDigest = d
		}
		tx := map[string]any{}
		if v, ok := s["startDate"]; ok {
			tx["start-date"] = date(v)
		}
		if i+1 < len(states) {
			if next, ok := states[i+1]["startDate"]; ok {
				tx["end-date"] = date(next)
			}
		} else if end != nil {
			tx["end-date"] = date(end)
		}
		if del, _ := s["deleted"].(bool); del {
			tx["deleted"] = true // a deletion endedByDate could not turn into an end date
		}
		txs = append(txs, tx)
		data = append(data, udData(id, s, i+1, contentSeq))
	}
	return txs, data
}

// udItem converts one item file into flat UnderlyingData states, each with
// "start-date" and "end-date" in seconds.
func udItem(id int64, states []map[string]any) []any {
	txs, data := udStates(id, states, seconds)
	out := make([]any, len(txs))
	for i, tx := range txs {
		for k, v := range tx { // the transaction's keys win a clash
			data[i][k] = v
		}
		out[i] = data[i]
	}
	return out
}

// nestedItem converts one item file into transactions, each with
// "start-date" and "end-date" in ms and the item's UnderlyingData under
// "item".
func nestedItem(id int64, states []map[string]any) []any {
	txs, data := udStates(id, states, func(v any) any { return v })
	out := make([]any, len(txs))
	for i, tx := range txs {
		tx["item"] = data[i]
		out[i] = tx
	}
	return out
}

// udAccount nests the LDAP attributes of zimbraAccount under "attrs",
// beside the account id, and adds LDAP's "mail" (the address).
func udAccount(a map[string]any) any {
	attrs := zimbraAccount(a).(map[string]any)
	if v, ok := a["name"]; ok {
		attrs["mail"] = v
	}
	out := map[string]any{"attrs": attrs}
	if v, ok := a["id"]; ok {
		out["id"] = v
	}
	return out
}

// soapAccount lists the LDAP attributes of udAccount as Zimbra's SOAP
// does: {"a": [{"n": name, "_content": value}, …]}, one entry per value
// (a multi-valued attribute repeats its name), sorted by name, each value
// a string (other JSON values in their JSON encoding).
func soapAccount(a map[string]any) any {
	attrs := udAccount(a).(map[string]any)["attrs"].(map[string]any)
	names := make([]string, 0, len(attrs))
	for k := range attrs {
		names = append(names, k)
	}
	slices.Sort(names)
	list := []any{}
	add := func(n string, v any) {
		s, ok := v.(string)
		if !ok {
			b, _ := json.Marshal(v)
			s = string(b)
		}
		list = append(list, map[string]any{"n": n, "_content": s})
	}
	for _, n := range names {
		if vs, ok := attrs[n].([]any); ok {
			for _, v := range vs {
				add(n, v)
			}
			continue
		}
		add(n, attrs[n])
	}
	return map[string]any{"a": list}
}

// ---- delta ----

// deltaConcepts are the delta keys in the order they are compared; each
// reads its value from a cbfs state (nil: absent) and has an empty value
// for when it disappears.
var deltaConcepts = []struct {
	key   string
	value func(s map[string]any) any
	empty any
}{
	{"item-type", func(s map[string]any) any {
		if n, ok := intOf(s["type"]); ok {
			return strconv.FormatInt(n, 10)
		}
		return s["type"]
	}, ""},
	{"parentId", func(s map[string]any) any {
		if v, ok := s["folderId"]; ok {
			return v
		}
		return s["parentId"]
	}, 0},
	{"flags", func(s map[string]any) any { return s["flags"] }, ""},
	{"keywords", func(s map[string]any) any { return s["tags"] }, []any{}},
	{"isDeleted", func(s map[string]any) any {
		if b, ok := s["deleted"].(bool); ok {
			return strconv.FormatBool(b)
		}
		return s["deleted"]
	}, "false"},
	{"content", func(s map[string]any) any {
		if d := stringOf(s["digest"]); d != "" {
			return map[string]any{"sha256": d, "encoding": "gzip"}
		}
		return nil
	}, map[string]any{}},
	{"sizeBytes", func(s map[string]any) any { return s["size"] }, 0},
	{"received", func(s map[string]any) any {
		if ms, ok := intOf(s["date"]); ok && ms != 0 {
			return rfc3339Millis(ms)
		}
		return s["date"]
	}, ""},
	{"subject", func(s map[string]any) any { return s["subject"] }, ""},
	{"name", func(s map[string]any) any { return s["name"] }, ""},
	{"sender", func(s map[string]any) any { return s["from"] }, ""},
	{"rcpt", func(s map[string]any) any { return s["to"] }, ""},
	{"uid", func(s map[string]any) any { return s["imapUid"] }, 0},
}

// deltaKnown are the cbfs keys the concepts above read.
var deltaKnown = map[string]bool{
	"startDate": true, "type": true, "folderId": true, "parentId": true, "flags": true, "tags": true,
	"deleted": true, "digest": true, "size": true, "date": true, "subject": true, "name": true,
	"from": true, "to": true, "imapUid": true,
}

// deltaFull is a state's every concept (and unknown key), absent ones left
// out.
func deltaFull(s map[string]any) map[string]any {
	d := make(map[string]any, len(s))
	for k, v := range s {
		if !deltaKnown[k] {
			d[k] = v
		}
	}
	for _, c := range deltaConcepts {
		if v := c.value(s); v != nil {
			d[c.key] = v
		}
	}
	return d
}

// deltaItem converts one item file: the first state in full, each later
// one with only what changed from the state before.
func deltaItem(states []map[string]any) []any {
	out := make([]any, len(states))
	var prev map[string]any
	for i, s := range states {
		cur := deltaFull(s)
		var d map[string]any
		if prev == nil {
			d = cur
		} else {
			d = map[string]any{}
			keys := make([]string, 0, len(cur)+len(prev))
			for k := range cur {
				keys = append(keys, k)
			}
			for k := range prev {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range slices.Compact(keys) {
				nv, inCur := cur[k]
				ov, inPrev := prev[k]
				switch {
				case inCur && (!inPrev || !sameJSON(nv, ov)):
					d[k] = nv
				case !inCur && inPrev && !isEmpty(ov):
					d[k] = deltaEmpty(k)
				}
			}
		}
		if ms, ok := intOf(s["startDate"]); ok {
			d["start-date"] = rfc3339Millis(ms)
		} else if v, ok := s["startDate"]; ok {
			d["start-date"] = v
		}
		out[i] = d
		prev = cur
	}
	return out
}

// deltaEmpty is the value written when concept k disappears.
func deltaEmpty(k string) any {
	for _, c := range deltaConcepts {
		if c.key == k {
			return c.empty
		}
	}
	return nil // an unknown key
}

// sameJSON says whether a and b encode alike.
func sameJSON(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}

// deltaAccount turns account_info into a two-entry history, oldest first.
func deltaAccount(a map[string]any) any {
	id := a["id"]
	name := stringOf(a["name"])
	local, domain, _ := strings.Cut(name, "@")
	first := map[string]any{"accountStatus": "active"}
	if created, ok := intOf(a["createdDate"]); ok && created != 0 {
		first["at"] = created
	}
	putNonEmpty(first, "uid", local)
	putNonEmpty(first, "domain", domain)
	putNonEmpty(first, "zimbraId", id)

	cur := map[string]any{}
	for k, v := range a {
		switch k {
		case "id", "name", "status", "displayName", "cosId", "cosName", "createdDate", "deletedDate":
		default:
			putNonEmpty(cur, k, v) // attrs, backupEnabled, ...
		}
	}
	if del, ok := intOf(a["deletedDate"]); ok && del != 0 {
		cur["at"] = del
	} else if at, ok := first["at"]; ok {
		cur["at"] = at
	}
	putNonEmpty(cur, "mail", name)
	switch st := stringOf(a["status"]); st {
	case "":
		cur["accountStatus"] = mailbox.StatusActive
	default:
		cur["accountStatus"] = st
	}
	putNonEmpty(cur, "zimbraId", id)
	putNonEmpty(cur, "displayName", a["displayName"])
	cos := map[string]any{}
	putNonEmpty(cos, "id", a["cosId"])
	putNonEmpty(cos, "name", a["cosName"])
	putNonEmpty(cur, "cos", cos)
	return []any{first, cur}
}

func putNonEmpty(m map[string]any, k string, v any) {
	if !isEmpty(v) {
		m[k] = v
	}
}
