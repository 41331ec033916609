package external

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cbfs/cbfs/internal/s3test"
	"github.com/cbfs/cbfs/objstore/s3"
	"github.com/cbfs/cbfs/sample"
)

// benchThreads is the mount's archiveThreads (cmd/cbfs/mount_s3.go).
const benchThreads = 16

// BenchmarkOpenLazy measures, against versitygw on loopback, what a mount
// of a bucket of 100 accounts of 1,000 items each (sample.GenerateLarge,
// metadata only) waits for before it can name every account: OpenLazy
// into an empty cache folder (server archive and summaries), OpenLazy
// followed by one account's Account (the first listing of an account),
// OpenLazy again into the same folder (a remount: a listing, nothing
// fetched), and side by side the eager Open (every archive fetched and
// unpacked, what a mount waited for before) and OpenLazy then All (the
// same archives, as the background fetches them).
func BenchmarkOpenLazy(b *testing.B) {
	srv := s3test.Start(b)
	for _, kv := range srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		b.Setenv(k, v)
	}
	bk, err := s3.Open(srv.URL("bench"), s3.Options{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	src := b.TempDir()
	rep, err := sample.GenerateLarge(ctx, src, sample.LargeOptions{Accounts: 100, Items: 100_000, BigAccount: 1000})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := UploadMetadata(ctx, src, bk, benchThreads); err != nil {
		b.Fatal(err)
	}
	first := rep.Accounts[1].ID
	fresh := func(b *testing.B) string {
		b.StopTimer()
		defer b.StartTimer()
		return filepath.Join(b.TempDir(), "tree")
	}
	b.Run("lazy", func(b *testing.B) {
		for b.Loop() {
			_, _, lz, err := OpenLazy(ctx, bk, fresh(b), 0, "", benchThreads, Limits{})
			if err != nil {
				b.Fatal(err)
			}
			lz.Close()
		}
	})
	b.Run("lazy+account", func(b *testing.B) {
		for b.Loop() {
			_, _, lz, err := OpenLazy(ctx, bk, fresh(b), 0, "", benchThreads, Limits{})
			if err != nil {
				b.Fatal(err)
			}
			if err := lz.Account(ctx, first); err != nil {
				b.Fatal(err)
			}
			lz.Close()
		}
	})
	b.Run("lazy-remount", func(b *testing.B) {
		root := filepath.Join(b.TempDir(), "tree")
		_, _, lz, err := OpenLazy(ctx, bk, root, 0, "", benchThreads, Limits{})
		if err != nil {
			b.Fatal(err)
		}
		lz.Close()
		for b.Loop() {
			_, _, lz, err := OpenLazy(ctx, bk, root, 0, "", benchThreads, Limits{})
			if err != nil {
				b.Fatal(err)
			}
			lz.Close()
		}
	})
	// The eager Open and OpenLazy then All fetch the same archives: they
	// take turns (which goes first alternating), each into a fresh folder
	// removed after it, so neither pays for the other's leftovers.
	b.Run("eager-vs-lazy+all", func(b *testing.B) {
		var eager, all time.Duration
		i := 0
		for b.Loop() {
			for turn := range 2 {
				root := fresh(b)
				start := time.Now()
				if (turn+i)%2 == 0 {
					if _, _, err := Open(ctx, bk, root, 0, "", benchThreads, Limits{}); err != nil {
						b.Fatal(err)
					}
					eager += time.Since(start)
				} else {
					_, _, lz, err := OpenLazy(ctx, bk, root, 0, "", benchThreads, Limits{})
					if err != nil {
						b.Fatal(err)
					}
					if err := lz.All(ctx, benchThreads); err != nil {
						b.Fatal(err)
					}
					lz.Close()
					all += time.Since(start)
				}
				b.StopTimer()
				os.RemoveAll(root)
				b.StartTimer()
			}
			i++
		}
		b.ReportMetric(eager.Seconds()/float64(i), "eager-s/op")
		b.ReportMetric(all.Seconds()/float64(i), "lazy+all-s/op")
	})
}
