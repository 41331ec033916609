package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/sample"
)

// ---- any size (issue #21): a never-seen large Backup Path ----

// benchLarge measures a never-seen metadata-only Backup Path of -large
// items (sample.GenerateLarge: 100 accounts, the first of 100,000 items
// all in its Inbox), every figure with a cold page cache: the first
// mount until ls accounts answers, the mount's peak RSS, the first
// listing of the big account's Inbox beside cat of its item files (the
// physical floor), the remount, and cbctl's getAvailableAccounts, getItem
// and doItemSearch on the big account and on a typical one.
func benchLarge() {
	n := *largeN
	dir := filepath.Join(*work, fmt.Sprintf("large-%d", n))
	bp := filepath.Join(dir, "backup")
	cached(bp, func() {
		_, err := sample.GenerateLarge(context.Background(), bp, sample.LargeOptions{Items: n, Accounts: 100})
		must(err)
	})
	p, err := backuppath.Open(bp)
	must(err)
	ids, err := p.AccountIDs()
	must(err)
	big, typical := ids[0], ids[len(ids)/2]
	bigName, typName := accountName(p, big), accountName(p, typical)
	bigFiles, _, err := p.ItemFiles(big)
	must(err)
	typFiles, _, err := p.ItemFiles(typical)
	must(err)

	idx := filepath.Join(dir, "index.db")
	os.Remove(idx)
	os.RemoveAll(idx + ".d") // the per-account shards
	os.Remove(idx + ".lock")
	mnt := filepath.Join(dir, "mnt")
	cbctl := filepath.Join(*binDir, "cbctl")

	// The first mount, never seen: until ls accounts answers.
	dropCaches()
	start := time.Now()
	m := mount(bp, mnt, idx)
	accounts := countLines("ls", "-1", filepath.Join(m.dir, "accounts"))
	first := time.Since(start)
	inbox := filepath.Join(m.dir, "accounts", bigName, "folders", "Inbox")
	t0 := time.Now()
	listed := countLines("ls", "-1", inbox)
	list := time.Since(t0)
	// A typical account's Inbox, first use (its item files read now).
	t0 = time.Now()
	typListed := countLines("ls", "-1", filepath.Join(m.dir, "accounts", typName, "folders", "Inbox"))
	typList := time.Since(t0)
	// Browse 20 more accounts (each indexed on first use), then the
	// background indexer's rate over 20 s (items indexed, from the account
	// folders' user.cbfs.index.items, which never wait for indexing).
	browse := 0
	t0 = time.Now()
	for _, id := range ids[1:min(len(ids), 21)] {
		browse += countLines("ls", "-1", filepath.Join(m.dir, "accounts", accountName(p, id), "folders", "Inbox"))
	}
	browsed := time.Since(t0)
	// The items of indexed accounts plus the progress of the one being
	// indexed (user.cbfs.index.progress, "done/total"): an account of
	// 100,000 items takes longer than the window, so counting finished
	// accounts alone can read 0.
	indexed := func() int {
		n := 0
		for _, id := range ids {
			dir := filepath.Join(m.dir, "accounts", accountName(p, id))
			v, err := exec.Command("getfattr", "--only-values", "-n", "user.cbfs.index.items", dir).Output()
			if err == nil {
				k, _ := strconv.Atoi(strings.TrimSpace(string(v)))
				n += k
			}
			if v, err := exec.Command("getfattr", "--only-values", "-n", "user.cbfs.index.progress", dir).Output(); err == nil {
				done, _, _ := strings.Cut(strings.TrimSpace(string(v)), "/")
				k, _ := strconv.Atoi(done)
				n += k
			}
		}
		return n
	}
	i0, t1 := indexed(), time.Now()
	time.Sleep(20 * time.Second)
	i1 := indexed()
	rate := float64(i1-i0) / time.Since(t1).Seconds()
	rss := m.stop()

	// The same listing on a remount (index built), cold.
	dropCaches()
	start = time.Now()
	m = mount(bp, mnt, idx)
	countLines("ls", "-1", filepath.Join(m.dir, "accounts"))
	remount := time.Since(start)
	t0 = time.Now()
	countLines("ls", "-1", inbox)
	relist := time.Since(t0)
	reRSS := m.stop()

	// The physical floor: cat of the big account's item files, cold, by one
	// reader and by 8.
	bucketDir := filepath.Join(bp, "accounts", big, "items")
	dropCaches()
	cat1 := timeCmd("sh", "-c", "find "+bucketDir+" -type f -print0 | xargs -0 cat > /dev/null")
	dropCaches()
	cat8 := timeCmd("sh", "-c", "find "+bucketDir+" -type f -print0 | xargs -0 -P 8 -n 2000 cat > /dev/null")

	// cbctl, each cold.
	ctl := func(args ...string) time.Duration {
		dropCaches()
		return timeCmd(cbctl, append([]string{"--backup-path", bp, "backup"}, args...)...)
	}
	avail := ctl("getAvailableAccounts")
	getBig := ctl("getItem", bigName, strconv.Itoa(bigFiles[len(bigFiles)/2].ItemID))
	getTyp := ctl("getItem", typName, strconv.Itoa(typFiles[len(typFiles)/2].ItemID))
	searchBig := ctl("doItemSearch", bigName, "search_filter", "all", "search_string", "message 1234")
	searchTyp := ctl("doItemSearch", typName)

	fmt.Printf("\n## any size: a never-seen %d-item Backup Path, cold cache (issue #21 goals on 2M items: first ls <= 3 s, RSS <= 256 MiB, 100k listing <= 1.5x cat, getAvailableAccounts <= 2 s, getItem <= 1 s)\n", n)
	fmt.Printf("%-52s %9.2fs  (%d accounts); peak RSS %4.0f MiB after all below\n", "first mount until ls accounts answers", first.Seconds(), accounts, float64(rss)/(1<<20))
	fmt.Printf("%-52s %9.2fs  (%d entries; %.2fx cat, %.2fx cat -P8)\n", "then first ls of the 100k account's Inbox", list.Seconds(), listed, list.Seconds()/cat1.Seconds(), list.Seconds()/cat8.Seconds())
	fmt.Printf("%-52s %9.2fs  (%d entries)\n", fmt.Sprintf("then first ls of a %d-item account's Inbox", len(typFiles)), typList.Seconds(), typListed)
	fmt.Printf("%-52s %9.2fs  (%d entries)\n", "then first ls of 20 more accounts' Inboxes", browsed.Seconds(), browse)
	fmt.Printf("%-52s %9.0f items/s  (%d indexed after browsing)\n", "background indexing rate over 20 s", rate, i1)
	fmt.Printf("%-52s %9.2fs  peak RSS %4.0f MiB\n", "remount (index built) until ls accounts answers", remount.Seconds(), float64(reRSS)/(1<<20))
	fmt.Printf("%-52s %9.2fs\n", "then ls of the 100k account's Inbox", relist.Seconds())
	fmt.Printf("%-52s %9.2fs\n", "floor: cat of its "+strconv.Itoa(len(bigFiles))+" item files", cat1.Seconds())
	fmt.Printf("%-52s %9.2fs\n", "floor: the same, 8 cat in parallel", cat8.Seconds())
	fmt.Printf("%-52s %9.2fs\n", "cbctl backup getAvailableAccounts", avail.Seconds())
	fmt.Printf("%-52s %9.2fs\n", fmt.Sprintf("cbctl backup getItem (%d-item account)", len(bigFiles)), getBig.Seconds())
	fmt.Printf("%-52s %9.2fs\n", fmt.Sprintf("cbctl backup getItem (%d-item account)", len(typFiles)), getTyp.Seconds())
	fmt.Printf("%-52s %9.2fs\n", fmt.Sprintf("cbctl backup doItemSearch (%d-item account)", len(bigFiles)), searchBig.Seconds())
	fmt.Printf("%-52s %9.2fs\n", fmt.Sprintf("cbctl backup doItemSearch (%d-item account)", len(typFiles)), searchTyp.Seconds())
}

func accountName(p *backuppath.Path, id string) string {
	a, err := p.ReadAccount(id)
	must(err)
	return a.Name
}
