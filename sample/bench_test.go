package sample

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
)

// BenchmarkGenerate measures whole samples; items/s counts item files.
// The 100,000-message folder takes about a minute: run it with
// -benchtime=1x (it is skipped with -short).
func BenchmarkGenerate(b *testing.B) {
	cases := []struct {
		name string
		opt  Options
	}{
		{"default", Options{}},
		{"accounts=6,messages=40,big", Options{Accounts: 6, Messages: 40, BigAttachments: true}},
		{"folder=10000", Options{Accounts: 3, Messages: 10, FolderMessages: 10000}},
		{"folder=100000", Options{Accounts: 3, Messages: 10, FolderMessages: 100000}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			if c.opt.FolderMessages >= 100000 && testing.Short() {
				b.Skip("long; run without -short")
			}
			b.ReportAllocs()
			var items int
			var bytes int64
			for i := 0; b.Loop(); i++ {
				rep, err := Generate(context.Background(), filepath.Join(b.TempDir(), fmt.Sprint(i)), c.opt)
				if err != nil {
					b.Fatal(err)
				}
				items += rep.Items
				bytes += rep.Bytes
			}
			b.ReportMetric(float64(items)/b.Elapsed().Seconds(), "items/s")
			b.ReportMetric(float64(bytes)/float64(b.N)/(1<<20), "MB/op")
		})
	}
}
