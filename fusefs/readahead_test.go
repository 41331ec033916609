package fusefs

import (
	"bytes"
	"context"
	"os"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/index"
	"github.com/cbfs/cbfs/sample"
)

// raFS is an FS over a fresh sample of its own (the test damages it).
func raFS(t *testing.T, opt Options) (*FS, *backuppath.Path) {
	t.Helper()
	root := t.TempDir() + "/bp"
	_, err := sample.Generate(context.Background(), root, sample.Options{Seed: 11, Accounts: 3, Messages: 60})
	require.NoError(t, err)
	bp, err := backuppath.Open(root)
	require.NoError(t, err)
	ix, err := index.Open(bp, ":memory:")
	require.NoError(t, err)
	t.Cleanup(func() { ix.Close() })
	_, err = ix.Refresh(context.Background(), nil)
	require.NoError(t, err)
	return New(ix, opt), bp
}

// biggestFolder returns the latest-view folder with the most small,
// sized files, listed.
func biggestFolder(t *testing.T, f *FS) *folderDir {
	t.Helper()
	accts, err := f.ix.Accounts()
	require.NoError(t, err)
	var best *folderDir
	n := 0
	for _, a := range accts {
		v := &view{fsys: f, acct: a}
		require.NoError(t, v.load())
		for id := range v.byID {
			d := &folderDir{v: v, fid: id}
			d.init(f, 1, true, 0, zeroTime)
			l, err := d.loadFiles()
			if err != nil {
				continue
			}
			if best == nil || len(l.byName) > n {
				best, n = d, len(l.byName)
			}
		}
	}
	require.NotNil(t, best)
	require.GreaterOrEqual(t, n, 6, "the sample's biggest folder is too small")
	return best
}

// listed returns the folder's files in listing order.
func listed(d *folderDir) []fileRef {
	l, _ := d.loadFiles()
	names := make([]string, 0, len(l.byName))
	for n := range l.byName {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]fileRef, len(names))
	for i, n := range names {
		out[i] = l.files[l.byName[n]]
	}
	return out
}

// waitIdle waits for the read-ahead to finish its work.
func waitIdle(t *testing.T, f *FS) {
	t.Helper()
	require.Eventually(t, f.blobs.PrefetchIdle, 10*time.Second, time.Millisecond)
}

// raJob is one blob the read-ahead handled.
type raJob struct {
	blob.Want
	whole bool
}

// recordJobs gives f a fresh blob cache that records the read-ahead's
// jobs.
func recordJobs(f *FS) func() []raJob {
	var mu sync.Mutex
	var jobs []raJob
	f.blobs = blob.NewCache(f.store, blob.CacheOptions{
		MaxBytes: f.opt.CacheBytes, SmallBlob: f.opt.SmallBlob, NoPrefetch: f.opt.NoReadAhead,
		Prefetched: func(w blob.Want, whole bool, err error) {
			mu.Lock()
			jobs = append(jobs, raJob{w, whole})
			mu.Unlock()
		},
	})
	return func() []raJob {
		mu.Lock()
		defer mu.Unlock()
		return append([]raJob(nil), jobs...)
	}
}

func TestReadAheadFillsCache(t *testing.T) {
	// A cache so small that the window (a quarter of it) holds only a few
	// of the sample's messages.
	const cacheBytes = 256 << 10
	f, _ := raFS(t, Options{CacheBytes: cacheBytes})
	d := biggestFolder(t, f)
	files := listed(d)
	jobs := recordJobs(f)

	// Listing the folder fetches its first files, in order, within the
	// window.
	_, _, errno := d.OpendirHandle(context.Background(), 0)
	require.Zero(t, errno)
	waitIdle(t, f)
	got := jobs()
	require.NotEmpty(t, got)
	whole := 0
	for _, j := range got {
		if j.whole {
			whole++
		}
	}
	t.Logf("%d files listed, %d fetched ahead (%d whole), window %d B", len(files), len(got), whole, f.blobs.PrefetchBytes())
	require.NotZero(t, whole)
	var ahead int64
	for i, j := range got {
		assert.Equal(t, files[i].cs().Digest, j.Digest, "job %d out of listing order", i)
		assert.Equal(t, blob.Limit{Size: files[i].cs().Size}, j.Limit, "the open's limit")
		if i > 0 {
			ahead += j.Size
		}
		if j.whole {
			assert.True(t, f.blobs.Cached(j.Digest), "file %d not in the cache", i)
		}
	}
	assert.LessOrEqual(t, ahead, f.blobs.PrefetchBytes(), "fetched past the window")
	assert.LessOrEqual(t, len(got), 32, "at most 32 files ahead")
	if len(got) < len(files) && len(got) < 32 {
		var next int64
		for _, r := range files[:len(got)+1] {
			next += r.cs().Size
		}
		assert.Greater(t, next, f.blobs.PrefetchBytes(), "stopped before the window was full")
	}
	assert.LessOrEqual(t, f.blobs.CachedBytes(), int64(cacheBytes))

	// Opening a file further on fetches the files after it.
	k := min(len(got)+1, len(files)-2)
	file := f.newItemFile(files[k], 2)
	file.seq, file.seqKey = d.sequence(), files[k].id
	h, _, errno := file.Open(context.Background(), syscall.O_RDONLY)
	require.Zero(t, errno)
	_ = h
	waitIdle(t, f)
	after := jobs()[len(got):]
	require.NotEmpty(t, after)
	assert.Equal(t, files[k+1].cs().Digest, after[0].Digest, "read-ahead starts after the opened file")
	for _, j := range after {
		if j.whole {
			assert.True(t, f.blobs.Cached(j.Digest))
		}
	}
	assert.LessOrEqual(t, f.blobs.CachedBytes(), int64(cacheBytes))

	// Opening the next file hands out no job twice.
	n := len(jobs())
	file2 := f.newItemFile(files[k+1], 3)
	file2.seq, file2.seqKey = d.sequence(), files[k+1].id
	_, _, errno = file2.Open(context.Background(), syscall.O_RDONLY)
	require.Zero(t, errno)
	waitIdle(t, f)
	seen := map[blob.Digest]int{}
	for _, j := range jobs()[len(got):] {
		seen[j.Digest]++
	}
	for dg, c := range seen {
		assert.Equal(t, 1, c, "%s fetched %d times", dg, c)
	}
	assert.GreaterOrEqual(t, len(jobs()), n)
}

func TestReadAheadBrokenBlob(t *testing.T) {
	f, bp := raFS(t, Options{})
	d := biggestFolder(t, f)
	files := listed(d)
	jobs := recordJobs(f)

	// Break the blob of the third file: cut it short.
	bad := files[2].cs().Digest
	path := bp.Blobs.Path(bad)
	comp, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.Chmod(path, 0o644))
	require.NoError(t, os.WriteFile(path, comp[:len(comp)/2], 0o644))

	_, _, errno := d.OpendirHandle(context.Background(), 0)
	require.Zero(t, errno)
	waitIdle(t, f)
	require.NotEmpty(t, jobs())

	// Every file reads as it would without read-ahead: the broken one
	// fails with EIO, all others give their verified content.
	ref, _ := raFS(t, Options{NoReadAhead: true})
	for i, r := range files {
		file := f.newItemFile(r, uint64(10+i))
		file.seq, file.seqKey = d.sequence(), r.id
		h, _, errno := file.Open(context.Background(), syscall.O_RDONLY)
		require.Zero(t, errno)
		size := file.size.Load()
		got, errno := readAt(t, h.(interface {
			Read(context.Context, []byte, int64) (fuse.ReadResult, syscall.Errno)
		}), 0, int(size)+1)
		if r.cs().Digest == bad {
			assert.Equal(t, syscall.EIO, errno, "file %d: the broken blob", i)
		} else {
			require.Zero(t, errno, "file %d", i)
			want, err := bp.Blobs.ReadLimit(r.cs().Digest, blob.Limit{Size: r.cs().Size})
			require.NoError(t, err)
			assert.True(t, bytes.Equal(want, got), "file %d content", i)
		}
	}
	waitIdle(t, f)

	// The health cache says what a fresh check says, for every file.
	for i, r := range files {
		want := ref.blobs.Health(r.cs().Digest, r.cs().Size)
		if r.cs().Digest == bad {
			// ref's store is another sample: check this one directly.
			want = bp.Blobs.CheckLimit(bad, blob.Limit{Size: r.cs().Size})
			require.Error(t, want)
		}
		got, ok := f.blobs.Known(r.cs().Digest, r.cs().Size)
		require.True(t, ok, "file %d: no verdict", i)
		assert.Equal(t, statusOf(want), statusOf(got), "file %d", i)
	}
}

func TestReopenVerified(t *testing.T) {
	f, bp := raFS(t, Options{NoReadAhead: true})
	d := biggestFolder(t, f)
	files := listed(d)
	type reader interface {
		Read(context.Context, []byte, int64) (fuse.ReadResult, syscall.Errno)
	}
	bad := files[1].cs().Digest
	path := bp.Blobs.Path(bad)
	comp, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, comp[:len(comp)/2], 0o644))
	for i, r := range files[:3] {
		file := f.newItemFile(r, uint64(10+i))
		for open := 0; open < 2; open++ {
			h, _, errno := file.Open(context.Background(), syscall.O_RDONLY)
			require.Zero(t, errno)
			if r.cs().Digest == bad {
				assert.IsType(t, &memHandle{}, h, "a broken blob is never taken as verified")
				_, errno = readAt(t, h.(reader), 0, int(r.cs().Size))
				assert.Equal(t, syscall.EIO, errno)
				continue
			}
			if open == 1 {
				assert.IsType(t, &lazyHandle{}, h, "file %d: reopened", i)
				f.blobs = blob.NewCache(f.store, blob.CacheOptions{MaxBytes: 1 << 20}) // read again, not from the cache
			}
			got, errno := readAt(t, h.(reader), 0, int(r.cs().Size)+1)
			require.Zero(t, errno)
			want, err := bp.Blobs.ReadLimit(r.cs().Digest, blob.Limit{Size: r.cs().Size})
			require.NoError(t, err)
			assert.True(t, bytes.Equal(want, got), "file %d, open %d", i, open)
		}
	}
}
