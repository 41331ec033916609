package scan

import (
	"context"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/cbfs/cbfs/backuppath"
)

// benchTree generates a Maildir source of n messages over 10 accounts and
// 3 folders each, sizes 1-60 KB (a base64 "attachment"), once per process.
func benchTree(b *testing.B) (root string, n int, bytes int64) {
	b.Helper()
	n = 2000
	if v := os.Getenv("CBFS_BENCH_MAILDIR"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			b.Fatalf("CBFS_BENCH_MAILDIR=%q: want a positive number of messages", v)
		}
	}
	root = b.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	raw := make([]byte, 45*1024)
	for i := range raw {
		raw[i] = byte(rng.UintN(256))
	}
	att := base64.StdEncoding.EncodeToString(raw)
	folders := []string{"INBOX", "Sent", "Archive/2024"}
	for i := 0; i < n; i++ {
		acct := fmt.Sprintf("user%02d@bench.example", i%10)
		box := (&mailTree{root: root}).box(acct)
		dir := folderDir(box, folders[(i/10)%len(folders)])
		for _, sub := range []string{"cur", "new", "tmp"} {
			os.MkdirAll(dir+"/"+sub, 0o755)
		}
		size := 1024 + rng.IntN(len(att)-1024)
		off := rng.IntN(len(att) - size + 1)
		content := msg(fmt.Sprintf("bench %d", i), "see attachment\n\n"+att[off:off+size])
		name := fmt.Sprintf("%s/cur/1700%06d.M%dP1.bench,S=%d:2,S", dir, i, i, len(content))
		if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
			b.Fatal(err)
		}
		bytes += int64(len(content))
	}
	// CBFS_BENCH_OWNER=uid:gid gives the tree to that user, as users'
	// Maildirs are: the scan then reads it as them (confined.Owner.Do).
	if v := os.Getenv("CBFS_BENCH_OWNER"); v != "" {
		var uid, gid int
		if _, err := fmt.Sscanf(v, "%d:%d", &uid, &gid); err != nil {
			b.Fatalf("CBFS_BENCH_OWNER=%q: want uid:gid", v)
		}
		if err := filepath.Walk(root, func(p string, _ os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(p, uid, gid)
		}); err != nil {
			b.Fatal(err)
		}
	}
	return root, n, bytes
}

func report(b *testing.B, n int, bytes int64) {
	s := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(float64(n)/s, "msgs/s")
	b.ReportMetric(float64(bytes)/1e6/s, "MB/s")
}

// BenchmarkMaildirScan: a first scan of the whole tree into an empty Backup
// Path (durable writes, as cbfs serve does), and a re-scan of the unchanged
// tree. CBFS_BENCH_MAILDIR sets the number of messages (default 2000).
func BenchmarkMaildirScan(b *testing.B) {
	root, n, bytes := benchTree(b)
	age(&testing.T{}, root)
	src := NewMaildir(root)
	newPath := func() *backuppath.Path {
		bp, err := backuppath.Create(b.TempDir(), backuppath.BackupStat{ServerID: "bench", FirstRun: 1})
		if err != nil {
			b.Fatal(err)
		}
		return bp
	}
	b.Run("first", func(b *testing.B) {
		b.SetBytes(bytes)
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			bp := newPath()
			b.StartTimer()
			rep, err := Run(context.Background(), bp, src, Options{})
			if err != nil || rep.Items.New < n {
				b.Fatalf("scan: %v, %d new", err, rep.Items.New)
			}
		}
		report(b, n, bytes)
	})
	b.Run("rescan", func(b *testing.B) {
		bp := newPath()
		if _, err := Run(context.Background(), bp, src, Options{}); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(bytes)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			rep, err := Run(context.Background(), bp, src, Options{})
			if err != nil || rep.Written != 0 {
				b.Fatalf("re-scan: %v, %d files written", err, rep.Written)
			}
		}
		report(b, n, bytes)
	})
}
