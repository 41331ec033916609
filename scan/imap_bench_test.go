package scan

import (
	"context"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/internal/dovecot"
)

// BenchmarkIMAPScan: a first scan of one account from a real Dovecot over
// IMAP into an empty Backup Path, and a re-scan of the unchanged account
// (listings only). CBFS_BENCH_IMAP_SCAN sets the number of messages
// (default 2000, sizes 1-60 KB, over three folders).
//
//	go test ./scan -run '^$' -bench IMAPScan -count 6
func BenchmarkIMAPScan(b *testing.B) {
	n := 2000
	if v := os.Getenv("CBFS_BENCH_IMAP_SCAN"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			b.Fatalf("CBFS_BENCH_IMAP_SCAN=%q: want a positive number of messages", v)
		}
	}
	const user = "bench@bench.example"
	dv := dovecot.Start(b, map[string]string{user: "pw"})
	// Maildir files written straight into the user's Maildir (Dovecot
	// takes them on its next look), owned by the mail user.
	md := dv.MaildirOf(user)
	rng := rand.New(rand.NewPCG(1, 2))
	raw := make([]byte, 45*1024)
	for i := range raw {
		raw[i] = byte(rng.UintN(256))
	}
	att := base64.StdEncoding.EncodeToString(raw)
	folders := []string{"", ".Sent", ".Archive.2024"}
	var bytes int64
	for i := 0; i < n; i++ {
		dir := filepath.Join(md, folders[(i/10)%len(folders)])
		for _, sub := range []string{"cur", "new", "tmp"} {
			os.MkdirAll(filepath.Join(dir, sub), 0o755)
		}
		size := 1024 + rng.IntN(len(att)-1024)
		off := rng.IntN(len(att) - size + 1)
		content := crlf(msg(fmt.Sprintf("bench %d", i), "see attachment\n\n"+att[off:off+size]))
		name := fmt.Sprintf("%s/cur/1700%06d.M%dP1.bench,S=%d:2,S", dir, i, i, len(content))
		if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
			b.Fatal(err)
		}
		bytes += int64(len(content))
	}
	if err := exec.Command("chown", "-R", "nobody:nogroup", filepath.Dir(md)).Run(); err != nil {
		b.Fatal(err)
	}
	// Let Dovecot build its indexes, as a live server has them.
	c, err := dv.Login(user)
	if err != nil {
		b.Fatal(err)
	}
	boxes, err := c.List("", "*", nil).Collect()
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range boxes {
		if slices.Contains(l.Attrs, imap.MailboxAttrNoSelect) || slices.Contains(l.Attrs, imap.MailboxAttrNonExistent) {
			continue // a parent only
		}
		if _, err := c.Select(l.Mailbox, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
			b.Fatal(err)
		}
	}
	c.Logout().Wait()
	c.Close()

	src, err := ParseSource(dv.SourceURL())
	if err != nil {
		b.Fatal(err)
	}
	opt := Options{Accounts: []AccountSpec{{Name: user}}}
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
			rep, err := Run(context.Background(), bp, src, opt)
			if err != nil || rep.Items.New < n {
				b.Fatalf("scan: %v, %d new", err, rep.Items.New)
			}
		}
		report(b, n, bytes)
	})
	b.Run("rescan", func(b *testing.B) {
		bp := newPath()
		if _, err := Run(context.Background(), bp, src, opt); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			rep, err := Run(context.Background(), bp, src, opt)
			if err != nil || rep.Written != 0 {
				b.Fatalf("re-scan: %v, %d files written", err, rep.Written)
			}
		}
		b.ReportMetric(float64(n)/(b.Elapsed().Seconds()/float64(b.N)), "msgs/s")
	})
}
