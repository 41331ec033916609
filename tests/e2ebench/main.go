// Command e2ebench measures cbfs end to end through a real mount, and the
// backup scan (scan.go), and prints each figure beside a baseline measured
// in the same run (make bench). It must run as root: it drops the kernel
// caches between cold runs.
//
//	e2ebench -bin bin -work /tmp/cbfs-bench [-folder 100000] [-items 1000000] [-bigmb 500] [-scanmsgs 20000] [-large 10000000]
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/mailbox"
	"github.com/cbfs/cbfs/sample"
)

var (
	binDir   = flag.String("bin", "bin", "folder holding the cbfs binary")
	work     = flag.String("work", "/tmp/cbfs-bench", "scratch folder (fixtures are cached here between runs)")
	folderN  = flag.Int("folder", 100000, "messages in the big folder for the ls -l benchmark (0 skips it)")
	itemsN   = flag.Int("items", 1000000, "items in the Backup Path for the mount-ready benchmark (0 skips it)")
	bigMB    = flag.Int("bigmb", 500, "approximate decompressed MB for the cat benchmark (a sample of bigmb/4 accounts with attachments; 0 skips it)")
	scanMsgs = flag.Int("scanmsgs", 20000, "messages in the Maildir tree for the backup-scan benchmark (0 skips it)")
	onlyFlag = flag.String("only", "", "run only this benchmark: ls, cat, ready, scan, large (with -large N), anchors (cbfs beside restic and borg) or s3 (a Backup Path on versitygw); anchors and s3 run only when asked")
	catAccts = flag.Int("catacct", 0, "accounts of the cat benchmark's sample (0: bigmb/4; with -catmsgs, replaces -bigmb's sizing)")
	catMsgs  = flag.Int("catmsgs", 40, "messages per account of the cat benchmark's sample")
	catTwo   = flag.Bool("cattwo", true, "also time 2 parallel readers in the cat benchmark")
	largeN   = flag.Int("large", 0, "items of the never-seen large Backup Path benchmark (issue #21; 0 skips it; make bench: CBFS_BENCH_LARGE)")
)

func main() {
	flag.Parse()
	if os.Geteuid() != 0 {
		fatal("e2ebench must run as root (it drops the kernel caches)")
	}
	must(os.MkdirAll(*work, 0o755))
	fmt.Printf("# cbfs end-to-end benchmarks, %s, %s\n", time.Now().UTC().Format(time.RFC3339), cpuInfo())
	if *folderN > 0 && (*onlyFlag == "" || *onlyFlag == "ls") {
		benchList()
	}
	if *bigMB > 0 && (*onlyFlag == "" || *onlyFlag == "cat") {
		benchCat()
	}
	if *itemsN > 0 && (*onlyFlag == "" || *onlyFlag == "ready") {
		benchReady()
	}
	if *scanMsgs > 0 && (*onlyFlag == "" || *onlyFlag == "scan") {
		benchScan()
	}
	if *largeN > 0 && (*onlyFlag == "" || *onlyFlag == "large") {
		benchLarge()
	}
	if *onlyFlag == "s3" {
		benchS3()
	}
	if *onlyFlag == "anchors" {
		benchAnchors() // only when asked: it installs restic and borg
	}
}

// ---- ls -l of a folder of N messages ----

func benchList() {
	dir := filepath.Join(*work, fmt.Sprintf("ls-%d", *folderN))
	bp := filepath.Join(dir, "backup")
	cached(bp, func() {
		_, err := sample.Generate(context.Background(), bp, sample.Options{Accounts: 3, Messages: 5, Seed: 1, FolderMessages: *folderN})
		must(err)
	})
	m := mount(bp, filepath.Join(dir, "mnt"), filepath.Join(dir, "index.db"))
	folder := findBulk(m.dir)
	m.stop()

	// Baseline: ls -l of the same account's item files on the disk (the
	// same number of entries, ~100 bucket folders).
	acct := accountWithMost(bp)
	buckets, _ := filepath.Glob(filepath.Join(bp, "accounts", acct, "items", "*"))
	dropCaches()
	baseCold := timeCmd("ls", append([]string{"-l"}, buckets...)...)
	baseWarm := timeCmd("ls", append([]string{"-l"}, buckets...)...)

	dropCaches()
	m = mount(bp, filepath.Join(dir, "mnt"), filepath.Join(dir, "index.db"))
	n := countLines("ls", "-1", folder)
	m.stop()
	dropCaches()
	m = mount(bp, filepath.Join(dir, "mnt"), filepath.Join(dir, "index.db"))
	cold := timeCmd("ls", "-l", folder)
	warm := timeCmd("ls", "-l", folder)
	m.stop()
	fmt.Printf("\n## ls -l of a folder of %d messages (goal: < 1 s warm, < 3 s cold)\n", n)
	fmt.Printf("%-44s %10s %10s\n", "", "cold", "warm")
	fmt.Printf("%-44s %9.3fs %9.3fs\n", "cbfs mount: ls -l folders/Bulk", cold.Seconds(), warm.Seconds())
	fmt.Printf("%-44s %9.3fs %9.3fs\n", "baseline: ls -l of the item files on disk", baseCold.Seconds(), baseWarm.Seconds())
	fmt.Printf("%-44s %9.2fx %9.2fx\n", "ratio cbfs/baseline", cold.Seconds()/baseCold.Seconds(), warm.Seconds()/baseWarm.Seconds())
}

func findBulk(mnt string) string {
	matches, _ := filepath.Glob(filepath.Join(mnt, "accounts", "*", "folders", "Bulk"))
	if len(matches) == 0 {
		fatal("no folders/Bulk in the mounted sample")
	}
	return matches[0]
}

func accountWithMost(bp string) string {
	p, err := backuppath.Open(bp)
	must(err)
	ids, err := p.AccountIDs()
	must(err)
	best, bestN := "", -1
	for _, id := range ids {
		f, _, _ := p.ItemFiles(id)
		if len(f) > bestN {
			best, bestN = id, len(f)
		}
	}
	return best
}

// ---- cat of every .eml: mount vs in-process decompression ----

func benchCat() {
	accts := max(3, *bigMB/4)
	name := fmt.Sprintf("cat-%dmb", *bigMB)
	if *catAccts > 0 {
		accts = max(3, *catAccts)
		name = fmt.Sprintf("cat-%dx%d", accts, *catMsgs)
	}
	dir := filepath.Join(*work, name)
	bp := filepath.Join(dir, "backup")
	cached(bp, func() {
		_, err := sample.Generate(context.Background(), bp, sample.Options{Accounts: accts, Messages: *catMsgs, Seed: 2, BigAttachments: true})
		must(err)
	})
	mnt := filepath.Join(dir, "mnt")
	idx := filepath.Join(dir, "index.db")

	// The files: every .eml under accounts/*/folders/ (each live message
	// once, as a user would cat them), with its digest from the
	// user.cbfs.digest attribute; damaged ones are left out (they fail by
	// design). Collected on a first mount, outside the timings.
	m := mount(bp, mnt, idx)
	var files []string
	var digests []blob.Digest
	p, err := backuppath.Open(bp)
	must(err)
	must(walkFolders(m.dir, func(rel string) {
		buf := make([]byte, 64)
		n, err := syscall.Getxattr(filepath.Join(m.dir, rel), "user.cbfs.digest", buf)
		if err != nil {
			return
		}
		d := blob.Digest(buf[:n])
		if p.Blobs.Check(d) != nil {
			return
		}
		files = append(files, rel)
		digests = append(digests, d)
	}))
	m.stop()
	want := map[string]bool{}
	for _, f := range files {
		want[f] = true
	}

	// The same messages as plain files, in the same tree (the baseline a
	// user would compare with: cat of the messages on a local disk).
	plain := filepath.Join(dir, "plain")
	cached(plain, func() {
		for i, rel := range files {
			r, err := p.Blobs.Open(digests[i])
			must(err)
			must(os.MkdirAll(filepath.Dir(filepath.Join(plain, rel)), 0o755))
			w, err := os.Create(filepath.Join(plain, rel))
			must(err)
			_, err = io.Copy(w, r)
			must(err)
			r.Close()
			must(w.Close())
		}
	})

	// Warm the compressed files so both sides read them from the page cache.
	for _, d := range digests {
		_, err := os.ReadFile(p.Blobs.Path(d))
		must(err)
	}
	var total int64
	start := time.Now()
	for _, d := range digests {
		r, err := p.Blobs.Open(d)
		must(err)
		n, err := io.Copy(io.Discard, r)
		must(err)
		r.Close()
		total += n
	}
	base := time.Since(start)

	// catTree lists each folder and cats its files in listing order, as
	// cat accounts/*/folders/*/*.eml (or cp -r) does.
	catTree := func(root string) time.Duration {
		buf := make([]byte, 128<<10)
		start := time.Now()
		must(walkFolders(root, func(rel string) {
			if !want[rel] {
				return
			}
			f, err := os.Open(filepath.Join(root, rel))
			must(err)
			_, err = io.CopyBuffer(io.Discard, f, buf)
			must(err)
			f.Close()
		}))
		return time.Since(start)
	}
	// readAll reads the files with parallel readers.
	readAll := func(mnt string, readers int) time.Duration {
		var wg sync.WaitGroup
		start := time.Now()
		for w := 0; w < readers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				buf := make([]byte, 128<<10)
				for i := w; i < len(files); i += readers {
					f, err := os.Open(filepath.Join(mnt, files[i]))
					must(err)
					_, err = io.CopyBuffer(io.Discard, f, buf)
					must(err)
					f.Close()
				}
			}(w)
		}
		wg.Wait()
		return time.Since(start)
	}
	dropCaches()
	plainCold := catTree(plain)
	plainWarm := catTree(plain)

	// cbfs: each pass on a fresh mount (cold lookups and an empty kernel
	// cache for the mounted files); cold also with the page cache dropped.
	m = mount(bp, mnt, idx)
	dropCaches()
	cold := catTree(m.dir)
	again := catTree(m.dir) // the same mount: the kernel kept the files (FOPEN_KEEP_CACHE)
	coldRSS := m.stop()
	m = mount(bp, mnt, idx)
	warm := catTree(m.dir)
	warmRSS := m.stop()
	var two time.Duration
	if *catTwo {
		m = mount(bp, mnt, idx)
		two = readAll(m.dir, 2)
		m.stop()
	}
	mbps := func(d time.Duration) float64 { return float64(total) / 1e6 / d.Seconds() }
	fmt.Printf("\n## cat of every .eml under folders/, %d files, %.0f MB decompressed (goals: cold >= 1.2x borg's 143 MB/s, warm >= 1.0x; mount peak RSS <= 128 MiB)\n", len(files), float64(total)/1e6)
	fmt.Printf("%-44s %9.1f MB/s\n", "baseline: blob.Store.Open in-process, warm", mbps(base))
	fmt.Printf("%-44s %9.1f MB/s\n", "baseline: cat of plain files, cold", mbps(plainCold))
	fmt.Printf("%-44s %9.1f MB/s\n", "baseline: cat of plain files, warm", mbps(plainWarm))
	fmt.Printf("%-44s %9.1f MB/s  vs plain %.2f  vs borg 143 %.2fx  peak RSS %4.0f MiB\n", "cbfs mount, cat, cold (fresh mount)", mbps(cold), mbps(cold)/mbps(plainCold), mbps(cold)/143, float64(coldRSS)/(1<<20))
	fmt.Printf("%-44s %9.1f MB/s  vs plain %.2f  vs in-process %.2f  peak RSS %4.0f MiB\n", "cbfs mount, cat, warm (fresh mount)", mbps(warm), mbps(warm)/mbps(plainWarm), mbps(warm)/mbps(base), float64(warmRSS)/(1<<20))
	fmt.Printf("%-44s %9.1f MB/s  vs plain %.2f\n", "cbfs mount, cat again on the cold one's mount", mbps(again), mbps(again)/mbps(plainWarm))
	if *catTwo {
		fmt.Printf("%-44s %9.1f MB/s  (vs 1 reader warm %.2fx)\n", "cbfs mount, 2 readers, warm", mbps(two), mbps(two)/mbps(warm))
	}
}

// walkFolders calls fn with the path (relative to root) of every .eml
// under root/accounts/*/folders/, folder by folder in listing order.
func walkFolders(root string, fn func(rel string)) error {
	return filepath.WalkDir(filepath.Join(root, "accounts"), func(path string, de os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if parts := strings.Split(rel, string(filepath.Separator)); de.IsDir() && len(parts) == 3 && parts[2] != "folders" {
			return filepath.SkipDir
		}
		if de.IsDir() || !strings.HasSuffix(path, ".eml") {
			return nil
		}
		fn(rel)
		return nil
	})
}

// ---- mount-ready time and peak RSS on a big Backup Path ----

func benchReady() {
	dir := filepath.Join(*work, fmt.Sprintf("ready-%d", *itemsN))
	bp := filepath.Join(dir, "backup")
	cached(bp, func() { genMetadata(bp, *itemsN) })
	idx := filepath.Join(dir, "index.db")
	os.Remove(idx)
	mnt := filepath.Join(dir, "mnt")
	m := mount(bp, mnt, idx)
	build := m.ready
	buildRSS := m.stop()
	m = mount(bp, mnt, idx)
	ready := m.ready
	rss := m.stop()
	fi, _ := os.Stat(idx)
	// Baseline: listing every item file of the Backup Path (what a mount
	// without an index would have to do before answering).
	dropCaches()
	walk := timeCmd("find", filepath.Join(bp, "accounts"), "-type", "f", "-name", "[0-9]*")
	fmt.Printf("\n## mount of a %d-item Backup Path (goals: ready < 2 s with the index built, peak RSS < 1 GB)\n", *itemsN)
	fmt.Printf("%-44s %9.2fs  peak RSS %6.0f MB\n", "first mount (builds the index)", build.Seconds(), float64(buildRSS)/1e6)
	fmt.Printf("%-44s %9.2fs  peak RSS %6.0f MB\n", "second mount (index built)", ready.Seconds(), float64(rss)/1e6)
	fmt.Printf("%-44s %9.2fs\n", "baseline: find of every item file, cold", walk.Seconds())
	if fi != nil {
		fmt.Printf("%-44s %9.0f MB (%.0f B/item)\n", "index file", float64(fi.Size())/1e6, float64(fi.Size())/float64(*itemsN))
	}
}

// genMetadata writes n message items (metadata only, spread over 10
// accounts; digests point at one small real blob) quickly: no fsync.
func genMetadata(dest string, n int) {
	p, err := backuppath.Create(dest, backuppath.BackupStat{ServerID: "bench", FirstRun: mailbox.MillisOf(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))})
	must(err)
	p.Write.NoSync = true
	body := []byte("From: a@example.com\r\nSubject: bench\r\n\r\nhello\r\n")
	d, _, err := p.Blobs.Put(body)
	must(err)
	const accounts = 10
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	for a := 0; a < accounts; a++ {
		id := fmt.Sprintf("00000000-0000-4000-8000-%012d", a)
		must(p.WriteAccount(&mailbox.Account{ID: id, Name: fmt.Sprintf("user%02d@example.com", a), Status: mailbox.StatusActive}))
		wg.Add(1)
		go func(a int, id string) {
			defer wg.Done()
			for i := 0; i < n/accounts; i++ {
				t := base.Add(time.Duration(i) * time.Minute)
				st := mailbox.State{Start: mailbox.MillisOf(t), Type: mailbox.TypeMessage, FolderID: 2 + i%2*3,
					Digest: d, Size: int64(len(body)), Date: mailbox.MillisOf(t), Subject: "bench " + strconv.Itoa(i)}
				it := &mailbox.Item{ID: 257 + i, States: []mailbox.State{st}}
				if i%3 == 0 {
					st2 := st
					st2.Start += 3600_000
					st2.Flags = "f"
					it.States = append(it.States, st2)
				}
				must(p.CreateItem(id, it))
			}
		}(a, id)
	}
	wg.Wait()
}

// ---- helpers ----

type mounted struct {
	dir   string
	cmd   *exec.Cmd
	ready time.Duration
}

// mount starts cbfs mount and waits until the mountpoint is a FUSE mount.
func mount(bp, dir, idx string) *mounted {
	must(os.MkdirAll(dir, 0o755))
	cmd := exec.Command(filepath.Join(*binDir, "cbfs"), "mount", "--index", idx, bp, dir)
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	start := time.Now()
	must(cmd.Start())
	deadline := start.Add(10 * time.Minute)
	for !isMounted(dir) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			fatal("mount of %s did not become ready", bp)
		}
		if cmd.ProcessState != nil {
			fatal("cbfs mount exited early")
		}
		time.Sleep(2 * time.Millisecond)
	}
	return &mounted{dir: dir, cmd: cmd, ready: time.Since(start)}
}

// stop unmounts with SIGTERM and returns the process's peak RSS in bytes.
func (m *mounted) stop() int64 {
	rss := peakRSS(m.cmd.Process.Pid)
	m.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- m.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		m.cmd.Process.Kill()
		exec.Command("umount", "-l", m.dir).Run()
		fatal("cbfs mount did not stop on SIGTERM")
	}
	if ru, ok := m.cmd.ProcessState.SysUsage().(*syscall.Rusage); ok && ru.Maxrss*1024 > rss {
		rss = ru.Maxrss * 1024
	}
	return rss
}

func isMounted(dir string) bool {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	defer f.Close()
	abs, _ := filepath.Abs(dir)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && fields[4] == abs {
			return true
		}
	}
	return false
}

func peakRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

func timeCmd(name string, args ...string) time.Duration {
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		fatal("%s: %v", name, err)
	}
	return time.Since(start)
}

func countLines(name string, args ...string) int {
	out, err := exec.Command(name, args...).Output()
	must(err)
	return strings.Count(string(out), "\n")
}

func dropCaches() {
	syscall.Sync()
	must(os.WriteFile("/proc/sys/vm/drop_caches", []byte("3\n"), 0o200))
}

// cached runs gen to make dir unless a previous run completed it.
func cached(dir string, gen func()) {
	marker := dir + ".done"
	if _, err := os.Stat(marker); err == nil {
		return
	}
	os.RemoveAll(dir)
	start := time.Now()
	gen()
	fmt.Fprintf(os.Stderr, "generated %s in %s\n", dir, time.Since(start).Round(time.Millisecond))
	must(os.WriteFile(marker, nil, 0o644))
}

func cpuInfo() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	var model string
	n := 0
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "model name") && model == "" {
			_, model, _ = strings.Cut(l, ":")
		}
		if strings.HasPrefix(l, "processor") {
			n++
		}
	}
	return fmt.Sprintf("%d cores,%s", n, model)
}

func must(err error) {
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			fatal("%v: %s", err, ee.Stderr)
		}
		fatal("%v", err)
	}
}

// atExit holds what fatal must stop before exiting (a running Dovecot).
var atExit []func()

func fatal(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "e2ebench: "+format+"\n", a...)
	for i := len(atExit) - 1; i >= 0; i-- {
		atExit[i]()
	}
	os.Exit(1)
}
