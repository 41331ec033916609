package restore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/index"
	"github.com/cbfs/cbfs/mailbox"
	"github.com/cbfs/cbfs/sample"
)

// fixture is one generated sample, shared by the tests (read-only).
type fixture struct {
	p     *backuppath.Path
	rep   *sample.Report
	ix    *index.Index
	accts []*mailbox.Account
	items map[string][]*mailbox.Item // account id -> readable items
	hash  string                     // tree hash before any restore
}

var (
	fixOnce sync.Once
	fix     *fixture
	fixErr  error
	fixDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if fix != nil {
		fix.ix.Close()
	}
	if fixDir != "" {
		os.RemoveAll(fixDir)
	}
	os.Exit(code)
}

func sampleFixture(t testing.TB) *fixture {
	t.Helper()
	fixOnce.Do(func() {
		fixDir, fixErr = os.MkdirTemp("", "cbfs-restore-test-")
		if fixErr != nil {
			return
		}
		dest := filepath.Join(fixDir, "bp")
		f := &fixture{items: map[string][]*mailbox.Item{}}
		if f.rep, fixErr = sample.Generate(context.Background(), dest, sample.Options{Accounts: 4, Messages: 40, Seed: 11}); fixErr != nil {
			return
		}
		if f.p, fixErr = backuppath.Open(dest); fixErr != nil {
			return
		}
		if f.ix, fixErr = index.Open(f.p, ":memory:"); fixErr != nil {
			return
		}
		if _, fixErr = f.ix.Refresh(context.Background(), nil); fixErr != nil {
			return
		}
		ids, err := f.p.AccountIDs()
		if err != nil {
			fixErr = err
			return
		}
		for _, id := range ids {
			a, err := f.p.ReadAccount(id)
			if err != nil {
				fixErr = err
				return
			}
			f.accts = append(f.accts, a)
			files, _, err := f.p.ItemFiles(id)
			if err != nil {
				fixErr = err
				return
			}
			for _, fl := range files {
				if it, err := f.p.ReadItemFile(fl.RelPath, fl.ItemID); err == nil {
					f.items[id] = append(f.items[id], it)
				}
			}
		}
		f.hash, fixErr = treeHash(dest)
		fix = f
	})
	require.NoError(t, fixErr, "generate the sample")
	return fix
}

// treeHash hashes every path, size, mode and mtime under root.
func treeHash(root string) (string, error) {
	h := sha256.New()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s %d %v %d\n", path, fi.Size(), fi.Mode(), fi.ModTime().UnixNano())
		return nil
	})
	return hex.EncodeToString(h.Sum(nil)), err
}

// activeAccounts are the accounts whose status is active.
func (f *fixture) activeAccounts() []*mailbox.Account {
	var out []*mailbox.Account
	for _, a := range f.accts {
		if a.Status == mailbox.StatusActive {
			out = append(out, a)
		}
	}
	return out
}

// damagedIDs is the set of account id/item id that sample planted
// unrestorable damage in, with the class restore must give them.
func (f *fixture) damagedClasses() map[string]string {
	out := map[string]string{}
	for _, d := range f.rep.Damaged {
		class := ""
		switch d.Kind {
		case sample.DamageTruncated, sample.DamageMismatch, sample.DamageMalformedJSON:
			class = ClassBroken
		case sample.DamageUnreadable, sample.DamageMissing:
			class = ClassReadError
		default:
			continue // double gzip is sound
		}
		out[fmt.Sprintf("%s/%d", d.AccountID, d.ItemID)] = class
	}
	return out
}

// want is one message a restore must produce.
type want struct {
	Folder string // Maildir folder: "" for the inbox, ".INBOX.Projects", ".Sent"
	Digest string
	Flags  string // Maildir flags
	Date   int64  // unix seconds of the internal date
}

// zflagsToMaildir is the test's own reading of the flag table.
func zflagsToMaildir(z string) string {
	m := map[byte]byte{'d': 'D', 'f': 'F', 'w': 'P', 'r': 'R'}
	var out []byte
	for _, c := range []byte("dfwr") {
		if strings.IndexByte(z, c) >= 0 {
			out = append(out, m[c])
		}
	}
	if strings.IndexByte(z, 'u') < 0 {
		out = append(out, 'S')
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return string(out)
}

// maildirFolderOf maps an index folder path ("Inbox/Projects") to the
// Maildir++ folder name.
func maildirFolderOf(path string) string {
	parts := strings.Split(path, "/")
	if parts[0] == "Inbox" {
		parts[0] = "INBOX"
		if len(parts) == 1 {
			return ""
		}
	}
	return mailbox.MaildirFolderName(parts)
}

// wantAt lists the messages a restore of account a at t (zero: latest)
// must give: items whose state at t is a live message with a sound blob,
// in the folder the index names at t. damaged items are left out.
func (f *fixture) wantAt(t testing.TB, a *mailbox.Account, at time.Time) []want {
	folders, err := f.ix.Folders(a.ID, at)
	require.NoError(t, err)
	byID := map[int]string{}
	for _, fo := range folders {
		byID[fo.ID] = fo.Path
	}
	bad := f.damagedClasses()
	var out []want
	for _, it := range f.items[a.ID] {
		s := it.Latest()
		if !at.IsZero() {
			s = it.StateAt(at)
		}
		if s == nil || s.Deleted || (s.Type != mailbox.TypeMessage && s.Type != mailbox.TypeChat) {
			continue
		}
		if _, ok := bad[fmt.Sprintf("%s/%d", a.ID, it.ID)]; ok {
			continue
		}
		path, ok := byID[s.FolderID]
		require.True(t, ok, "item %d: folder %d not in the tree", it.ID, s.FolderID)
		out = append(out, want{Folder: maildirFolderOf(path), Digest: string(s.Digest), Flags: zflagsToMaildir(s.Flags),
			Date: s.Date.Time().Unix()})
	}
	sortWants(out)
	return out
}

func sortWants(w []want) {
	sort.Slice(w, func(i, j int) bool {
		if w[i].Folder != w[j].Folder {
			return w[i].Folder < w[j].Folder
		}
		return w[i].Digest < w[j].Digest
	})
}

// readMaildir lists every message in an account's Maildir tree, with the
// digest of its bytes, its flags (keywords left out) and mtime.
func readMaildir(t testing.TB, dir string) []want {
	var out []want
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	folders := []string{""}
	for _, e := range ents {
		if e.IsDir() && strings.HasPrefix(e.Name(), ".") {
			folders = append(folders, e.Name())
		}
	}
	for _, fo := range folders {
		for _, sub := range []string{"cur", "new"} {
			files, err := os.ReadDir(filepath.Join(dir, fo, sub))
			require.NoError(t, err)
			for _, fl := range files {
				path := filepath.Join(dir, fo, sub, fl.Name())
				b, err := os.ReadFile(path)
				require.NoError(t, err)
				fi, err := os.Stat(path)
				require.NoError(t, err)
				_, info, _ := strings.Cut(fl.Name(), ":2,")
				flags := strings.Map(func(r rune) rune {
					if r >= 'a' && r <= 'z' {
						return -1
					}
					return r
				}, info)
				out = append(out, want{Folder: fo, Digest: string(blob.Sum(b)), Flags: flags, Date: fi.ModTime().Unix()})
			}
		}
	}
	sortWants(out)
	return out
}

func openLedger(t testing.TB) *Ledger {
	l, err := OpenLedger(filepath.Join(t.TempDir(), "state", "restore-ledger.db"))
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	return l
}

// countingTarget wraps a target and calls onAppend before each Append.
type countingTarget struct {
	Target
	onAppend func() error
}

func (c *countingTarget) Open(ctx context.Context, account string) (Mailbox, error) {
	mb, err := c.Target.Open(ctx, account)
	if err != nil {
		return nil, err
	}
	return &countingBox{Mailbox: mb, t: c}, nil
}

type countingBox struct {
	Mailbox
	t *countingTarget
}

func (b *countingBox) Append(ctx context.Context, folder []string, msg *Message, done func(Appended, error)) error {
	if b.t.onAppend != nil {
		if err := b.t.onAppend(); err != nil {
			return err
		}
	}
	return b.Mailbox.Append(ctx, folder, msg, done)
}
