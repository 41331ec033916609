package main

// The backup-scan benchmark (issue 4, "Speed"): a first scan and a
// no-change re-scan of a Maildir++ tree by `cbctl backup doSmartScan` in the
// foreground (no service), each beside a plain `cp -r` of the same tree in
// the same run, and a first scan of one account from a real Dovecot over
// IMAP beside the Maildir scan of the same messages. Every timed run starts
// with the kernel caches dropped (cold), the baselines too; the no-change
// re-scan is also timed warm.

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/cbfs/cbfs/internal/dovecot"
)

// scanAccounts is the number of accounts of the generated tree; the IMAP
// benchmark uses the first one (scanmsgs/scanAccounts messages).
const scanAccounts = 10

// scanFolders are the folders of every account: "" is the Inbox, the others
// are Maildir++ sub-folders (".Archive.2024").
var scanFolders = []string{"", "Sent", "Archive", "Archive/2024", "Lists/golang"}

// scanTree is the generated source: its root, message count and bytes, and
// the sub-tree of the first account alone (for the IMAP comparison).
type scanTree struct {
	root     string
	msgs     int
	bytes    int64
	one      string // <dir>/one: a copy of the first account alone
	oneUser  string // its address
	oneMsgs  int
	oneBytes int64
}

func benchScan() {
	dir := filepath.Join(*work, fmt.Sprintf("scan-%d", *scanMsgs))
	tree := scanFixture(dir)
	fmt.Printf("\n## backup scan of a Maildir++ tree: %d messages, %d accounts, %.0f MB (goal: re-scan a small fraction of the first)\n",
		tree.msgs, scanAccounts, float64(tree.bytes)/1e6)
	fmt.Println("(every run cold unless said: kernel caches dropped before it; the scans write durably, fsync per file, as cbfs serve does)")

	// Baselines: cp -r of the same tree, and cp -r then sync (the data on
	// disk, as the scan's fsyncs guarantee).
	cpDest := filepath.Join(dir, "cp")
	os.RemoveAll(cpDest)
	dropCaches()
	cpTime := timeCmd("cp", "-r", tree.root, cpDest)
	os.RemoveAll(cpDest)
	dropCaches()
	start := time.Now()
	timeCmd("cp", "-r", tree.root, cpDest)
	timeCmd("sync")
	cpSync := time.Since(start)
	must(os.RemoveAll(cpDest))

	// First scan into an empty Backup Path, then a re-scan of the unchanged tree.
	bp, st := filepath.Join(dir, "bp"), filepath.Join(dir, "state")
	must(os.RemoveAll(bp))
	must(os.RemoveAll(st))
	dropCaches()
	first, rep := cbctlScan(bp, st, "maildir:"+tree.root, "")
	if n := reportInt(rep, "Items New"); n < tree.msgs {
		fatal("first scan captured %d new items, want at least %d messages:\n%s", n, tree.msgs, rep)
	}
	dropCaches()
	rescan, rep := cbctlScan(bp, st, "maildir:"+tree.root, "")
	if n := reportInt(rep, "Files Written"); n != 0 {
		fatal("re-scan of an unchanged tree wrote %d files:\n%s", n, rep)
	}
	rescanWarm, rep := cbctlScan(bp, st, "maildir:"+tree.root, "")
	if n := reportInt(rep, "Files Written"); n != 0 {
		fatal("re-scan of an unchanged tree wrote %d files:\n%s", n, rep)
	}
	bpSize := duSize(bp)
	must(os.RemoveAll(bp))
	must(os.RemoveAll(st))

	rate := func(msgs int, bytes int64, d time.Duration) string {
		return fmt.Sprintf("%8.0f msgs/s %7.1f MB/s %8.2fs", float64(msgs)/d.Seconds(), float64(bytes)/1e6/d.Seconds(), d.Seconds())
	}
	fmt.Printf("%-46s %s\n", "baseline: cp -r of the tree", rate(tree.msgs, tree.bytes, cpTime))
	fmt.Printf("%-46s %s\n", "baseline: cp -r, then sync", rate(tree.msgs, tree.bytes, cpSync))
	fmt.Printf("%-46s %s  ratio to cp -r %.2f, to cp -r+sync %.2f\n", "doSmartScan maildir:, first scan", rate(tree.msgs, tree.bytes, first),
		cpTime.Seconds()/first.Seconds(), cpSync.Seconds()/first.Seconds())
	fmt.Printf("%-46s %s  %.1f %% of the first scan\n", "doSmartScan maildir:, no-change re-scan", rate(tree.msgs, tree.bytes, rescan),
		100*rescan.Seconds()/first.Seconds())
	fmt.Printf("%-46s %s  %.1f %% of the first scan\n", "  the same, warm (right after the cold one)", rate(tree.msgs, tree.bytes, rescanWarm),
		100*rescanWarm.Seconds()/first.Seconds())
	fmt.Printf("%-46s %9.0f MB (%.2f of the source)\n", "Backup Path on disk after the first scan", float64(bpSize)/1e6, float64(bpSize)/float64(tree.bytes))

	benchScanIMAP(dir, tree, rate)
}

// benchScanIMAP scans the first account from a real Dovecot over IMAP, and
// the same account's Maildir, each into an empty Backup Path.
func benchScanIMAP(dir string, tree *scanTree, rate func(int, int64, time.Duration) string) {
	if _, err := dovecot.Binary(); err != nil {
		fmt.Printf("IMAP scan skipped: %v\n", err)
		return
	}
	// Dovecot takes existing Maildirs: copy the account into its mail home
	// before starting it, owned by the mail user (nobody as root).
	dvDir := filepath.Join(dir, "dovecot")
	must(os.RemoveAll(dvDir))
	local, domain, _ := strings.Cut(tree.oneUser, "@")
	home := filepath.Join(dvDir, "mail", domain, local)
	must(os.MkdirAll(home, 0o755))
	must(exec.Command("cp", "-r", filepath.Join(tree.one, domain, local, "Maildir"), home).Run())
	if os.Geteuid() == 0 {
		must(exec.Command("chown", "-R", "nobody:nogroup", filepath.Join(dvDir, "mail")).Run())
	}
	dv, err := dovecot.New(dvDir, map[string]string{tree.oneUser: "pw"})
	must(err)
	stop := func() {
		dv.Close()
		os.RemoveAll(dvDir)
	}
	atExit = append(atExit, stop)
	defer func() {
		atExit = atExit[:len(atExit)-1]
		stop()
	}()
	// Let Dovecot build its uidlists and indexes first, as a live server
	// has them: SELECT every mailbox once, outside the timing.
	c, err := dv.Login(tree.oneUser)
	must(err)
	boxes, err := c.List("", "*", nil).Collect()
	must(err)
	for _, b := range boxes {
		if slices.Contains(b.Attrs, imap.MailboxAttrNoSelect) || slices.Contains(b.Attrs, imap.MailboxAttrNonExistent) {
			continue // a parent only ("Lists" of "Lists/golang")
		}
		_, err := c.Select(b.Mailbox, nil).Wait()
		must(err)
	}
	c.Logout().Wait()
	c.Close()

	accounts := filepath.Join(dir, "imap-accounts")
	must(os.WriteFile(accounts, []byte(tree.oneUser+"\n"), 0o644))
	bp, st := filepath.Join(dir, "bp-imap"), filepath.Join(dir, "state-imap")
	scanOnce := func(source, accountsFile string) time.Duration {
		must(os.RemoveAll(bp))
		must(os.RemoveAll(st))
		dropCaches()
		d, rep := cbctlScan(bp, st, source, accountsFile)
		if n := reportInt(rep, "Items New"); n < tree.oneMsgs {
			fatal("scan of %s captured %d new items, want at least %d messages:\n%s", source, n, tree.oneMsgs, rep)
		}
		must(os.RemoveAll(bp))
		must(os.RemoveAll(st))
		return d
	}
	imapTime := scanOnce(dv.SourceURL(), accounts)
	mdTime := scanOnce("maildir:"+tree.one, "")
	fmt.Printf("\n## backup scan from Dovecot over IMAP: 1 account, %d messages, %.0f MB (Maildir size; IMAP sends CRLF)\n", tree.oneMsgs, float64(tree.oneBytes)/1e6)
	fmt.Printf("%-46s %s\n", "baseline: doSmartScan maildir: of the same", rate(tree.oneMsgs, tree.oneBytes, mdTime))
	fmt.Printf("%-46s %s  ratio to maildir: %.2f\n", "doSmartScan imap:// (Dovecot, loopback)", rate(tree.oneMsgs, tree.oneBytes, imapTime), mdTime.Seconds()/imapTime.Seconds())
}

// cbctlScan runs `cbctl backup doSmartScan` in the foreground and returns
// its wall time and report.
func cbctlScan(bp, st, source, accountsFile string) (time.Duration, string) {
	args := []string{"backup", "doSmartScan", "--backup-path", bp, "--state-dir", st, "--source", source}
	if accountsFile != "" {
		args = append(args, "--accounts-file", accountsFile)
	}
	cmd := exec.Command(filepath.Join(*binDir, "cbctl"), args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	if err := cmd.Run(); err != nil {
		fatal("cbctl %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return time.Since(start), out.String()
}

// reportInt reads "Title: N" from an operation's report.
func reportInt(report, title string) int {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(title) + `: (\d+)$`).FindStringSubmatch(report)
	if m == nil {
		fatal("report lacks %q:\n%s", title, report)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// duSize is the bytes of every regular file under dir.
func duSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// scanFixture generates (once, cached) the tree under dir/maildir and a copy
// of its first account under dir/one, and measures both.
func scanFixture(dir string) *scanTree {
	t := &scanTree{root: filepath.Join(dir, "maildir"), one: filepath.Join(dir, "one"), oneUser: scanUser(0)}
	cached(t.root, func() {
		must(os.RemoveAll(t.one))
		genMaildirs(t.root, *scanMsgs)
		local, domain, _ := strings.Cut(t.oneUser, "@")
		must(os.MkdirAll(filepath.Join(t.one, domain, local), 0o755))
		must(exec.Command("cp", "-a", filepath.Join(t.root, domain, local, "Maildir"), filepath.Join(t.one, domain, local)).Run())
		// Old folder mtimes: the scanner re-lists a folder changed within
		// its racy window (2 s), which a re-scan right after generation
		// would otherwise hit.
		ageDirs(t.root)
		ageDirs(t.one)
	})
	t.msgs, t.bytes = countMessages(t.root)
	t.oneMsgs, t.oneBytes = countMessages(t.one)
	return t
}

func scanUser(a int) string { return fmt.Sprintf("user%02d@bench.example", a) }

// countMessages counts the files under cur/ and new/ and their bytes.
func countMessages(root string) (int, int64) {
	var n int
	var b int64
	must(filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		if parent := filepath.Base(filepath.Dir(p)); parent == "cur" || parent == "new" {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			n++
			b += fi.Size()
		}
		return nil
	}))
	return n, b
}

func ageDirs(root string) {
	old := time.Now().Add(-time.Hour)
	must(filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			return os.Chtimes(p, old, old)
		}
		return err
	}))
}

// genMaildirs writes n messages (deterministic, no fsync) over scanAccounts
// accounts as <root>/<domain>/<user>/Maildir, spread over scanFolders. About
// one message in four is multipart/mixed with a base64 attachment of
// 8-400 KB (incompressible, like a PDF or a photo); the others are text, a
// third of them multipart/alternative with an HTML part.
func genMaildirs(root string, n int) {
	genMail(root, n, mailShape{accounts: scanAccounts, folders: scanFolders, attachOneIn: 4, bodyMin: 500, bodyMax: 6500})
}

// mailShape is what genMail generates: messages spread over accounts and
// folders, one in attachOneIn with an attachment (0: none), text bodies of
// bodyMin to bodyMax bytes.
type mailShape struct {
	accounts         int
	folders          []string
	attachOneIn      int
	bodyMin, bodyMax int
}

func genMail(root string, n int, sh mailShape) {
	rng := rand.New(rand.NewPCG(4, 20000))
	pool := make([]byte, 1<<20)
	for i := range pool {
		pool[i] = byte(rng.UintN(256))
	}
	words := strings.Fields("the backup of every mailbox runs at night and keeps each state of a message " +
		"with its flags folder and tags so that a restore can bring back what a user lost " +
		"meeting invoice report quarterly project deadline review draft attached please find " +
		"regards thanks schedule update server storage retention policy customer order")
	text := func(nbytes int) string {
		var b strings.Builder
		col := 0
		for b.Len() < nbytes {
			w := words[rng.IntN(len(words))]
			if col+len(w) > 72 {
				b.WriteByte('\n')
				col = 0
			} else if col > 0 {
				b.WriteByte(' ')
				col++
			}
			b.WriteString(w)
			col += len(w)
		}
		b.WriteByte('\n')
		return b.String()
	}
	wrap := func(s string) string { // base64 in 76-column lines
		var b strings.Builder
		for len(s) > 76 {
			b.WriteString(s[:76])
			b.WriteByte('\n')
			s = s[76:]
		}
		b.WriteString(s)
		b.WriteByte('\n')
		return b.String()
	}
	made := map[string]bool{}
	base := time.Date(2024, 1, 1, 8, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		a := i % sh.accounts
		user := scanUser(a)
		local, domain, _ := strings.Cut(user, "@")
		folder := sh.folders[(i/sh.accounts)%len(sh.folders)]
		dir := filepath.Join(root, domain, local, "Maildir")
		if folder != "" {
			dir = filepath.Join(dir, "."+strings.ReplaceAll(folder, "/", "."))
		}
		if !made[dir] {
			for _, sub := range []string{"cur", "new", "tmp"} {
				must(os.MkdirAll(filepath.Join(dir, sub), 0o755))
			}
			if folder != "" {
				must(os.WriteFile(filepath.Join(dir, "maildirfolder"), nil, 0o644))
			}
			made[dir] = true
		}
		date := base.Add(time.Duration(i) * 97 * time.Second)
		subject := fmt.Sprintf("%s %d", words[rng.IntN(len(words))], i)
		var m strings.Builder
		fmt.Fprintf(&m, "Return-Path: <sender%d@example.com>\nFrom: Sender %d <sender%d@example.com>\nTo: %s\nSubject: %s\n"+
			"Date: %s\nMessage-ID: <%d.%d@bench.example>\nMIME-Version: 1.0\n",
			i%37, i%37, i%37, user, subject, date.Format(time.RFC1123Z), i, rng.Uint32())
		body := text(sh.bodyMin + rng.IntN(sh.bodyMax-sh.bodyMin))
		switch {
		case sh.attachOneIn > 0 && rng.IntN(sh.attachOneIn) == 0: // with an attachment
			size := 8<<10 + int(float64(392<<10)*rng.Float64()*rng.Float64())
			off := rng.IntN(len(pool) - size)
			fmt.Fprintf(&m, "Content-Type: multipart/mixed; boundary=\"b%d\"\n\nThis is a multi-part message in MIME format.\n\n"+
				"--b%d\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 7bit\n\n%s\n"+
				"--b%d\nContent-Type: application/pdf; name=\"doc%d.pdf\"\nContent-Disposition: attachment; filename=\"doc%d.pdf\"\n"+
				"Content-Transfer-Encoding: base64\n\n%s--b%d--\n",
				i, i, body, i, i, i, wrap(base64.StdEncoding.EncodeToString(pool[off:off+size])), i)
		case rng.IntN(3) == 0: // text and HTML
			fmt.Fprintf(&m, "Content-Type: multipart/alternative; boundary=\"a%d\"\n\n--a%d\nContent-Type: text/plain; charset=utf-8\n\n%s\n"+
				"--a%d\nContent-Type: text/html; charset=utf-8\n\n<html><body><p>%s</p></body></html>\n--a%d--\n",
				i, i, body, i, strings.ReplaceAll(body, "\n", "<br>\n"), i)
		default:
			fmt.Fprintf(&m, "Content-Type: text/plain; charset=utf-8\n\n%s", body)
		}
		content := m.String()
		sub, info := "cur", ":2,S"
		switch r := rng.IntN(20); {
		case r == 0:
			sub, info = "new", ""
		case r < 3:
			info = ":2,FS"
		case r < 5:
			info = ":2,RS"
		}
		name := filepath.Join(dir, sub, fmt.Sprintf("%d.M%dP%d.bench,S=%d%s", date.Unix(), i, 1000+a, len(content), info))
		must(os.WriteFile(name, []byte(content), 0o644))
		must(os.Chtimes(name, date, date))
	}
}
