package sample

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"mime/multipart"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/mailbox"
)

// treeHash hashes every name, kind, mode, mtime and file content under root.
func treeHash(t testing.TB, root string) string {
	t.Helper()
	h := sha256.New()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		info, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%v\x00%d\x00", rel, info.Mode(), info.ModTime().UnixNano())
		if d.Type().IsRegular() {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "%d\x00", len(b))
			h.Write(b)
		}
		return nil
	})
	require.NoError(t, err)
	return hex.EncodeToString(h.Sum(nil))
}

func TestDeterministic(t *testing.T) {
	small := Options{Accounts: 4, Messages: 20, Seed: 7, FolderMessages: 30}
	other := small
	other.Seed = 8
	tests := []struct {
		name string
		a, b Options
		same bool
	}{
		{"same seed", small, small, true},
		{"default options", Options{}, Options{}, true},
		{"different seed", small, other, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			da, db := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
			ra, err := Generate(context.Background(), da, tt.a)
			require.NoError(t, err)
			rb, err := Generate(context.Background(), db, tt.b)
			require.NoError(t, err)
			ha, hb := treeHash(t, da), treeHash(t, db)
			if tt.same {
				assert.Equal(t, ha, hb, "tree hashes")
				assert.Equal(t, ra, rb, "reports")
			} else {
				assert.NotEqual(t, ha, hb, "tree hashes")
				assert.NotEqual(t, ra.Accounts, rb.Accounts)
			}
		})
	}
}

// fixture is one default sample shared by the content tests.
type fixture struct {
	p   *backuppath.Path
	rep *Report
	// every item of every account, by account id
	items   map[string][]*mailbox.Item
	bad     map[string]error // item read errors, "accountID/itemID"
	damaged map[blob.Digest]Damaged
}

var (
	fixOnce sync.Once
	fix     *fixture
	fixErr  error
	fixDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if fixDir != "" {
		os.RemoveAll(fixDir)
	}
	os.Exit(code)
}

func sample(t *testing.T) *fixture {
	t.Helper()
	fixOnce.Do(func() {
		fixDir, fixErr = os.MkdirTemp("", "cbfs-sample-test-")
		if fixErr != nil {
			return
		}
		dest := filepath.Join(fixDir, "bp")
		f := &fixture{items: map[string][]*mailbox.Item{}, bad: map[string]error{}, damaged: map[blob.Digest]Damaged{}}
		if f.rep, fixErr = Generate(context.Background(), dest, Options{Seed: 42, FolderMessages: 50}); fixErr != nil {
			return
		}
		if f.p, fixErr = backuppath.Open(dest); fixErr != nil {
			return
		}
		ids, err := f.p.AccountIDs()
		if err != nil {
			fixErr = err
			return
		}
		for _, id := range ids {
			files, others, err := f.p.ItemFiles(id)
			if err != nil || len(others) > 0 {
				fixErr = fmt.Errorf("items of %s: %v, stray files %v", id, err, others)
				return
			}
			for _, fl := range files {
				it, err := f.p.ReadItemFile(fl.RelPath, fl.ItemID)
				if err != nil {
					f.bad[fmt.Sprintf("%s/%d", id, fl.ItemID)] = err
					continue
				}
				f.items[id] = append(f.items[id], it)
			}
		}
		for _, d := range f.rep.Damaged {
			if d.Digest != "" {
				f.damaged[blob.Digest(d.Digest)] = d
			}
		}
		fix = f
	})
	require.NoError(t, fixErr, "generate the sample")
	return fix
}

func TestEveryBlobMatchesItsDigest(t *testing.T) {
	f := sample(t)
	n := 0
	err := f.p.Blobs.Walk(context.Background(), func(name string, d blob.Digest, ok bool) error {
		n++
		if !assert.True(t, ok, "blob name %s is a digest", name) {
			return nil
		}
		if dm, isDamaged := f.damaged[d]; isDamaged && dm.Kind != DamageDoubleGzip {
			return nil // checked by TestDamagedItems
		}
		b, err := f.p.Blobs.Read(d)
		if assert.NoError(t, err, "blob %s", d) {
			assert.Equal(t, d, blob.Sum(b), "digest of %s", name)
		}
		return nil
	})
	require.NoError(t, err)
	// The unreadable one is a folder and the missing one has no file; the
	// store may or may not list the folder.
	assert.GreaterOrEqual(t, n, f.rep.Blobs-1)
	assert.LessOrEqual(t, n, f.rep.Blobs)
}

func TestDamagedItems(t *testing.T) {
	f := sample(t)
	byKind := map[string]Damaged{}
	for _, d := range f.rep.Damaged {
		_, dup := byKind[d.Kind]
		require.False(t, dup, "kind %s planted twice", d.Kind)
		byKind[d.Kind] = d
	}
	tests := []struct {
		kind     string
		wantBlob error // nil: reads fine
		wantItem error // nil: item file reads fine
	}{
		{DamageTruncated, blob.ErrBroken, nil},
		{DamageMismatch, blob.ErrBroken, nil},
		{DamageUnreadable, blob.ErrUnreadable, nil},
		{DamageMissing, blob.ErrMissing, nil},
		{DamageDoubleGzip, nil, nil},
		{DamageMalformedJSON, nil, blob.ErrBroken},
	}
	require.Len(t, f.rep.Damaged, len(tests))
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			d, ok := byKind[tt.kind]
			require.True(t, ok, "planted")
			a, err := f.p.ReadAccount(d.AccountID)
			require.NoError(t, err)
			assert.Equal(t, d.Account, a.Name)
			it, err := f.p.ReadItem(d.AccountID, d.ItemID)
			if tt.wantItem != nil {
				require.ErrorIs(t, err, tt.wantItem)
				assert.Empty(t, d.Digest)
				return
			}
			require.NoError(t, err)
			dg := blob.Digest(d.Digest)
			require.Equal(t, dg, it.Latest().Digest, "the latest state carries the damage")
			assert.Equal(t, tt.wantBlob == nil, blob.Class(f.p.Blobs.Check(dg)) == "ok")
			content, err := f.p.Blobs.Read(dg)
			if tt.wantBlob == nil {
				require.NoError(t, err)
				assert.Equal(t, dg, blob.Sum(content))
				return
			}
			require.ErrorIs(t, err, tt.wantBlob)
			assert.ErrorIs(t, f.p.Blobs.Check(dg), tt.wantBlob)
			if tt.wantBlob == blob.ErrBroken {
				assert.NotErrorIs(t, err, blob.ErrUnreadable)
			}
			// An earlier state is sound: the README copies it out.
			require.Greater(t, len(it.States), 1)
			first := it.States[0]
			assert.NotEqual(t, dg, first.Digest)
			b, err := f.p.Blobs.Read(first.Digest)
			require.NoError(t, err)
			_, err = mail.ReadMessage(bytes.NewReader(b))
			assert.NoError(t, err)
			// Only the damaged item references the damaged blob.
			refs := 0
			for _, items := range f.items {
				for _, it := range items {
					for _, s := range it.States {
						if s.Digest == dg {
							refs++
							break
						}
					}
				}
			}
			assert.Equal(t, 1, refs, "items referencing %s", dg)
		})
	}
	// The malformed item is the only unreadable item file.
	require.Len(t, f.bad, 1)
	d := byKind[DamageMalformedJSON]
	assert.Contains(t, f.bad, fmt.Sprintf("%s/%d", d.AccountID, d.ItemID))
}

// mailParts walks a MIME entity and returns the decoded leaf parts' content
// types and sizes.
func mailParts(t *testing.T, h map[string][]string, body io.Reader) (types []string) {
	t.Helper()
	ct := mail.Header(h).Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	require.NoError(t, err, "content type %q", ct)
	if !strings.HasPrefix(mt, "multipart/") {
		var r io.Reader = body
		if strings.EqualFold(mail.Header(h).Get("Content-Transfer-Encoding"), "base64") {
			r = base64.NewDecoder(base64.StdEncoding, body) // skips CR LF
		}
		_, err := io.Copy(io.Discard, r)
		require.NoError(t, err, "decode %s part", mt)
		return []string{mt}
	}
	mr := multipart.NewReader(body, params["boundary"])
	for {
		p, err := mr.NextRawPart()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		types = append(types, mailParts(t, p.Header, p)...)
	}
	require.NotEmpty(t, types, "parts of %s", mt)
	return types
}

func TestMessagesAreMail(t *testing.T) {
	f := sample(t)
	dec := new(mime.WordDecoder)
	var msgs, withAttachment, alternative int
	seen := map[blob.Digest]bool{}
	for acct, items := range f.items {
		for _, it := range items {
			for _, s := range it.States {
				if s.Type != mailbox.TypeMessage || seen[s.Digest] {
					continue
				}
				if _, bad := f.damaged[s.Digest]; bad {
					continue
				}
				seen[s.Digest] = true
				b, err := f.p.Blobs.Read(s.Digest)
				require.NoError(t, err, "account %s item %d", acct, it.ID)
				assert.Equal(t, s.Size, int64(len(b)), "size of item %d", it.ID)
				m, err := mail.ReadMessage(bytes.NewReader(b))
				require.NoError(t, err, "item %d", it.ID)
				for _, k := range []string{"From", "Date", "Subject", "Message-Id", "Mime-Version"} {
					assert.NotEmpty(t, m.Header.Get(k), "item %d header %s", it.ID, k)
				}
				subj, err := dec.DecodeHeader(m.Header.Get("Subject"))
				require.NoError(t, err)
				assert.Equal(t, s.Subject, subj, "item %d subject", it.ID)
				from, err := mail.ParseAddress(m.Header.Get("From"))
				require.NoError(t, err)
				sfrom, err := mail.ParseAddress(s.From)
				require.NoError(t, err)
				assert.Equal(t, sfrom, from, "item %d from", it.ID)
				to, err := m.Header.AddressList("To")
				require.NoError(t, err)
				sto, err := mail.ParseAddressList(s.To)
				require.NoError(t, err)
				assert.Equal(t, sto, to, "item %d to", it.ID)
				date, err := m.Header.Date()
				require.NoError(t, err)
				assert.Equal(t, s.Date, mailbox.MillisOf(date), "item %d date", it.ID)
				types := mailParts(t, m.Header, m.Body)
				hasAtt := len(types) > 1 && !(len(types) == 2 && types[1] == "text/html")
				assert.Equal(t, hasAtt, strings.Contains(s.Flags, "a"), "item %d flag a vs parts %v", it.ID, types)
				if hasAtt {
					withAttachment++
				}
				if strings.Contains(strings.Join(types, " "), "text/html") {
					alternative++
				}
				msgs++
			}
		}
	}
	assert.Greater(t, msgs, 100)
	assert.Greater(t, withAttachment, 5)
	assert.Greater(t, alternative, 5)
}

func TestContent(t *testing.T) {
	f := sample(t)
	ids, err := f.p.AccountIDs()
	require.NoError(t, err)
	require.Len(t, ids, DefaultAccounts)

	cos := map[string]bool{}
	domainsSeen := map[string]bool{}
	var deleted []*mailbox.Account
	for _, id := range ids {
		_, err := uuid.Parse(id)
		require.NoError(t, err, "account id is a UUID")
		a, err := f.p.ReadAccount(id)
		require.NoError(t, err)
		assert.Regexp(t, `^[a-z]+\.[a-z]+@[a-z.]+$`, a.Name)
		domainsSeen[a.Domain()] = true
		if a.Status == mailbox.StatusDeleted {
			deleted = append(deleted, a)
			assert.NotZero(t, a.DeletedDate)
		} else {
			cos[a.COSName] = true
		}
		st, err := f.p.ReadAccountStat(id)
		require.NoError(t, err)
		items := f.items[id]
		itemCount := len(items)
		lastID := 0
		for _, it := range items {
			lastID = max(lastID, it.ID)
		}
		for key := range f.bad {
			if strings.HasPrefix(key, id+"/") {
				itemCount++
				var n int
				fmt.Sscanf(strings.TrimPrefix(key, id+"/"), "%d", &n)
				lastID = max(lastID, n)
			}
		}
		assert.Equal(t, itemCount, st.ItemCount, "item count of %s", a.Name)
		assert.Equal(t, lastID, st.LastItemID, "last item id of %s", a.Name)
		assert.NotZero(t, st.LastScan)
	}
	assert.GreaterOrEqual(t, len(cos), 2, "COS of active accounts: %v", cos)
	assert.GreaterOrEqual(t, len(domainsSeen), 3)
	require.Len(t, deleted, 1)

	// Facts about item histories, over all accounts.
	var (
		renamed, movedFolder, movedItem, deletedItem, trashThenDeleted, editedDraft bool
		contacts, appointments, tags                                                int
		digestAccounts                                                              = map[blob.Digest]map[string]bool{}
	)
	for acct, items := range f.items {
		system := map[int]bool{}
		for _, it := range items {
			first, last := it.States[0], it.Latest()
			if it.ID < 257 {
				assert.Equal(t, mailbox.TypeFolder, first.Type, "system item %d", it.ID)
				system[it.ID] = true
			}
			digests := map[blob.Digest]bool{}
			for i, s := range it.States {
				assert.Equal(t, first.Type, s.Type)
				if i > 0 {
					assert.GreaterOrEqual(t, s.Start, it.States[i-1].Start)
					prev := it.States[i-1]
					switch s.Type {
					case mailbox.TypeFolder:
						renamed = renamed || s.Name != prev.Name
						movedFolder = movedFolder || s.ParentID != prev.ParentID
					case mailbox.TypeMessage:
						movedItem = movedItem || (s.FolderID != prev.FolderID && s.FolderID != mailbox.FolderTrash)
						trashThenDeleted = trashThenDeleted || (prev.FolderID == mailbox.FolderTrash && s.Deleted)
					}
				}
				if s.Digest != "" {
					digests[s.Digest] = true
					if digestAccounts[s.Digest] == nil {
						digestAccounts[s.Digest] = map[string]bool{}
					}
					digestAccounts[s.Digest][acct] = true
				}
				if s.Type.HasContent() {
					assert.True(t, s.Digest.Valid(), "item %d digest %q", it.ID, s.Digest)
				}
			}
			deletedItem = deletedItem || last.Deleted
			if first.Type == mailbox.TypeMessage && first.FolderID == mailbox.FolderDrafts && len(digests) >= 2 {
				editedDraft = true
			}
			switch first.Type {
			case mailbox.TypeContact:
				contacts++
				assert.Equal(t, mailbox.FolderContacts, first.FolderID)
				b, err := f.p.Blobs.Read(first.Digest)
				require.NoError(t, err)
				assert.True(t, bytes.HasPrefix(b, []byte("BEGIN:VCARD\r\nVERSION:3.0\r\n")), "vCard 3.0")
				assert.Contains(t, string(b), "FN:"+first.Name+"\r\n")
			case mailbox.TypeAppointment:
				appointments++
				assert.Equal(t, mailbox.FolderCalendar, first.FolderID)
				b, err := f.p.Blobs.Read(first.Digest)
				require.NoError(t, err)
				assert.True(t, bytes.HasPrefix(b, []byte("BEGIN:VCALENDAR\r\n")), "iCalendar")
				assert.Contains(t, string(b), "BEGIN:VEVENT\r\n")
				assert.Contains(t, string(b), "SUMMARY:"+first.Subject+"\r\n")
			case mailbox.TypeTag:
				tags++
			}
		}
		for _, id := range []int{1, 2, 3, 4, 5, 6, 7, 10} {
			assert.True(t, system[id], "account %s has system folder %d", acct, id)
		}
	}
	shared := 0
	for _, accts := range digestAccounts {
		if len(accts) >= 2 {
			shared++
		}
	}
	assert.True(t, renamed, "a renamed folder")
	assert.True(t, movedFolder, "a folder moved under another parent")
	assert.True(t, movedItem, "a message moved between folders")
	assert.True(t, deletedItem, "a deleted item")
	assert.True(t, trashThenDeleted, "an item moved to Trash, then deleted")
	assert.True(t, editedDraft, "a draft with several digests")
	assert.Positive(t, shared, "a blob shared by two accounts")
	assert.Positive(t, contacts)
	assert.Positive(t, appointments)
	assert.Positive(t, tags)

	bs, err := f.p.ReadBackupStat()
	require.NoError(t, err)
	_, err = uuid.Parse(bs.ServerID)
	assert.NoError(t, err)
	assert.Equal(t, "mail.example.com", bs.Hostname)
	assert.Less(t, bs.FirstRun, bs.LastScan)
}

func TestBulkFolder(t *testing.T) {
	f := sample(t)
	first, err := f.p.ReadAccount(accountIDByName(t, f, f.rep.Accounts[0]))
	require.NoError(t, err)
	var bulkID, inBulk int
	for _, it := range f.items[first.ID] {
		if l := it.Latest(); l.Type == mailbox.TypeFolder && l.Name == "Bulk" {
			bulkID = it.ID
		}
	}
	require.NotZero(t, bulkID, "Bulk folder")
	for _, it := range f.items[first.ID] {
		if l := it.Latest(); l.Type == mailbox.TypeMessage && l.FolderID == bulkID {
			inBulk++
		}
	}
	assert.Equal(t, 50, inBulk)
}

func accountIDByName(t *testing.T, f *fixture, name string) string {
	t.Helper()
	for id := range f.items {
		a, err := f.p.ReadAccount(id)
		require.NoError(t, err)
		if a.Name == name {
			return id
		}
	}
	t.Fatalf("no account %s", name)
	return ""
}

func TestServerBackups(t *testing.T) {
	f := sample(t)
	files, err := f.p.ServerFiles()
	require.NoError(t, err)
	var configs, archives int
	for _, sf := range files {
		t.Run(sf.Name, func(t *testing.T) {
			switch sf.Kind {
			case backuppath.KindConfig:
				configs++
				c, err := f.p.ReadServerConfig(sf.RelPath)
				require.NoError(t, err)
				assert.Equal(t, sf.Date, c.Date.Time())
				for _, k := range []string{"zimbraMailMode", "zimbraSmtpHostname"} {
					assert.Contains(t, c.ServerConfig, k)
				}
				assert.Contains(t, c.GlobalConfig, "zimbraMtaMaxMessageSize")
				assert.Len(t, c.Domains, 3)
				assert.Len(t, c.COS, 3)
				for _, r := range c.COS {
					assert.NotEmpty(t, r.Attrs, "COS %s attrs", r.Name)
				}
				require.NotEmpty(t, c.DistributionLists)
				assert.NotEmpty(t, c.DistributionLists[0].Members)
			case backuppath.KindCustomizations:
				archives++
				names := untar(t, filepath.Join(f.p.Root, sf.RelPath))
				assert.Contains(t, names, "opt/zextras/conf/localconfig.xml")
				assert.Contains(t, names, "opt/zextras/postfix/conf/main.cf")
			}
		})
	}
	assert.GreaterOrEqual(t, configs, 2)
	assert.GreaterOrEqual(t, archives, 2)
}

func untar(t *testing.T, path string) []string {
	t.Helper()
	fh, err := os.Open(path)
	require.NoError(t, err)
	defer fh.Close()
	zr, err := gzip.NewReader(fh)
	require.NoError(t, err)
	tr := tar.NewReader(zr)
	var names []string
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		n, err := io.Copy(io.Discard, tr)
		require.NoError(t, err)
		assert.Equal(t, h.Size, n)
		names = append(names, h.Name)
	}
	return names
}

func TestBigAttachments(t *testing.T) {
	dest := filepath.Join(t.TempDir(), "bp")
	rep, err := Generate(context.Background(), dest, Options{Accounts: 3, Messages: 8, Seed: 3, BigAttachments: true})
	require.NoError(t, err)
	p, err := backuppath.Open(dest)
	require.NoError(t, err)
	big := 0
	ids, err := p.AccountIDs()
	require.NoError(t, err)
	for _, id := range ids {
		files, _, err := p.ItemFiles(id)
		require.NoError(t, err)
		for _, fl := range files {
			it, err := p.ReadItemFile(fl.RelPath, fl.ItemID)
			if err != nil {
				continue // the malformed one
			}
			if l := it.Latest(); l.Type == mailbox.TypeMessage && l.Size > 1<<20 {
				big++
				b, err := p.Blobs.Read(l.Digest)
				require.NoError(t, err)
				m, err := mail.ReadMessage(bytes.NewReader(b))
				require.NoError(t, err)
				assert.Contains(t, mailParts(t, m.Header, m.Body), "application/pdf")
			}
		}
	}
	assert.GreaterOrEqual(t, big, 2, "messages over 1 MB")
	assert.Greater(t, rep.Bytes, int64(2<<20))
}

func TestDestination(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T) string
		wantErr string
	}{
		{"missing", func(t *testing.T) string { return filepath.Join(t.TempDir(), "a", "b") }, ""},
		{"empty folder", func(t *testing.T) string { return t.TempDir() }, ""},
		{"not empty", func(t *testing.T) string {
			d := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(d, "x"), nil, 0o644))
			return d
		}, "not empty"},
		{"a file", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "f")
			require.NoError(t, os.WriteFile(p, nil, 0o644))
			return p
		}, "not a folder"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dest := tt.setup(t)
			_, err := Generate(context.Background(), dest, Options{Accounts: 3, Messages: 2})
			if tt.wantErr == "" {
				require.NoError(t, err)
				_, err := backuppath.Open(dest)
				assert.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
			ents, err := os.ReadDir(dest)
			if err == nil {
				assert.LessOrEqual(t, len(ents), 1, "nothing added")
			}
		})
	}
}

func TestBadOptions(t *testing.T) {
	tests := []struct {
		name string
		opt  Options
		want string
	}{
		{"two accounts", Options{Accounts: 2}, "accounts"},
		{"negative messages", Options{Messages: -1}, "messages"},
		{"negative folder messages", Options{FolderMessages: -5}, "folder messages"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dest := filepath.Join(t.TempDir(), "bp")
			_, err := Generate(context.Background(), dest, tt.opt)
			require.ErrorContains(t, err, tt.want)
			_, err = os.Stat(dest)
			assert.ErrorIs(t, err, fs.ErrNotExist, "nothing created")
		})
	}
}

// countdownCtx is cancelled after its Err has been asked n times.
type countdownCtx struct {
	context.Context
	mu sync.Mutex
	n  int
}

func (c *countdownCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n <= 0 {
		return context.Canceled
	}
	c.n--
	return nil
}

func TestCancel(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
	}{
		{"before start", cancelled},
		{"in the first account", &countdownCtx{Context: context.Background(), n: 5}},
		{"later", &countdownCtx{Context: context.Background(), n: 60}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Generate(tt.ctx, filepath.Join(t.TempDir(), "bp"), Options{Accounts: 3, Messages: DefaultMessages, FolderMessages: 5000})
			require.ErrorIs(t, err, context.Canceled)
		})
	}
}

func TestReportJSON(t *testing.T) {
	// The report is what cbctl prints with --json: it must encode.
	f := sample(t)
	b, err := json.Marshal(f.rep)
	require.NoError(t, err)
	assert.Contains(t, string(b), DamageMissing)
}
