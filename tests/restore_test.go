package tests

// End-to-end tests of the restores (issue 5): the cbctl binary in the
// foreground (no service) into Maildir targets, and `cbfs serve` with a
// real Dovecot (internal/dovecot) as IMAP target. Expectations are computed
// from the generated sample itself (its item files, the index's folder
// tree and sample's list of damaged items), not from the restore code.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/index"
	"github.com/cbfs/cbfs/internal/dovecot"
	"github.com/cbfs/cbfs/internal/notify/notifytest"
	"github.com/cbfs/cbfs/mailbox"
	"github.com/cbfs/cbfs/opqueue"
	"github.com/cbfs/cbfs/restore"
	"github.com/cbfs/cbfs/sample"
)

// rsample is a generated sample Backup Path and what the tests know of it.
type rsample struct {
	root   string
	bp     *backuppath.Path
	ix     *index.Index
	active []*mailbox.Account
	all    []*mailbox.Account
	items  map[string][]*mailbox.Item // readable items by account id
	bad    map[string]string          // "accountID/itemID" -> class restore must give
}

func restoreSample(t *testing.T, opt sample.Options) *rsample {
	t.Helper()
	root := filepath.Join(t.TempDir(), "bp")
	rep, err := sample.Generate(context.Background(), root, opt)
	require.NoError(t, err)
	s := &rsample{root: root, items: map[string][]*mailbox.Item{}, bad: map[string]string{}}
	s.bp, err = backuppath.Open(root)
	require.NoError(t, err)
	s.ix, err = index.Open(s.bp, ":memory:")
	require.NoError(t, err)
	t.Cleanup(func() { s.ix.Close() })
	_, err = s.ix.Refresh(context.Background(), nil)
	require.NoError(t, err)
	ids, err := s.bp.AccountIDs()
	require.NoError(t, err)
	for _, id := range ids {
		a, err := s.bp.ReadAccount(id)
		require.NoError(t, err)
		s.all = append(s.all, a)
		if a.Status == mailbox.StatusActive {
			s.active = append(s.active, a)
		}
		files, _, err := s.bp.ItemFiles(id)
		require.NoError(t, err)
		for _, f := range files {
			if it, err := s.bp.ReadItemFile(f.RelPath, f.ItemID); err == nil {
				s.items[id] = append(s.items[id], it)
			}
		}
	}
	sort.Slice(s.active, func(i, j int) bool { return s.active[i].Name < s.active[j].Name })
	for _, d := range rep.Damaged {
		switch d.Kind {
		case sample.DamageTruncated, sample.DamageMismatch, sample.DamageMalformedJSON:
			s.bad[fmt.Sprintf("%s/%d", d.AccountID, d.ItemID)] = restore.ClassBroken
		case sample.DamageUnreadable, sample.DamageMissing:
			s.bad[fmt.Sprintf("%s/%d", d.AccountID, d.ItemID)] = restore.ClassReadError
		}
	}
	require.GreaterOrEqual(t, len(s.active), 2)
	return s
}

func (s *rsample) isBad(a *mailbox.Account, id int) bool {
	_, bad := s.bad[fmt.Sprintf("%s/%d", a.ID, id)]
	return bad
}

func isMail(st *mailbox.State) bool {
	return st.Type == mailbox.TypeMessage || st.Type == mailbox.TypeChat
}

// folders is folder path ("Inbox/Projects") -> sorted digests of its
// messages.
type folders map[string][]string

func (f folders) count() int {
	n := 0
	for _, d := range f {
		n += len(d)
	}
	return n
}

func (f folders) sorted() folders {
	for k := range f {
		slices.Sort(f[k])
	}
	return f
}

// want is what a restore of a as it was at `at` (zero: latest) must give:
// every sound message whose state then is live, in the folder the index
// names at that moment.
func (s *rsample) want(t *testing.T, a *mailbox.Account, at time.Time) folders {
	t.Helper()
	fl, err := s.ix.Folders(a.ID, at)
	require.NoError(t, err)
	path := map[int]string{}
	for _, f := range fl {
		path[f.ID] = f.Path
	}
	out := folders{}
	for _, it := range s.items[a.ID] {
		st := it.Latest()
		if !at.IsZero() {
			st = it.StateAt(at)
		}
		if st == nil || st.Deleted || !isMail(st) || s.isBad(a, it.ID) {
			continue
		}
		p, ok := path[st.FolderID]
		require.True(t, ok, "item %d: folder %d not in the tree", it.ID, st.FolderID)
		out[p] = append(out[p], string(st.Digest))
	}
	return out.sorted()
}

// wantWithDeleted counts what a restore with filter_deleted false must
// give for a: every sound message, an item whose latest state is deleted
// in its last live state.
func (s *rsample) wantWithDeleted(a *mailbox.Account) int {
	n := 0
	for _, it := range s.items[a.ID] {
		i := len(it.States) - 1
		for i >= 0 && it.States[i].Deleted {
			i--
		}
		if i >= 0 && isMail(&it.States[i]) && !s.isBad(a, it.ID) {
			n++
		}
	}
	return n
}

// byName is the account restored for each name: an active one, else the
// most recently created.
func (s *rsample) byName() map[string]*mailbox.Account {
	out := map[string]*mailbox.Account{}
	for _, a := range s.all {
		k := strings.ToLower(a.Name)
		p, ok := out[k]
		pa, aa := ok && p.Status == mailbox.StatusActive, a.Status == mailbox.StatusActive
		if !ok || (!pa && aa) || (pa == aa && a.Created > p.Created) {
			out[k] = a
		}
	}
	return out
}

// wantUndeleted are the digests an undelete of [lo, hi] (zero: open) must
// bring back: for each item turned from live to deleted in the window,
// its state just before the latest such deletion.
func (s *rsample) wantUndeleted(a *mailbox.Account, lo, hi time.Time) []string {
	var out []string
	for _, it := range s.items[a.ID] {
		for i := len(it.States) - 1; i >= 1; i-- {
			st, prev := &it.States[i], &it.States[i-1]
			at := st.Start.Time()
			if !st.Deleted || prev.Deleted || (!lo.IsZero() && at.Before(lo)) || (!hi.IsZero() && at.After(hi)) {
				continue
			}
			if isMail(prev) && !s.isBad(a, it.ID) {
				out = append(out, string(prev.Digest))
			}
			break
		}
	}
	slices.Sort(out)
	return out
}

// deletions lists the times items of a were deleted.
func (s *rsample) deletions(a *mailbox.Account) []time.Time {
	var out []time.Time
	for _, it := range s.items[a.ID] {
		for i := 1; i < len(it.States); i++ {
			if it.States[i].Deleted && !it.States[i-1].Deleted && isMail(&it.States[i-1]) {
				out = append(out, it.States[i].Start.Time())
			}
		}
	}
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return out
}

// readMaildirTree reads an account's Maildir++ tree as folders (".A.B" ->
// "A/B", the inbox and ".INBOX.X" -> "Inbox", "Inbox/X"), empty folders
// left out.
func readMaildirTree(t *testing.T, dir string) folders {
	t.Helper()
	out := folders{}
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	names := []string{""}
	for _, e := range ents {
		if e.IsDir() && strings.HasPrefix(e.Name(), ".") {
			names = append(names, e.Name())
		}
	}
	for _, n := range names {
		path := "Inbox"
		if n != "" {
			path = strings.ReplaceAll(strings.TrimPrefix(n, "."), ".", "/")
			if p, ok := strings.CutPrefix(path, "INBOX"); ok {
				path = "Inbox" + p
			}
		}
		for _, sub := range []string{"cur", "new"} {
			files, err := os.ReadDir(filepath.Join(dir, n, sub))
			require.NoError(t, err)
			for _, f := range files {
				b, err := os.ReadFile(filepath.Join(dir, n, sub, f.Name()))
				require.NoError(t, err)
				out[path] = append(out[path], string(blob.Sum(b)))
			}
		}
	}
	return out.sorted()
}

// readIMAPTree reads an account's mailboxes through IMAP (BODY[] of every
// message), named as readMaildirTree does.
func readIMAPTree(t *testing.T, dv *dovecot.Server, account string) folders {
	t.Helper()
	c, err := dv.Login(account)
	require.NoError(t, err)
	defer c.Close()
	list, err := c.List("", "*", nil).Collect()
	require.NoError(t, err)
	out := folders{}
	for _, l := range list {
		sel, err := c.Select(l.Mailbox, &imap.SelectOptions{ReadOnly: true}).Wait()
		require.NoError(t, err)
		if sel.NumMessages == 0 {
			continue
		}
		path := strings.ReplaceAll(l.Mailbox, string(l.Delim), "/")
		if p, ok := strings.CutPrefix(path, "INBOX"); ok {
			path = "Inbox" + p
		}
		var all imap.SeqSet
		all.AddRange(1, 0)
		msgs, err := c.Fetch(all, &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
		require.NoError(t, err)
		for _, m := range msgs {
			out[path] = append(out[path], string(blob.Sum(m.BodySection[0].Bytes)))
		}
	}
	return out.sorted()
}

// unrestored parses the report's "- unrestored items -" section: account
// -> ids, and its by-class section: "account/id" -> class.
func unrestored(t *testing.T, report string) (map[string][]int, map[string]string) {
	t.Helper()
	ids := map[string][]int{}
	classes := map[string]string{}
	section := ""
	account := ""
	key := "" // the list a wrapped line ("  1234,1235") continues
	for _, l := range strings.Split(report, "\n") {
		if strings.HasPrefix(l, "- ") {
			section = l
			continue
		}
		if a, ok := strings.CutPrefix(l, "account: "); ok {
			account = a
			continue
		}
		k, v, ok := strings.Cut(l, ": ")
		if cont, isCont := strings.CutPrefix(l, "  "); isCont && key != "" {
			require.NotRegexp(t, `^and \d+ more$`, cont, "more than 50 unrestored ids: the report lists the first 50")
			k, v, ok = key, cont, true
		}
		key = k
		if !ok || account == "" || !strings.HasPrefix(section, "- unrestored items") {
			continue // other sections (e.g. an earlier healthy state exists) list ids with dates
		}
		var list []int
		for _, s := range strings.Split(strings.TrimSuffix(v, ","), ",") { // a wrapped line ends in ","
			n, err := strconv.Atoi(strings.TrimSpace(s))
			require.NoError(t, err, "report line %q", l)
			list = append(list, n)
		}
		switch {
		case section == "- unrestored items -" && k == "unrestored items":
			ids[account] = append(ids[account], list...)
		case section == "- unrestored items by class -":
			for _, n := range list {
				classes[fmt.Sprintf("%s/%d", account, n)] = k
			}
		}
	}
	return ids, classes
}

// wantUnrestored is the damage restore must report for the active
// accounts: account name -> ids, "name/id" -> class.
func (s *rsample) wantUnrestored(accounts []*mailbox.Account) (map[string][]int, map[string]string) {
	ids := map[string][]int{}
	classes := map[string]string{}
	for _, a := range accounts {
		for k, class := range s.bad {
			acct, id, _ := strings.Cut(k, "/")
			if acct != a.ID {
				continue
			}
			n, _ := strconv.Atoi(id)
			ids[a.Name] = append(ids[a.Name], n)
			classes[a.Name+"/"+id] = class
		}
		slices.Sort(ids[a.Name])
	}
	return ids, classes
}

// accountDirs lists the account folders of a Maildir target.
func accountDirs(t *testing.T, root string) []string {
	t.Helper()
	ents, err := os.ReadDir(root)
	require.NoError(t, err)
	var out []string
	for _, e := range ents {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out
}

// skippedItems reads "Skipped Items:  N" (two spaces, as the seed aligns it).
func skippedItems(t *testing.T, report string) int {
	t.Helper()
	m := regexp.MustCompile(`(?m)^Skipped Items:  (\d+)$`).FindStringSubmatch(report)
	require.NotNil(t, m, "report lacks Skipped Items:\n%s", report)
	n, _ := strconv.Atoi(m[1])
	return n
}

func names(accts []*mailbox.Account) []string {
	var out []string
	for _, a := range accts {
		out = append(out, a.Name)
	}
	return out
}

func TestRestoreForeground(t *testing.T) {
	s := restoreSample(t, sample.Options{Accounts: 4, Messages: 15, Seed: 7})
	dir := t.TempDir()
	st := filepath.Join(dir, "st")
	tgt := filepath.Join(dir, "maildir")
	before := snapshot(t, s.root)

	total := 0
	for _, a := range s.active {
		total += s.want(t, a, time.Time{}).count()
	}
	require.Positive(t, total)
	wantIDs, wantClasses := s.wantUnrestored(s.active)
	require.NotEmpty(t, wantClasses, "the sample plants damage")

	t.Run("external restore (pair form): every sound message, damage classified", func(t *testing.T) {
		r := partial(t, "backup", "doExternalRestore", s.root, "target", "maildir:"+tgt, "concurrent_accounts", "2", "--state-dir", st)
		rep := r.stdout
		assert.Regexp(t, regexp.MustCompile(`(?s)^- stats -\nRestored Items: \d+\nSkipped Items:  \d+\nUnrestored Items: \d+\n\n- unrestored items -\n(account: \S+\nunrestored items: \d+(,\d+)*\n)+\n`), rep)
		assert.Equal(t, total, statLine(t, rep, "Restored Items"), rep)
		assert.Equal(t, len(wantClasses), statLine(t, rep, "Unrestored Items"), rep)
		ids, classes := unrestored(t, rep)
		assert.Equal(t, wantIDs, ids)
		assert.Equal(t, wantClasses, classes)
		assert.Contains(t, rep, "- provisioning -")
		for _, a := range s.active {
			assert.Equal(t, s.want(t, a, time.Time{}), readMaildirTree(t, filepath.Join(tgt, a.Name, "Maildir")), a.Name)
		}
		assert.ElementsMatch(t, names(s.active), accountDirs(t, tgt), "deleted accounts are filtered")
	})

	t.Run("second run (flag form) restores 0 and skips all", func(t *testing.T) {
		r := partial(t, "backup", "doExternalRestore", s.root, "--target", "maildir:"+tgt, "--concurrent-accounts", "1", "--state-dir", st)
		assert.Equal(t, 0, statLine(t, r.stdout, "Restored Items"), r.stdout)
		assert.Equal(t, total, skippedItems(t, r.stdout), r.stdout)
		assert.Equal(t, len(wantClasses), statLine(t, r.stdout, "Unrestored Items"), r.stdout)
		for _, a := range s.active {
			assert.Equal(t, s.want(t, a, time.Time{}), readMaildirTree(t, filepath.Join(tgt, a.Name, "Maildir")), a.Name)
		}
	})

	t.Run("getMap lists the ledger", func(t *testing.T) {
		var entries []restore.Entry
		decode(t, ok(t, "backup", "getMap", "--json", "--state-dir", st).stdout, &entries)
		require.Len(t, entries, total)
		for _, e := range entries {
			assert.Equal(t, "maildir:"+tgt, e.Target)
			folder := ""
			if e.Folder != restore.InboxName {
				folder = "." + strings.ReplaceAll(e.Folder, "/", ".")
			}
			assert.FileExists(t, filepath.Join(tgt, e.Account, "Maildir", folder, e.RestoredID))
		}
		a := s.active[0]
		text := ok(t, "backup", "getMap", "account", a.Name, "--state-dir", st).stdout
		assert.Contains(t, text, fmt.Sprintf("%d entries\n", s.want(t, a, time.Time{}).count()))
		assert.NotContains(t, text, s.active[1].Name)
	})

	t.Run("filters: accounts and domains", func(t *testing.T) {
		a := s.active[0]
		only := filepath.Join(dir, "only-account")
		r := partial(t, "backup", "doExternalRestore", s.root, "target", "maildir:"+only, "accounts", a.Name, "--state-dir", st)
		assert.Equal(t, s.want(t, a, time.Time{}).count(), statLine(t, r.stdout, "Restored Items"), r.stdout)
		assert.Equal(t, []string{a.Name}, accountDirs(t, only))

		domain := a.Domain()
		var inDomain []*mailbox.Account
		n := 0
		for _, b := range s.active {
			if strings.EqualFold(b.Domain(), domain) {
				inDomain = append(inDomain, b)
				n += s.want(t, b, time.Time{}).count()
			}
		}
		require.Less(t, len(inDomain), len(s.active), "the sample's active accounts span several domains")
		byDomain := filepath.Join(dir, "only-domain")
		r = partial(t, "backup", "doExternalRestore", s.root, "--target", "maildir:"+byDomain, "--domains", domain, "--state-dir", st)
		assert.Equal(t, n, statLine(t, r.stdout, "Restored Items"), r.stdout)
		assert.ElementsMatch(t, names(inDomain), accountDirs(t, byDomain))
	})

	t.Run("filter_deleted false: deleted accounts and items too", func(t *testing.T) {
		want, n := []string{}, 0
		for _, a := range s.byName() {
			want = append(want, a.Name)
			n += s.wantWithDeleted(a)
		}
		require.Greater(t, len(want), len(s.active), "the sample has a deleted account")
		fd := filepath.Join(dir, "with-deleted")
		r := partial(t, "backup", "doExternalRestore", s.root, "target", "maildir:"+fd, "filter_deleted", "false", "--state-dir", st)
		assert.Equal(t, n, statLine(t, r.stdout, "Restored Items"), r.stdout)
		assert.ElementsMatch(t, want, accountDirs(t, fd))
	})

	t.Run("an account named but left out by a filter is said, exit 3; one not in the backup is an error", func(t *testing.T) {
		var gone *mailbox.Account
		for _, a := range s.all {
			if a.Status == mailbox.StatusDeleted && !slices.ContainsFunc(s.active, func(b *mailbox.Account) bool { return strings.EqualFold(a.Name, b.Name) }) {
				gone = a
			}
		}
		require.NotNil(t, gone, "the sample has a deleted account")
		out := filepath.Join(dir, "named-deleted")
		r := partial(t, "backup", "doExternalRestore", s.root, "target", "maildir:"+out, "accounts", gone.Name, "--state-dir", st)
		assert.Contains(t, r.stdout, "- accounts asked for but left out -\naccount: "+gone.Name+"\n")
		assert.Contains(t, r.stdout, "left out by filter_deleted (filter_deleted false includes it)")
		assert.Contains(t, r.stderr, "partial restore: 0 items restored")
		assert.Empty(t, accountDirs(t, out))

		fails(t, 1, "account ghost@nowhere.test: not found in the backup", "backup", "doExternalRestore", s.root,
			"target", "maildir:"+out, "accounts", "ghost@nowhere.test", "--state-dir", st)
	})

	t.Run("a deleted account, last: as it was just before its deletion", func(t *testing.T) {
		var a *mailbox.Account
		for _, b := range s.all {
			if b.Status == mailbox.StatusDeleted && b.DeletedDate != 0 {
				a = b
				break
			}
		}
		require.NotNil(t, a, "the sample has a deleted account with its deletion date")
		want := s.want(t, a, a.DeletedDate.Time().Add(-time.Millisecond))
		require.Positive(t, want.count())
		nt := filepath.Join(dir, "deleted-account")
		dst := "back.again@example.net"
		r := ok(t, "backup", "doRestoreOnNewAccount", a.ID, dst, "last", "target", "maildir:"+nt, "--backup-path", s.root, "--state-dir", st)
		assert.Equal(t, want.count(), statLine(t, r.stdout, "Restored Items"), r.stdout)
		assert.Equal(t, want, readMaildirTree(t, filepath.Join(nt, dst, "Maildir")))
	})

	t.Run("restore on new account at a past date gives that date's folders", func(t *testing.T) {
		a := s.active[0]
		latest := s.want(t, a, time.Time{})
		var at time.Time
		var want folders
		for _, d := range []string{"2023-07-01", "2023-10-01", "2024-01-01", "2024-04-01"} {
			day, _ := time.Parse("2006-01-02", d)
			w := s.want(t, a, day)
			if w.count() > 0 && fmt.Sprint(w) != fmt.Sprint(latest) {
				at, want = day, w
				break
			}
		}
		require.False(t, at.IsZero(), "no date where %s differs from its latest state", a.Name)
		newTgt := filepath.Join(dir, "new-account")
		dst := "restored.copy@example.net"
		r := partial(t, "backup", "doRestoreOnNewAccount", a.Name, dst, at.Format("02/01/2006 15:04:05"),
			"target", "maildir:"+newTgt, "--backup-path", s.root, "--state-dir", st)
		assert.Equal(t, want.count(), statLine(t, r.stdout, "Restored Items"), r.stdout)
		assert.Equal(t, want, readMaildirTree(t, filepath.Join(newTgt, dst, "Maildir")))
		assert.Equal(t, []string{dst}, accountDirs(t, newTgt))
	})

	t.Run("undelete brings back exactly the window's deleted items", func(t *testing.T) {
		var a *mailbox.Account
		for _, b := range s.active {
			if a == nil || len(s.deletions(b)) > len(s.deletions(a)) {
				a = b
			}
		}
		dels := s.deletions(a)
		require.GreaterOrEqual(t, len(dels), 2, "the sample deletes messages")
		all := s.wantUndeleted(a, time.Time{}, time.Time{})
		require.NotEmpty(t, all)
		u1 := filepath.Join(dir, "undelete-all")
		r := partial(t, "backup", "doUndelete", a.Name, "first", "last", "target", "maildir:"+u1, "--backup-path", s.root, "--state-dir", st)
		assert.Equal(t, len(all), statLine(t, r.stdout, "Restored Items"), r.stdout)
		got := readMaildirTree(t, filepath.Join(u1, a.Name, "Maildir"))
		var digests []string
		for _, d := range got {
			digests = append(digests, d...)
		}
		slices.Sort(digests)
		assert.Equal(t, all, digests)

		// A window ending just before the last deletion.
		mid := dels[len(dels)-1].Add(-time.Millisecond)
		part := s.wantUndeleted(a, time.Time{}, mid)
		require.Less(t, len(part), len(all))
		u2 := filepath.Join(dir, "undelete-window")
		r = partial(t, "backup", "doUndelete", a.Name, "first", mid.Format(time.RFC3339Nano), "--target", "maildir:"+u2, "--backup-path", s.root, "--state-dir", st)
		assert.Equal(t, len(part), statLine(t, r.stdout, "Restored Items"), r.stdout)
		if len(part) > 0 {
			assert.Equal(t, len(part), readMaildirTree(t, filepath.Join(u2, a.Name, "Maildir")).count())
		}
	})

	t.Run("item restore: one item, then skipped", func(t *testing.T) {
		a := s.active[1]
		item := oldestLiveMail(t, s, a)
		one := filepath.Join(dir, "one-item")
		r := ok(t, "backup", "doItemRestore", a.Name, strconv.Itoa(item.ID), "target", "maildir:"+one, "--backup-path", s.root, "--state-dir", st)
		assert.Equal(t, 1, statLine(t, r.stdout, "Restored Items"), r.stdout)
		got := readMaildirTree(t, filepath.Join(one, a.Name, "Maildir"))
		require.Equal(t, 1, got.count())
		for _, d := range got {
			assert.Equal(t, []string{string(item.Latest().Digest)}, d)
		}
		r = ok(t, "backup", "doItemRestore", a.Name, strconv.Itoa(item.ID), "--target", "maildir:"+one, "--backup-path", s.root, "--state-dir", st)
		assert.Equal(t, 1, skippedItems(t, r.stdout), r.stdout)
		assert.Equal(t, 1, readMaildirTree(t, filepath.Join(one, a.Name, "Maildir")).count())
	})

	t.Run("item restore into restore_folder", func(t *testing.T) {
		a := s.active[1]
		item := oldestLiveMail(t, s, a)
		tgt := filepath.Join(dir, "item-folder")
		r := ok(t, "backup", "doItemRestore", a.Name, strconv.Itoa(item.ID), "target", "maildir:"+tgt, "restore_folder", "Recovered/Item",
			"--backup-path", s.root, "--state-dir", st)
		assert.Equal(t, 1, statLine(t, r.stdout, "Restored Items"), r.stdout)
		got := readMaildirTree(t, filepath.Join(tgt, a.Name, "Maildir"))
		require.Equal(t, 1, got.count())
		for folder, d := range got {
			assert.Equal(t, "Recovered/Item", folder)
			assert.Equal(t, []string{string(item.Latest().Digest)}, d)
		}
	})

	t.Run("notifications: mailed through --smtp, recorded without", func(t *testing.T) {
		a := s.active[0]
		var item int
		for _, it := range s.items[a.ID] {
			if l := it.Latest(); !l.Deleted && isMail(l) && !s.isBad(a, it.ID) {
				item = it.ID
				break
			}
		}
		require.NotZero(t, item)
		mail := notifytest.Start(t)

		tgt := "maildir:" + filepath.Join(dir, "notified")
		r := ok(t, "backup", "doItemRestore", a.Name, strconv.Itoa(item), "target", tgt, "notifications", "ops@example.com,boss@example.com",
			"--smtp", mail.Addr, "--smtp-from", "cbfs@example.net", "--backup-path", s.root, "--state-dir", st)
		assert.Contains(t, r.stdout, "- notifications -\nops@example.com\nboss@example.com\n(sent through "+mail.Addr+")\n")
		m := mail.Last()
		assert.Equal(t, "cbfs@example.net", m.From)
		assert.Equal(t, []string{"ops@example.com", "boss@example.com"}, m.To)
		assert.Contains(t, m.Data, "Subject: [cbfs] Operation Completed: doItemRestore\r\n")
		assert.Contains(t, m.Data, "Restored Items: 1\r\n")

		r = ok(t, "backup", "doItemRestore", a.Name, strconv.Itoa(item), "target", tgt, "notifications", "ops@example.com",
			"--backup-path", s.root, "--state-dir", st)
		assert.Contains(t, r.stdout, "- notifications -\nops@example.com\n(recorded only")
		assert.Equal(t, 1, skippedItems(t, r.stdout), r.stdout)
	})

	t.Run("bad input: one error line, nothing written", func(t *testing.T) {
		st2 := filepath.Join(dir, "st-bad")
		z := filepath.Join(dir, "never")
		a := s.active[0].Name
		tests := []struct {
			name string
			code int
			msg  string
			args []string
		}{
			{"no such source path", 2, "source", []string{"backup", "doExternalRestore", filepath.Join(dir, "nonexistent"), "target", "maildir:" + z}},
			{"unknown target kind", 2, "unknown kind", []string{"backup", "doExternalRestore", s.root, "target", "ftp://x@y"}},
			{"imap target without login", 2, "admin login", []string{"backup", "doExternalRestore", s.root, "--target", "imap://127.0.0.1:1"}},
			{"bad max_file_size", 2, "max-file-size", []string{"backup", "doExternalRestore", s.root, "target", "maildir:" + z, "max_file_size", "12X"}},
			{"bad date", 2, "bad date", []string{"backup", "doRestoreOnNewAccount", a, "x@example.net", "31/31/2024", "target", "maildir:" + z}},
			{"first as an end", 2, "bad date", []string{"backup", "doUndelete", a, "last", "first", "target", "maildir:" + z}},
			{"window backwards", 2, "before", []string{"backup", "doUndelete", a, "02/02/2024", "01/01/2024", "target", "maildir:" + z}},
			{"restore onto itself", 2, "new account", []string{"backup", "doRestoreOnNewAccount", a, strings.ToUpper(a), "last", "target", "maildir:" + z}},
			{"unknown parameter", 2, "unknown parameter", []string{"backup", "doExternalRestore", s.root, "frobnicate", "true"}},
			{"no target at all", 2, "no restore target", []string{"backup", "doItemRestore", a, "1"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				fails(t, tt.code, tt.msg, append(tt.args, "--backup-path", s.root, "--state-dir", st2)...)
				assert.NoDirExists(t, z)
				assert.NoFileExists(t, filepath.Join(st2, "restore-ledger.db"))
			})
		}
		r := cbctl(t, "backup", "doRestoreOnNewAccount", "nobody@nowhere.test", "x@example.net", "last", "target", "maildir:"+z, "--backup-path", s.root, "--state-dir", st2)
		assert.Equal(t, 1, r.code, r.stderr)
		assert.Contains(t, r.stderr, "not found")
		assert.NoDirExists(t, z)
	})

	t.Run("the source is untouched", func(t *testing.T) {
		assert.Equal(t, before, snapshot(t, s.root))
	})
}

// oldestLiveMail is a's live, sound message of the smallest id.
func oldestLiveMail(t *testing.T, s *rsample, a *mailbox.Account) *mailbox.Item {
	t.Helper()
	var item *mailbox.Item
	for _, it := range s.items[a.ID] {
		if l := it.Latest(); !l.Deleted && isMail(l) && !s.isBad(a, it.ID) && (item == nil || it.ID < item.ID) {
			item = it
		}
	}
	require.NotNil(t, item)
	return item
}

// TestRestoreServeIMAP restores the sample through `cbfs serve` into a real
// Dovecot and checks the result through IMAP.
func TestRestoreServeIMAP(t *testing.T) {
	s := restoreSample(t, sample.Options{Accounts: 4, Messages: 15, Seed: 7})
	users := map[string]string{}
	for _, a := range s.active {
		users[a.Name] = "pw"
	}
	dv := dovecot.Start(t, users)
	dir := t.TempDir()
	bin := mountBinary(t, dir)
	st := filepath.Join(dir, "st")
	serveStart(t, bin, st, "--backup-path", s.root)

	total := 0
	for _, a := range s.active {
		total += s.want(t, a, time.Time{}).count()
	}
	wantIDs, wantClasses := s.wantUnrestored(s.active)
	target := dv.SourceURL()

	t.Run("enqueued with --wait: the report comes back, the messages are in Dovecot", func(t *testing.T) {
		r := partial(t, "backup", "doExternalRestore", s.root, "target", target, "concurrent_accounts", "2", "--wait", "--state-dir", st)
		assert.Equal(t, total, statLine(t, r.stdout, "Restored Items"), r.stdout)
		ids, classes := unrestored(t, r.stdout)
		assert.Equal(t, wantIDs, ids)
		assert.Equal(t, wantClasses, classes)
		for _, a := range s.active {
			assert.Equal(t, s.want(t, a, time.Time{}), readIMAPTree(t, dv, a.Name), a.Name)
		}
	})

	t.Run("queued again: monitor shows 0 restored, all skipped; no password in listings", func(t *testing.T) {
		id := strings.TrimSpace(ok(t, "backup", "doExternalRestore", s.root, "--target", target, "--state-dir", st).stdout)
		require.Regexp(t, `^[0-9a-f-]{36}$`, id)
		r := restoredSome(t, "backup", "monitor", id, "--state-dir", st)
		assert.Contains(t, r.stdout, "Restored Items: 0\n")
		assert.Contains(t, r.stdout, fmt.Sprintf("Skipped Items:  %d\n", total))
		for _, a := range s.active {
			assert.Equal(t, s.want(t, a, time.Time{}).count(), readIMAPTree(t, dv, a.Name).count(), "no duplicate in %s", a.Name)
		}
		list := ok(t, "backup", "getAllOperations", "verbose", "true", "--state-dir", st).stdout
		assert.Contains(t, list, "- unrestored items -")
		assert.NotContains(t, list, dv.AdminPass)
		var ops []opqueue.Op
		decode(t, ok(t, "backup", "getAllOperations", "--json", "--state-dir", st).stdout, &ops)
		require.Len(t, ops, 2)
		require.NotEmpty(t, wantIDs, "the sample has items that cannot be restored")
		for _, op := range ops {
			assert.Equal(t, opqueue.Partial, op.State, "items unrestored: partial, never done")
			assert.Contains(t, op.Error, "partial restore: ")
			assert.Equal(t, "doExternalRestore", op.Kind)
		}
		assert.Regexp(t, `(?m)^[0-9a-f-]{36}  doExternalRestore  partial `, ok(t, "backup", "getAllOperations", "--state-dir", st).stdout)
	})

	t.Run("the service refuses bad requests at once", func(t *testing.T) {
		fails(t, 2, "source", "backup", "doExternalRestore", filepath.Join(dir, "nonexistent"), "target", target, "--state-dir", st)
		fails(t, 2, "unknown kind", "backup", "doExternalRestore", s.root, "target", "ftp://x@y", "--state-dir", st)
		var ops []opqueue.Op
		decode(t, ok(t, "backup", "getAllOperations", "--json", "--state-dir", st).stdout, &ops)
		assert.Len(t, ops, 2, "nothing enqueued")
	})

	t.Run("getMap reads the service's ledger", func(t *testing.T) {
		var entries []restore.Entry
		decode(t, ok(t, "backup", "getMap", "--json", "--state-dir", st).stdout, &entries)
		assert.Len(t, entries, total)
		for _, e := range entries {
			assert.NotZero(t, e.UID, "IMAP entries carry the APPENDUID")
		}
	})
}

// TestRestoreServeKill9 kills the service in the middle of an IMAP restore:
// run again, every message is in Dovecot exactly once.
func TestRestoreServeKill9(t *testing.T) {
	s := restoreSample(t, sample.Options{Accounts: 3, Messages: 200, Seed: 9})
	root := s.root
	users := map[string]string{}
	total := 0
	for _, a := range s.active {
		users[a.Name] = "pw"
		total += s.want(t, a, time.Time{}).count()
	}
	dv := dovecot.Start(t, users)
	dir := t.TempDir()
	bin := mountBinary(t, dir)
	st := filepath.Join(dir, "st")
	srv := serveStart(t, bin, st, "--backup-path", root)

	onDisk := func() int {
		n := 0
		for _, a := range s.active {
			filepath.WalkDir(dv.MaildirOf(a.Name), func(p string, d os.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					if b := filepath.Base(filepath.Dir(p)); b == "cur" || b == "new" {
						n++
					}
				}
				return nil
			})
		}
		return n
	}
	id := strings.TrimSpace(ok(t, "backup", "doExternalRestore", root, "target", dv.SourceURL(), "--state-dir", st).stdout)
	deadline := time.Now().Add(30 * time.Second)
	for onDisk() < total/4 {
		require.True(t, time.Now().Before(deadline), "the restore did not start:\n%s", srv.stderr.String())
		time.Sleep(2 * time.Millisecond)
	}
	srv.kill9(t)
	t.Logf("killed with %d of %d messages in Dovecot", onDisk(), total)

	serveStart(t, bin, st, "--backup-path", root)
	var ops []opqueue.Op
	decode(t, ok(t, "backup", "getAllOperations", "--json", "--state-dir", st).stdout, &ops)
	require.Len(t, ops, 1)
	assert.Equal(t, id, ops[0].ID)
	if ops[0].State != opqueue.Done {
		assert.Equal(t, opqueue.Stopped, ops[0].State)
	}
	r := partial(t, "backup", "doExternalRestore", root, "target", dv.SourceURL(), "--wait", "--state-dir", st)
	assert.Equal(t, total, statLine(t, r.stdout, "Restored Items")+skippedItems(t, r.stdout), r.stdout)
	assert.Positive(t, skippedItems(t, r.stdout), "the first run's messages are skipped")
	for _, a := range s.active {
		assert.Equal(t, s.want(t, a, time.Time{}), readIMAPTree(t, dv, a.Name), "%s: every message once", a.Name)
	}
}
