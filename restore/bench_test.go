package restore

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/internal/dovecot"
	"github.com/cbfs/cbfs/sample"
)

// benchFixture is a sample of about CBFS_BENCH_RESTORE (default 2000)
// restorable messages over three active accounts.
type benchFix struct {
	p        *backuppath.Path
	accounts []string
	msgs     int   // restorable messages
	bytes    int64 // their bytes
	maildir  string
}

var (
	benchOnce sync.Once
	bench     *benchFix
	benchErr  error
)

func benchFixture(b *testing.B) *benchFix {
	b.Helper()
	benchOnce.Do(func() {
		n := 2000
		if v := os.Getenv("CBFS_BENCH_RESTORE"); v != "" {
			if n, benchErr = strconv.Atoi(v); benchErr != nil {
				return
			}
		}
		dir, err := os.MkdirTemp("", "cbfs-restore-bench-")
		if err != nil {
			benchErr = err
			return
		}
		os.Chmod(dir, 0o755)
		// Messages per account: about 75% of generated messages stay live.
		per := n * 4 / 3 / 3
		if _, benchErr = sample.Generate(context.Background(), filepath.Join(dir, "bp"), sample.Options{Accounts: 4, Messages: per, Seed: 3}); benchErr != nil {
			return
		}
		bf := &benchFix{maildir: filepath.Join(dir, "maildir")}
		if bf.p, benchErr = backuppath.Open(filepath.Join(dir, "bp")); benchErr != nil {
			return
		}
		// A Maildir copy of the messages: the input of doveadm import.
		md := NewMaildir(bf.maildir)
		md.NoSync = true
		l, err := OpenLedger(":memory:")
		if err != nil {
			benchErr = err
			return
		}
		defer l.Close()
		rep, err := ExternalRestore(context.Background(), bf.p, md, l, DefaultOptions())
		if err != nil {
			benchErr = err
			return
		}
		// doveadm import runs as the mail user and writes its index files
		// into the source Maildir.
		if benchErr = filepath.WalkDir(bf.maildir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			mode := os.FileMode(0o666)
			if d.IsDir() {
				mode = 0o777
			}
			return os.Chmod(path, mode)
		}); benchErr != nil {
			return
		}
		bf.msgs, bf.bytes = rep.Restored, rep.Bytes
		for _, a := range rep.Accounts {
			bf.accounts = append(bf.accounts, a.Account)
		}
		bench = bf
	})
	require.NoError(b, benchErr)
	return bench
}

func (bf *benchFix) report(b *testing.B) {
	s := b.Elapsed().Seconds()
	b.ReportMetric(float64(bf.msgs*b.N)/s, "msgs/s")
	b.ReportMetric(float64(bf.bytes*int64(b.N))/s/1e6, "MB/s")
}

// BenchmarkRestore restores the same messages to Maildir, to Dovecot over
// IMAP (concurrent_accounts 1 and 2; CBFS_BENCH_IMAP adds target
// parameters), and, as the server-side ceiling,
// imports them with Dovecot's own `doveadm import` from a Maildir copy.
//
//	CBFS_BENCH_RESTORE=20000 go test ./restore -run '^$' -bench Restore -benchtime 1x
func BenchmarkRestore(b *testing.B) {
	bf := benchFixture(b)
	b.Logf("%d messages, %.1f MB, %d accounts", bf.msgs, float64(bf.bytes)/1e6, len(bf.accounts))
	users := map[string]string{}
	for _, a := range bf.accounts {
		users[a] = "pw"
	}

	// maildir-owned: the target belongs to another user (nobody), as
	// /var/vmail belongs to vmail, so every write is done as that user.
	for _, v := range []struct {
		name        string
		sync, owned bool
	}{{"maildir", true, false}, {"maildir-nosync", false, false}, {"maildir-owned", true, true}, {"maildir-owned-nosync", false, true}} {
		sync := v.sync
		b.Run(v.name, func(b *testing.B) {
			if v.owned && os.Geteuid() != 0 {
				b.Skip("needs root")
			}
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				md := NewMaildir(filepath.Join(b.TempDir(), "t"))
				md.NoSync = !sync
				if v.owned {
					require.NoError(b, os.Mkdir(md.Root, 0o755))
					require.NoError(b, os.Chown(md.Root, 65534, 65534))
				}
				l, err := OpenLedger(filepath.Join(b.TempDir(), "ledger.db"))
				require.NoError(b, err)
				b.StartTimer()
				rep, err := ExternalRestore(context.Background(), bf.p, md, l, DefaultOptions())
				require.NoError(b, err)
				require.Equal(b, bf.msgs, rep.Restored)
				b.StopTimer()
				l.Close()
				b.StartTimer()
			}
			bf.report(b)
		})
	}

	for _, conc := range []int{1, 2} {
		b.Run(fmt.Sprintf("imap-concurrent%d", conc), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				s := dovecot.Start(b, users)
				// CBFS_BENCH_IMAP: target parameters, such as
				// "batch=16&appendconns=2" or "batch=0&window=64".
				url := s.SourceURL()
				if q := os.Getenv("CBFS_BENCH_IMAP"); q != "" {
					url += "?" + q
				}
				tgt, err := ParseTarget(url)
				require.NoError(b, err)
				l, err := OpenLedger(filepath.Join(b.TempDir(), "ledger.db"))
				require.NoError(b, err)
				opt := DefaultOptions()
				opt.ConcurrentAccounts = conc
				b.StartTimer()
				rep, err := ExternalRestore(context.Background(), bf.p, tgt, l, opt)
				require.NoError(b, err)
				require.Equal(b, bf.msgs, rep.Restored)
				b.StopTimer()
				st := &tgt.(*IMAPTarget).stats
				b.Logf("%s: %d MULTIAPPEND batches, %d messages in them, %d refused batches",
					url[strings.LastIndexByte(url, '@')+1:], st.batches.Load(), st.batched.Load(), st.fallbacks.Load())
				l.Close()
				s.Close()
				b.StartTimer()
			}
			bf.report(b)
		})
	}

	for _, conc := range []int{1, 2} {
		b.Run(fmt.Sprintf("doveadm-import-concurrent%d", conc), func(b *testing.B) {
			if _, err := exec.LookPath("doveadm"); err != nil {
				b.Skip("doveadm not installed")
			}
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				s := dovecot.Start(b, users)
				// The users' homes must exist for doveadm (as for a login).
				for _, a := range bf.accounts {
					c, err := s.Login(a)
					require.NoError(b, err)
					c.Close()
				}
				b.StartTimer()
				sem := make(chan struct{}, conc)
				var wg sync.WaitGroup
				errs := make(chan error, len(bf.accounts))
				for _, a := range bf.accounts {
					wg.Add(1)
					sem <- struct{}{}
					go func() {
						defer wg.Done()
						defer func() { <-sem }()
						src := "maildir:" + filepath.Join(bf.maildir, a, "Maildir")
						out, err := exec.Command("doveadm", "-c", filepath.Join(s.Dir, "dovecot.conf"),
							"import", "-u", a, src, "", "all").CombinedOutput()
						if err != nil {
							errs <- fmt.Errorf("doveadm import %s: %v: %s", a, err, out)
						}
					}()
				}
				wg.Wait()
				close(errs)
				for err := range errs {
					require.NoError(b, err)
				}
				b.StopTimer()
				// Same count as the restores.
				n := 0
				for _, a := range bf.accounts {
					c, err := s.Login(a)
					require.NoError(b, err)
					list, err := c.List("", "*", nil).Collect()
					require.NoError(b, err)
					for _, l := range list {
						if slices.Contains(l.Attrs, imap.MailboxAttrNoSelect) || slices.Contains(l.Attrs, imap.MailboxAttrNonExistent) {
							continue
						}
						st, err := c.Status(l.Mailbox, &imapStatusMessages).Wait()
						require.NoError(b, err)
						n += int(*st.NumMessages)
					}
					c.Close()
				}
				require.Equal(b, bf.msgs, n)
				s.Close()
				b.StartTimer()
			}
			bf.report(b)
		})
	}
}

var imapStatusMessages = imap.StatusOptions{NumMessages: true}
