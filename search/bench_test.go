package search

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/mailbox"
)

// The benchmarks' Backup Paths, generated once and kept under os.TempDir():
//
//	B     the anchors benchmark's corpus B (tests/e2ebench, issue #13): 3
//	      accounts x 3,000 messages over five folders, one in two with an
//	      8-400 KB attachment, text bodies of 500-6,500 bytes (a third also
//	      as HTML), ~700 MB of mail
//	100k  100,000 messages of 200-2,200 bytes without attachments, over 4
//	      accounts (query latency)
type benchCorpus struct {
	accounts, messages int
	attachOneIn        int
	bodyMin, bodyMax   int
}

var (
	corpusB    = benchCorpus{accounts: 3, messages: 9000, attachOneIn: 2, bodyMin: 500, bodyMax: 6500}
	corpus100k = benchCorpus{accounts: 4, messages: 100000, bodyMin: 200, bodyMax: 2200}
)

var benchFolders = []string{"", "Work", "Work/Projects", "Archive", "Lists"}

func (c benchCorpus) path(b *testing.B) (*backuppath.Path, int64) {
	b.Helper()
	root := filepath.Join(os.TempDir(), fmt.Sprintf("cbfs-search-bench-v1-%dx%d-%d", c.accounts, c.messages/c.accounts, c.attachOneIn))
	done := filepath.Join(root, ".complete")
	if _, err := os.Stat(done); err != nil {
		b.Logf("generating %d messages in %s", c.messages, root)
		began := time.Now()
		if err := os.RemoveAll(root); err != nil {
			b.Fatal(err)
		}
		bytes, err := c.generate(root)
		if err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(done, []byte(fmt.Sprint(bytes)), 0o644); err != nil {
			b.Fatal(err)
		}
		b.Logf("generated in %v", time.Since(began))
	}
	p, err := backuppath.Open(root)
	if err != nil {
		b.Fatal(err)
	}
	var bytes int64
	if raw, err := os.ReadFile(done); err == nil {
		fmt.Sscan(string(raw), &bytes)
	}
	return p, bytes
}

// generate writes the corpus (mail shaped as tests/e2ebench's genMail)
// and returns the bytes of mail.
func (c benchCorpus) generate(root string) (int64, error) {
	p, err := backuppath.Create(root, backuppath.BackupStat{ServerID: "bench", FirstRun: mailbox.MillisOf(corpusStart)})
	if err != nil {
		return 0, err
	}
	p.Write = p.Write.WithNoSync()
	p.Blobs.Write = p.Blobs.Write.WithNoSync()
	ids := make([]string, c.accounts)
	for a := range ids {
		ids[a] = fmt.Sprintf("%08x-0000-4000-8000-%012x", a+1, a+1)
		acct := mailbox.Account{ID: ids[a], Name: fmt.Sprintf("user%d@bench.example", a), Status: "active"}
		if err := p.WriteAccount(&acct); err != nil {
			return 0, err
		}
		for f, name := range benchFolders[1:] {
			parent := mailbox.FolderRoot
			if dir, base, ok := strings.Cut(name, "/"); ok {
				parent, name = 257+indexOf(benchFolders[1:], dir), base
			}
			it := mailbox.NewItem(257+f, []mailbox.State{{Start: mailbox.MillisOf(corpusStart), Type: mailbox.TypeFolder, FolderID: parent, ParentID: parent, Name: name}})
			if err := p.CreateItem(ids[a], it); err != nil {
				return 0, err
			}
		}
	}
	rng := rand.New(rand.NewPCG(4, 20000))
	pool := make([]byte, 1<<20)
	for i := range pool {
		pool[i] = byte(rng.UintN(256))
	}
	words := strings.Fields("the backup of every mailbox runs at night and keeps each state of a message " +
		"with its flags folder and tags so that a restore can bring back what a user lost " +
		"meeting invoice report quarterly project deadline review draft attached please find " +
		"regards thanks schedule update server storage retention policy customer order")
	text := func(rng *rand.Rand, nbytes int) string {
		var b strings.Builder
		col := 0
		for b.Len() < nbytes {
			w := words[rng.IntN(len(words))]
			if rng.IntN(40) == 0 { // a rarer word now and then
				w = fmt.Sprintf("w%d", rng.IntN(50000))
			}
			if col+len(w) > 72 {
				b.WriteString("\r\n")
				col = 0
			} else if col > 0 {
				b.WriteByte(' ')
				col++
			}
			b.WriteString(w)
			col += len(w)
		}
		b.WriteString("\r\n")
		return b.String()
	}
	var total int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for i := w; i < c.messages; i += 2 {
				a := i % c.accounts
				date := corpusStart.Add(-time.Duration(c.messages-i) * 97 * time.Second)
				var m strings.Builder
				fmt.Fprintf(&m, "From: Sender %d <sender%d@example.com>\r\nTo: user%d@bench.example\r\nSubject: %s %d\r\n"+
					"Date: %s\r\nMessage-ID: <%d@bench.example>\r\nMIME-Version: 1.0\r\n",
					i%37, i%37, a, words[rng.IntN(len(words))], i, date.Format(time.RFC1123Z), i)
				body := text(rng, c.bodyMin+rng.IntN(c.bodyMax-c.bodyMin))
				switch {
				case c.attachOneIn > 0 && rng.IntN(c.attachOneIn) == 0:
					size := 8<<10 + int(float64(392<<10)*rng.Float64()*rng.Float64())
					off := rng.IntN(len(pool) - size)
					enc := base64.StdEncoding.EncodeToString(pool[off : off+size])
					var wrapped strings.Builder
					for len(enc) > 76 {
						wrapped.WriteString(enc[:76] + "\r\n")
						enc = enc[76:]
					}
					wrapped.WriteString(enc + "\r\n")
					fmt.Fprintf(&m, "Content-Type: multipart/mixed; boundary=\"b%d\"\r\n\r\n--b%d\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n"+
						"--b%d\r\nContent-Type: application/pdf; name=\"doc%d.pdf\"\r\nContent-Disposition: attachment; filename=\"doc%d.pdf\"\r\n"+
						"Content-Transfer-Encoding: base64\r\n\r\n%s--b%d--\r\n", i, i, body, i, i, i, wrapped.String(), i)
				case rng.IntN(3) == 0:
					fmt.Fprintf(&m, "Content-Type: multipart/alternative; boundary=\"a%d\"\r\n\r\n--a%d\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n"+
						"--a%d\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>%s</p></body></html>\r\n--a%d--\r\n",
						i, i, body, i, strings.ReplaceAll(body, "\r\n", "<br>\r\n"), i)
				default:
					fmt.Fprintf(&m, "Content-Type: text/plain; charset=utf-8\r\n\r\n%s", body)
				}
				raw := []byte(m.String())
				d, _, err := p.Blobs.Put(raw)
				if err != nil {
					errs <- err
					return
				}
				folder := mailbox.FolderInbox
				if f := (i / c.accounts) % len(benchFolders); f > 0 {
					folder = 256 + f
				}
				st := mailbox.State{Start: mailbox.MillisOf(date), Type: mailbox.TypeMessage, FolderID: folder, Digest: d, Size: int64(len(raw))}
				if i%3 == 0 {
					st.Flags = "u"
				}
				states := []mailbox.State{st}
				if i%50 == 0 {
					del := st
					del.Start, del.Deleted, del.FolderID = mailbox.MillisOf(date.Add(time.Hour)), true, mailbox.FolderTrash
					states = append(states, del)
				}
				if err := p.CreateItem(ids[a], mailbox.NewItem(1000+i, states)); err != nil {
					errs <- err
					return
				}
				mu.Lock()
				total += int64(len(raw))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	return total, <-errs
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

// BenchmarkBuild: a whole build (every blob read, parsed and indexed) of
// corpus B; MB/s is of mail, msgs/s and index/mail beside it.
func BenchmarkBuild(b *testing.B) {
	p, bytes := corpusB.path(b)
	b.SetBytes(bytes)
	b.ReportAllocs()
	var rep *Report
	for b.Loop() {
		var err error
		rep, err = Build(context.Background(), p, filepath.Join(b.TempDir(), "search.idx"), Options{Rebuild: true})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(rep.Messages)*float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(float64(rep.IndexBytes)/float64(bytes)*100, "index%")
}

// BenchmarkRefreshNoChange: a build over an index that holds every blob
// (item files read, no blob read).
func BenchmarkRefreshNoChange(b *testing.B) {
	p, _ := corpusB.path(b)
	file := filepath.Join(b.TempDir(), "search.idx")
	if _, err := Build(context.Background(), p, file, Options{}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Build(context.Background(), p, file, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkQuery: one query over 100,000 messages (open the file, search,
// rank, the first 50 hits), by query form.
func BenchmarkQuery(b *testing.B) {
	p, _ := corpus100k.path(b)
	// Named by the format version: a file of another one does not open.
	file := filepath.Join(os.TempDir(), fmt.Sprintf("cbfs-search-bench-v1-100k-f%d.idx", FormatVersion))
	if _, err := os.Stat(file); err != nil {
		began := time.Now()
		rep, err := Build(context.Background(), p, file, Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("built the 100k index in %v: %+v", time.Since(began), rep)
	}
	for _, q := range []string{
		"invoice",                      // a common word: most documents
		"w4242",                        // a rare word
		"from:sender7@example.com",     // a phrase in a field
		`"quarterly report"`,           // a phrase over every field
		"invoice deadline -is:deleted", // AND, NOT
		"subject:invoice OR subject:lunch folder:archive after:2024-05-01", // OR, filters
		"account:user1 is:unread has:attachment",
	} {
		b.Run(q, func(b *testing.B) {
			query, err := Parse(q)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			var total int
			for b.Loop() {
				ix, err := Open(file)
				if err != nil {
					b.Fatal(err)
				}
				_, total, err = ix.Search(query, SearchOptions{Limit: 50})
				if err != nil {
					b.Fatal(err)
				}
				ix.Close()
			}
			b.ReportMetric(float64(total), "hits")
		})
	}
}

// BenchmarkExtract: parsing and tokenizing alone (no blob store, one
// goroutine) of the first 2,000 messages of corpus B, read into memory
// first; msgs/s is per core.
func BenchmarkExtract(b *testing.B) {
	p, _ := corpusB.path(b)
	var msgs [][]byte
	var total int64
	accts, err := p.Accounts()
	if err != nil {
		b.Fatal(err)
	}
	for _, a := range accts {
		files, _, err := p.ItemFiles(a.ID)
		if err != nil {
			b.Fatal(err)
		}
		for _, f := range files {
			if len(msgs) >= 2000 {
				break
			}
			it, err := p.ReadItemFile(f.RelPath, f.ItemID)
			if err != nil || len(it.States) == 0 || it.States[0].Type != mailbox.TypeMessage {
				continue
			}
			rc, err := p.Blobs.Open(it.States[0].Digest)
			if err != nil {
				b.Fatal(err)
			}
			raw, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				b.Fatal(err)
			}
			msgs = append(msgs, raw)
			total += int64(len(raw))
		}
	}
	if len(msgs) > 2000 {
		msgs = msgs[:2000]
	}
	b.SetBytes(total / int64(len(msgs)))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		d, err := extract(bytes.NewReader(msgs[n%len(msgs)]))
		if err != nil {
			b.Fatal(err)
		}
		d.release()
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "msgs/s")
}
