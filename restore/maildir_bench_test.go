package restore

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// BenchmarkMaildirAppend measures the Maildir target alone: b.N messages
// of 4 KiB, one in ten tagged, appended folder by folder into four
// folders of one account, then flushed. cpu-ns/op is the process's user +
// system CPU time per message (getrusage): steadier than the wall time on
// a busy machine. -owned: the target belongs to another user (nobody), so
// every write is made as that user.
//
//	go test ./restore -run '^$' -bench MaildirAppend -benchtime 20000x
func BenchmarkMaildirAppend(b *testing.B) {
	body := []byte("Subject: bench\r\nFrom: a@example.test\r\n\r\n" + strings.Repeat("0123456789abcdef", 254) + "\r\n")
	for _, v := range []struct {
		name        string
		sync, owned bool
	}{{"sync", true, false}, {"nosync", false, false}, {"owned-sync", true, true}, {"owned-nosync", false, true}} {
		b.Run(v.name, func(b *testing.B) {
			if v.owned && os.Geteuid() != 0 {
				b.Skip("needs root")
			}
			ctx := context.Background()
			md := NewMaildir(filepath.Join(b.TempDir(), "t"))
			md.NoSync = !v.sync
			if v.owned {
				require.NoError(b, os.Mkdir(md.Root, 0o755))
				require.NoError(b, os.Chown(md.Root, 65534, 65534))
			}
			box, err := md.Open(ctx, "bench@example.test")
			require.NoError(b, err)
			folders := [][]string{{InboxName}, {"A"}, {"B"}, {"C"}}
			require.NoError(b, box.CreateFolders(ctx, folders))
			var failed error
			done := func(_ Appended, err error) {
				if err != nil && failed == nil {
					failed = err
				}
			}
			date := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
			var ru0, ru1 syscall.Rusage
			syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				msg := &Message{Body: body, Flags: "", Date: date, Unique: fmt.Sprintf("%032x", i)}
				if i%10 == 0 {
					msg.Tags = []string{"Work"}
				}
				if err := box.Append(ctx, folders[i*len(folders)/b.N], msg, done); err != nil {
					b.Fatal(err)
				}
			}
			require.NoError(b, box.Flush(ctx))
			b.StopTimer()
			syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
			cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
			require.NoError(b, failed)
			box.Close()
		})
	}
}
