package s3test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/external"
	"github.com/cbfs/cbfs/internal/atomicfile"
	"github.com/cbfs/cbfs/objstore"
	"github.com/cbfs/cbfs/objstore/s3"
)

// benchBucket is a versitygw bucket (prefix "bench") holding 2000 small
// blobs and 20 account archives of 200 item files each.
func benchBucket(b *testing.B) (*s3.Bucket, []blob.Digest, []int64) {
	srv := Start(b)
	for _, kv := range srv.Env() {
		k, v, _ := cut(kv)
		b.Setenv(k, v)
	}
	bk, err := s3.Open(srv.URL("bench"), s3.Options{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	src := blob.NewStore(b.TempDir())
	src.Write.NoSync = true
	var ds []blob.Digest
	var sizes []int64
	for i := range 2000 {
		c := bytes.Repeat([]byte(fmt.Sprintf("message %d of the benchmark, ", i)), 500)
		d, _, err := src.Put(c)
		if err != nil {
			b.Fatal(err)
		}
		ds, sizes = append(ds, d), append(sizes, int64(len(c)))
	}
	if _, err := external.UploadBlobs(ctx, src.Root(), bk, 16); err != nil {
		b.Fatal(err)
	}
	root := src.Root()
	for a := range 20 {
		for i := range 200 {
			p := filepath.Join(root, "accounts", "acct"+strconv.Itoa(a), "items", fmt.Sprintf("%02d", i%100), strconv.Itoa(i))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				b.Fatal(err)
			}
			if err := os.WriteFile(p, bytes.Repeat([]byte(`{"state":"an item file"}`), 40), 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := os.WriteFile(filepath.Join(root, "backupstat"), []byte(`{}`), 0o644); err != nil {
		b.Fatal(err)
	}
	if _, err := external.UploadMetadata(ctx, root, bk, 16); err != nil {
		b.Fatal(err)
	}
	return bk, ds, sizes
}

func cut(kv string) (string, string, bool) {
	for i := range len(kv) {
		if kv[i] == '=' {
			return kv[:i], kv[i+1:], true
		}
	}
	return kv, "", false
}

// BenchmarkS3 measures the S3 paths against versitygw on loopback:
// list (2000 keys, two pages), fetch (200 blobs of 15 KB into an empty
// cache, read within their recorded size, 8 at a time as the mount's
// read-ahead does) and retrieve (20 account archives unpacked, 4 at a
// time).
func BenchmarkS3(b *testing.B) {
	bk, ds, sizes := benchBucket(b)
	ctx := context.Background()
	b.Run("list", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			n := 0
			if err := bk.List(ctx, "items/", func(objstore.Object) error { n++; return nil }); err != nil || n != len(ds) {
				b.Fatalf("list: %d keys, %v", n, err)
			}
		}
	})
	b.Run("fetch", func(b *testing.B) {
		b.ReportAllocs()
		caches := b.TempDir()
		round := 0
		for b.Loop() {
			b.StopTimer()
			cache := filepath.Join(caches, strconv.Itoa(round))
			round++
			r, err := blob.NewRemote(bk, cache, 0)
			if err != nil {
				b.Fatal(err)
			}
			st := blob.NewStore(b.TempDir())
			st.SetRemote(r)
			b.StartTimer()
			errs := make(chan error, 8)
			for w := range 8 {
				go func() {
					for i := w; i < 200; i += 8 {
						if _, err := st.ReadLimit(ds[i], blob.Limit{Size: sizes[i]}); err != nil {
							errs <- err
							return
						}
					}
					errs <- nil
				}()
			}
			for range 8 {
				if err := <-errs; err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			os.RemoveAll(cache)
			b.StartTimer()
		}
	})
	b.Run("retrieve", func(b *testing.B) {
		b.ReportAllocs()
		dests := b.TempDir()
		round := 0
		for b.Loop() {
			dest := filepath.Join(dests, strconv.Itoa(round))
			round++
			rep, err := external.Retrieve(ctx, bk, dest, 4, atomicfile.Options{NoSync: true}, external.Limits{})
			if err != nil || rep.Archives != 21 {
				b.Fatalf("retrieve: %+v, %v", rep, err)
			}
			b.StopTimer()
			os.RemoveAll(dest)
			b.StartTimer()
		}
	})
}
