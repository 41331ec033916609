// Package coherency implements doCoherencyCheck: it verifies every blob of
// a Backup Path against its digest and every item state against its blob,
// finds malformed item and account files, orphan blobs and stray names, and
// optionally fixes what can be fixed without losing anything.
//
// Fixing never deletes. With FixBackup, bad files (broken or unreadable
// blobs, including a folder where a blob should be; malformed or
// unreadable item files) are moved, with the same relative path, into the
// quarantine folder of the Backup Path:
//
//	<backup path>/quarantine/<YYYYMMDDTHHMMSSZ>/<original relative path>
//
// (one folder per run, named by its UTC start time). Readers ignore
// quarantine/; an administrator can inspect, salvage or delete it. With
// DoubleGzip set to "fix", sound blobs that are gzipped twice are rewritten
// as single gzip with the same digest, atomically and only after the new
// file has been read back and verified (blob.Store.RewriteSingle). Orphan
// blobs (no state names them) are only reported: doPurge removes them.
// Temporary files an interrupted write left (".cbfs-tmp-*", anywhere but
// quarantine/) are reported as leftovers with their age; FixBackup removes
// those older than backuppath.LeftoverMinAge (1 hour: a younger one may be
// a write in progress), and doPurge does too. Missing blobs cannot be fixed and
// stay reported. Names under items/ that cbfs does not recognise as digests
// (or digests in the wrong folder) are only reported, never moved: a
// Backup Path written by another program may name things its own way. A
// Backup Path without items/ (blobless) has no missing blobs: it says so.
package coherency

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/internal/atomicfile"
	"github.com/cbfs/cbfs/internal/confined"
	"github.com/cbfs/cbfs/internal/workers"
	"github.com/cbfs/cbfs/mailbox"
)

// QuarantineDir is the folder, at the Backup Path's root, that FixBackup
// moves bad files into (one sub-folder per run).
const QuarantineDir = backuppath.QuarantineDir

// QuarantineStamp is the layout of a run's folder name in QuarantineDir.
const QuarantineStamp = "20060102T150405Z"

// Problem classes.
const (
	ClassOrphan            = "orphan"             // a sound blob no state names
	ClassBroken            = "broken"             // a blob that is corrupt (not gzip, truncated, digest mismatch)
	ClassUnreadable        = "unreadable"         // a blob that cannot be read (permissions, I/O error, a folder)
	ClassMissing           = "missing"            // a blob that states name but that is not there
	ClassDoubleGzip        = "double-gzip"        // a sound blob gzipped twice
	ClassNotDigest         = "not-digest"         // an entry under items/ whose name is not a digest (or not in its digest's folder)
	ClassBrokenItem        = "broken-item"        // an item file that is malformed
	ClassUnreadableItem    = "unreadable-item"    // an item file that cannot be read
	ClassBrokenAccount     = "broken-account"     // an account_info that is malformed
	ClassUnreadableAccount = "unreadable-account" // an account_info (or items folder) that cannot be read
	ClassNotItem           = "not-item"           // an entry under accounts/<id>/items/ that is not an item file
	ClassLeftover          = "leftover"           // a temporary file (.cbfs-tmp-*) an interrupted write left
)

// classOrder is the order of classes in reports.
var classOrder = []struct{ class, title string }{
	{ClassOrphan, "Orphan Blobs"},
	{ClassBroken, "Broken Blobs"},
	{ClassUnreadable, "Unreadable Blobs"},
	{ClassMissing, "Missing Blobs"},
	{ClassDoubleGzip, "Double-gzipped Blobs"},
	{ClassNotDigest, "Names Not Digests"},
	{ClassBrokenItem, "Broken Item Files"},
	{ClassUnreadableItem, "Unreadable Item Files"},
	{ClassBrokenAccount, "Broken Account Files"},
	{ClassUnreadableAccount, "Unreadable Account Files"},
	{ClassNotItem, "Names Not Items"},
	{ClassLeftover, "Leftover Temporary Files"},
}

// DoubleGzip says what to do with double-gzipped blobs.
type DoubleGzip string

// DoubleGzip modes. The zero value reports them, as DoubleGzipCheck does.
const (
	DoubleGzipCheck DoubleGzip = "check"
	DoubleGzipFix   DoubleGzip = "fix"
)

// ParseDoubleGzip reads Carbonio's fixDoubleGzip parameter: "check" or
// "fix" ("" is check).
func ParseDoubleGzip(s string) (DoubleGzip, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "check":
		return DoubleGzipCheck, nil
	case "fix":
		return DoubleGzipFix, nil
	}
	return "", fmt.Errorf("fixDoubleGzip must be check or fix, not %q", s)
}

// Options of a check.
type Options struct {
	// FixBackup moves bad files into the quarantine folder.
	FixBackup bool
	// DoubleGzip: check (report) or fix (rewrite as single gzip).
	DoubleGzip DoubleGzip
	// Now names the quarantine folder (zero: the current time).
	Now time.Time
	// Workers verifying blobs (0: 2).
	Workers int
	// Progress, if set, is called as the check advances (phase: "blobs",
	// "items", "fix").
	Progress func(done, total int, phase string)
	// Accounts (doCoherencyCheck accountIds), if set, restricts the check
	// to these accounts (ids or names): their account and item files and
	// the blobs their states name. Orphans and leftovers, which belong to
	// no account, are then not looked for.
	Accounts []string
}

// wanted reports whether account id (named name) is one opt.Accounts
// asks for (all when it is empty).
func (opt *Options) wanted(id, name string) bool {
	if len(opt.Accounts) == 0 {
		return true
	}
	for _, a := range opt.Accounts {
		if strings.EqualFold(a, id) || (name != "" && strings.EqualFold(a, name)) {
			return true
		}
	}
	return false
}

// ItemRef names one item of one account.
type ItemRef struct {
	AccountID string `json:"accountId"`
	Account   string `json:"account,omitempty"` // name, if account_info is readable
	ItemID    int    `json:"itemId"`
}

// Problem is one finding.
type Problem struct {
	Class  string    `json:"class"`
	Path   string    `json:"path,omitempty"`   // relative to the Backup Path
	Digest string    `json:"digest,omitempty"` // blob problems
	Items  []ItemRef `json:"items,omitempty"`  // the items concerned (for a blob: whose states name it)
	Reason string    `json:"reason,omitempty"`
	Action string    `json:"action,omitempty"` // what the fix did ("" if nothing)
}

// Result of a check.
type Result struct {
	Blobs      int       `json:"blobs"`    // entries under items/ looked at
	Accounts   int       `json:"accounts"` // account folders
	Items      int       `json:"items"`    // item files
	States     int       `json:"states"`   // states of readable item files
	Problems   []Problem `json:"problems"`
	Quarantine string    `json:"quarantine,omitempty"` // relative folder the fix moved files into
	// Quarantined counts files moved; DoubleGzipFixed blobs rewritten.
	Quarantined     int `json:"quarantined"`
	DoubleGzipFixed int `json:"doubleGzipFixed"`
	// LeftoversRemoved counts leftover temporary files the fix removed.
	LeftoversRemoved int  `json:"leftoversRemoved"`
	Stopped          bool `json:"stopped,omitempty"` // cancelled before the end
	// Blobless: the path has no items/ (Carbonio's blobless mode, or blobs
	// on external storage); its states' blobs are not reported missing.
	Blobless bool `json:"blobless,omitempty"`
	// DriveItemFiles and DriveItemBytes count what drive_items/ folders
	// (Carbonio Files, at the root and per account) hold: counted, never
	// checked, since their format is not public; never called unknown.
	DriveItemFiles int   `json:"driveItemFiles"`
	DriveItemBytes int64 `json:"driveItemBytes"`
}

// Count is the number of problems of class.
func (r *Result) Count(class string) int {
	n := 0
	for _, p := range r.Problems {
		if p.Class == class {
			n++
		}
	}
	return n
}

// Of returns the problems of class.
func (r *Result) Of(class string) []Problem {
	var out []Problem
	for _, p := range r.Problems {
		if p.Class == class {
			out = append(out, p)
		}
	}
	return out
}

// Report is the human text, in Carbonio's "- stats -" style.
func (r *Result) Report() string {
	var b strings.Builder
	b.WriteString("- stats -\n")
	fmt.Fprintf(&b, "Blobs Checked: %d\n", r.Blobs)
	fmt.Fprintf(&b, "Accounts Checked: %d\n", r.Accounts)
	fmt.Fprintf(&b, "Items Checked: %d\n", r.Items)
	fmt.Fprintf(&b, "States Checked: %d\n", r.States)
	for _, c := range classOrder {
		fmt.Fprintf(&b, "%s: %d\n", c.title, r.Count(c.class))
	}
	fmt.Fprintf(&b, "Quarantined Files: %d\n", r.Quarantined)
	fmt.Fprintf(&b, "Double-gzipped Blobs Rewritten: %d\n", r.DoubleGzipFixed)
	fmt.Fprintf(&b, "Leftover Temporary Files Removed: %d\n", r.LeftoversRemoved)
	if r.Quarantine != "" {
		fmt.Fprintf(&b, "Quarantine Folder: %s\n", r.Quarantine)
	}
	if r.Stopped {
		b.WriteString("Stopped: true\n")
	}
	if r.DriveItemFiles > 0 {
		fmt.Fprintf(&b, "Drive Items (Carbonio Files, not checked): %d files, %d bytes\n", r.DriveItemFiles, r.DriveItemBytes)
	}
	if r.Blobless {
		b.WriteString("Blobless: true (no items/ folder: metadata only, blobs not checked)\n")
	}
	if len(r.Problems) > 0 {
		b.WriteString("\n- problems -\n")
		for _, p := range r.Problems {
			what := p.Path
			if what == "" {
				what = p.Digest
			}
			fmt.Fprintf(&b, "%s: %s", p.Class, what)
			if p.Reason != "" {
				fmt.Fprintf(&b, " (%s)", p.Reason)
			}
			if len(p.Items) > 0 {
				fmt.Fprintf(&b, " items: %s", refsString(p.Items))
			}
			if p.Action != "" {
				fmt.Fprintf(&b, " -> %s", p.Action)
			}
			b.WriteByte('\n')
		}
	}
	// Damaged items by account, as Carbonio lists unrestorable items.
	type acct struct {
		name    string
		byClass map[string][]int
	}
	accts := map[string]*acct{}
	var order []string
	for _, p := range r.Problems {
		label := ""
		switch p.Class {
		case ClassBroken, ClassBrokenItem:
			label = "broken items"
		case ClassUnreadable, ClassUnreadableItem:
			label = "unreadable items"
		case ClassMissing:
			label = "missing items"
		default:
			continue
		}
		for _, it := range p.Items {
			a := accts[it.AccountID]
			if a == nil {
				a = &acct{name: it.Account, byClass: map[string][]int{}}
				if a.name == "" {
					a.name = it.AccountID
				}
				accts[it.AccountID] = a
				order = append(order, it.AccountID)
			}
			a.byClass[label] = append(a.byClass[label], it.ItemID)
		}
	}
	if len(order) > 0 {
		b.WriteString("\n- damaged items -\n")
		sort.Slice(order, func(i, j int) bool { return accts[order[i]].name < accts[order[j]].name })
		for _, id := range order {
			a := accts[id]
			fmt.Fprintf(&b, "account: %s\n", a.name)
			for _, label := range []string{"broken items", "unreadable items", "missing items"} {
				ids := a.byClass[label]
				if len(ids) == 0 {
					continue
				}
				sort.Ints(ids)
				s := make([]string, len(ids))
				for i, n := range ids {
					s[i] = strconv.Itoa(n)
				}
				fmt.Fprintf(&b, "%s: %s\n", label, strings.Join(s, ","))
			}
		}
	}
	return b.String()
}

func refsString(refs []ItemRef) string {
	parts := make([]string, 0, len(refs))
	for _, r := range refs {
		n := r.Account
		if n == "" {
			n = r.AccountID
		}
		parts = append(parts, n+"/"+strconv.Itoa(r.ItemID))
	}
	return strings.Join(parts, ",")
}

// blobEntry is one entry under items/ and what verifying it found.
type blobEntry struct {
	rel    string
	d      blob.Digest
	ok     bool  // the name is a digest in its folder
	err    error // Layers' verdict
	double bool  // sound, gzipped twice
}

// Check runs doCoherencyCheck on bp. On cancellation it returns what it
// found so far (Stopped set) and an error wrapping ctx.Err(); fixes already
// made stay made (each is atomic).
//
// Its steps, in order: walk the blob area (walkBlobs), read every account
// and item file (readAccounts: what each blob's states name and record),
// keep only the named blobs when some accounts are asked for
// (keepNamedBlobs), verify the blobs within their recorded sizes
// (verifyBlobs), turn what was found into problems (blobProblems), count
// drive_items/ (driveItems), list leftovers (leftovers), then fix.
func Check(ctx context.Context, bp *backuppath.Path, opt Options) (*Result, error) {
	mode := opt.DoubleGzip
	if mode == "" {
		mode = DoubleGzipCheck
	}
	if mode != DoubleGzipCheck && mode != DoubleGzipFix {
		return nil, fmt.Errorf("coherency check: fixDoubleGzip must be check or fix, not %q", mode)
	}
	workers := opt.Workers
	if workers <= 0 {
		workers = 2
	}
	progress := opt.Progress
	if progress == nil {
		progress = func(int, int, string) {}
	}
	c := &checker{bp: bp, opt: opt, progress: progress, res: &Result{},
		refs: map[blob.Digest][]ItemRef{}, recorded: map[blob.Digest]int64{}, maybe: map[blob.Digest][]ItemRef{}}
	res := c.res
	stopped := func(err error) (*Result, error) {
		res.Stopped = true
		return res, fmt.Errorf("coherency check: %w", err)
	}
	// A step's *stopError stops the check with what it found so far;
	// any other error fails it.
	failed := func(err error) (*Result, error) {
		var s *stopError
		if errors.As(err, &s) {
			return stopped(s.err)
		}
		return nil, err
	}

	if err := c.walkBlobs(ctx); err != nil {
		return failed(err)
	}
	if err := c.readAccounts(ctx); err != nil {
		return failed(err)
	}
	c.keepNamedBlobs()
	if err := verifyBlobs(ctx, bp, c.entries, workers, progress, c.limit); err != nil {
		return stopped(err)
	}
	res.Problems = append(c.blobProblems(), c.itemProblems...)
	if err := c.driveItems(ctx); err != nil {
		return failed(err)
	}
	if err := c.leftovers(ctx); err != nil {
		return failed(err)
	}

	// 4. Fixes.
	if opt.FixBackup || mode == DoubleGzipFix {
		if err := fix(ctx, bp, res, opt, mode, progress, c.limit); err != nil {
			if ctx.Err() != nil {
				return stopped(ctx.Err())
			}
			return res, err
		}
	}
	return res, nil
}

// stopError is a step's way to stop the check with what it found so far
// (Check returns its Result, Stopped set), where other errors fail it.
type stopError struct{ err error }

func (e *stopError) Error() string { return e.err.Error() }

// checker is one run of Check: what its steps found so far.
type checker struct {
	bp       *backuppath.Path
	opt      Options
	progress func(int, int, string)
	res      *Result

	entries      []*blobEntry
	refs         map[blob.Digest][]ItemRef
	recorded     map[blob.Digest]int64     // the largest size a state records for a blob; -1: a state records none
	maybe        map[blob.Digest][]ItemRef // named in broken item files
	itemProblems []Problem
}

// walkBlobs lists the blob area (1. Blobs).
func (c *checker) walkBlobs(ctx context.Context) error {
	bp, res := c.bp, c.res
	var entries []*blobEntry
	err := bp.Blobs.Walk(ctx, func(name string, d blob.Digest, ok bool) error {
		entries = append(entries, &blobEntry{rel: name, d: d, ok: ok})
		return nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return &stopError{ctx.Err()}
		}
		return fmt.Errorf("coherency check: %w", err)
	}
	res.Blobs = len(entries)
	c.entries = entries
	return nil
}

// readAccounts reads every wanted account's account_info and item files
// (2. Accounts and items, before the blobs are verified: a blob is
// checked against the sizes its states record).
func (c *checker) readAccounts(ctx context.Context) error {
	bp, opt, res, progress := c.bp, c.opt, c.res, c.progress
	ids, err := bp.AccountIDs()
	if err != nil {
		return fmt.Errorf("coherency check: %w", err)
	}
	res.Accounts = 0
	for n, id := range ids {
		if err := ctx.Err(); err != nil {
			return &stopError{err}
		}
		progress(n, len(ids), "items")
		name := ""
		if a, err := bp.ReadAccount(id); err != nil {
			class := ClassUnreadableAccount
			if errors.Is(err, blob.ErrBroken) {
				class = ClassBrokenAccount
			}
			c.itemProblems = append(c.itemProblems, Problem{Class: class,
				Path:   filepath.ToSlash(filepath.Join(backuppath.AccountsDir, id, backuppath.AccountInfoFile)),
				Reason: relReason(bp.Root, filepath.Join(backuppath.AccountsDir, id, backuppath.AccountInfoFile), err)})
		} else {
			name = a.Name
		}
		if !opt.wanted(id, name) {
			if len(c.itemProblems) > 0 && c.itemProblems[len(c.itemProblems)-1].Path == filepath.ToSlash(filepath.Join(backuppath.AccountsDir, id, backuppath.AccountInfoFile)) {
				c.itemProblems = c.itemProblems[:len(c.itemProblems)-1]
			}
			continue
		}
		res.Accounts++
		if err := c.readItems(ctx, id, name); err != nil {
			return err
		}
	}
	progress(len(ids), len(ids), "items")
	return nil
}

// readItems reads one account's item files: which blobs their states
// name and the sizes they record.
func (c *checker) readItems(ctx context.Context, id, name string) error {
	bp, res := c.bp, c.res
	files, others, err := bp.ItemFiles(id)
	if err != nil {
		c.itemProblems = append(c.itemProblems, Problem{Class: ClassUnreadableAccount,
			Path:   filepath.ToSlash(filepath.Join(backuppath.AccountsDir, id, backuppath.ItemsDir)),
			Reason: relReason(bp.Root, filepath.Join(backuppath.AccountsDir, id, backuppath.ItemsDir), err)})
		return nil
	}
	for _, o := range others {
		c.itemProblems = append(c.itemProblems, Problem{Class: ClassNotItem, Path: filepath.ToSlash(o),
			Reason: "not an item id"})
	}
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return &stopError{err}
		}
		res.Items++
		ref := ItemRef{AccountID: id, Account: name, ItemID: f.ItemID}
		it, err := bp.ReadItemFile(f.RelPath, f.ItemID)
		if err != nil {
			class := ClassUnreadableItem
			if errors.Is(err, blob.ErrBroken) {
				class = ClassBrokenItem
				// Digests still legible in the broken file.
				if raw, rerr := confined.ReadFile(bp.Root, f.RelPath, backuppath.MaxMetadataFile); rerr == nil {
					for _, d := range mailbox.DigestsIn(raw) {
						c.maybe[d] = append(c.maybe[d], ref)
					}
				}
			}
			c.itemProblems = append(c.itemProblems, Problem{Class: class, Path: filepath.ToSlash(f.RelPath),
				Items: []ItemRef{ref}, Reason: relReason(bp.Root, f.RelPath, err)})
			continue
		}
		res.States += len(it.States)
		for _, d := range it.Digests() {
			c.refs[d] = append(c.refs[d], ref)
		}
		it.RecordSizes(c.recorded)
	}
	return nil
}

// keepNamedBlobs keeps, when some accounts are asked for, only the blobs
// these accounts' states name.
func (c *checker) keepNamedBlobs() {
	if len(c.opt.Accounts) > 0 {
		kept := c.entries[:0]
		for _, e := range c.entries {
			if e.ok && (len(c.refs[e.d]) > 0 || len(c.maybe[e.d]) > 0) {
				kept = append(kept, e)
			}
		}
		c.entries = kept
		c.res.Blobs = len(c.entries)
	}
}

// limit is the bound a blob is verified within (1b): the largest size its
// states record (a gzip bomb is broken, found in bounded memory).
func (c *checker) limit(d blob.Digest) blob.Limit {
	if r := c.recorded[d]; r > 0 {
		return blob.Limit{Size: r}
	}
	return blob.Limit{}
}

// blobProblems is what the verified blobs and the states' names say
// (3. Findings): bad names, broken and double-gzipped blobs, orphans and
// missing blobs.
func (c *checker) blobProblems() []Problem {
	entries, refs, maybe, res := c.entries, c.refs, c.maybe, c.res
	sound := make(map[blob.Digest]*blobEntry, len(entries))
	for _, e := range entries {
		if e.ok {
			sound[e.d] = e
		}
	}
	var blobProblems []Problem
	for _, e := range entries {
		if !e.ok {
			why := "not a digest"
			base := filepath.Base(e.rel)
			if blob.Digest(base).Valid() {
				why = "a digest in the wrong folder (want items/" + base[:2] + "/)"
			} else if strings.Count(e.rel, "/") == 1 {
				why = "not a folder of blobs"
			}
			blobProblems = append(blobProblems, Problem{Class: ClassNotDigest, Path: e.rel, Reason: why})
			continue
		}
		r := refs[e.d]
		switch {
		case e.err != nil:
			class := ClassUnreadable
			if errors.Is(e.err, blob.ErrBroken) {
				class = ClassBroken
			}
			why := reason(e.err)
			if len(r) == 0 {
				why += "; no state names it"
			}
			blobProblems = append(blobProblems, Problem{Class: class, Path: e.rel, Digest: string(e.d), Items: r, Reason: why})
			continue
		case e.double:
			blobProblems = append(blobProblems, Problem{Class: ClassDoubleGzip, Path: e.rel, Digest: string(e.d), Items: r,
				Reason: "gzip inside gzip (sound)"})
		}
		if len(r) == 0 {
			p := Problem{Class: ClassOrphan, Path: e.rel, Digest: string(e.d), Reason: "no state of any account names it"}
			if m := maybe[e.d]; len(m) > 0 {
				p.Items = m
				p.Reason = "no readable state names it; a broken item file mentions it"
			}
			blobProblems = append(blobProblems, p)
		}
	}
	missing := make([]blob.Digest, 0)
	res.Blobless = c.bp.Blobless()
	for d := range refs {
		if _, ok := sound[d]; !ok && !res.Blobless {
			missing = append(missing, d)
		}
	}
	sort.Slice(missing, func(i, j int) bool { return missing[i] < missing[j] })
	for _, d := range missing {
		p := Problem{Class: ClassMissing, Digest: string(d), Items: refs[d], Reason: "no blob file"}
		if d.Valid() {
			p.Path = d.RelPath()
		} else {
			p.Reason = "states name an invalid digest"
		}
		blobProblems = append(blobProblems, p)
	}
	return blobProblems
}

// driveItems counts drive_items/, which is not checked (its format is not
// public); only when every account is checked.
func (c *checker) driveItems(ctx context.Context) error {
	if len(c.opt.Accounts) == 0 {
		d, err := c.bp.DriveItems(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return &stopError{ctx.Err()}
			}
			return fmt.Errorf("coherency check: %w", err)
		}
		c.res.DriveItemFiles, c.res.DriveItemBytes = d.Files, d.Bytes
	}
	return nil
}

// leftovers reports the leftovers of interrupted writes (no account's;
// only when every account is checked).
func (c *checker) leftovers(ctx context.Context) error {
	var lefts []backuppath.Leftover
	var err error
	if len(c.opt.Accounts) == 0 {
		lefts, err = c.bp.Leftovers(ctx)
	}
	if err != nil {
		return &stopError{err}
	}
	for _, l := range lefts {
		what := "temporary file"
		if l.Dir {
			what = "temporary folder"
		}
		c.res.Problems = append(c.res.Problems, Problem{Class: ClassLeftover, Path: l.RelPath,
			Reason: fmt.Sprintf("%s of an interrupted write, %s old (modified %s)", what,
				l.Age(time.Now()).Truncate(time.Second), l.ModTime.UTC().Format(time.RFC3339))})
	}
	return nil
}

// relReason is the message of err about the file rel, without the
// absolute Backup Path root and without repeating the path.
func relReason(root, rel string, err error) string {
	msg := strings.ReplaceAll(err.Error(), root+string(filepath.Separator), "")
	for {
		t := strings.TrimPrefix(msg, rel+": ")
		if t == msg {
			break
		}
		msg = t
	}
	return msg
}

// reason is err's message without the absolute Backup Path root.
func reason(err error) string {
	var be *blob.Error
	if errors.As(err, &be) {
		r := be.Reason
		if be.Err != nil {
			if r != "" {
				r += ": "
			}
			r += be.Err.Error()
		}
		if r == "" {
			r = blob.Class(err)
		}
		return r
	}
	return err.Error()
}

// verifyBlobs checks the digest-named entries with workers goroutines.
func verifyBlobs(ctx context.Context, bp *backuppath.Path, entries []*blobEntry, n int, progress func(int, int, string), limit func(blob.Digest) blob.Limit) error {
	named := make([]*blobEntry, 0, len(entries))
	for _, e := range entries {
		if e.ok {
			named = append(named, e)
		}
	}
	others := len(entries) - len(named)
	return workers.Each(ctx, n, named, func(e *blobEntry) error {
		layers, err := bp.Blobs.Layers(e.d, limit(e.d))
		e.err, e.double = err, layers == 2
		return nil
	}, func(done, total int) { progress(done+others, total+others, "blobs") })
}

// fix quarantines bad files, rewrites double-gzipped blobs (within the
// sizes their states record, limit) and removes leftover temporary files
// older than backuppath.LeftoverMinAge.
func fix(ctx context.Context, bp *backuppath.Path, res *Result, opt Options, mode DoubleGzip, progress func(int, int, string), limit func(blob.Digest) blob.Limit) error {
	var q *quarantine
	for i := range res.Problems {
		if err := ctx.Err(); err != nil {
			return err
		}
		progress(i, len(res.Problems), "fix")
		p := &res.Problems[i]
		switch p.Class {
		case ClassNotDigest:
			if opt.FixBackup {
				p.Action = "not moved: a name cbfs does not know is only reported"
			}
			continue
		case ClassBroken, ClassUnreadable, ClassBrokenItem, ClassUnreadableItem:
			if !opt.FixBackup {
				continue
			}
			if q == nil {
				var err error
				if q, err = newQuarantine(bp.Root, opt.Now); err != nil {
					return err
				}
				res.Quarantine = q.rel
			}
			dst, err := q.move(p.Path)
			if err != nil {
				p.Action = "not moved: " + err.Error()
				continue
			}
			p.Action = "moved to " + dst
			res.Quarantined++
		case ClassLeftover:
			if !opt.FixBackup {
				continue
			}
			l := backuppath.Leftover{RelPath: p.Path}
			fi, err := confined.Stat(bp.Root, p.Path)
			if err != nil {
				p.Action = "not removed: " + relReason(bp.Root, p.Path, err)
				continue
			}
			l.ModTime = fi.ModTime()
			if age := time.Since(l.ModTime); age < backuppath.LeftoverMinAge {
				p.Action = fmt.Sprintf("kept: younger than %s (a write may be in progress)", backuppath.LeftoverMinAge)
				continue
			}
			if err := bp.RemoveLeftover(l); err != nil {
				p.Action = "not removed: " + err.Error()
				continue
			}
			p.Action = "removed"
			res.LeftoversRemoved++
		case ClassDoubleGzip:
			if mode != DoubleGzipFix {
				continue
			}
			d := blob.Digest(p.Digest)
			if err := bp.Blobs.RewriteSingle(d, limit(d)); err != nil {
				p.Action = "not rewritten: " + err.Error()
				continue
			}
			p.Action = "rewritten as single gzip"
			res.DoubleGzipFixed++
		}
	}
	progress(len(res.Problems), len(res.Problems), "fix")
	return nil
}

type quarantine struct {
	root string // the Backup Path
	rel  string // quarantine/<stamp>, slash-separated
}

func newQuarantine(root string, now time.Time) (*quarantine, error) {
	if now.IsZero() {
		now = time.Now()
	}
	base := filepath.Join(QuarantineDir, now.UTC().Format(QuarantineStamp))
	rel := base
	for n := 2; ; n++ {
		if _, err := confined.Stat(root, rel); errors.Is(err, fs.ErrNotExist) {
			break
		}
		rel = base + "-" + strconv.Itoa(n)
	}
	d, err := confined.MkdirAll(root, rel, atomicfile.Mode(0o755))
	if err != nil {
		return nil, fmt.Errorf("coherency check: create quarantine folder: %w", err)
	}
	d.Close()
	return &quarantine{root: root, rel: filepath.ToSlash(rel)}, nil
}

// move renames root/rel to the quarantine folder, same relative path, and
// returns the new relative path. Nothing is copied or deleted: a rename
// inside the Backup Path.
func (q *quarantine) move(rel string) (string, error) {
	src := filepath.Join(q.root, filepath.FromSlash(rel))
	dstRel := q.rel + "/" + rel
	dst := filepath.Join(q.root, filepath.FromSlash(dstRel))
	if _, err := confined.Stat(q.root, dstRel); err == nil {
		return "", fmt.Errorf("%s already exists", dstRel)
	}
	// Both ends looked up beneath the Backup Path without following links:
	// a folder swapped for a link cannot move a file out of it.
	d, err := confined.MkdirAll(q.root, path.Dir(dstRel), atomicfile.Mode(0o755))
	if err != nil {
		return "", err
	}
	d.Close()
	if err := confined.Rename(q.root, rel, dstRel); err != nil {
		return "", err
	}
	if err := atomicfile.SyncDir(filepath.Dir(src)); err != nil {
		return dstRel, err
	}
	return dstRel, atomicfile.SyncDir(filepath.Dir(dst))
}
