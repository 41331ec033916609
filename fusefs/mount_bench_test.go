package fusefs

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"

	"github.com/hanwen/go-fuse/v2/fs"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/index"
	"github.com/cbfs/cbfs/mailbox"
	"github.com/cbfs/cbfs/sample"
)

// BenchmarkMountedRead mounts a sample with attachments in this process
// (root only) and reads every sound blob through blobs/, beside the same
// reads done in-process through blob.Store.Open: the ratio is what the
// FUSE layer costs. Run with -cpuprofile to see where it goes.
func BenchmarkMountedRead(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("mounting needs root")
	}
	dir := b.TempDir()
	root := filepath.Join(dir, "bp")
	if _, err := sample.Generate(context.Background(), root, sample.Options{Accounts: 3, Messages: 20, Seed: 3, BigAttachments: true}); err != nil {
		b.Fatal(err)
	}
	bp, err := backuppath.Open(root)
	if err != nil {
		b.Fatal(err)
	}
	ix, err := index.Open(bp, ":memory:")
	if err != nil {
		b.Fatal(err)
	}
	defer ix.Close()
	if _, err := ix.Refresh(context.Background(), nil); err != nil {
		b.Fatal(err)
	}
	var digests []blob.Digest
	var total int64
	bp.Blobs.Walk(context.Background(), func(name string, d blob.Digest, ok bool) error {
		if ok && bp.Blobs.Check(d) == nil {
			digests = append(digests, d)
		}
		return nil
	})
	buf := make([]byte, 128<<10)
	read := func(open func(d blob.Digest) (io.ReadCloser, error)) int64 {
		var n int64
		for _, d := range digests {
			r, err := open(d)
			if err != nil {
				b.Fatal(err)
			}
			m, err := io.CopyBuffer(io.Discard, r, buf)
			if err != nil {
				b.Fatal(d, err)
			}
			r.Close()
			n += m
		}
		return n
	}
	total = read(func(d blob.Digest) (io.ReadCloser, error) { return bp.Blobs.Open(d) })

	b.Run("in-process", func(b *testing.B) {
		b.SetBytes(total)
		for b.Loop() {
			read(func(d blob.Digest) (io.ReadCloser, error) { return bp.Blobs.Open(d) })
		}
	})
	// The same content as users reach it: every sound state's content file
	// under accounts/<name>/items/<id>/<start>/ (sizes from the index,
	// page cache and kernel readahead, unlike blobs/ which is direct I/O).
	var itemPaths []string
	var itemBytes int64
	accts, _ := ix.Accounts()
	_, byName := accountNames(accts)
	for name, a := range byName {
		ix.Items(a.ID, func(it *index.Item) bool {
			dirs := mailbox.StateDirNames(it.States)
			for i, st := range it.States {
				if st.Digest == "" || st.Deleted || bp.Blobs.Check(st.Digest) != nil {
					continue
				}
				if os.Getenv("CBFS_BENCH_LARGE_ONLY") != "" && st.Size < 1<<20 ||
					os.Getenv("CBFS_BENCH_SMALL_ONLY") != "" && st.Size >= 1<<20 {
					continue
				}
				itemPaths = append(itemPaths, filepath.Join("accounts", name, "items", strconv.Itoa(it.ID), dirs[i], contentName(st.Type)))
				itemBytes += st.Size
			}
			return true
		})
	}
	sort.Strings(itemPaths)
	mounted := func(b *testing.B, bytes int64, readAll func(mnt string)) {
		b.SetBytes(bytes)
		for b.Loop() {
			b.StopTimer()
			mnt := filepath.Join(dir, "mnt")
			os.MkdirAll(mnt, 0o755)
			f := New(ix, Options{})
			srv, err := fs.Mount(mnt, f.Root(), f.MountOptions(false, false, true))
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			readAll(mnt)
			b.StopTimer()
			srv.Unmount()
			b.StartTimer()
		}
	}
	b.Run("mount-items", func(b *testing.B) {
		mounted(b, itemBytes, func(mnt string) {
			for _, p := range itemPaths {
				f, err := os.Open(filepath.Join(mnt, p))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.CopyBuffer(io.Discard, f, buf); err != nil {
					b.Fatal(p, err)
				}
				f.Close()
			}
		})
	})
	b.Run("mount-blobs", func(b *testing.B) {
		b.SetBytes(total)
		for b.Loop() {
			b.StopTimer()
			mnt := filepath.Join(dir, "mnt")
			os.MkdirAll(mnt, 0o755)
			f := New(ix, Options{})
			srv, err := fs.Mount(mnt, f.Root(), f.MountOptions(false, false, true))
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			read(func(d blob.Digest) (io.ReadCloser, error) {
				return os.Open(filepath.Join(mnt, "blobs", string(d)+".eml"))
			})
			b.StopTimer()
			srv.Unmount()
			b.StartTimer()
		}
	})
}
