package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/external"
	"github.com/cbfs/cbfs/objstore/s3"
	"github.com/cbfs/cbfs/sample"
)

// ---- a Backup Path on S3 (versitygw on loopback) vs the same path local ----
//
// One fixture: a sample with big attachments (about -bigmb MB) and a
// -folder-message folder Bulk, uploaded once to a versitygw (posix backend
// under -work) as cbfs serve --external would. Then, side by side: mount
// ready (local: index build; s3://: archives fetched + index build), ls -l
// of Bulk, a cold cat of every message outside Bulk, and the GET requests
// per .eml, counted in versitygw's own request log.

var (
	vgwBin     = flag.String("versitygw", "", "versitygw binary for -only s3 (default: PATH, else ~/go/bin/versitygw)")
	s3Prefetch = flag.Int("s3prefetch", 0, "cbfs mount --s3-prefetch for -only s3 (0: the default)")
)

const (
	s3Access = "cbfsbenchaccess"
	s3Secret = "cbfs-bench-secret-0123456789"
	s3Bucket = "cbfs-bench"
)

func benchS3() {
	accts := max(3, *bigMB/4)
	dir := filepath.Join(*work, fmt.Sprintf("s3-%dmb-%d", *bigMB, *folderN))
	bp := filepath.Join(dir, "backup")
	cached(bp, func() {
		_, err := sample.Generate(context.Background(), bp, sample.Options{Accounts: accts, Messages: *catMsgs, Seed: 3,
			BigAttachments: true, FolderMessages: *folderN})
		must(err)
	})
	vgw := startVGW(filepath.Join(dir, "vgw"))
	defer vgw.stop()
	atExit = append(atExit, vgw.stop)
	url := fmt.Sprintf("s3://%s/bench?endpoint=%s&path-style=1&insecure=1", s3Bucket, vgw.addr)
	os.Setenv("AWS_ACCESS_KEY_ID", s3Access)
	os.Setenv("AWS_SECRET_ACCESS_KEY", s3Secret)
	bucket, err := s3.Open(url, s3.Options{})
	must(err)
	var upBlobs, upMeta time.Duration
	cached(filepath.Join(dir, "vgw", "uploaded"), func() {
		must(os.MkdirAll(filepath.Join(dir, "vgw", "uploaded"), 0o755))
		start := time.Now()
		rep, err := external.UploadBlobs(context.Background(), bp, bucket, 16)
		must(err)
		upBlobs = time.Since(start)
		start = time.Now()
		mrep, err := external.UploadMetadata(context.Background(), bp, bucket, 16)
		must(err)
		upMeta = time.Since(start)
		fmt.Fprintf(os.Stderr, "uploaded %d blobs (%d MB; %d present, %d unreadable) in %s, %d archives (%d MB) in %s\n", rep.Blobs, rep.Bytes>>20, rep.BlobsSkipped, rep.Unreadable,
			upBlobs.Round(time.Millisecond), mrep.Archives, mrep.Bytes>>20, upMeta.Round(time.Millisecond))
	})

	// The files to cat: every sound message outside Bulk, from a first
	// local mount (outside the timings).
	localIdx := filepath.Join(dir, "local.db")
	m := mount(bp, filepath.Join(dir, "mnt"), localIdx)
	p, err := backuppath.Open(bp)
	must(err)
	var files []string
	var total int64
	distinct := map[blob.Digest]bool{}
	must(walkFolders(m.dir, func(rel string) {
		if strings.Contains(rel, string(filepath.Separator)+"Bulk"+string(filepath.Separator)) {
			return
		}
		buf := make([]byte, 64)
		n, err := syscall.Getxattr(filepath.Join(m.dir, rel), "user.cbfs.digest", buf)
		if err != nil || p.Blobs.Check(blob.Digest(buf[:n])) != nil {
			return
		}
		fi, err := os.Stat(filepath.Join(m.dir, rel))
		must(err)
		files = append(files, rel)
		total += fi.Size()
		distinct[blob.Digest(buf[:n])] = true
	}))
	bulk, _ := filepath.Rel(m.dir, findBulk(m.dir))
	m.stop()
	n := 0

	// ---- local ----
	os.Remove(localIdx)
	dropCaches()
	m = mount(bp, filepath.Join(dir, "mnt"), localIdx)
	localReady := m.ready
	m.stop()
	dropCaches()
	m = mount(bp, filepath.Join(dir, "mnt"), localIdx)
	n = countLines("ls", "-1", filepath.Join(m.dir, bulk))
	m.stop()
	dropCaches()
	m = mount(bp, filepath.Join(dir, "mnt"), localIdx)
	localLsCold := timeCmd("ls", "-l", filepath.Join(m.dir, bulk))
	localLsWarm := timeCmd("ls", "-l", filepath.Join(m.dir, bulk))
	m.stop()
	dropCaches()
	m = mount(bp, filepath.Join(dir, "mnt"), localIdx)
	localCat := catFiles(m.dir, files)
	m.stop()

	// ---- s3:// ----
	s3Idx := filepath.Join(dir, "s3.db")
	cache := filepath.Join(dir, "cache")
	fresh := func() {
		os.RemoveAll(cache)
		os.Remove(s3Idx)
	}
	fresh()
	dropCaches()
	m = mountS3(url, filepath.Join(dir, "mnt"), s3Idx, cache)
	s3Ready := m.ready
	m.stop()
	dropCaches()
	m = mountS3(url, filepath.Join(dir, "mnt"), s3Idx, cache)
	s3Ready2 := m.ready
	before := vgw.gets()
	s3LsCold := timeCmd("ls", "-l", filepath.Join(m.dir, bulk))
	s3LsWarm := timeCmd("ls", "-l", filepath.Join(m.dir, bulk))
	lsGets := vgw.gets() - before
	m.stop()
	fresh()
	m = mountS3(url, filepath.Join(dir, "mnt"), s3Idx, cache)
	dropCaches()
	before = vgw.gets()
	vgwCPU, mountCPU, selfCPU := cpuTime(vgw.cmd.Process.Pid), cpuTime(m.cmd.Process.Pid), selfCPUTime()
	s3Cat := catFiles(m.dir, files)
	vgwCPU, mountCPU, selfCPU = cpuTime(vgw.cmd.Process.Pid)-vgwCPU, cpuTime(m.cmd.Process.Pid)-mountCPU, selfCPUTime()-selfCPU
	catGets := vgw.gets() - before
	m.stop()
	m = mountS3(url, filepath.Join(dir, "mnt"), s3Idx, cache)
	dropCaches()
	s3CatCached := catFiles(m.dir, files)
	m.stop()

	mbps := func(d time.Duration) float64 { return float64(total) / 1e6 / d.Seconds() }
	fmt.Printf("\n## Backup Path on S3 (versitygw, loopback) vs local: %d items in Bulk, %d other messages (%.0f MB)\n", n, len(files), float64(total)/1e6)
	if upBlobs > 0 {
		fmt.Printf("%-52s %9.2fs blobs, %.2fs metadata archives\n", "upload (external.UploadBlobs/UploadMetadata, 16 at a time)", upBlobs.Seconds(), upMeta.Seconds())
	}
	fmt.Printf("%-52s %9.2fs\n", "local mount ready (index built)", localReady.Seconds())
	fmt.Printf("%-52s %9.2fs  vs local %.2fx (goal: < 10 s at 100k)\n", "s3:// mount ready (archives fetched, index built)", s3Ready.Seconds(), s3Ready.Seconds()/localReady.Seconds())
	fmt.Printf("%-52s %9.2fs\n", "s3:// mount ready again (archives refetched)", s3Ready2.Seconds())
	fmt.Printf("%-52s %8.3fs cold %8.3fs warm\n", "local mount: ls -l Bulk", localLsCold.Seconds(), localLsWarm.Seconds())
	fmt.Printf("%-52s %8.3fs cold %8.3fs warm  vs local %.2fx / %.2fx; GETs %d (goal: 0)\n", "s3:// mount: ls -l Bulk", s3LsCold.Seconds(), s3LsWarm.Seconds(),
		s3LsCold.Seconds()/localLsCold.Seconds(), s3LsWarm.Seconds()/localLsWarm.Seconds(), lsGets)
	fmt.Printf("%-52s %9.1f MB/s\n", "local mount: cat, cold", mbps(localCat))
	fmt.Printf("%-52s %9.1f MB/s  vs local %.2fx (goal: >= 0.5x)\n", "s3:// mount: cat, cold (empty cache)", mbps(s3Cat), mbps(s3Cat)/mbps(localCat))
	fmt.Printf("%-52s versitygw %.1fs, cbfs mount %.1fs, reader %.1fs of %.1fs wall x %d cores\n", "  CPU during it", vgwCPU.Seconds(), mountCPU.Seconds(), selfCPU.Seconds(), s3Cat.Seconds(), runtime.NumCPU())
	fmt.Printf("%-52s %9.1f MB/s  vs local %.2fx\n", "s3:// mount: cat, blobs cached (fresh mount)", mbps(s3CatCached), mbps(s3CatCached)/mbps(localCat))
	fmt.Printf("%-52s %9.3f  (%d GETs of items/ for %d files, %d distinct blobs; goal: 1)\n", "GET requests per .eml", float64(catGets)/float64(len(files)), catGets, len(files), len(distinct))
}

// catFiles reads files (relative to root) in order, as cat or cp -r does.
// cpuTime is the CPU time (user + system) process pid has used so far.
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64) // fields 14 and 15 of stat(5)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}

// selfCPUTime is this process's CPU time (the reader of the benchmark).
func selfCPUTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func catFiles(root string, files []string) time.Duration {
	buf := make([]byte, 128<<10)
	start := time.Now()
	for _, rel := range files {
		f, err := os.Open(filepath.Join(root, rel))
		must(err)
		_, err = io.CopyBuffer(io.Discard, f, buf)
		must(err)
		f.Close()
	}
	return time.Since(start)
}

// mountS3 mounts an s3:// URL with its cache folder.
func mountS3(url, dir, idx, cache string) *mounted {
	must(os.MkdirAll(dir, 0o755))
	cmd := exec.Command(filepath.Join(*binDir, "cbfs"), "mount", "--index", idx, "--cache-dir", cache, "--cache-size", "4G",
		"--s3-prefetch", strconv.Itoa(*s3Prefetch), url, dir)
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	start := time.Now()
	must(cmd.Start())
	deadline := start.Add(5 * time.Minute)
	for !isMounted(dir) {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", cmd.Process.Pid)); err != nil || strings.Contains(string(b), ") Z ") {
			fatal("cbfs mount %s exited early", url)
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			fatal("mount of %s did not become ready", url)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return &mounted{dir: dir, cmd: cmd, ready: time.Since(start)}
}

// vgwProc is a running versitygw whose request log is kept in a file.
type vgwProc struct {
	cmd  *exec.Cmd
	addr string
	log  string
}

func startVGW(root string) *vgwProc {
	bin := *vgwBin
	if bin == "" {
		if p, err := exec.LookPath("versitygw"); err == nil {
			bin = p
		} else {
			home, _ := os.UserHomeDir()
			bin = filepath.Join(home, "go", "bin", "versitygw")
		}
	}
	data, side := filepath.Join(root, "data"), filepath.Join(root, "sidecar")
	must(os.MkdirAll(filepath.Join(data, s3Bucket), 0o755))
	must(os.MkdirAll(side, 0o755))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(err)
	addr := l.Addr().String()
	l.Close()
	v := &vgwProc{addr: addr, log: filepath.Join(root, "requests.log")}
	logf, err := os.Create(v.log)
	must(err)
	v.cmd = exec.Command(bin, "--port", addr, "posix", "--sidecar", side, data)
	v.cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY_ID="+s3Access, "ROOT_SECRET_ACCESS_KEY="+s3Secret)
	v.cmd.Stdout, v.cmd.Stderr = logf, logf
	v.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	must(v.cmd.Start())
	logf.Close()
	for i := 0; ; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if i > 400 {
			fatal("versitygw did not start (%s)", v.log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return v
}

// gets counts the GET requests of blobs (items/) in the request log.
func (v *vgwProc) gets() int {
	f, err := os.Open(v.log)
	must(err)
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.Contains(sc.Text(), "| GET | /"+s3Bucket+"/bench/items/") {
			n++
		}
	}
	return n
}

func (v *vgwProc) stop() {
	if v.cmd != nil && v.cmd.Process != nil {
		syscall.Kill(-v.cmd.Process.Pid, syscall.SIGKILL)
		v.cmd.Wait()
		v.cmd = nil
	}
}
