package fusefs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/index"
	"github.com/cbfs/cbfs/mailbox"
	"github.com/cbfs/cbfs/sample"
)

// ---- content reading without a mount ----

// blobFS is an FS over a bare blob store (no index).
func blobFS(t *testing.T, small int64) (*FS, *blob.Store) {
	st := blob.NewStore(t.TempDir())
	f := &FS{store: st, opt: Options{SmallBlob: small, CacheBytes: 1 << 20}, blobs: blob.NewCache(st, blob.CacheOptions{MaxBytes: 1 << 20, SmallBlob: small})}
	return f, st
}

func randomText(n int, seed int64) []byte {
	r := rand.New(rand.NewSource(seed))
	b := make([]byte, n)
	const letters = "abcdefghij klmnopqrstuvwxyz\n"
	for i := range b {
		b[i] = letters[r.Intn(len(letters))]
	}
	return b
}

func readAt(t *testing.T, h interface {
	Read(context.Context, []byte, int64) (fuse.ReadResult, syscall.Errno)
}, off int64, n int) ([]byte, syscall.Errno) {
	t.Helper()
	res, errno := h.Read(context.Background(), make([]byte, n), off)
	if errno != 0 {
		return nil, errno
	}
	b, st := res.Bytes(make([]byte, n))
	require.Equal(t, fuse.OK, st)
	return append([]byte(nil), b...), 0
}

func TestBlobFileRead(t *testing.T) {
	data := randomText(3<<20+12345, 1)
	for _, small := range []int64{64 << 20, 1 << 10} { // whole, streamed
		t.Run("small="+strconv.FormatInt(small, 10), func(t *testing.T) {
			f, st := blobFS(t, small)
			d, _, err := st.Put(data)
			require.NoError(t, err)
			file := &blobFile{digest: d}
			file.init(f, 1, false, int64(len(data)), zeroTime)
			fh, flags, errno := file.Open(context.Background(), syscall.O_RDONLY)
			require.Zero(t, errno)
			assert.NotZero(t, flags&fuse.FOPEN_KEEP_CACHE)
			h := fh.(interface {
				Read(context.Context, []byte, int64) (fuse.ReadResult, syscall.Errno)
			})
			// Out of order, as concurrent readahead does, then a restart.
			chunk := 128 << 10
			var offs []int64
			for off := int64(0); off < int64(len(data)); off += int64(chunk) {
				offs = append(offs, off)
			}
			for i := 0; i+1 < len(offs); i += 2 {
				offs[i], offs[i+1] = offs[i+1], offs[i]
			}
			offs = append(offs, 0, int64(len(data))-10)
			for _, off := range offs {
				got, errno := readAt(t, h, off, chunk)
				require.Zero(t, errno, "offset %d", off)
				end := min(off+int64(chunk), int64(len(data)))
				require.True(t, bytes.Equal(data[off:end], got), "offset %d", off)
			}
			_, _, errno = file.Open(context.Background(), syscall.O_RDWR)
			assert.Equal(t, syscall.EROFS, errno)
		})
	}
}

func TestBlobFileBroken(t *testing.T) {
	data := randomText(2<<20, 2)
	for _, small := range []int64{64 << 20, 1 << 10} {
		t.Run("small="+strconv.FormatInt(small, 10), func(t *testing.T) {
			f, st := blobFS(t, small)
			d, _, err := st.Put(data)
			require.NoError(t, err)
			// Truncate the compressed file: a broken blob.
			p := st.Path(d)
			fi, err := os.Stat(p)
			require.NoError(t, err)
			require.NoError(t, os.Truncate(p, fi.Size()*3/4))

			file := &blobFile{digest: d}
			file.init(f, 1, false, int64(len(data)), zeroTime)
			fh, _, errno := file.Open(context.Background(), syscall.O_RDONLY)
			require.Zero(t, errno, "open succeeds; read fails")
			h := fh.(interface {
				Read(context.Context, []byte, int64) (fuse.ReadResult, syscall.Errno)
			})
			_, errno = readAt(t, h, int64(len(data))-100, 128<<10)
			assert.Equal(t, syscall.EIO, errno, "the read reaching the end fails")
			assert.ErrorIs(t, f.blobs.Health(d, int64(len(data))), blob.ErrBroken)
			part := f.blobs.SalvageLimit(d, int64(len(data)))
			assert.NotEmpty(t, part)
			assert.True(t, bytes.HasPrefix(data, part), "salvaged bytes are a prefix")
		})
	}
}

func TestListHandle(t *testing.T) {
	h := &listHandle{entries: []fuse.DirEntry{{Name: "a"}, {Name: "b"}, {Name: "c"}}}
	ctx := context.Background()
	var names []string
	for {
		e, errno := h.Readdirent(ctx)
		require.Zero(t, errno)
		if e == nil {
			break
		}
		names = append(names, e.Name)
		assert.Equal(t, uint64(len(names)), e.Off)
	}
	assert.Equal(t, []string{"a", "b", "c"}, names)
	require.Zero(t, h.Seekdir(ctx, 1))
	e, _ := h.Readdirent(ctx)
	assert.Equal(t, "b", e.Name)
}

func TestGetxattrOtherNames(t *testing.T) {
	n := &node{xa: func() []xattr {
		t.Fatal("user.cbfs values computed for a foreign name")
		return nil
	}}
	for name, want := range map[string]syscall.Errno{
		"system.posix_acl_access": syscall.EOPNOTSUPP,
		"security.selinux":        syscall.EOPNOTSUPP,
		"trusted.x":               syscall.EOPNOTSUPP,
		"user.other":              syscall.ENODATA,
	} {
		_, errno := n.Getxattr(context.Background(), name, make([]byte, 100))
		assert.Equal(t, want, errno, name)
	}
	n.xa = func() []xattr { return []xattr{{xattrPrefix + "itemid", "42"}} }
	sz, errno := n.Getxattr(context.Background(), xattrPrefix+"itemid", nil)
	assert.Equal(t, syscall.ERANGE, errno)
	assert.Equal(t, uint32(2), sz)
	buf := make([]byte, 10)
	sz, errno = n.Getxattr(context.Background(), xattrPrefix+"itemid", buf)
	require.Zero(t, errno)
	assert.Equal(t, "42", string(buf[:sz]))
}

// Listxattr names exactly the attributes Getxattr answers: a healthy
// item has no salvage, so getfattr -d must not be offered one.
func TestListxattrNamesOnlyPresent(t *testing.T) {
	n := &node{xa: func() []xattr {
		return []xattr{{xattrPrefix + "itemid", "42"}, {xattrPrefix + "status", "ok"}}
	}}
	sz, errno := n.Listxattr(context.Background(), nil)
	assert.Equal(t, syscall.ERANGE, errno)
	buf := make([]byte, sz)
	sz, errno = n.Listxattr(context.Background(), buf)
	require.Zero(t, errno)
	names := strings.Split(strings.TrimSuffix(string(buf[:sz]), "\x00"), "\x00")
	assert.Equal(t, []string{xattrPrefix + "itemid", xattrPrefix + "status"}, names)
	for _, name := range names {
		_, errno := n.Getxattr(context.Background(), name, make([]byte, 100))
		assert.Zero(t, errno, name)
	}
}

// ---- the tree over a generated sample (no mount) ----

var (
	sampleOnce sync.Once
	sampleRoot string
	sampleRep  *sample.Report
	sampleErr  error
)

func sampleFS(t *testing.T) (*FS, *sample.Report) {
	t.Helper()
	sampleOnce.Do(func() {
		dir, err := os.MkdirTemp("", "fusefs-sample-")
		if err != nil {
			sampleErr = err
			return
		}
		sampleRoot = dir + "/bp"
		sampleRep, sampleErr = sample.Generate(context.Background(), sampleRoot, sample.Options{Seed: 7})
	})
	require.NoError(t, sampleErr)
	bp, err := backuppath.Open(sampleRoot)
	require.NoError(t, err)
	ix, err := index.Open(bp, ":memory:")
	require.NoError(t, err)
	t.Cleanup(func() { ix.Close() })
	_, err = ix.Refresh(context.Background(), nil)
	require.NoError(t, err)
	return New(ix, Options{}), sampleRep
}

func TestMain(m *testing.M) {
	code := m.Run()
	if sampleRoot != "" {
		os.RemoveAll(sampleRoot[:len(sampleRoot)-len("/bp")])
	}
	os.Exit(code)
}

func names(e []fuse.DirEntry) []string {
	out := make([]string, len(e))
	for i, x := range e {
		out[i] = x.Name
	}
	return out
}

func assertSortedUnique(t *testing.T, e []fuse.DirEntry) {
	t.Helper()
	n := names(e)
	assert.True(t, sort.StringsAreSorted(n), "sorted: %v", n)
	inos := map[uint64]string{}
	for _, x := range e {
		if prev, dup := inos[x.Ino]; dup && x.Ino != 0 {
			t.Errorf("%s and %s share inode %#x", prev, x.Name, x.Ino)
		}
		inos[x.Ino] = x.Name
	}
}

func TestTreeListings(t *testing.T) {
	f, rep := sampleFS(t)
	ctx := context.Background()

	ad := &accountsDir{}
	ad.init(f, inoAccounts, true, 0, zeroTime)
	accts, errno := ad.entries(ctx)
	require.Zero(t, errno)
	assertSortedUnique(t, accts)
	for _, n := range rep.Accounts {
		assert.Contains(t, names(accts), n)
	}

	for _, name := range names(accts) {
		a := ad.byName[name]
		t.Run(name, func(t *testing.T) {
			// folders/: subfolders and the latest live items.
			v := &view{fsys: f, acct: a}
			root := &folderDir{v: v}
			root.init(f, 1, true, 0, zeroTime)
			e, errno := root.entries(ctx)
			require.Zero(t, errno)
			assertSortedUnique(t, e)
			require.NoError(t, v.load())
			for id, fn := range v.byID {
				fd := &folderDir{v: v, fid: id}
				fd.init(f, 1, true, 0, zeroTime)
				e, errno := fd.entries(ctx)
				require.Zero(t, errno)
				assertSortedUnique(t, e)
				want, err := f.ix.FolderItems(a.ID, fn.id)
				require.NoError(t, err)
				files := 0
				for _, x := range e {
					if x.Mode&syscall.S_IFDIR == 0 {
						id, _, ok := parseItemFileName(x.Name)
						require.True(t, ok, x.Name)
						assert.Contains(t, want, id)
						files++
					}
				}
				assert.LessOrEqual(t, files, len(want))
			}

			// items/: every item, each state listed.
			it := &itemsDir{acct: a}
			it.init(f, 1, true, 0, zeroTime)
			e, errno = it.entries(ctx)
			require.Zero(t, errno)
			assertSortedUnique(t, e)
			assert.Equal(t, a.Items, len(e))

			// deleted/
			del := &deletedDir{acct: a}
			del.init(f, 1, true, 0, zeroTime)
			e, errno = del.entries(ctx)
			require.Zero(t, errno)
			assertSortedUnique(t, e)

			// at/: days, ascending, unique.
			at := &atDir{acct: a}
			at.init(f, 1, true, 0, zeroTime)
			e, errno = at.entries(ctx)
			require.Zero(t, errno)
			assertSortedUnique(t, e)
		})
	}
}

func TestTreeDamage(t *testing.T) {
	f, rep := sampleFS(t)
	ctx := context.Background()
	require.NotEmpty(t, rep.Damaged)
	for _, dm := range rep.Damaged {
		t.Run(dm.Kind, func(t *testing.T) {
			a, err := f.ix.Account(dm.AccountID)
			require.NoError(t, err)
			it, err := f.ix.Item(a.ID, dm.ItemID)
			require.NoError(t, err)
			names := mailbox.StateDirNames(it.States)
			meta := f.itemMetaJSON(a, &it, names)
			var m struct {
				Status string
				Error  string
				States []struct {
					Status string
					Digest string
				}
			}
			require.NoError(t, json.Unmarshal(meta, &m), string(meta))
			if dm.Kind == sample.DamageMalformedJSON {
				assert.Equal(t, "broken", m.Status)
				assert.Contains(t, m.Error, "malformed")
				return
			}
			// The damaged digest's states: status in meta.json, partial
			// sibling only for broken blobs.
			found := false
			for i, s := range m.States {
				if s.Digest != dm.Digest {
					continue
				}
				found = true
				want := map[string]string{
					sample.DamageTruncated: "broken", sample.DamageMismatch: "broken",
					sample.DamageUnreadable: "unreadable", sample.DamageMissing: "unreadable",
					sample.DamageDoubleGzip: "ok",
				}[dm.Kind]
				assert.Equal(t, want, s.Status, "state %d", i)
				sd := &stateDir{acct: a, item: &it, idx: i, name: names[i], parent: &itemDir{node: node{fsys: f}, acct: a, item: it}}
				sd.init(f, 1, true, 0, zeroTime)
				e, errno := sd.entries(ctx)
				require.Zero(t, errno)
				hasPartial := false
				for _, x := range e {
					if x.Name == "message.partial.eml" {
						hasPartial = true
					}
				}
				assert.Equal(t, want == "broken", hasPartial, "partial sibling")
			}
			assert.True(t, found, "no state with digest %s", dm.Digest)
		})
	}
}

var zeroTime = mailbox.Millis(0).Time()

// TestErrnoInterrupted: a request the kernel interrupted (its context
// canceled by go-fuse on FUSE_INTERRUPT) answers EINTR, so the caller's
// open or read restarts instead of failing with EIO.
func TestErrnoInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.Equal(t, syscall.EINTR, errno(fmt.Errorf("walk items: %w", ctx.Err())))
	assert.Equal(t, syscall.EIO, errno(errors.New("disk on fire")))
	assert.Equal(t, syscall.ENOENT, errno(fmt.Errorf("x: %w", os.ErrNotExist)))
}
