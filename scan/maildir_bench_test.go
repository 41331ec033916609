package scan

import (
	"context"
	"testing"
)

// BenchmarkMaildirRead: the Maildir source alone, what a first scan asks
// of it (every folder listed, every message read), and what a rescan of
// an unchanged tree asks (the folders and their change tokens). No Backup
// Path is written, so the numbers are the source's own: confined lookups,
// acting as the owner (CBFS_BENCH_OWNER), bounded reads.
func BenchmarkMaildirRead(b *testing.B) {
	root, n, bytes := benchTree(b)
	age(&testing.T{}, root)
	ctx := context.Background()
	each := func(b *testing.B, fn func(mb Mailbox, f *Folder)) {
		src := NewMaildir(root)
		names, err := src.Accounts(ctx)
		if err != nil {
			b.Fatal(err)
		}
		for _, name := range names {
			mb, err := src.Open(ctx, name)
			if err != nil {
				b.Fatal(err)
			}
			folders, err := mb.Folders(ctx)
			if err != nil {
				b.Fatal(err)
			}
			for _, f := range folders {
				if f.Err != nil {
					b.Fatal(f.Err)
				}
				fn(mb, f)
			}
			mb.Close()
		}
	}
	b.Run("all", func(b *testing.B) {
		b.SetBytes(bytes)
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			got := 0
			each(b, func(mb Mailbox, f *Folder) {
				msgs, err := mb.Messages(ctx, f, nil)
				if err != nil {
					b.Fatal(err)
				}
				err = mb.Fetch(ctx, f, msgs, func(m *Message, content []byte, err error) error {
					got++
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
			})
			if got != n {
				b.Fatalf("read %d messages of %d", got, n)
			}
		}
		report(b, n, bytes)
	})
	b.Run("folders", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			each(b, func(Mailbox, *Folder) {})
		}
	})
}
