package main

// The anchors benchmark (performance issue #13): cbfs beside restic and
// borg, the two tools a mail administrator would otherwise back a Maildir
// tree up with and mount, measured side by side in one run on the same
// generated trees:
//
//	A: one folder of -anchora small messages (no attachments)
//	B: -anchorbacct accounts x -anchorbmsgs messages, one in two with an
//	   attachment, over five folders each
//
// Each tool backs A and B up (wall time from a cold cache until the data is
// on disk: the backup, then sync), then each is mounted: the first mount of
// A (cbfs builds its index), ls -l of A's folder cold and warm, cat of
// every message of B cold (page cache dropped, fresh mount) and warm
// (fresh mount, the repository in the page cache), and the mount daemon's
// peak RSS after the cold cat. Plain files are the Maildir trees
// themselves. restic and borgbackup are installed from apt when missing;
// neither encrypts (borg init -e none; restic has no such mode in 0.14, so
// it runs with a fixed password).

import (
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/cbfs/cbfs/service"
)

var (
	anchorA     = flag.Int("anchora", 100000, "anchors: messages of corpus A (one folder of small messages)")
	anchorBAcct = flag.Int("anchorbacct", 3, "anchors: accounts of corpus B (messages with attachments)")
	anchorBMsgs = flag.Int("anchorbmsgs", 3000, "anchors: messages per account of corpus B")
)

// anchorTool is one of the compared tools: how it backs a tree up and
// mounts the backup, and where the tree is in its mount.
type anchorTool struct {
	name string
	// prepare makes an empty repository for corpus (outside the timing).
	prepare func(corpus string)
	// backup backs the tree root (dir/<corpus>) up into a new repository
	// named after corpus.
	backup func(corpus string)
	// mount mounts corpus's backup on mnt; first says the mount is the
	// first one (cbfs: no index yet).
	mount func(corpus, mnt string, first bool) *exec.Cmd
	// tree is where the corpus's Maildir tree (or cbfs's accounts/) is in
	// the mount.
	tree func(corpus, mnt string) string
}

type anchorFigures struct {
	backupA, backupB     time.Duration
	firstMount, remount  time.Duration
	lsCold, lsWarm       time.Duration
	catCold, catWarm     float64 // MB/s
	catColdMB, catWarmMB float64
	rss                  int64
	load                 string
	served               time.Duration // cbfs: mount of A after cbfs serve scanned it
}

func benchAnchors() {
	ensureTools()
	dir := filepath.Join(*work, fmt.Sprintf("anchors-%d-%dx%d", *anchorA, *anchorBAcct, *anchorBMsgs))
	src := map[string]string{"A": filepath.Join(dir, "A"), "B": filepath.Join(dir, "B")}
	cached(src["A"], func() {
		genMail(src["A"], *anchorA, mailShape{accounts: 1, folders: []string{""}, bodyMin: 200, bodyMax: 2200})
		ageDirs(src["A"])
	})
	cached(src["B"], func() {
		genMail(src["B"], *anchorBAcct**anchorBMsgs, mailShape{accounts: *anchorBAcct, folders: scanFolders, attachOneIn: 2, bodyMin: 500, bodyMax: 6500})
		ageDirs(src["B"])
	})
	aMsgs, aBytes := countMessages(src["A"])
	bMsgs, bBytes := countMessages(src["B"])
	repos := filepath.Join(dir, "repos")
	must(os.MkdirAll(repos, 0o755))
	// The Maildir folder of A (its Inbox: cur/ and new/).
	aBox := filepath.Join(scanUser(0)[strings.Index(scanUser(0), "@")+1:], strings.Split(scanUser(0), "@")[0], "Maildir")

	resticEnv := append(os.Environ(), "RESTIC_PASSWORD=cbfs-bench", "RESTIC_CACHE_DIR="+filepath.Join(repos, "restic-cache"))
	borgEnv := append(os.Environ(), "BORG_BASE_DIR="+filepath.Join(repos, "borg-home"),
		"BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes", "BORG_RELOCATED_REPO_ACCESS_IS_OK=yes")
	run := func(env []string, cwd string, name string, args ...string) {
		cmd := exec.Command(name, args...)
		cmd.Env, cmd.Dir = env, cwd
		out, err := cmd.CombinedOutput()
		if err != nil {
			fatal("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
	}
	// The trees are backed up from dir by their relative names (A, B), so
	// each tool's mount holds them under that name.
	tools := []*anchorTool{
		{
			name: "cbfs",
			prepare: func(c string) {
				must(os.RemoveAll(filepath.Join(repos, "cbfs-"+c)))
				must(os.RemoveAll(filepath.Join(repos, "cbfs-state-"+c)))
			},
			backup: func(c string) {
				cbctlScan(filepath.Join(repos, "cbfs-"+c), filepath.Join(repos, "cbfs-state-"+c), "maildir:"+src[c], "")
			},
			mount: func(c, mnt string, first bool) *exec.Cmd {
				idx := filepath.Join(repos, "cbfs-"+c+".index.db")
				if first {
					os.Remove(idx)
				}
				return exec.Command(filepath.Join(*binDir, "cbfs"), "mount", "--index", idx, filepath.Join(repos, "cbfs-"+c), mnt)
			},
			tree: func(c, mnt string) string { return mnt },
		},
		{
			name: "restic",
			prepare: func(c string) {
				repo := filepath.Join(repos, "restic-"+c)
				must(os.RemoveAll(repo))
				must(os.RemoveAll(filepath.Join(repos, "restic-cache")))
				run(resticEnv, dir, "restic", "-r", repo, "init")
			},
			backup: func(c string) {
				run(resticEnv, dir, "restic", "-r", filepath.Join(repos, "restic-"+c), "backup", "--quiet", c)
			},
			mount: func(c, mnt string, first bool) *exec.Cmd {
				cmd := exec.Command("restic", "-r", filepath.Join(repos, "restic-"+c), "mount", mnt)
				cmd.Env = resticEnv
				return cmd
			},
			tree: func(c, mnt string) string {
				// restic 0.14 keeps a relative target under its own name
				// in the snapshot; later versions under its absolute path.
				for _, p := range []string{filepath.Join(mnt, "snapshots", "latest", c), filepath.Join(mnt, "snapshots", "latest", src[c])} {
					if _, err := os.Stat(p); err == nil {
						return p
					}
				}
				fatal("restic mount %s: no %s in snapshots/latest", mnt, c)
				return ""
			},
		},
		{
			name: "borg",
			prepare: func(c string) {
				repo := filepath.Join(repos, "borg-"+c)
				must(os.RemoveAll(repo))
				must(os.RemoveAll(filepath.Join(repos, "borg-home", ".cache", "borg")))
				run(borgEnv, dir, "borg", "init", "-e", "none", repo)
			},
			backup: func(c string) {
				run(borgEnv, dir, "borg", "create", filepath.Join(repos, "borg-"+c)+"::a", c)
			},
			mount: func(c, mnt string, first bool) *exec.Cmd {
				cmd := exec.Command("borg", "mount", "-f", filepath.Join(repos, "borg-"+c)+"::a", mnt)
				cmd.Env = borgEnv
				return cmd
			},
			tree: func(c, mnt string) string { return filepath.Join(mnt, c) },
		},
	}
	fmt.Printf("\n## anchors: cbfs beside restic %s and borg %s on the same Maildir trees\n", toolVersion("restic", "version"), toolVersion("borg", "--version"))
	fmt.Printf("A: 1 folder, %d messages, %.0f MB; B: %d accounts, %d messages with attachments, %.0f MB\n",
		aMsgs, float64(aBytes)/1e6, *anchorBAcct, bMsgs, float64(bBytes)/1e6)

	res := map[string]*anchorFigures{}
	// Backups, cold, including sync. (restic and borg create their
	// repository before the timing; cbfs's scan creates its Backup Path.)
	for _, t := range tools {
		f := &anchorFigures{}
		res[t.name] = f
		for _, c := range []string{"A", "B"} {
			t.prepare(c)
			dropCaches()
			start := time.Now()
			t.backup(c)
			syscall.Sync()
			d := time.Since(start)
			if c == "A" {
				f.backupA = d
			} else {
				f.backupB = d
			}
			fmt.Fprintf(os.Stderr, "anchors: %s backup of %s %.1fs (load %s)\n", t.name, c, d.Seconds(), loadAvg())
		}
	}
	// Mounts. (A run that stopped on an error may have left one.)
	mnt := filepath.Join(dir, "mnt")
	for i := 0; isMounted(mnt) && i < 10; i++ {
		exec.Command("umount", "-l", mnt).Run()
	}
	for _, t := range tools {
		f := res[t.name]
		f.load = loadAvg()
		// A: the first mount (cbfs builds its index), a second one, then
		// ls -l of the folder cold (fresh mount) and warm.
		dropCaches()
		m := mountTool(t.mount("A", mnt, true), mnt)
		f.firstMount = m.ready
		folder := anchorFolder(t, "A", mnt, aBox)
		stopTool(m)
		m = mountTool(t.mount("A", mnt, false), mnt)
		f.remount = m.ready
		stopTool(m)
		dropCaches()
		m = mountTool(t.mount("A", mnt, false), mnt)
		f.lsCold = timeCmd("ls", append([]string{"-l"}, folder...)...)
		f.lsWarm = timeCmd("ls", append([]string{"-l"}, folder...)...)
		stopTool(m)
		// B: cat of every message, cold then warm, each on a fresh mount.
		dropCaches()
		m = mountTool(t.mount("B", mnt, false), mnt)
		d, n := catMessages(t.tree("B", mnt))
		f.catCold, f.catColdMB = float64(n)/1e6/d.Seconds(), float64(n)/1e6
		f.rss = peakRSS(m.cmd.Process.Pid)
		stopTool(m)
		m = mountTool(t.mount("B", mnt, false), mnt)
		d, n = catMessages(t.tree("B", mnt))
		f.catWarm, f.catWarmMB = float64(n)/1e6/d.Seconds(), float64(n)/1e6
		stopTool(m)
		if t.name == "cbfs" {
			f.served = serveReady(filepath.Join(repos, "cbfs-A"), filepath.Join(repos, "cbfs-state-A"), src["A"], mnt)
		}
		fmt.Fprintf(os.Stderr, "anchors: %s mounted (load %s)\n", t.name, f.load)
	}
	// Plain files: the trees themselves.
	plain := &anchorFigures{load: loadAvg()}
	plainBox := []string{filepath.Join(src["A"], aBox, "cur"), filepath.Join(src["A"], aBox, "new")}
	dropCaches()
	plain.lsCold = timeCmd("ls", append([]string{"-l"}, plainBox...)...)
	plain.lsWarm = timeCmd("ls", append([]string{"-l"}, plainBox...)...)
	dropCaches()
	d, n := catMessages(src["B"])
	plain.catCold, plain.catColdMB = float64(n)/1e6/d.Seconds(), float64(n)/1e6
	d, n = catMessages(src["B"])
	plain.catWarm, plain.catWarmMB = float64(n)/1e6/d.Seconds(), float64(n)/1e6

	cb, bo, re := res["cbfs"], res["borg"], res["restic"]
	fmt.Printf("%-46s %14s %14s %14s %14s %10s\n", "figure", "cbfs", "restic", "borg", "plain files", "cbfs/borg")
	secs := func(d time.Duration) string {
		if d == 0 {
			return "—"
		}
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
	pair := func(a, b time.Duration) string { return fmt.Sprintf("%.2f / %.2f s", a.Seconds(), b.Seconds()) }
	row := func(name string, c, r, b, p, ratio string) {
		fmt.Printf("%-46s %14s %14s %14s %14s %10s\n", name, c, r, b, p, ratio)
	}
	faster := func(c, b time.Duration) string { return fmt.Sprintf("%.2fx", b.Seconds()/c.Seconds()) }
	row("ls -l of A's folder, cold / warm", pair(cb.lsCold, cb.lsWarm), pair(re.lsCold, re.lsWarm), pair(bo.lsCold, bo.lsWarm), pair(plain.lsCold, plain.lsWarm),
		faster(cb.lsCold, bo.lsCold)+" "+faster(cb.lsWarm, bo.lsWarm))
	mbs := func(v float64) string { return fmt.Sprintf("%.0f MB/s", v) }
	row("cat of every message of B, cold", mbs(cb.catCold), mbs(re.catCold), mbs(bo.catCold), mbs(plain.catCold), fmt.Sprintf("%.2fx", cb.catCold/bo.catCold))
	row("the same, warm", mbs(cb.catWarm), mbs(re.catWarm), mbs(bo.catWarm), mbs(plain.catWarm), fmt.Sprintf("%.2fx", cb.catWarm/bo.catWarm))
	row("backup of A / of B (cold, incl. sync)", pair(cb.backupA, cb.backupB), pair(re.backupA, re.backupB), pair(bo.backupA, bo.backupB), "—",
		faster(cb.backupA, bo.backupA)+" "+faster(cb.backupB, bo.backupB))
	mib := func(v int64) string { return fmt.Sprintf("%.0f MiB", float64(v)/(1<<20)) }
	row("mount daemon peak RSS after the cold cat", mib(cb.rss), mib(re.rss), mib(bo.rss), "—", fmt.Sprintf("%.2fx", float64(bo.rss)/float64(cb.rss)))
	row("first mount of A, cold (cbfs: index build)", secs(cb.firstMount), secs(re.firstMount), secs(bo.firstMount), "—", faster(cb.firstMount, bo.firstMount))
	row("mount of A again (cbfs: index built)", secs(cb.remount), secs(re.remount), secs(bo.remount), "—", faster(cb.remount, bo.remount))
	row("cbfs mount of A after cbfs serve scanned it, cold", secs(cb.served), "", "", "", "")
	fmt.Printf("(ratios borg/cbfs for times and RSS, cbfs/borg for MB/s: > 1 means cbfs is ahead; MB read by each cat: cbfs %.0f, restic %.0f, borg %.0f, plain %.0f; load at each tool's mounts: cbfs %s, restic %s, borg %s, plain %s)\n",
		cb.catColdMB, re.catColdMB, bo.catColdMB, plain.catColdMB, cb.load, re.load, bo.load, plain.load)
	for tree, n := range catFailed {
		fmt.Printf("(%d files under %s could not be read, twice: left out of its MB/s)\n", n, tree)
	}
}

// ensureTools installs restic and borgbackup from apt when missing.
func ensureTools() {
	var missing []string
	for bin, pkg := range map[string]string{"restic": "restic", "borg": "borgbackup"} {
		if _, err := exec.LookPath(bin); err != nil {
			missing = append(missing, pkg)
		}
	}
	if len(missing) == 0 {
		return
	}
	fmt.Fprintf(os.Stderr, "anchors: installing %s from apt\n", strings.Join(missing, " "))
	cmd := exec.Command("apt-get", append([]string{"install", "-y"}, missing...)...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	if out, err := cmd.CombinedOutput(); err != nil {
		fatal("apt-get install %s: %v\n%s", strings.Join(missing, " "), err, out)
	}
}

func toolVersion(name string, args ...string) string {
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(out))
	if len(f) < 2 {
		return "?"
	}
	return f[1]
}

func loadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 1 {
		return "?"
	}
	return f[0]
}

// anchorFolder is what ls -l lists for A's folder in t's mount: cbfs's
// biggest folder, or the Maildir's cur/ and new/.
func anchorFolder(t *anchorTool, c, mnt, box string) []string {
	root := t.tree(c, mnt)
	if t.name != "cbfs" {
		return []string{filepath.Join(root, box, "cur"), filepath.Join(root, box, "new")}
	}
	folders, _ := filepath.Glob(filepath.Join(root, "accounts", "*", "folders", "*"))
	best, bestN := "", -1
	for _, f := range folders {
		if ents, err := os.ReadDir(f); err == nil && len(ents) > bestN {
			best, bestN = f, len(ents)
		}
	}
	if best == "" {
		fatal("no folder in the cbfs mount of %s", c)
	}
	return []string{best}
}

// catMessages reads every message under root (a Maildir tree: files in
// cur/ and new/; a cbfs mount: .eml files under accounts/*/folders/),
// folder by folder in listing order, and returns the time and bytes.
func catMessages(root string) (time.Duration, int64) {
	buf := make([]byte, 128<<10)
	var total int64
	start := time.Now()
	must(filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			// cbfs: only accounts/<a>/folders/...; skip items/, blobs/ and
			// other views of the same messages.
			rel, _ := filepath.Rel(root, p)
			if parts := strings.Split(rel, string(filepath.Separator)); len(parts) == 3 && parts[0] == "accounts" && parts[2] != "folders" {
				return filepath.SkipDir
			}
			if len(strings.Split(rel, string(filepath.Separator))) == 1 && rel != "." && rel != "accounts" && isCbfs(root) {
				return filepath.SkipDir
			}
			return nil
		}
		parent := filepath.Base(filepath.Dir(p))
		if !(parent == "cur" || parent == "new" || strings.HasSuffix(p, ".eml")) {
			return nil
		}
		n, err := catFile(p, buf)
		if err != nil {
			// A tool's mount may fail a read now and then (restic 0.14
			// answered EIO once in a few runs): try once more, then
			// count it and go on, so one flaky file does not void the run.
			fmt.Fprintf(os.Stderr, "anchors: %v (trying again)\n", err)
			if n, err = catFile(p, buf); err != nil {
				catFailed[root]++
				fmt.Fprintf(os.Stderr, "anchors: %v (counted as failed)\n", err)
				return nil
			}
		}
		total += n
		return nil
	}))
	return time.Since(start), total
}

// catFailed counts, by tree, the files catMessages could not read.
var catFailed = map[string]int{}

func catFile(p string, buf []byte) (int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return io.CopyBuffer(io.Discard, f, buf)
}

func isCbfs(root string) bool {
	_, err := os.Stat(filepath.Join(root, "accounts"))
	return err == nil
}

// mountTool starts a mount daemon in the foreground and waits until its
// mountpoint is a FUSE mount whose root can be listed.
func mountTool(cmd *exec.Cmd, dir string) *mounted {
	must(os.MkdirAll(dir, 0o755))
	// The tool's own messages, kept beside the mountpoint for when a read
	// fails.
	logf, err := os.OpenFile(dir+".log", os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	must(err)
	defer logf.Close()
	fmt.Fprintf(logf, "== %s\n", strings.Join(cmd.Args, " "))
	cmd.Stdout, cmd.Stderr = logf, logf
	start := time.Now()
	must(cmd.Start())
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	deadline := start.Add(10 * time.Minute)
	for {
		if isMounted(dir) {
			if _, err := os.ReadDir(dir); err == nil {
				break
			}
		}
		select {
		case <-exited:
			fatal("%s exited before its mount was ready", strings.Join(cmd.Args, " "))
		default:
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			fatal("%s: mount not ready", strings.Join(cmd.Args, " "))
		}
		time.Sleep(2 * time.Millisecond)
	}
	m := &mounted{dir: dir, cmd: cmd, ready: time.Since(start)}
	anchorExited[m] = exited
	return m
}

var anchorExited = map[*mounted]chan struct{}{}

// stopTool stops a mount daemon: SIGINT (as at a terminal), SIGTERM, an
// unmount if it is still running, then SIGKILL; and frees the mountpoint.
func stopTool(m *mounted) {
	exited := anchorExited[m]
	delete(anchorExited, m)
	start := time.Now()
	m.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-exited:
	case <-time.After(time.Second): // borg mount -f stops on SIGTERM only
		m.cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		exec.Command("fusermount3", "-u", m.dir).Run()
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			m.cmd.Process.Kill()
			<-exited
		}
	}
	for i := 0; isMounted(m.dir) && i < 100; i++ {
		if exec.Command("fusermount3", "-u", m.dir).Run() != nil {
			exec.Command("umount", "-l", m.dir).Run()
		}
		time.Sleep(20 * time.Millisecond)
	}
	if d := time.Since(start); d > 2*time.Second {
		fmt.Fprintf(os.Stderr, "anchors: %s took %.1fs to stop\n", m.cmd.Args[0], d.Seconds())
	}
}

// serveReady runs cbfs serve on A's Backup Path, has it scan A once more
// (nothing new: what matters is that serve refreshes the index cbfs mount
// uses by default), stops it, drops the caches and times a plain cbfs
// mount (no --index) until it is ready.
func serveReady(bp, st, srcRoot, mnt string) time.Duration {
	cache := filepath.Join(filepath.Dir(bp), "xdg-cache")
	must(os.RemoveAll(cache))
	env := append(os.Environ(), "XDG_CACHE_HOME="+cache)
	srv := exec.Command(filepath.Join(*binDir, "cbfs"), "serve", "--state-dir", st, "--backup-path", bp, "--source", "maildir:"+srcRoot,
		"--scan-schedule", "off", "--purge-schedule", "off")
	srv.Env, srv.Stdout, srv.Stderr = env, io.Discard, io.Discard
	must(srv.Start())
	exited := make(chan struct{})
	go func() { srv.Wait(); close(exited) }()
	sock := filepath.Join(st, "cbfs.sock")
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		if _, err := service.Dial(sock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			srv.Process.Kill()
			fatal("cbfs serve did not answer on %s", sock)
		}
	}
	scan := exec.Command(filepath.Join(*binDir, "cbctl"), "backup", "doSmartScan", "--wait", "--state-dir", st)
	scan.Env = env
	if out, err := scan.CombinedOutput(); err != nil {
		srv.Process.Kill()
		fatal("cbctl doSmartScan via cbfs serve: %v\n%s", err, out)
	}
	srv.Process.Signal(syscall.SIGTERM)
	<-exited
	dropCaches()
	cmd := exec.Command(filepath.Join(*binDir, "cbfs"), "mount", bp, mnt)
	cmd.Env = env
	m := mountTool(cmd, mnt)
	stopTool(m)
	return m.ready
}
