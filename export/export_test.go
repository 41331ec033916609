package export

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/coherency"
	"github.com/cbfs/cbfs/index"
	"github.com/cbfs/cbfs/internal/testbomb"
	"github.com/cbfs/cbfs/mailbox"
	"github.com/cbfs/cbfs/sample"
	"github.com/cbfs/cbfs/toggles"
)

func genSample(t *testing.T) (*backuppath.Path, *sample.Report) {
	t.Helper()
	dest := filepath.Join(t.TempDir(), "backup")
	rep, err := sample.Generate(context.Background(), dest, sample.Options{Accounts: 6, Messages: 10, Seed: 5})
	require.NoError(t, err)
	bp, err := backuppath.Open(dest)
	require.NoError(t, err)
	return bp, rep
}

// indexed is what the index says of every account: name -> items.
func indexed(t *testing.T, root string) map[string][]index.Item {
	t.Helper()
	bp, err := backuppath.Open(root)
	require.NoError(t, err)
	ix, err := index.Open(bp, ":memory:")
	require.NoError(t, err)
	defer ix.Close()
	_, err = ix.Refresh(context.Background(), nil)
	require.NoError(t, err)
	accts, err := ix.Accounts()
	require.NoError(t, err)
	out := map[string][]index.Item{}
	for _, a := range accts {
		var items []index.Item
		require.NoError(t, ix.Items(a.ID, func(it *index.Item) bool {
			items = append(items, *it)
			return true
		}))
		out[a.Name] = items
	}
	return out
}

func accountsOf(t *testing.T, bp *backuppath.Path) []mailbox.Account {
	t.Helper()
	ids, err := bp.AccountIDs()
	require.NoError(t, err)
	var out []mailbox.Account
	for _, id := range ids {
		a, err := bp.ReadAccount(id)
		require.NoError(t, err)
		out = append(out, *a)
	}
	return out
}

func TestFilters(t *testing.T) {
	src, _ := genSample(t)
	all := accountsOf(t, src)
	srcIndex := indexed(t, src.Root)
	srcStat, err := src.ReadBackupStat()
	require.NoError(t, err)
	dom, cos := all[0].Domain(), all[0].COSName

	tests := []struct {
		name    string
		opt     Options
		want    func(a mailbox.Account) bool
		leftOut []string
	}{
		{"all", Options{}, func(mailbox.Account) bool { return true }, nil},
		{"domain", Options{Domains: []string{strings.ToUpper(dom)}}, func(a mailbox.Account) bool { return a.Domain() == dom }, nil},
		{"cos", Options{COS: SplitList(" " + cos + ", nosuchcos")}, func(a mailbox.Account) bool { return a.COSName == cos }, nil},
		{"domain and cos", Options{Domains: []string{dom}, COS: []string{cos}},
			func(a mailbox.Account) bool { return a.Domain() == dom && a.COSName == cos }, nil},
		{"cos by id", Options{COS: []string{all[0].COSID}}, func(a mailbox.Account) bool { return a.COSID == all[0].COSID }, nil},
		{"disabled by account toggle", Options{Policy: &toggles.Policy{Accounts: map[string]bool{all[1].Name: false}}},
			func(a mailbox.Account) bool { return a.Name != all[1].Name }, []string{all[1].Name}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dest := filepath.Join(t.TempDir(), "export")
			tc.opt.NoSync = tc.name != "all"
			res, err := Run(context.Background(), src, dest, tc.opt)
			require.NoError(t, err)
			var want []string
			for _, a := range all {
				if tc.want(a) {
					want = append(want, a.Name)
				}
			}
			require.NotEmpty(t, want)
			got := append([]string(nil), res.Accounts...)
			sort.Strings(got)
			sort.Strings(want)
			assert.Equal(t, want, got)
			var left []string
			for _, l := range res.LeftOut {
				left = append(left, l.Account)
			}
			assert.Equal(t, tc.leftOut, left)
			assert.Equal(t, len(all)-len(want)-len(left), res.NotSelected)

			// The export is a Backup Path of its own and indexes the same.
			exp, err := backuppath.Open(dest)
			require.NoError(t, err)
			st, err := exp.ReadBackupStat()
			require.NoError(t, err)
			assert.Equal(t, srcStat.ServerID, st.ServerID)
			expIndex := indexed(t, dest)
			assert.Len(t, expIndex, len(want))
			for _, n := range want {
				assert.Equal(t, srcIndex[n], expIndex[n], "items of %s", n)
			}
			// Server files: the latest of each kind.
			assert.Len(t, res.ServerFiles, 2, res.Report())
			sf, err := exp.ServerFiles()
			require.NoError(t, err)
			assert.Len(t, sf, 2)
			// No blob the export needs is missing unless it is missing in
			// the source, and it holds no blob it does not need.
			chk, err := coherency.Check(context.Background(), exp, coherency.Options{})
			require.NoError(t, err)
			for _, p := range chk.Of(coherency.ClassOrphan) {
				assert.NotEmpty(t, p.Items, "only blobs a broken item file mentions may be unnamed: %+v", p)
			}
		})
	}
}

func TestBlobsCopiedAsIs(t *testing.T) {
	src, _ := genSample(t)
	dest := filepath.Join(t.TempDir(), "export")
	res, err := Run(context.Background(), src, dest, Options{NoSync: true})
	require.NoError(t, err)
	exp, err := backuppath.Open(dest)
	require.NoError(t, err)
	n := 0
	require.NoError(t, exp.Blobs.Walk(context.Background(), func(name string, d blob.Digest, ok bool) error {
		require.True(t, ok, name)
		a, err := os.ReadFile(filepath.Join(src.Root, name))
		if err != nil { // a folder where the blob should be, mirrored
			return nil
		}
		b, err := os.ReadFile(filepath.Join(exp.Root, name))
		require.NoError(t, err)
		assert.True(t, bytes.Equal(a, b), name)
		fa, _ := os.Stat(filepath.Join(src.Root, name))
		fb, _ := os.Stat(filepath.Join(exp.Root, name))
		assert.Equal(t, 1, int(statNlink(fb)), "not hard-linked")
		assert.Equal(t, fa.ModTime(), fb.ModTime())
		n++
		return nil
	}))
	assert.Equal(t, res.Blobs, n)
	assert.Positive(t, n)
}

func TestDamageCopiedAndReported(t *testing.T) {
	src, rep := genSample(t)
	dest := filepath.Join(t.TempDir(), "export")
	res, err := Run(context.Background(), src, dest, Options{NoSync: true})
	require.NoError(t, err)
	find := func(class, what string, dm sample.Damaged) *Damage {
		for i, d := range res.Damaged {
			if d.Class == class && d.What == what && d.AccountID == dm.AccountID && d.ItemID == dm.ItemID {
				return &res.Damaged[i]
			}
		}
		return nil
	}
	want := map[string][2]string{
		sample.DamageTruncated:     {"broken", "blob"},
		sample.DamageMismatch:      {"broken", "blob"},
		sample.DamageUnreadable:    {"unreadable", "blob"},
		sample.DamageMissing:       {"missing", "blob"},
		sample.DamageMalformedJSON: {"broken", "item"},
	}
	for _, dm := range rep.Damaged {
		w, ok := want[dm.Kind]
		if !ok {
			continue // double gzip is sound
		}
		t.Run(dm.Kind, func(t *testing.T) {
			d := find(w[0], w[1], dm)
			require.NotNil(t, d, "%s of %s item %d:\n%s", dm.Kind, dm.Account, dm.ItemID, res.Report())
			assert.Equal(t, dm.Kind != sample.DamageMissing, d.Copied)
			if dm.Digest != "" {
				assert.Equal(t, blob.Digest(dm.Digest).RelPath(), d.Path)
			}
		})
	}
	assert.Len(t, res.Damaged, len(want), res.Report())
	assert.Contains(t, res.Report(), "- damaged -")
	// The export shows the same damage as the source.
	exp, err := backuppath.Open(dest)
	require.NoError(t, err)
	c1, err := coherency.Check(context.Background(), src, coherency.Options{})
	require.NoError(t, err)
	c2, err := coherency.Check(context.Background(), exp, coherency.Options{})
	require.NoError(t, err)
	for _, class := range []string{coherency.ClassBroken, coherency.ClassUnreadable, coherency.ClassMissing, coherency.ClassDoubleGzip, coherency.ClassBrokenItem} {
		assert.Equal(t, c1.Count(class), c2.Count(class), class)
	}
}

func TestDisabledByAccountInfo(t *testing.T) {
	src, _ := genSample(t)
	all := accountsOf(t, src)
	a := all[2]
	f := false
	a.BackupEnabled = &f
	require.NoError(t, src.WriteAccount(&a))
	res, err := Run(context.Background(), src, filepath.Join(t.TempDir(), "e"), Options{NoSync: true})
	require.NoError(t, err)
	require.Len(t, res.LeftOut, 1)
	assert.Equal(t, a.Name, res.LeftOut[0].Account)
	assert.NotContains(t, res.Accounts, a.Name)
	// With toggles given, they decide.
	res, err = Run(context.Background(), src, filepath.Join(t.TempDir(), "e"), Options{NoSync: true, Policy: &toggles.Policy{}})
	require.NoError(t, err)
	assert.Empty(t, res.LeftOut)
	assert.Contains(t, res.Accounts, a.Name)
}

func TestBadDestination(t *testing.T) {
	src, _ := genSample(t)
	full := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(full, "x"), nil, 0o644))
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	for name, tc := range map[string]struct{ dest, err string }{
		"not empty":   {full, "is not empty"},
		"a file":      {file, "is not a folder"},
		"inside src":  {filepath.Join(src.Root, "exp"), "inside the Backup Path"},
		"src itself":  {src.Root, "inside the Backup Path"},
		"empty value": {"", "no destination"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Run(context.Background(), src, tc.dest, Options{})
			require.ErrorContains(t, err, tc.err)
		})
	}
	_, err := os.Stat(filepath.Join(src.Root, "exp"))
	assert.True(t, os.IsNotExist(err))
}

func TestCancel(t *testing.T) {
	src, _ := genSample(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := Run(ctx, src, filepath.Join(t.TempDir(), "e"), Options{NoSync: true})
	require.ErrorIs(t, err, context.Canceled)
	assert.True(t, res.Stopped)
}

// A gzip bomb (a blob inflating far past the size its state records) is
// reported broken by the export, as by the mount and the restores.
func TestBombReportedBroken(t *testing.T) {
	src, _ := genSample(t)
	ids, err := src.AccountIDs()
	require.NoError(t, err)
	name, err := testbomb.Plant(src.Root, 64<<20)
	require.NoError(t, err)
	d := blob.Digest(name)
	require.NoError(t, src.AppendState(ids[0], 9000, mailbox.State{Start: 1, Type: mailbox.TypeMessage,
		FolderID: mailbox.FolderInbox, Digest: d, Size: 100}))
	res, err := Run(context.Background(), src, filepath.Join(t.TempDir(), "export"), Options{NoSync: true})
	require.NoError(t, err)
	var found *Damage
	for i, dm := range res.Damaged {
		if dm.Path == d.RelPath() {
			found = &res.Damaged[i]
		}
	}
	require.NotNil(t, found, res.Report())
	assert.Equal(t, "broken", found.Class)
	assert.Contains(t, found.Reason, "size mismatch")
}

// A symlink in the source (an item file pointing outside the Backup Path)
// is reported, never followed: nothing from outside reaches the export.
func TestSymlinkNotFollowed(t *testing.T) {
	src, _ := genSample(t)
	ids, err := src.AccountIDs()
	require.NoError(t, err)
	outside := filepath.Join(t.TempDir(), "secret")
	require.NoError(t, os.WriteFile(outside, []byte(`[{"startDate":1,"type":5,"folderId":2,"subject":"OUTSIDE-SECRET"}]`), 0o600))
	link := filepath.Join(src.Root, "accounts", ids[0], "items", "77", "9977")
	require.NoError(t, os.MkdirAll(filepath.Dir(link), 0o700))
	require.NoError(t, os.Symlink(outside, link))
	dest := filepath.Join(t.TempDir(), "export")
	res, err := Run(context.Background(), src, dest, Options{NoSync: true})
	require.NoError(t, err)
	var found bool
	for _, d := range res.Damaged {
		if strings.HasSuffix(d.Path, "77/9977") {
			found = true
			assert.Equal(t, "unreadable", d.Class)
		}
	}
	assert.True(t, found, res.Report())
	require.NoError(t, filepath.WalkDir(dest, func(p string, d fs.DirEntry, err error) error {
		require.NoError(t, err)
		if d.Type().IsRegular() {
			b, err := os.ReadFile(p)
			require.NoError(t, err)
			assert.NotContains(t, string(b), "OUTSIDE-SECRET", p)
		}
		return nil
	}))
}
