package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/internal/dovecot"
	"github.com/cbfs/cbfs/mailbox"
	"github.com/cbfs/cbfs/sample"
)

// The mount, cbctl and the restores read items through one model, so they
// never disagree: for cbfs's own sample, each foreign dialect of it, and a
// hand-made path with two accounts of one name (one deleted) whose item 300
// changes only its flags in its second state (no digest there), every live
// message is served by the mount, printed by getItem dump_blob and written
// by an external restore (to a Maildir and, for the samples, to a real
// Dovecot over IMAP) with the same bytes, under the same account and the
// same folder path, and with the same unread state: user.cbfs.flags, the
// Maildir view's info letters, meta.json, getItem and both restores (no S,
// no \Seen) agree. The Zimbra dialects keep unread apart from the flags
// and end some items by an end date instead of a deleted state
// (docs/DIALECTS.md): each dialect shows the cbfs sample's messages, folders
// (custom ones named by nm in zimbra-ud and zimbra-nested), unread state
// and deleted/ items.
func TestOneModelAgreement(t *testing.T) {
	mountSkipUnlessFUSE(t)
	bin := mountBinary(t, t.TempDir())
	var reference map[string]accountView // the cbfs sample as the mount shows it, by account id
	for _, dialect := range []string{"cbfs", "zimbra", "delta", "zimbra-ud", "zimbra-nested", "twins"} {
		t.Run(dialect, func(t *testing.T) {
			dir := t.TempDir()
			root := filepath.Join(dir, "bp")
			if dialect == "twins" {
				makeTwins(t, root)
			} else {
				_, err := sample.Generate(context.Background(), root, sample.Options{Accounts: 4, Messages: 12, Seed: 11, Dialect: dialect})
				require.NoError(t, err)
			}
			seen := checkAgreement(t, bin, root, dialect)
			switch dialect {
			case "cbfs":
				reference = seen
				unread := 0
				for _, v := range seen {
					for _, ds := range v.Folders {
						for _, d := range ds {
							if strings.HasSuffix(d, unreadMark) {
								unread++
							}
						}
					}
				}
				require.Positive(t, unread, "the sample has unread mail to compare")
			case "twins":
			default:
				// The same sample in another dialect: every message of
				// every active account, in the same folder, as unread
				// or read; the same deleted items.
				require.NotNil(t, reference, "the cbfs run comes first")
				for id, want := range reference {
					got := seen[id]
					assert.Equal(t, want.Folders, got.Folders, "%s dialect vs cbfs's own: account %s's messages by folder (%q marks unread)", dialect, id, unreadMark)
					assert.Equal(t, want.Deleted, got.Deleted, "%s dialect vs cbfs's own: account %s's deleted/ (items ended by an end date included)", dialect, id)
				}
				assert.Len(t, seen, len(reference), "%s dialect: active accounts compared", dialect)
			}
		})
	}
}

// unreadMark follows the digest of an unread message in folders.
const unreadMark = " unread"

// withUnread is a message's digest, marked when it is unread.
func withUnread(digest string, unread bool) string {
	if unread {
		return digest + unreadMark
	}
	return digest
}

// accountView is what the mount shows of an active account: its messages
// by folder path (digests, marked when unread) and the ids in deleted/.
type accountView struct {
	Folders folders
	Deleted []int
}

// checkAgreement returns what the mount showed of each active account, by
// account id.
func checkAgreement(t *testing.T, bin, root, dialect string) map[string]accountView {
	bp, err := backuppath.Open(root)
	require.NoError(t, err)
	entries, err := bp.Accounts()
	require.NoError(t, err)
	var accts []mailbox.Account
	for _, e := range entries {
		require.NoError(t, e.Err, "account %s: a dialect's account_info must be read", e.ID)
		accts = append(accts, *e.Account)
	}
	listed := mailbox.ListingNames(accts)

	dir := filepath.Dir(root)
	mp := filepath.Join(dir, "mnt")
	require.NoError(t, os.Mkdir(mp, 0o755))
	p := mountStart(t, bin, root, mp, filepath.Join(dir, "index.db"))
	// The mount's first line says how much it understood: all of cbfs's
	// own dialect and of Zimbra's two vocabularies (the others are
	// cbfs's inventions: the delta dialect's content.encoding, the zimbra
	// dialect's flags_other when sampled, are not understood).
	// (stderr is copied by another goroutine.)
	require.Eventually(t, func() bool { return strings.Contains(p.stderr.String(), "sampled item files)") },
		5*time.Second, 20*time.Millisecond, "stderr: %s", p.stderr)
	first, _, _ := strings.Cut(p.stderr.String(), "\n")
	switch dialect {
	case "cbfs", "zimbra-ud", "zimbra-nested":
		assert.Regexp(t, `^cbfs: read 100 % of state keys; every key understood \(\d+ sampled item files\)$`, first)
	default:
		assert.Regexp(t, `^cbfs: read \d+(\.\d)? % of state keys; (every key understood|\d+ keys? not understood \(.+\): see cbctl backup getFormatInfo) \(\d+ sampled item files\)$`, first)
	}
	tgt := filepath.Join(dir, "maildir")
	restoredSome(t, "backup", "doExternalRestore", root, "target", "maildir:"+tgt, "--state-dir", filepath.Join(dir, "st"))
	var dv *dovecot.Server
	if dialect != "twins" {
		// The same restore into a real IMAP server.
		users := map[string]string{}
		for _, a := range accts {
			if a.Active() {
				users[a.Name] = "pw"
			}
		}
		dv = dovecot.Start(t, users)
		restoredSome(t, "backup", "doExternalRestore", root, "target", dv.SourceURL(), "--state-dir", filepath.Join(dir, "st-imap"))
	}

	checked, unread := 0, 0
	seen := map[string]accountView{}
	for i, a := range accts {
		// Every account under its address (or "address (id)" when it
		// shares it), with its own account_info.
		var shown map[string]any
		b, err := os.ReadFile(filepath.Join(mp, "accounts", listed[i], "account.json"))
		require.NoError(t, err, "account %s listed as %q", a.ID, listed[i])
		require.NoError(t, json.Unmarshal(b, &shown))
		assert.Equal(t, a.ID, shown["id"], "accounts/%s is account %s", listed[i], a.ID)
		assert.Contains(t, a.Name, "@", "account %s: the address is read from this dialect", a.ID)

		// cbctl resolves the name to the account the mount shows under it.
		if mailbox.Resolve(accts, a.Name).ID != a.ID {
			continue // "name (id)": the name means the other account
		}
		assert.Equal(t, a.Name, listed[i], "the account a name means keeps the plain name")
		var info struct {
			Info struct {
				ID string `json:"id"`
			} `json:"accountInfo"`
		}
		decode(t, ok(t, "backup", "getAccountInfo", a.Name, "backup_path", root, "--json").stdout, &info)
		assert.Equal(t, a.ID, info.Info.ID, "getAccountInfo %s", a.Name)
		if !a.Active() {
			continue // external restores bring back active accounts
		}

		// Messages: mount bytes == restore bytes, folder by folder, and
		// unread (user.cbfs.flags has u) == unread after the restore.
		acctDir := filepath.Join(mp, "accounts", listed[i])
		onMount := mountMail(t, filepath.Join(acctDir, "folders"))
		restored := readMaildirUnread(t, filepath.Join(tgt, a.Name, "Maildir"))
		got := folders{}
		for path, files := range onMount {
			for _, f := range files {
				got[path] = append(got[path], withUnread(string(blob.Sum(f.data)), f.unread()))
			}
		}
		assert.Equal(t, got.sorted(), restored, "account %s: mount vs Maildir restore (%q: no S in the name)", a.Name, unreadMark)
		if dv != nil {
			assert.Equal(t, got, readIMAPUnread(t, dv, a.Name), "account %s: mount vs IMAP restore (%q: no \\Seen on the server)", a.Name, unreadMark)
		}
		view := accountView{Folders: got, Deleted: listDeleted(t, filepath.Join(acctDir, "deleted"))}
		seen[a.ID] = view

		// The Maildir view, meta.json and getItem say what
		// user.cbfs.flags says; getItem dump_blob prints the same bytes
		// and names the same folder.
		infos := maildirViewInfos(t, filepath.Join(acctDir, "Maildir"))
		for path, files := range onMount {
			for _, f := range files {
				if f.unread() {
					unread++
				}
				info, inView := infos[f.id]
				if assert.True(t, inView, "account %s: item %d not in the Maildir view", a.Name, f.id) {
					assert.Equal(t, f.unread(), !strings.Contains(info, "S"), "account %s: item %d: Maildir view %q vs user.cbfs.flags %q", a.Name, f.id, info, f.flags)
				}
				var meta struct {
					States []struct {
						State struct{ Flags string } `json:"state"`
					} `json:"states"`
				}
				b, err := os.ReadFile(filepath.Join(acctDir, "items", strconv.Itoa(f.id), "meta.json"))
				require.NoError(t, err)
				require.NoError(t, json.Unmarshal(b, &meta))
				if assert.NotEmpty(t, meta.States) {
					last := meta.States[len(meta.States)-1].State.Flags
					assert.Equal(t, f.unread(), strings.Contains(last, "u"), "account %s: item %d: meta.json flags %q vs user.cbfs.flags %q", a.Name, f.id, last, f.flags)
				}
				r := ok(t, "backup", "getItem", a.Name, strconv.Itoa(f.id), "backup_path", root, "date", "last", "dump_blob", "true")
				assert.True(t, bytes.Contains([]byte(r.stdout), f.data), "getItem %s %d: blob differs from the mount's", a.Name, f.id)
				assert.Contains(t, r.stdout, "(/"+path+")", "getItem %s %d: folder", a.Name, f.id)
				if m := getItemFlagsRE.FindStringSubmatch(r.stdout); assert.NotNil(t, m, "getItem %s %d: no flags line", a.Name, f.id) {
					assert.Equal(t, f.unread(), strings.Contains(m[1], "u"), "getItem %s %d: flags %q vs user.cbfs.flags %q", a.Name, f.id, m[1], f.flags)
				}
				checked++
			}
		}
	}
	require.Positive(t, checked, "no message compared")
	if dialect != "twins" {
		assert.Positive(t, unread, "no message shown unread: the sample has unread mail in every dialect")
	}

	// Deleted items: under deleted/ of their account, for every dialect.
	for i, a := range accts {
		files, _, err := bp.ItemFiles(a.ID)
		require.NoError(t, err)
		for _, f := range files {
			it, err := bp.ReadItemFile(f.RelPath, f.ItemID)
			if err != nil || it.ShownDeleted() < 0 {
				continue
			}
			name := strconv.Itoa(it.ID) + "." + it.Latest().Type.Extension()
			_, err = os.Lstat(filepath.Join(mp, "accounts", listed[i], "deleted", name))
			assert.NoError(t, err, "account %s: deleted item %d", a.Name, it.ID)
		}
	}

	if dialect == "twins" {
		// The flags-only state keeps its content: served, printed, restored.
		r := ok(t, "backup", "getItem", "john@example.com", "300", "backup_path", root, "dump_blob", "true")
		assert.Contains(t, r.stdout, "flags-only change keeps me")
		r = ok(t, "backup", "doItemRestore", "john@example.com", "300", "--target", "maildir:"+filepath.Join(dir, "one"),
			"--backup-path", root, "--state-dir", filepath.Join(dir, "st1"))
		assert.Contains(t, r.stdout, "Restored Items: 1", r.stdout)
	}
	return seen
}

type mailFile struct {
	id    int
	data  []byte
	flags string // user.cbfs.flags
}

func (f mailFile) unread() bool { return strings.Contains(f.flags, "u") }

// getItemFlagsRE is getItem's flags line (the first: one state).
var getItemFlagsRE = regexp.MustCompile(`(?m)^\s*flags\s+(\S+)\s*$`)

// listDeleted lists the item ids under a deleted/ folder, sorted.
func listDeleted(t *testing.T, dir string) []int {
	t.Helper()
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	ids := []int{}
	for _, e := range ents {
		id, err := strconv.Atoi(strings.SplitN(e.Name(), ".", 2)[0])
		require.NoError(t, err, "deleted/%s", e.Name())
		ids = append(ids, id)
	}
	sort.Ints(ids)
	return ids
}

// maildirViewInfos maps each message of a mount's Maildir view (every
// folder's cur/) to its info letters.
func maildirViewInfos(t *testing.T, top string) map[int]string {
	t.Helper()
	out := map[int]string{}
	err := filepath.WalkDir(top, func(p string, d fs.DirEntry, err error) error {
		require.NoError(t, err)
		if d.IsDir() || filepath.Base(filepath.Dir(p)) != "cur" {
			return nil
		}
		m := mdNameRE.FindStringSubmatch(d.Name())
		require.NotNil(t, m, "Maildir view name %q", d.Name())
		id, _ := strconv.Atoi(m[1])
		out[id] = m[5]
		return nil
	})
	require.NoError(t, err)
	return out
}

// readMaildirUnread is readMaildirTree with each digest marked when the
// file's name has no S (unread); empty folders are left out.
func readMaildirUnread(t *testing.T, dir string) folders {
	t.Helper()
	out := folders{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		require.NoError(t, err)
		sub := filepath.Base(filepath.Dir(p))
		if d.IsDir() || (sub != "cur" && sub != "new") {
			return nil
		}
		folder, _ := filepath.Rel(dir, filepath.Dir(filepath.Dir(p)))
		path := "Inbox"
		if folder != "." {
			path = strings.ReplaceAll(strings.TrimPrefix(folder, "."), ".", "/")
			if rest, ok := strings.CutPrefix(path, "INBOX"); ok {
				path = "Inbox" + rest
			}
		}
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		_, info, _ := strings.Cut(d.Name(), ":2,")
		out[path] = append(out[path], withUnread(string(blob.Sum(b)), !strings.Contains(info, "S")))
		return nil
	})
	require.NoError(t, err)
	return out.sorted()
}

// readIMAPUnread is readIMAPTree with each digest marked when the server
// has no \Seen on the message.
func readIMAPUnread(t *testing.T, dv *dovecot.Server, account string) folders {
	t.Helper()
	c, err := dv.Login(account)
	require.NoError(t, err)
	defer c.Close()
	list, err := c.List("", "*", nil).Collect()
	require.NoError(t, err)
	out := folders{}
	for _, l := range list {
		sel, err := c.Select(l.Mailbox, &imap.SelectOptions{ReadOnly: true}).Wait()
		require.NoError(t, err)
		if sel.NumMessages == 0 {
			continue
		}
		path := strings.ReplaceAll(l.Mailbox, string(l.Delim), "/")
		if p, ok := strings.CutPrefix(path, "INBOX"); ok {
			path = "Inbox" + p
		}
		var all imap.SeqSet
		all.AddRange(1, 0)
		msgs, err := c.Fetch(all, &imap.FetchOptions{Flags: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
		require.NoError(t, err)
		for _, m := range msgs {
			out[path] = append(out[path], withUnread(string(blob.Sum(m.BodySection[0].Bytes)), !slices.Contains(m.Flags, imap.FlagSeen)))
		}
	}
	return out.sorted()
}

// mountMail reads every .eml under a folders/ tree that can be read (a
// broken blob fails with EIO and is not restored either), by folder path.
func mountMail(t *testing.T, top string) map[string][]mailFile {
	out := map[string][]mailFile{}
	err := filepath.WalkDir(top, func(p string, d fs.DirEntry, err error) error {
		require.NoError(t, err)
		if d.IsDir() || !strings.HasSuffix(p, ".eml") {
			return nil
		}
		b, err := os.ReadFile(p)
		if errors.Is(err, syscall.EIO) {
			return nil
		}
		require.NoError(t, err)
		rel, _ := filepath.Rel(top, filepath.Dir(p))
		id, _ := strconv.Atoi(strings.TrimSuffix(filepath.Base(p), ".eml"))
		flags, err := unixGetxattr(p, "user.cbfs.flags")
		require.NoError(t, err, "user.cbfs.flags of %s", p)
		out[rel] = append(out[rel], mailFile{id: id, data: b, flags: flags})
		return nil
	})
	require.NoError(t, err)
	for _, fs := range out {
		sort.Slice(fs, func(i, j int) bool { return fs[i].id < fs[j].id })
	}
	return out
}

// makeTwins writes a Backup Path with two accounts named john@example.com
// (the older one deleted) and item 300 of the active one, whose second state
// changes only the flags and names no digest.
func makeTwins(t *testing.T, root string) {
	const active, gone = "a1000000-0000-4000-8000-000000000001", "b2000000-0000-4000-8000-000000000002"
	writeJSONFile(t, filepath.Join(root, "backupstat"), map[string]any{"serverId": "srv-twins", "firstRunDate": day("01/07/2013 00:00:00")})
	writeJSONFile(t, filepath.Join(root, "accounts", gone, "account_info"), map[string]any{
		"id": gone, "name": "john@example.com", "status": "deleted", "createdDate": day("01/01/2012 00:00:00"),
		"deletedDate": day("01/06/2013 00:00:00"),
	})
	writeItem(t, root, gone, 280, msgState("02/01/2012 08:00:00", 2, "", false,
		putBlob(t, root, []byte("Subject: old\r\n\r\nold john\r\n"), gz(t, []byte("Subject: old\r\n\r\nold john\r\n"))), "old"))
	writeJSONFile(t, filepath.Join(root, "accounts", active, "account_info"), map[string]any{
		"id": active, "name": "john@example.com", "status": "active", "createdDate": day("01/07/2013 00:00:00"),
	})
	body := []byte("Subject: flags\r\nFrom: a@example.com\r\n\r\nflags-only change keeps me\r\n")
	d := putBlob(t, root, body, gz(t, body))
	first := msgState("02/07/2013 08:00:00", 2, "u", false, d, "flags")
	first["size"] = len(body)
	second := msgState("03/07/2013 08:00:00", 2, "f", false, "", "flags") // no digest: only the flags changed
	writeItem(t, root, active, 300, first, second)
}

// A Backup Path without items/ (Carbonio's blobless mode, or blobs on
// external storage) mounts with its metadata and says so, once at mount
// and in each content file's status, instead of calling every blob missing.
func TestBlobless(t *testing.T) {
	mountSkipUnlessFUSE(t)
	dir := t.TempDir()
	bin := mountBinary(t, dir)
	root := filepath.Join(dir, "bp")
	_, err := sample.Generate(context.Background(), root, sample.Options{Accounts: 3, Messages: 6, Seed: 5})
	require.NoError(t, err)
	require.NoError(t, os.RemoveAll(filepath.Join(root, "items")))

	mp := filepath.Join(dir, "mnt")
	require.NoError(t, os.Mkdir(mp, 0o755))
	p := mountStart(t, bin, root, mp, filepath.Join(dir, "index.db"))
	// Said before the "mounted" line; stderr is copied by another goroutine.
	require.Eventually(t, func() bool { return strings.Contains(p.stderr.String(), "has no items/ folder (blobless") },
		5*time.Second, 20*time.Millisecond, "stderr: %s", p.stderr)

	var emls []string
	require.NoError(t, filepath.WalkDir(filepath.Join(mp, "accounts"), func(path string, d fs.DirEntry, err error) error {
		require.NoError(t, err)
		if strings.HasSuffix(path, ".eml") && strings.Contains(path, "/folders/") {
			emls = append(emls, path)
		}
		return nil
	}))
	require.NotEmpty(t, emls, "the metadata is browsable")
	status, err := unixGetxattr(emls[0], "user.cbfs.status")
	require.NoError(t, err)
	assert.Contains(t, status, "blobless")
	assert.NotContains(t, status, "missing")

	var info struct {
		Blobless bool `json:"blobless"`
	}
	decode(t, ok(t, "backup", "getBackupInfo", "backup_path", root, "--json").stdout, &info)
	assert.True(t, info.Blobless)
}

// A dialect the inference gets wrong: the folder under "box", a digest
// under "ref" whose blob is elsewhere. getFormatInfo says what it could
// not interpret; --keymap corrects it, for cbctl and the mount alike.
func TestKeyMap(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "bp")
	const id = "c3000000-0000-4000-8000-000000000003"
	writeJSONFile(t, filepath.Join(root, "backupstat"), map[string]any{"serverId": "srv-km", "firstRunDate": day("01/07/2013 00:00:00")})
	writeJSONFile(t, filepath.Join(root, "accounts", id, "account_info"), map[string]any{"login": "kim@example.com", "zimbraId": id})
	body := []byte("Subject: keymap\r\n\r\nread with a keymap\r\n")
	d := putBlob(t, root, body, gz(t, body))
	writeItem(t, root, id, 500, state{"ts": day("02/07/2013 08:00:00"), "type": 5, "box": 2, "digest": string(d), "size": len(body)})

	// Without a keymap: no account name, the folder and date not understood.
	r := ok(t, "backup", "getFormatInfo", "backup_path", root, "--json")
	var info struct {
		Keys []struct {
			Key, Concept string
		} `json:"stateKeys"`
		Problems []struct{ What string } `json:"notUnderstood"`
	}
	decode(t, r.stdout, &info)
	concept := map[string]string{}
	for _, k := range info.Keys {
		concept[k.Key] = k.Concept
	}
	assert.Equal(t, "", concept["box"], "box is not a key cbfs knows")
	assert.Equal(t, "digest", concept["digest"])
	require.NotEmpty(t, info.Problems)
	assert.Contains(t, info.Problems[0].What, "account_info")

	km := filepath.Join(dir, "keymap.json")
	writeJSONFile(t, km, map[string]any{"state": map[string]any{"folderId": []string{"box"}, "startDate": []string{"ts"}},
		"account": map[string]any{"name": "login"}})
	decode(t, ok(t, "backup", "getFormatInfo", "backup_path", root, "--keymap", km, "--json").stdout, &info)
	concept = map[string]string{}
	for _, k := range info.Keys {
		concept[k.Key] = k.Concept
	}
	assert.Equal(t, "folderId", concept["box"])
	assert.Equal(t, "startDate", concept["ts"])
	assert.Empty(t, info.Problems)
	r = ok(t, "backup", "getItem", "kim@example.com", "500", "backup_path", root, "--keymap", km, "dump_blob", "true")
	assert.Contains(t, r.stdout, "2 (/Inbox)")
	assert.Contains(t, r.stdout, "read with a keymap")
	assert.Contains(t, r.stdout, "02/07/2013 08:00:00")

	fails(t, 1, "keymap", "backup", "getItem", "kim@example.com", "500", "backup_path", root, "--keymap", filepath.Join(dir, "nope.json"))

	mountSkipUnlessFUSE(t)
	bin := mountBinary(t, dir)
	mp := filepath.Join(dir, "mnt")
	require.NoError(t, os.Mkdir(mp, 0o755))
	mountStart(t, bin, root, mp, filepath.Join(dir, "index.db"), "--keymap", km)
	b, err := os.ReadFile(filepath.Join(mp, "accounts", "kim@example.com", "folders", "Inbox", "500.eml"))
	require.NoError(t, err)
	assert.Equal(t, body, b)
}
