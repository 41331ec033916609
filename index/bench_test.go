package index

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/mailbox"
)

// benchItems is the size of the benchmark Backup Path: CBFS_BENCH_ITEMS
// item files (default 20000).
func benchItems(b *testing.B) int {
	n := 20000
	if s := os.Getenv("CBFS_BENCH_ITEMS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 100 {
			b.Fatalf("CBFS_BENCH_ITEMS=%q: want a number >= 100", s)
		}
		n = v
	}
	return n
}

const (
	benchPerAccount = 10000 // item files per account
	benchFolders    = 20    // user folders per account
)

func benchAccountID(a int) string { return fmt.Sprintf("%08x-0000-4000-8000-%012x", a+1, a+1) }

// benchTree returns a Backup Path of n item files (metadata only, no
// blobs), generated once and kept under os.TempDir() for later runs.
func benchTree(b *testing.B, n int) *backuppath.Path {
	b.Helper()
	root := filepath.Join(os.TempDir(), fmt.Sprintf("cbfs-index-bench-v1-%d", n))
	done := filepath.Join(root, ".complete")
	if _, err := os.Stat(done); err != nil {
		b.Logf("generating %d item files in %s", n, root)
		began := time.Now()
		if err := os.RemoveAll(root); err != nil {
			b.Fatal(err)
		}
		if err := genBenchTree(root, n); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(done, nil, 0o644); err != nil {
			b.Fatal(err)
		}
		b.Logf("generated in %v", time.Since(began))
	}
	bp, err := backuppath.Open(root)
	if err != nil {
		b.Fatal(err)
	}
	return bp
}

// genBenchTree writes n item files: accounts of benchPerAccount items, each
// with benchFolders folders and messages of 1 to 3 states (flag changes,
// moves, deletions), in their usual buckets.
func genBenchTree(root string, n int) error {
	bp, err := backuppath.Create(root, backuppath.BackupStat{ServerID: "bench", FirstRun: mailbox.MillisOf(base)})
	if err != nil {
		return err
	}
	accounts := (n + benchPerAccount - 1) / benchPerAccount
	errs := make(chan error, accounts)
	sem := make(chan struct{}, 2)
	var wg sync.WaitGroup
	for a := range accounts {
		items := min(benchPerAccount, n-a*benchPerAccount)
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			errs <- genBenchAccount(bp, a, items)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func genBenchAccount(bp *backuppath.Path, a, items int) error {
	id := benchAccountID(a)
	if err := bp.WriteAccount(&mailbox.Account{ID: id, Name: fmt.Sprintf("user%d@example.com", a),
		Status: mailbox.StatusActive, COSID: "cos-1", COSName: "default", Created: mailbox.MillisOf(base)}); err != nil {
		return err
	}
	for b := range 100 {
		if err := os.MkdirAll(filepath.Join(bp.Root, backuppath.AccountsDir, id, backuppath.ItemsDir, fmt.Sprintf("%02d", b)), 0o755); err != nil {
			return err
		}
	}
	write := func(it *mailbox.Item) error {
		data, err := it.Encode()
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(bp.Root, backuppath.ItemRelPath(id, it.ID)), data, 0o644)
	}
	for i := range items {
		itemID := 257 + i
		t0 := base.Add(time.Duration(i) * 7 * time.Minute)
		var states []mailbox.State
		if i < benchFolders {
			parent := mailbox.FolderRoot
			if i%4 == 3 {
				parent = itemID - 1
			}
			states = []mailbox.State{folderState(t0, "Folder "+strconv.Itoa(i), parent)}
		} else {
			folder := []int{mailbox.FolderInbox, mailbox.FolderSent, 257 + i%benchFolders}[i%3]
			body := "message " + strconv.Itoa(i) + " of " + id
			s := mailbox.State{Start: mailbox.MillisOf(t0), Type: mailbox.TypeMessage, FolderID: folder,
				Digest: blob.Sum([]byte(body)), Size: int64(2000 + i%50000), Date: mailbox.MillisOf(t0.Add(-time.Minute)),
				Subject: "Re: quarterly report " + strconv.Itoa(i), From: "Someone <someone@example.org>", To: fmt.Sprintf("user%d@example.com", a),
				IMAPUID: uint32(i + 1)}
			states = append(states, s)
			if i%3 >= 1 { // read later
				s.Start = mailbox.MillisOf(t0.Add(26 * time.Hour))
				s.Flags = "s"
				states = append(states, s)
			}
			if i%3 == 2 { // then moved or deleted
				s.Start = mailbox.MillisOf(t0.Add(72 * time.Hour))
				if i%10 == 2 {
					s.Deleted = true
				} else {
					s.FolderID = mailbox.FolderTrash
				}
				states = append(states, s)
			}
		}
		if err := write(&mailbox.Item{ID: itemID, States: states}); err != nil {
			return err
		}
	}
	return nil
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// BenchmarkBuild indexes the whole benchmark Backup Path into a fresh
// index file: items/s, and heap bytes per item with the index open.
func BenchmarkBuild(b *testing.B) {
	n := benchItems(b)
	bp := benchTree(b, n)
	b.ReportAllocs()
	var perItem float64
	var elapsed time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dbPath := filepath.Join(b.TempDir(), "index.db")
		before := heapInUse()
		b.StartTimer()
		began := time.Now()
		ix, err := Open(bp, dbPath)
		if err != nil {
			b.Fatal(err)
		}
		st, err := ix.Rebuild(context.Background(), nil)
		if err != nil {
			b.Fatal(err)
		}
		elapsed += time.Since(began)
		b.StopTimer()
		if st.ItemsRead != n || st.Items != n {
			b.Fatalf("indexed %d items (read %d), want %d", st.Items, st.ItemsRead, n)
		}
		after := heapInUse()
		perItem = float64(int64(after)-int64(before)) / float64(n)
		if fi, err := os.Stat(dbPath); err == nil {
			b.ReportMetric(float64(fi.Size())/float64(n), "file-B/item")
		}
		runtime.KeepAlive(ix)
		ix.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(n)*float64(b.N)/elapsed.Seconds(), "items/s")
	b.ReportMetric(perItem, "B/item")
}

// benchIndex opens and fills an index of the benchmark Backup Path.
func benchIndex(b *testing.B) (*Index, int) {
	b.Helper()
	n := benchItems(b)
	bp := benchTree(b, n)
	ix, err := Open(bp, filepath.Join(b.TempDir(), "index.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ix.Close() })
	ix.racy = 0 // nobody writes to the tree
	if _, err := ix.Refresh(context.Background(), nil); err != nil {
		b.Fatal(err)
	}
	return ix, n
}

// BenchmarkRefreshNoChange refreshes an index of an unchanged Backup Path.
func BenchmarkRefreshNoChange(b *testing.B) {
	ix, n := benchIndex(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		st, err := ix.Refresh(context.Background(), nil)
		if err != nil {
			b.Fatal(err)
		}
		if st.ItemsRead != 0 {
			b.Fatalf("read %d items of an unchanged path", st.ItemsRead)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "items/s")
}

// BenchmarkFolderItems lists the Inbox of each account in turn (about a
// third of an account's items).
func BenchmarkFolderItems(b *testing.B) {
	ix, _ := benchIndex(b)
	accts, err := ix.Accounts()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	listed := 0
	for i := 0; i < b.N; i++ {
		ids, err := ix.FolderItems(accts[i%len(accts)].ID, mailbox.FolderInbox)
		if err != nil {
			b.Fatal(err)
		}
		listed += len(ids)
	}
	b.ReportMetric(float64(listed)/float64(b.N), "items/op")
}
