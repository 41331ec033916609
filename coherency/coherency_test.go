package coherency

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/internal/testbomb"
	"github.com/cbfs/cbfs/mailbox"
	"github.com/cbfs/cbfs/sample"
)

// genSample makes a small sample Backup Path with every planted damage.
func genSample(t *testing.T) (*backuppath.Path, *sample.Report) {
	t.Helper()
	dest := filepath.Join(t.TempDir(), "backup")
	rep, err := sample.Generate(context.Background(), dest, sample.Options{Accounts: 4, Messages: 12, Seed: 11})
	require.NoError(t, err)
	bp, err := backuppath.Open(dest)
	require.NoError(t, err)
	return bp, rep
}

// wantClass is the class the check gives each planted damage kind.
var wantClass = map[string]string{
	sample.DamageTruncated:     ClassBroken,
	sample.DamageMismatch:      ClassBroken,
	sample.DamageUnreadable:    ClassUnreadable,
	sample.DamageMissing:       ClassMissing,
	sample.DamageDoubleGzip:    ClassDoubleGzip,
	sample.DamageMalformedJSON: ClassBrokenItem,
}

func hasItem(p Problem, accountID string, itemID int) bool {
	for _, r := range p.Items {
		if r.AccountID == accountID && r.ItemID == itemID {
			return true
		}
	}
	return false
}

// find returns the problem of class about the planted damage dm.
func find(res *Result, class string, dm sample.Damaged) *Problem {
	for i, p := range res.Problems {
		if p.Class != class || !hasItem(p, dm.AccountID, dm.ItemID) {
			continue
		}
		if dm.Digest != "" && p.Digest != dm.Digest {
			continue
		}
		return &res.Problems[i]
	}
	return nil
}

func TestFindsEveryPlantedDamage(t *testing.T) {
	bp, rep := genSample(t)
	var calls atomic.Int64
	res, err := Check(context.Background(), bp, Options{Progress: func(done, total int, phase string) {
		calls.Add(1)
		assert.LessOrEqual(t, done, total)
	}})
	require.NoError(t, err)
	assert.Positive(t, calls.Load())
	assert.Equal(t, rep.Blobs, res.Blobs, "every entry under items/ is looked at")
	assert.Equal(t, rep.Items, res.Items)
	assert.Equal(t, len(rep.Accounts), res.Accounts)

	kinds := map[string]bool{}
	for _, dm := range rep.Damaged {
		kinds[dm.Kind] = true
		t.Run(dm.Kind, func(t *testing.T) {
			class := wantClass[dm.Kind]
			require.NotEmpty(t, class, "a class for every kind")
			p := find(res, class, dm)
			require.NotNil(t, p, "%s item %d of %s reported as %s:\n%s", dm.Kind, dm.ItemID, dm.Account, class, res.Report())
			assert.Contains(t, res.Report(), class+": ")
			for _, r := range p.Items {
				if r.AccountID == dm.AccountID {
					assert.Equal(t, dm.Account, r.Account)
				}
			}
		})
	}
	for _, k := range sample.DamageKinds {
		assert.True(t, kinds[k], "the sample plants %s", k)
	}
	// Nothing else is wrong with a fresh sample.
	planted := 0
	for _, c := range []string{ClassBroken, ClassUnreadable, ClassMissing, ClassDoubleGzip, ClassBrokenItem} {
		planted += res.Count(c)
	}
	assert.Equal(t, len(rep.Damaged), planted, res.Report())
	for _, c := range []string{ClassNotDigest, ClassUnreadableItem, ClassBrokenAccount, ClassUnreadableAccount, ClassNotItem} {
		assert.Zero(t, res.Count(c), "%s\n%s", c, res.Report())
	}
	assert.Contains(t, res.Report(), "- damaged items -")
	assert.Zero(t, res.Quarantined)
	_, err = os.Stat(filepath.Join(bp.Root, QuarantineDir))
	assert.True(t, os.IsNotExist(err), "a check without fix changes nothing")
}

// plantExtra adds damage the sample does not make: an orphan blob, a
// non-digest name, a misplaced digest, a stray name in an items bucket and a
// broken account_info.
func plantExtra(t *testing.T, bp *backuppath.Path) (orphan blob.Digest, brokenAcct string) {
	t.Helper()
	orphan, _, err := bp.Blobs.Put([]byte("nobody names me\n"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(bp.Root, "items", orphan.Dir(), "notes.txt"), []byte("x"), 0o644))
	other := blob.Sum([]byte("misplaced"))
	dir := "zz"
	if other.Dir() == dir {
		dir = "yy"
	}
	require.NoError(t, os.MkdirAll(filepath.Join(bp.Root, "items", dir), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(bp.Root, "items", dir, string(other)), []byte("x"), 0o644))
	ids, err := bp.AccountIDs()
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Join(bp.AccountDir(ids[0]), "items", "00"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(bp.AccountDir(ids[0]), "items", "00", "readme"), []byte("x"), 0o644))
	brokenAcct = ids[len(ids)-1]
	require.NoError(t, os.WriteFile(filepath.Join(bp.AccountDir(brokenAcct), backuppath.AccountInfoFile), []byte(`{"name":`), 0o644))
	return orphan, brokenAcct
}

func TestExtraClasses(t *testing.T) {
	bp, rep := genSample(t)
	orphan, brokenAcct := plantExtra(t, bp)
	res, err := Check(context.Background(), bp, Options{})
	require.NoError(t, err)
	// Two orphans: the planted one, and the blob of the sample's malformed
	// item file, which no readable state names but that file still does.
	orphans := res.Of(ClassOrphan)
	require.Len(t, orphans, 2, res.Report())
	var mal sample.Damaged
	for _, dm := range rep.Damaged {
		if dm.Kind == sample.DamageMalformedJSON {
			mal = dm
		}
	}
	for _, o := range orphans {
		if o.Digest == string(orphan) {
			assert.Empty(t, o.Items)
			assert.Equal(t, "no state of any account names it", o.Reason)
		} else {
			assert.True(t, hasItem(o, mal.AccountID, mal.ItemID), "%+v", o)
			assert.Contains(t, o.Reason, "broken item file")
		}
	}
	nd := res.Of(ClassNotDigest)
	require.Len(t, nd, 2, res.Report())
	reasons := []string{nd[0].Reason, nd[1].Reason}
	sort.Strings(reasons)
	assert.Contains(t, reasons[0], "wrong folder")
	assert.Equal(t, "not a digest", reasons[1])
	assert.Len(t, res.Of(ClassNotItem), 1)
	ba := res.Of(ClassBrokenAccount)
	require.Len(t, ba, 1)
	assert.Equal(t, "accounts/"+brokenAcct+"/account_info", ba[0].Path)
}

func TestFixQuarantinesAndSecondCheckIsClean(t *testing.T) {
	bp, rep := genSample(t)
	plantExtra(t, bp)
	now := time.Date(2024, 8, 1, 12, 0, 0, 0, time.UTC)
	before := listFiles(t, bp.Root)

	res, err := Check(context.Background(), bp, Options{FixBackup: true, Now: now})
	require.NoError(t, err)
	assert.Equal(t, "quarantine/20240801T120000Z", res.Quarantine)
	// Every bad file was moved, none deleted: the same files exist, some
	// now under the quarantine folder with their relative path.
	moved := 0
	for _, p := range res.Problems {
		switch p.Class {
		case ClassNotDigest:
			// A name cbfs does not recognise is another writer's business:
			// reported, never moved.
			assert.Contains(t, p.Action, "not moved", "%+v", p)
			_, err := os.Lstat(filepath.Join(bp.Root, p.Path))
			require.NoError(t, err, "%s stays where it is", p.Path)
		case ClassBroken, ClassUnreadable, ClassBrokenItem, ClassUnreadableItem:
			require.Equal(t, "moved to "+res.Quarantine+"/"+p.Path, p.Action, "%+v", p)
			_, err := os.Lstat(filepath.Join(bp.Root, res.Quarantine, p.Path))
			require.NoError(t, err)
			_, err = os.Lstat(filepath.Join(bp.Root, p.Path))
			require.True(t, os.IsNotExist(err))
			moved++
		default:
			assert.Empty(t, p.Action, "%+v", p)
		}
	}
	assert.Equal(t, moved, res.Quarantined)
	assert.Positive(t, moved)
	after := listFiles(t, bp.Root)
	for f := range before {
		_, here := after[f]
		_, there := after[res.Quarantine+"/"+f]
		assert.True(t, here || there, "%s was neither kept nor quarantined", f)
	}
	// A folder where a blob should be went too.
	for _, dm := range rep.Damaged {
		if dm.Kind == sample.DamageUnreadable {
			fi, err := os.Lstat(filepath.Join(bp.Root, res.Quarantine, blob.Digest(dm.Digest).RelPath()))
			require.NoError(t, err)
			assert.True(t, fi.IsDir())
		}
	}

	res2, err := Check(context.Background(), bp, Options{})
	require.NoError(t, err)
	for _, c := range []string{ClassBroken, ClassUnreadable, ClassNotDigest, ClassBrokenItem, ClassUnreadableItem, ClassNotItem} {
		if c == ClassNotItem || c == ClassNotDigest {
			assert.Equal(t, res.Count(c), res2.Count(c), "%s: reported, not moved", c)
			continue
		}
		assert.Zero(t, res2.Count(c), "%s after fix:\n%s", c, res2.Report())
	}
	// What cannot be fixed: blobs that are gone. The planted missing blob,
	// and now the quarantined broken/unreadable ones, read as missing.
	var gone []string
	for _, dm := range rep.Damaged {
		switch dm.Kind {
		case sample.DamageMissing, sample.DamageTruncated, sample.DamageMismatch, sample.DamageUnreadable:
			gone = append(gone, dm.Digest)
			require.NotNil(t, find(res2, ClassMissing, dm), "%s still reported missing", dm.Kind)
		}
	}
	assert.Equal(t, len(gone), res2.Count(ClassMissing))
	assert.Equal(t, 1, res2.Count(ClassDoubleGzip), "double gzip only reported without fixDoubleGzip fix")
}

func listFiles(t *testing.T, root string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	require.NoError(t, filepath.Walk(root, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		out[filepath.ToSlash(rel)] = true
		return nil
	}))
	return out
}

func TestFixDoubleGzip(t *testing.T) {
	bp, rep := genSample(t)
	var dm sample.Damaged
	for _, d := range rep.Damaged {
		if d.Kind == sample.DamageDoubleGzip {
			dm = d
		}
	}
	require.NotEmpty(t, dm.Digest)
	d := blob.Digest(dm.Digest)
	want, err := bp.Blobs.Read(d)
	require.NoError(t, err)
	outerBefore := outerLayer(t, bp.Blobs.Path(d))
	require.True(t, bytes.HasPrefix(outerBefore, gzipMagic), "planted as gzip inside gzip")

	for _, mode := range []DoubleGzip{DoubleGzipCheck, DoubleGzipFix} {
		t.Run(string(mode), func(t *testing.T) {
			res, err := Check(context.Background(), bp, Options{DoubleGzip: mode})
			require.NoError(t, err)
			p := find(res, ClassDoubleGzip, dm)
			require.NotNil(t, p, res.Report())
			if mode == DoubleGzipCheck {
				assert.Empty(t, p.Action)
				assert.Zero(t, res.DoubleGzipFixed)
				assert.Equal(t, outerBefore, outerLayer(t, bp.Blobs.Path(d)), "check changes nothing")
				return
			}
			assert.Equal(t, "rewritten as single gzip", p.Action)
			assert.Equal(t, 1, res.DoubleGzipFixed)
			assert.Zero(t, res.Quarantined, "fixDoubleGzip alone quarantines nothing")
			// Same name, same content, one layer.
			assert.Equal(t, want, outerLayer(t, bp.Blobs.Path(d)))
			got, err := blob.NewStore(bp.Root).Read(d)
			require.NoError(t, err)
			assert.Equal(t, want, got)
			res2, err := Check(context.Background(), bp, Options{})
			require.NoError(t, err)
			assert.Zero(t, res2.Count(ClassDoubleGzip), res2.Report())
		})
	}
}

// gzipMagic starts every gzip member (ID1, ID2, CM=deflate).
var gzipMagic = []byte{0x1f, 0x8b, 0x08}

func outerLayer(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	zr, err := gzip.NewReader(f)
	require.NoError(t, err)
	b, err := io.ReadAll(zr)
	require.NoError(t, err)
	return b
}

func TestContentThatIsGzipIsNotDoubleGzip(t *testing.T) {
	root := t.TempDir()
	bp, err := backuppath.Create(root, backuppath.BackupStat{ServerID: "s"})
	require.NoError(t, err)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte("an attachment that is a .gz file"))
	require.NoError(t, zw.Close())
	d, _, err := bp.Blobs.Put(gz.Bytes())
	require.NoError(t, err)
	require.NoError(t, bp.WriteAccount(&mailbox.Account{ID: "a", Name: "a@x"}))
	require.NoError(t, bp.CreateItem("a", &mailbox.Item{ID: 300, States: []mailbox.State{{Start: 1, Type: mailbox.TypeDocument, Digest: d}}}))
	res, err := Check(context.Background(), bp, Options{})
	require.NoError(t, err)
	assert.Empty(t, res.Problems, res.Report())
	assert.Equal(t, 1, res.Blobs)
	assert.Equal(t, 1, res.States)
}

func TestCancel(t *testing.T) {
	bp, _ := genSample(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := Check(ctx, bp, Options{FixBackup: true})
	require.ErrorIs(t, err, context.Canceled)
	require.NotNil(t, res)
	assert.True(t, res.Stopped)
	_, err = os.Stat(filepath.Join(bp.Root, QuarantineDir))
	assert.True(t, os.IsNotExist(err))
}

func TestParseDoubleGzip(t *testing.T) {
	for in, want := range map[string]DoubleGzip{"": DoubleGzipCheck, "check": DoubleGzipCheck, "FIX": DoubleGzipFix} {
		got, err := ParseDoubleGzip(in)
		require.NoError(t, err)
		assert.Equal(t, want, got)
	}
	_, err := ParseDoubleGzip("yes")
	require.ErrorContains(t, err, `not "yes"`)
	_, err = Check(context.Background(), &backuppath.Path{}, Options{DoubleGzip: "yes"})
	require.Error(t, err)
}

// A Backup Path with no items/ (blobless) reports no missing blobs and says
// it is blobless.
func TestBlobless(t *testing.T) {
	bp, _ := genSample(t)
	require.NoError(t, os.RemoveAll(filepath.Join(bp.Root, "items")))
	res, err := Check(context.Background(), bp, Options{})
	require.NoError(t, err)
	assert.True(t, res.Blobless)
	assert.Zero(t, res.Count(ClassMissing), res.Report())
	assert.Contains(t, res.Report(), "Blobless: true")
	assert.Positive(t, res.States)
}

// drive_items/ (Carbonio Files), at the root and in an account folder, is
// counted and raises no problem: cbfs cannot check what it cannot read.
func TestDriveItemsCountedNotFlagged(t *testing.T) {
	bp, _ := genSample(t)
	before, err := Check(context.Background(), bp, Options{})
	require.NoError(t, err)
	ids, err := bp.AccountIDs()
	require.NoError(t, err)
	for _, rel := range []string{
		"drive_items/0a/7c0e8a5e-0000-4000-8000-00000000000a",
		filepath.Join("accounts", ids[0], "drive_items/3c/7c0e8a5e-0000-4000-8000-00000000003c"),
	} {
		p := filepath.Join(bp.Root, rel)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte("not ours to read"), 0o644))
	}
	res, err := Check(context.Background(), bp, Options{FixBackup: true})
	require.NoError(t, err)
	assert.Equal(t, 2, res.DriveItemFiles)
	assert.EqualValues(t, 32, res.DriveItemBytes)
	assert.Len(t, res.Problems, len(before.Problems), res.Report())
	assert.Contains(t, res.Report(), "Drive Items (Carbonio Files, not checked): 2 files, 32 bytes")
	_, err = os.Stat(filepath.Join(bp.Root, "drive_items/0a/7c0e8a5e-0000-4000-8000-00000000000a"))
	assert.NoError(t, err, "the fix must leave drive_items alone")
}

// plantLeftovers writes temporary files as a kill -9 leaves them: three
// older than backuppath.LeftoverMinAge and one fresh. It returns their
// relative paths, old ones first.
func plantLeftovers(t *testing.T, root string) (old []string, fresh string) {
	t.Helper()
	ago := time.Now().Add(-3 * time.Hour)
	for _, rel := range []string{".cbfs-tmp-111", "items/.cbfs-tmp-222", "accounts/a/.cbfs-tmp-333"} {
		p := filepath.Join(root, rel)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte("half written"), 0o600))
		require.NoError(t, os.Chtimes(p, ago, ago))
		old = append(old, rel)
	}
	fresh = "accounts/a/.cbfs-tmp-444"
	require.NoError(t, os.WriteFile(filepath.Join(root, fresh), []byte("being written"), 0o600))
	return old, fresh
}

func TestLeftovers(t *testing.T) {
	root := t.TempDir()
	bp, err := backuppath.Create(root, backuppath.BackupStat{ServerID: "s"})
	require.NoError(t, err)
	d, _, err := bp.Blobs.Put([]byte("mail"))
	require.NoError(t, err)
	require.NoError(t, bp.WriteAccount(&mailbox.Account{ID: "a", Name: "a@x"}))
	require.NoError(t, bp.CreateItem("a", &mailbox.Item{ID: 300, States: []mailbox.State{{Start: 1, Type: mailbox.TypeMessage, Digest: d}}}))
	old, fresh := plantLeftovers(t, root)

	res, err := Check(context.Background(), bp, Options{})
	require.NoError(t, err)
	var got []string
	for _, p := range res.Of(ClassLeftover) {
		got = append(got, p.Path)
		assert.Contains(t, p.Reason, "temporary file of an interrupted write")
		assert.Empty(t, p.Action)
	}
	assert.ElementsMatch(t, append(append([]string(nil), old...), fresh), got)
	assert.Len(t, res.Problems, 4, res.Report())
	assert.Contains(t, res.Report(), "Leftover Temporary Files: 4\n")
	assert.Contains(t, res.Of(ClassLeftover)[0].Reason, "3h0m", "the age is reported")

	res, err = Check(context.Background(), bp, Options{FixBackup: true})
	require.NoError(t, err)
	assert.Equal(t, 3, res.LeftoversRemoved, res.Report())
	for _, rel := range old {
		assert.NoFileExists(t, filepath.Join(root, rel))
	}
	assert.FileExists(t, filepath.Join(root, fresh), "a fresh one may be a write in progress")
	for _, p := range res.Of(ClassLeftover) {
		if p.Path == fresh {
			assert.Contains(t, p.Action, "kept: younger than 1h")
		} else {
			assert.Equal(t, "removed", p.Action)
		}
	}
	res, err = Check(context.Background(), bp, Options{})
	require.NoError(t, err)
	assert.Len(t, res.Problems, 1, res.Report())
}

// A gzip bomb (a blob inflating far past the size its state records) is
// broken to the coherency check, found in bounded memory.
func TestBombIsBroken(t *testing.T) {
	bp, _ := genSample(t)
	ids, err := bp.AccountIDs()
	require.NoError(t, err)
	name, err := testbomb.Plant(bp.Root, 256<<20)
	require.NoError(t, err)
	d := blob.Digest(name)
	require.NoError(t, bp.AppendState(ids[0], 9000, mailbox.State{Start: 1, Type: mailbox.TypeMessage,
		FolderID: mailbox.FolderInbox, Digest: d, Size: 100}))

	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	res, err := Check(context.Background(), bp, Options{})
	require.NoError(t, err)
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	var bomb *Problem
	for i, p := range res.Problems {
		if p.Digest == string(d) {
			bomb = &res.Problems[i]
		}
	}
	require.NotNil(t, bomb, res.Report())
	assert.Equal(t, ClassBroken, bomb.Class)
	assert.Contains(t, bomb.Reason, "size mismatch")
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(128<<20), "bounded memory")
}
