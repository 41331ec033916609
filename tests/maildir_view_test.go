package tests

// The mount's Maildir++ view (accounts/<name>/Maildir, at/<date>/Maildir),
// checked on the mount itself and through a real Dovecot whose
// mail_location points at it, as docs/dovecot-cbfs-view.conf configures.

import (
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/internal/dovecot"
	"github.com/cbfs/cbfs/mailbox"
	"github.com/cbfs/cbfs/sample"
)

var mdNameRE = regexp.MustCompile(`^([0-9]+)\.([0-9]+)\.cbfs(,S=([0-9]+))?:2,([A-Z]*)$`)

// mdFile is one message of a Maildir view's cur/, with its folders/ twin.
type mdFile struct {
	name, info string
	id         int
	body       []byte // nil: unreadable (damaged blob)
	flags      string // user.cbfs.flags of the folders/ file
}

// mdCheckCur checks a cur/ against the folders/ folder it shows: same live
// messages and chats, flags in the names, S= the size, the same bytes.
func mdCheckCur(t *testing.T, cur, folder string) []mdFile {
	t.Helper()
	want := map[int]string{} // id -> folders/ file
	ents, err := os.ReadDir(folder)
	require.NoError(t, err)
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		p := filepath.Join(folder, e.Name())
		typ, err := unixGetxattr(p, "user.cbfs.type")
		require.NoError(t, err)
		if typ != "message" && typ != "chat" {
			continue
		}
		id, err := strconv.Atoi(strings.TrimSuffix(e.Name(), filepath.Ext(e.Name())))
		require.NoError(t, err, e.Name())
		want[id] = p
	}
	ents, err = os.ReadDir(cur)
	require.NoError(t, err)
	var out []mdFile
	for _, e := range ents {
		m := mdNameRE.FindStringSubmatch(e.Name())
		require.NotNil(t, m, "Maildir name %q", e.Name())
		id, _ := strconv.Atoi(m[1])
		twin, ok := want[id]
		require.True(t, ok, "%s: item %d not in %s", e.Name(), id, folder)
		delete(want, id)
		f := mdFile{name: e.Name(), info: m[5], id: id}
		f.flags, err = unixGetxattr(twin, "user.cbfs.flags")
		require.NoError(t, err)
		assert.Equal(t, mailbox.MaildirFlags(f.flags), f.info, "%s: flags %q", e.Name(), f.flags)
		fi, err := os.Stat(filepath.Join(cur, e.Name()))
		require.NoError(t, err)
		ti, err := os.Stat(twin)
		require.NoError(t, err)
		assert.Equal(t, ti.Sys(), fi.Sys(), "%s: the same inode as %s", e.Name(), twin)
		if m[4] != "" {
			assert.Equal(t, m[4], strconv.FormatInt(fi.Size(), 10), "S= is the size")
		}
		b, err := os.ReadFile(filepath.Join(cur, e.Name()))
		tb, terr := os.ReadFile(twin)
		if terr != nil {
			require.Error(t, err, "%s: %s fails (%v), the Maildir file must too", e.Name(), twin, terr)
		} else {
			require.NoError(t, err)
			require.Equal(t, tb, b, "%s: bytes of %s", e.Name(), twin)
			f.body = b
		}
		out = append(out, f)
	}
	assert.Empty(t, want, "every live message of %s is in %s", folder, cur)
	for _, sub := range []string{"new", "tmp"} {
		ents, err := os.ReadDir(filepath.Join(filepath.Dir(cur), sub))
		require.NoError(t, err)
		assert.Empty(t, ents)
	}
	return out
}

func TestMaildirView(t *testing.T) {
	mountSkipUnlessFUSE(t)
	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o755))
	require.NoError(t, os.Chmod(filepath.Dir(dir), 0o755))
	bin := mountBinary(t, dir)
	root := filepath.Join(dir, "bp")
	_, err := sample.Generate(context.Background(), root, sample.Options{Seed: 5, Accounts: 3})
	require.NoError(t, err)
	mp := filepath.Join(dir, "mnt")
	require.NoError(t, os.Mkdir(mp, 0o755))
	// Dovecot's mail processes run as another user: --allow-other, 022.
	mountStart(t, bin, root, mp, filepath.Join(dir, "index.db"), "--allow-other", "--umask", "022")

	accts, err := os.ReadDir(filepath.Join(mp, "accounts"))
	require.NoError(t, err)
	require.NotEmpty(t, accts)
	inbox := map[string][]mdFile{}
	deleted := map[string][]mdFile{} // account -> .Deleted Items/cur
	folders := map[string][]string{} // account -> Maildir++ folder names
	for _, a := range accts {
		acct := filepath.Join(mp, "accounts", a.Name())
		md := filepath.Join(acct, "Maildir")
		inbox[a.Name()] = mdCheckCur(t, filepath.Join(md, "cur"), filepath.Join(acct, "folders", "Inbox"))
		ents, err := os.ReadDir(md)
		require.NoError(t, err)
		for _, e := range ents {
			if !strings.HasPrefix(e.Name(), ".") {
				assert.Contains(t, []string{"cur", "new", "tmp"}, e.Name())
				continue
			}
			folders[a.Name()] = append(folders[a.Name()], e.Name())
			_, err := os.Stat(filepath.Join(md, e.Name(), "maildirfolder"))
			assert.NoError(t, err)
			if e.Name() == ".Deleted Items" {
				// deleted/'s messages and chats, the same nodes.
				deleted[a.Name()] = mdCheckCur(t, filepath.Join(md, e.Name(), "cur"), filepath.Join(acct, "deleted"))
				continue
			}
			// A plain ASCII name without "_" maps back to its folders/ path.
			n := e.Name()[1:]
			if strings.ContainsAny(n, "_&~") {
				continue
			}
			path := strings.ReplaceAll(n, ".", "/")
			if strings.HasPrefix(path, "INBOX/") {
				path = "Inbox/" + strings.TrimPrefix(path, "INBOX/")
			}
			mdCheckCur(t, filepath.Join(md, e.Name(), "cur"), filepath.Join(acct, "folders", path))
		}
		assert.Contains(t, folders[a.Name()], ".Sent")
		assert.Contains(t, folders[a.Name()], ".Deleted Items")
		assert.NotContains(t, folders[a.Name()], ".Contacts", "no address books")
	}
	nDeleted := 0
	for _, d := range deleted {
		nDeleted += len(d)
	}
	require.Positive(t, nDeleted, "the sample has deleted messages")

	t.Run("at", func(t *testing.T) {
		a := accts[0].Name()
		days, err := os.ReadDir(filepath.Join(mp, "accounts", a, "at"))
		require.NoError(t, err)
		require.NotEmpty(t, days)
		at := filepath.Join(mp, "accounts", a, "at", days[len(days)-1].Name())
		ents, err := os.ReadDir(at)
		require.NoError(t, err)
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		require.Contains(t, names, "Maildir")
		mdCheckCur(t, filepath.Join(at, "Maildir", "cur"), filepath.Join(at, "Inbox"))
		assert.NoDirExists(t, filepath.Join(at, "Maildir", ".Deleted Items"), "deleted/ is the account's latest view's")
	})

	t.Run("dovecot", func(t *testing.T) {
		// The shipped snippet's ACL: list and read only.
		acl, err := filepath.Abs("../docs/dovecot-cbfs-view.acl")
		require.NoError(t, err)
		users := map[string]string{}
		for _, a := range accts {
			users[a.Name()] = "pw"
		}
		dv := dovecot.StartWith(t, users, dovecot.Options{
			MailLocation: "maildir:" + mp + "/accounts/%u/Maildir:INDEX=$STATE/%u:CONTROL=$STATE/%u",
			Extra:        "mail_plugins = $mail_plugins acl\nplugin {\n  acl = vfile:" + acl + "\n  acl_globals_only = yes\n}\n",
		})
		seenKinds := map[bool]bool{}
		for _, a := range accts {
			name := a.Name()
			c, err := dv.Login(name)
			require.NoError(t, err)
			defer c.Close()

			list, err := c.List("", "*", nil).Collect()
			require.NoError(t, err)
			var got []string
			for _, l := range list {
				got = append(got, l.Mailbox)
			}
			assert.Contains(t, got, "INBOX")
			assert.Contains(t, got, "Sent")
			assert.Len(t, got, 1+len(folders[name]), "LIST: %v", got)

			sel, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait()
			require.NoError(t, err)
			files := inbox[name]
			require.EqualValues(t, len(files), sel.NumMessages, "%s: INBOX holds the live messages of folders/Inbox", name)

			// Each readable message, by content and \Seen (a multiset: the
			// sample may hold twins).
			type key struct {
				sum  [32]byte
				seen bool
			}
			want := map[key]int{}
			for _, f := range files {
				if f.body != nil {
					want[key{sha256.Sum256(f.body), !strings.Contains(f.flags, "u")}]++
				}
			}
			checked := 0
			for i := uint32(1); i <= sel.NumMessages; i++ {
				bufs, err := c.Fetch(imap.SeqSetNum(i), &imap.FetchOptions{Flags: true,
					BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
				if err != nil || len(bufs) != 1 || len(bufs[0].BodySection) == 0 {
					continue // a damaged blob: the mount refuses it, so does Dovecot
				}
				seen := false
				for _, fl := range bufs[0].Flags {
					seen = seen || fl == imap.FlagSeen
				}
				k := key{sha256.Sum256(bufs[0].BodySection[0].Bytes), seen}
				require.Positive(t, want[k], "%s INBOX #%d: bytes and \\Seen=%v match a folders/Inbox file", name, i, seen)
				want[k]--
				checked++
			}
			for k, n := range want {
				seenKinds[k.seen] = true
				assert.Zero(t, n, "%s: a readable message (seen=%v) not fetched", name, k.seen)
			}
			t.Logf("%s: LIST %d folders, INBOX %d messages, %d fetched and equal", name, len(got), sel.NumMessages, checked)

			// Deleted Items: the messages of deleted/, readable as such.
			assert.Contains(t, got, "Deleted Items")
			dsel, err := c.Select("Deleted Items", &imap.SelectOptions{ReadOnly: true}).Wait()
			require.NoError(t, err)
			require.EqualValues(t, len(deleted[name]), dsel.NumMessages, "%s: Deleted Items holds deleted/'s messages", name)
			dwant := map[[32]byte]int{}
			for _, f := range deleted[name] {
				if f.body != nil {
					dwant[sha256.Sum256(f.body)]++
				}
			}
			for i := uint32(1); i <= dsel.NumMessages; i++ {
				bufs, err := c.Fetch(imap.SeqSetNum(i), &imap.FetchOptions{
					BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
				if err != nil || len(bufs) != 1 || len(bufs[0].BodySection) == 0 {
					continue // a damaged blob
				}
				k := sha256.Sum256(bufs[0].BodySection[0].Bytes)
				require.Positive(t, dwant[k], "%s Deleted Items #%d: the bytes of a deleted/ file", name, i)
				dwant[k]--
			}
			for _, n := range dwant {
				assert.Zero(t, n, "%s: a readable deleted message not fetched", name)
			}
			// A client cannot change the backup: the ACL leaves only list
			// and read, so a flag change is dropped (not written, not kept).
			_, err = c.Select("INBOX", nil).Wait()
			require.NoError(t, err)
			flagsOf := func() []imap.Flag {
				bufs, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{Flags: true}).Collect()
				require.NoError(t, err)
				require.Len(t, bufs, 1)
				return bufs[0].Flags
			}
			if len(files) > 0 {
				before := flagsOf()
				_ = c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagFlagged, imap.FlagDeleted}}, nil).Close()
				assert.ElementsMatch(t, before, flagsOf(), "STORE changes nothing")
				_ = c.Expunge().Close()
				again, err := c.Select("INBOX", nil).Wait()
				require.NoError(t, err)
				assert.Equal(t, sel.NumMessages, again.NumMessages, "EXPUNGE removes nothing")
			}
			assert.Error(t, c.Create("cbfs-new", nil).Wait(), "CREATE on the mount")
			require.NoError(t, c.Logout().Wait())
		}
		assert.Len(t, seenKinds, 2, "the sample has read and unread messages in its inboxes")
		for _, l := range strings.Split(dv.Log(), "\n") {
			assert.NotContains(t, l, "Error:", "Dovecot reads the view without errors")
		}
	})
}
