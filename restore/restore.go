package restore

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/mailbox"
)

// Options are the parameters of a restore, with Carbonio's names in the
// comments. Start from DefaultOptions: its FilterDeleted is true, as
// Carbonio's default, while the zero Options' is false.
type Options struct {
	Accounts              []string // accounts (names or ids; input_file's lines too): only these
	Domains               []string // domains: only accounts (and records) of these domains
	FilterDeleted         bool     // filter_deleted: leave out deleted accounts and items whose latest state is deleted
	SkipSystemAccounts    bool     // skip_system_accounts
	SkipDistributionLists bool     // skip_distribution_lists
	SkipCOSes             bool     // skip_coses
	// SkipDomainProvisioning (skip_domain_provisioning): record no domain
	// in the provisioning; SkipAccountProvisioning
	// (skip_account_provisioning): record no account (their folder trees
	// are still created, for the messages).
	SkipDomainProvisioning, SkipAccountProvisioning bool
	// UndeleteStart (doRestoreOnNewAccount undelete_start_date), with
	// undelete: only items deleted at or after it come back (zero: first,
	// every deleted item).
	UndeleteStart      time.Time
	ProvisioningOnly   bool  // provisioning_only: phase 1 only
	ConcurrentAccounts int   // concurrent_accounts: accounts restored at once (default 1)
	MaxFileSize        int64 // max_file_size in bytes: larger items are "invalid" (0: no limit; doExternalRestore's default is DefaultMaxFileSize)
	// DedicatedFolder (doUndelete's target_original_folder false) restores
	// undeleted items under a folder "undelete_DD_MM_YY" instead of their
	// original folders.
	DedicatedFolder bool
	// Folder (doItemRestore's restore_folder), if set, is the folder every
	// item goes into instead of its own ("a/b": b inside a).
	Folder string
	// BrokenFallback (broken_fallback): an item whose state to restore has
	// a damaged blob (broken or unreadable) is restored in its newest
	// earlier state with a sound blob (mailbox's Item.HealthyBefore, the
	// state the mount names in user.cbfs.healthy_state), into the folder
	// it would have gone to; the report lists it as restored from an
	// earlier state. Without it such an item stays unrestored and the
	// report says that an earlier healthy state exists.
	BrokenFallback bool
	// DryRun (dry_run): nothing is written, neither on the target (no
	// folder, no message, no provisioning record) nor in the ledger; the
	// ledger and the source are read as a real run reads them, every blob
	// to restore is read and verified, and the report says what a real
	// run would do now: its counts, and the items it would restore
	// (AccountReport.Planned). A LoginChecker target is still asked to
	// accept the login (a read: a dry run also tells a wrong password).
	DryRun bool

	// Progress, if set, is called now and then (never concurrently).
	Progress func(Progress)
	// PhaseReport, if set, receives the provisioning report when phase 1
	// of an external restore ends, before phase 2 starts.
	PhaseReport func(string)
	// Now is the clock (the undelete tag's date); time.Now if nil.
	Now func() time.Time
}

// DefaultMaxFileSize is doExternalRestore's max_file_size when none is
// given (operations applies it; "max_file_size 0" lifts it): 25 MiB, the
// message size limit mail servers commonly apply by default (Carbonio's
// own default for this parameter is not documented where cbfs could find
// it). A message is read whole before it is written, so this bounds what
// one item can make a restore hold. Whatever the limit, a blob is never
// read past the size its state records (blob.Limit): a gzip bomb is
// broken, not restored, at any max_file_size.
const DefaultMaxFileSize = 25 << 20

// DefaultOptions are Carbonio's defaults: filter_deleted true, one account
// at a time.
func DefaultOptions() Options { return Options{FilterDeleted: true, ConcurrentAccounts: 1} }

// Progress is a restore's progress.
type Progress struct {
	Phase        string // "provisioning" or "restoring"
	Accounts     int    // accounts to do in this phase
	AccountsDone int
	Account      string // the account last worked on
	Items        int    // items handled so far (restored + skipped + unrestored)
	// ItemsTotal is the items to handle in the accounts listed so far
	// (AccountsListed of Accounts): the total is final when they are
	// equal (an account that failed before listing counts as listed).
	ItemsTotal     int
	AccountsListed int
	Restored       int
	Skipped        int
	Unrestored     int
	Bytes          int64 // restored bytes
	Elapsed        time.Duration
}

// ErrNotFound: the account or item asked for is not in the Backup Path.
var ErrNotFound = errors.New("not found in the backup")

// Restore operation names (Report.Operation).
const (
	OpExternalRestore     = "doExternalRestore"
	OpRestoreOnNewAccount = "doRestoreOnNewAccount"
	OpUndelete            = "doUndelete"
	OpItemRestore         = "doItemRestore"
)

// selection is the state of an item to restore and the folder it goes to.
type selection struct {
	state    *mailbox.State
	folderID int
}

// job is one account to restore.
type job struct {
	acct       *mailbox.Account
	dst        string
	pick       func(it *mailbox.Item) (selection, bool)
	primary    folderRule
	createTree bool
	listed     bool // its items were counted into Progress.ItemsTotal
	only       map[int]bool
	extraTags  []string
	under      []string // DedicatedFolder: prefix of every folder
}

type engine struct {
	src      *backuppath.Path
	health   *blob.Cache // the source's blobs' health, checked once per digest and recorded size
	serverID string
	tgt      Target
	ledger   *Ledger
	opt      Options
	start    time.Time

	mu           sync.Mutex
	rep          *Report
	prog         Progress
	lastProgress time.Time
	seen         map[int]bool // ItemRestore: items found
	loginChecked bool         // checkLogin ran
}

func newEngine(op string, src *backuppath.Path, tgt Target, ledger *Ledger, opt Options) (*engine, error) {
	switch {
	case src == nil:
		return nil, errors.New("restore: no source Backup Path")
	case tgt == nil:
		return nil, errors.New("restore: no target")
	case ledger == nil:
		return nil, errors.New("restore: no ledger")
	case opt.ConcurrentAccounts < 0:
		return nil, fmt.Errorf("restore: concurrent_accounts must be 1 or more, got %d", opt.ConcurrentAccounts)
	case opt.MaxFileSize < 0:
		return nil, fmt.Errorf("restore: max_file_size must not be negative, got %d", opt.MaxFileSize)
	}
	if opt.ConcurrentAccounts == 0 {
		opt.ConcurrentAccounts = 1
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	e := &engine{src: src, serverID: SourceID(src), tgt: tgt, ledger: ledger, opt: opt, start: time.Now(),
		health: blob.NewCache(src.Blobs, blob.CacheOptions{NoPrefetch: true})}
	e.rep = &Report{Operation: op, Source: src.Root, Target: tgt.ID(), Started: opt.Now(), Other: map[string]int{}, DryRun: opt.DryRun}
	return e, nil
}

// SourceID is the id the ledger knows a source Backup Path by: its server
// id (backupstat), or, for a path without a readable backupstat, "path-"
// and a hash of its folder.
func SourceID(src *backuppath.Path) string {
	if st, err := src.ReadBackupStat(); err == nil && st.ServerID != "" && !strings.ContainsAny(st.ServerID, ":\x00") {
		return st.ServerID
	}
	h := sha256.Sum256([]byte(src.Root))
	return "path-" + hex.EncodeToString(h[:8])
}

// finish completes the report; err is the operation's error.
func (e *engine) finish(err error) (*Report, error) {
	e.rep.Finished = e.opt.Now()
	e.rep.sortAccounts()
	if len(e.rep.Other) == 0 {
		e.rep.Other = nil
	}
	if err != nil && e.rep.Stopped == "" {
		e.rep.Stopped = err.Error()
	}
	e.rep.Resumable = err != nil && resumable(err) && !e.opt.DryRun
	return e.rep, err
}

// resumable tells the errors a rerun as it is can get past (stopped, the
// target went away, a write that failed) from those it cannot: the login
// refused (a wrong password, an account missing on the target) and a full
// or read-only target need the administrator first.
func resumable(err error) bool {
	return !errors.Is(err, ErrLoginRefused) && !errors.Is(err, ErrTargetFull)
}

func (e *engine) progress(force bool, f func(p *Progress)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	f(&e.prog)
	if e.opt.Progress == nil {
		return
	}
	now := time.Now()
	if !force && now.Sub(e.lastProgress) < 200*time.Millisecond {
		return
	}
	e.lastProgress = now
	e.prog.Elapsed = now.Sub(e.start)
	e.opt.Progress(e.prog)
}

// accountFailure is an account that cannot be restored, which does not stop
// the others.
type accountFailure struct {
	class, reason string
}

func (f *accountFailure) Error() string { return f.class + ": " + f.reason }

// runJobs restores the accounts, ConcurrentAccounts at a time. The first
// error that is not an account's own (the target went away, ctx ended)
// stops them all.
func (e *engine) runJobs(ctx context.Context, jobs []*job, phase string, run func(context.Context, *job) error) error {
	if err := e.checkLogin(ctx, jobs); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	e.progress(true, func(p *Progress) { p.Phase, p.Accounts, p.AccountsDone, p.AccountsListed = phase, len(jobs), 0, 0 })
	// The last counts reach the callback even if throttled away.
	defer e.progress(true, func(*Progress) {})
	ch := make(chan *job)
	var (
		wg       sync.WaitGroup
		firstErr error
		errOnce  sync.Once
	)
	for w := 0; w < min(e.opt.ConcurrentAccounts, max(len(jobs), 1)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range ch {
				err := run(ctx, j)
				if !j.listed {
					e.progress(false, func(p *Progress) { p.AccountsListed++ })
				}
				var af *accountFailure
				if errors.As(err, &af) {
					e.mu.Lock()
					e.rep.FailedAccounts = append(e.rep.FailedAccounts, FailedAccount{Account: j.dst, Class: af.class, Reason: af.reason})
					e.mu.Unlock()
					err = nil
				}
				if err != nil {
					if !errors.Is(err, ErrTargetFull) { // its message names the folder
						err = fmt.Errorf("account %s: %w", j.dst, err)
					}
					errOnce.Do(func() { firstErr = err; cancel() })
					continue
				}
				e.progress(true, func(p *Progress) { p.AccountsDone++; p.Account = j.dst })
			}
		}()
	}
	for _, j := range jobs {
		select {
		case ch <- j:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(ch)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

// LoginChecker is a Target that can check, before a restore starts, that
// it can log in as an account (IMAPTarget: the master login).
type LoginChecker interface {
	CheckLogin(ctx context.Context, account string) error
}

// ErrLoginRefused: the target refused the login before anything was
// restored (a wrong master password, or none of the first accounts exists
// on the target). The restore does not start.
var ErrLoginRefused = errors.New("the target refused the login")

// checkLogin runs once, before the first phase: a LoginChecker target must
// accept the login as the first account to restore (or, when it refuses
// that one, the second: one account missing on the target is that
// account's failure, not the restore's). Otherwise the restore fails at
// once, with the server's answer, instead of reporting every item invalid;
// an unreachable target fails here too.
func (e *engine) checkLogin(ctx context.Context, jobs []*job) error {
	lc, ok := e.tgt.(LoginChecker)
	if e.loginChecked || !ok || len(jobs) == 0 {
		return nil
	}
	e.loginChecked = true
	var first error
	for i, j := range jobs[:min(2, len(jobs))] {
		err := lc.CheckLogin(ctx, j.dst)
		switch {
		case err == nil:
			return nil
		case !errors.Is(err, ErrRefused):
			return err // unreachable, timeout: the target is gone
		case i == 0:
			first = err
		}
	}
	hint := "a wrong master password, or no such account on the target"
	if len(jobs) > 1 {
		hint = "a wrong master password, or neither account exists on the target"
	}
	e.rep.Stopped = "login refused"
	return fmt.Errorf("%w (%s), nothing restored: %v", ErrLoginRefused, hint, first)
}

// readAccount reads an account's item files: folder items by id, and the
// other items through fn (or the error reading them).
func (e *engine) readAccount(ctx context.Context, acct *mailbox.Account, fn func(id int, it *mailbox.Item, err error)) (map[int]*mailbox.Item, error) {
	files, _, err := e.src.ItemFiles(acct.ID)
	if err != nil {
		return nil, &accountFailure{class: ClassReadError, reason: err.Error()}
	}
	folders := map[int]*mailbox.Item{}
	last := -1
	for i, f := range files {
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		if f.ItemID == last {
			continue // the same id in a second bucket: the first one counts
		}
		last = f.ItemID
		it, err := e.src.ReadItemFile(f.RelPath, f.ItemID)
		if err != nil {
			if fn != nil {
				fn(f.ItemID, nil, err)
			}
			continue
		}
		if t := it.Latest().Type; t == mailbox.TypeFolder || t == mailbox.TypeSearchFolder {
			folders[it.ID] = it
			continue
		}
		if fn != nil {
			fn(it.ID, it, nil)
		}
	}
	return folders, nil
}

type candidate struct {
	id     int
	item   *mailbox.Item
	sel    selection
	folder []string
}

// stateIndex is the index of st among it's states, or -1.
func stateIndex(it *mailbox.Item, st *mailbox.State) int {
	for i := range it.States {
		if &it.States[i] == st {
			return i
		}
	}
	return -1
}

// candidates reads the account's item files and returns the items to
// restore (the job's pick of each) and the account's folders; an item
// that cannot be read goes to ar as unrestored, items of a type that is
// not restored are counted in other.
func (e *engine) candidates(ctx context.Context, j *job, ar *AccountReport, other map[string]int) ([]candidate, map[int]*mailbox.Item, error) {
	var cands []candidate
	folders, err := e.readAccount(ctx, j.acct, func(id int, it *mailbox.Item, err error) {
		if j.only != nil && !j.only[id] {
			return
		}
		if j.only != nil {
			e.mu.Lock()
			e.seen[id] = true
			e.mu.Unlock()
		}
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && j.only != nil {
				return
			}
			ar.Unrestored = append(ar.Unrestored, UnrestoredItem{ID: id, Class: classOf(err), Reason: err.Error()})
			return
		}
		if !it.Latest().Type.HasContent() {
			return // tags, conversations
		}
		sel, ok := j.pick(it)
		if !ok {
			return
		}
		if t := sel.state.Type; t != mailbox.TypeMessage && t != mailbox.TypeChat {
			other[t.String()]++
			return
		}
		cands = append(cands, candidate{id: id, item: it, sel: sel})
	})
	return cands, folders, err
}

// placeCandidates sets the target folder of each candidate and returns
// the folders to create, parents first.
func (e *engine) placeCandidates(j *job, folders map[int]*mailbox.Item, cands []candidate) [][]string {
	need := map[int]bool{}
	for _, c := range cands {
		need[c.sel.folderID] = true
	}
	tr := buildTree(folders, j.primary, need)
	var create [][]string
	have := map[string]bool{}
	addPath := func(p []string) {
		for i := 1; i <= len(p); i++ {
			k := strings.Join(p[:i], "/")
			if !have[k] {
				have[k] = true
				create = append(create, p[:i:i])
			}
		}
	}
	if len(j.under) > 0 {
		addPath(j.under)
	}
	if j.createTree {
		for _, p := range tr.all {
			addPath(append(append([]string(nil), j.under...), p...))
		}
	}
	for i := range cands {
		p := tr.folderOf(cands[i].sel.folderID)
		if e.opt.Folder != "" {
			p = strings.Split(e.opt.Folder, "/")
		}
		if len(j.under) > 0 {
			p = append(append([]string(nil), j.under...), p...)
		}
		cands[i].folder = p
		addPath(p)
	}
	return create
}

// runAccount restores one account.
func (e *engine) runAccount(ctx context.Context, j *job) error {
	ar := AccountReport{Account: j.dst, AccountID: j.acct.ID}
	other := map[string]int{}
	cands, folders, err := e.candidates(ctx, j, &ar, other)
	if err != nil {
		return err
	}
	create := e.placeCandidates(j, folders, cands)
	j.listed = true
	e.progress(true, func(p *Progress) { p.ItemsTotal += len(cands); p.AccountsListed++ })
	sort.SliceStable(cands, func(a, b int) bool {
		ka, kb := strings.Join(cands[a].folder, "\x00"), strings.Join(cands[b].folder, "\x00")
		if ka != kb {
			return ka < kb
		}
		return cands[a].id < cands[b].id
	})

	mb, err := e.open(ctx, j.dst)
	if err != nil {
		return err
	}
	defer mb.Close()
	if err := mb.CreateFolders(ctx, create); err != nil {
		return cmp.Or(targetFull(err), err)
	}

	var ledgerErr, fullErr error // fullErr: the target is full, stop (targetFull)
	target := e.tgt.ID()
	for _, c := range cands {
		if err := ctx.Err(); err != nil {
			// Record what the target already confirmed, then stop.
			ferr := mb.Flush(context.WithoutCancel(ctx))
			e.addAccount(&ar, other)
			return errors.Join(err, ferr, ledgerErr)
		}
		if ledgerErr != nil || fullErr != nil {
			break
		}
		st := c.sel.state
		unrestored := func(class, reason string) {
			ar.Unrestored = append(ar.Unrestored, UnrestoredItem{ID: c.id, Class: class, Reason: reason})
			e.progress(false, func(p *Progress) { p.Items++; p.Unrestored++ })
		}
		if st.Digest == "" {
			unrestored(ClassBroken, "the state names no blob")
			continue
		}
		digest := string(st.Digest)
		has, err := e.ledger.Has(e.serverID, target, j.dst, j.acct.ID, c.id, digest)
		if err != nil {
			return err
		}
		if has {
			ar.Skipped++
			e.progress(false, func(p *Progress) { p.Items++; p.Skipped++ })
			continue
		}
		if e.opt.MaxFileSize > 0 && st.Size > e.opt.MaxFileSize {
			unrestored(ClassInvalid, fmt.Sprintf("size %d over max_file_size %d", st.Size, e.opt.MaxFileSize))
			continue
		}
		body, err := e.readState(st)
		var earlier *EarlierState // broken_fallback: the state restored instead
		if damaged(err) {
			if k := c.item.HealthyBefore(stateIndex(c.item, st), e.sound); k >= 0 {
				es := EarlierState{ID: c.id, Date: c.item.States[k].Start.Time().UTC(), Digest: string(c.item.States[k].Digest)}
				if !e.opt.BrokenFallback {
					ar.EarlierHealthy = append(ar.EarlierHealthy, es)
				} else {
					st, digest, earlier = &c.item.States[k], es.Digest, &es
					has, herr := e.ledger.Has(e.serverID, target, j.dst, j.acct.ID, c.id, digest)
					if herr != nil {
						return herr
					}
					if has {
						ar.Skipped++
						e.progress(false, func(p *Progress) { p.Items++; p.Skipped++ })
						continue
					}
					body, err = e.readState(st)
				}
			}
		}
		if errors.Is(err, blob.ErrTooLarge) {
			if e.opt.MaxFileSize > 0 {
				unrestored(ClassInvalid, fmt.Sprintf("content over max_file_size %d", e.opt.MaxFileSize))
			} else {
				unrestored(ClassInvalid, fmt.Sprintf("no size recorded and content over %d bytes", blob.MaxUnsized))
			}
			continue
		}
		if err != nil {
			unrestored(classOf(err), err.Error())
			continue
		}
		size := len(body)
		if e.opt.MaxFileSize > 0 && int64(size) > e.opt.MaxFileSize {
			unrestored(ClassInvalid, fmt.Sprintf("size %d over max_file_size %d", size, e.opt.MaxFileSize))
			continue
		}
		key := entryKey(e.serverID, target, j.dst, j.acct.ID, c.id, digest)
		msg := &Message{
			Body:   body,
			Flags:  strings.ReplaceAll(st.Flags, "x", ""),
			Tags:   append(append([]string(nil), st.Tags...), j.extraTags...),
			Date:   internalDate(st),
			Unique: uniqueName(e.serverID, j.acct.ID, c.id, digest),
			Claimed: func(mailbox string, uv, uid uint32) bool {
				return e.ledger.claimed(target, j.dst, mailbox, uv, uid, key)
			},
		}
		id, folder := c.id, strings.Join(c.folder, "/")
		err = mb.Append(ctx, c.folder, msg, func(a Appended, err error) {
			if full := targetFull(err); full != nil {
				// Not the item's fault: not unrestored; the restore
				// stops, and a run with room resumes it.
				if fullErr == nil {
					fullErr = full
				}
				return
			}
			if err != nil {
				ar.Unrestored = append(ar.Unrestored, UnrestoredItem{ID: id, Class: ClassInvalid, Reason: err.Error()})
				e.progress(false, func(p *Progress) { p.Items++; p.Unrestored++ })
				return
			}
			if e.opt.DryRun {
				ar.Restored++
				ar.Planned = append(ar.Planned, PlannedItem{ID: id, Folder: folder, Bytes: int64(size), FromEarlier: earlier != nil})
				e.progress(false, func(p *Progress) { p.Items++; p.Restored++; p.Bytes += int64(size) })
				return
			}
			en := &Entry{ServerID: e.serverID, Target: target, Account: j.dst, SourceAccountID: j.acct.ID,
				ItemID: id, Digest: digest, RestoredID: a.ID, Folder: folder, UIDValidity: a.UIDValidity, UID: a.UID,
				Found: a.Existing, At: time.Now().UTC()}
			if err := e.ledger.Record(en); err != nil && ledgerErr == nil {
				ledgerErr = err
			}
			if a.Existing {
				ar.Skipped++
				e.progress(false, func(p *Progress) { p.Items++; p.Skipped++ })
				return
			}
			ar.Restored++
			if earlier != nil {
				ar.FromEarlier = append(ar.FromEarlier, *earlier)
			}
			e.progress(false, func(p *Progress) { p.Items++; p.Restored++; p.Bytes += int64(size) })
		})
		if err != nil {
			e.addAccount(&ar, other)
			return cmp.Or(fullErr, targetFull(err), err)
		}
	}
	ferr := mb.Flush(context.WithoutCancel(ctx))
	e.addAccount(&ar, other)
	if fullErr != nil || targetFull(ferr) != nil {
		return cmp.Or(fullErr, targetFull(ferr))
	}
	if err := errors.Join(ferr, ledgerErr); err != nil {
		return err
	}
	return ctx.Err()
}

// open opens the account dst on the target (a dry run's: a mailbox that
// writes nothing); the error is the account's own (accountFailure) when
// the target refused that account, a target-full error, or the target's.
func (e *engine) open(ctx context.Context, dst string) (Mailbox, error) {
	if e.opt.DryRun {
		return dryMailbox{}, nil
	}
	mb, err := e.tgt.Open(ctx, dst)
	if err != nil {
		if full := targetFull(err); full != nil {
			return nil, full
		}
		if errors.Is(err, ErrRefused) {
			return nil, &accountFailure{class: ClassInvalid, reason: err.Error()}
		}
		return nil, err
	}
	return mb, nil
}

// dryMailbox is a dry run's mailbox: it writes nothing and accepts every
// message at once, so the restore goes through every check a real run
// makes (ledger, max_file_size, the blob read and verified) and records
// what it would have written (runAccount) instead of writing it.
type dryMailbox struct{}

func (dryMailbox) CreateFolders(context.Context, [][]string) error { return nil }
func (dryMailbox) Append(_ context.Context, _ []string, _ *Message, done func(Appended, error)) error {
	done(Appended{}, nil)
	return nil
}
func (dryMailbox) Flush(context.Context) error { return nil }
func (dryMailbox) Close() error                { return nil }

// readState reads state st's content: no more than the state records (a
// blob inflating past it is broken) nor than max_file_size, decided before
// buffering.
func (e *engine) readState(st *mailbox.State) ([]byte, error) {
	lim := blob.Limit{Size: max(st.Size, 0)}
	if e.opt.MaxFileSize > 0 {
		lim.Max = e.opt.MaxFileSize
	}
	return e.src.Blobs.ReadLimit(st.Digest, lim)
}

// damaged tells a source blob's damage (broken or unreadable) from other
// failures (too large) and success.
func damaged(err error) bool {
	return errors.Is(err, blob.ErrBroken) || errors.Is(err, blob.ErrUnreadable)
}

// sound is the restores' health predicate for mailbox's Item.HealthyBefore:
// the state's blob verifies within the size it records (blob.Cache.Health,
// the mount's and cbctl's answer) and fits max_file_size.
func (e *engine) sound(s *mailbox.State) bool {
	if e.opt.MaxFileSize > 0 && s.Size > e.opt.MaxFileSize {
		return false
	}
	return e.health.Health(s.Digest, s.Size) == nil
}

func (e *engine) addAccount(ar *AccountReport, other map[string]int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.rep.Accounts = append(e.rep.Accounts, *ar)
	e.rep.Restored += ar.Restored
	e.rep.Skipped += ar.Skipped
	e.rep.Unrestored += len(ar.Unrestored)
	for k, v := range other {
		e.rep.Other[k] += v
	}
	e.rep.Bytes = e.prog.Bytes
}

// internalDate is the date a restored message gets as its internal date
// (Maildir mtime, IMAP INTERNALDATE): the state's item date (Zimbra's
// received date), or the state's start if it has none.
func internalDate(st *mailbox.State) time.Time {
	if st.Date != 0 {
		return st.Date.Time()
	}
	return st.Start.Time()
}

// uniqueName is the deterministic name of one restore of an item state.
func uniqueName(serverID, accountID string, itemID int, digest string) string {
	h := sha256.New()
	h.Write([]byte(serverID + "\x00" + accountID + "\x00" + strconv.Itoa(itemID) + "\x00" + digest))
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// pickAt restores the state in force at t (latest for zero t); a deleted
// state is left out unless withDeleted, which restores the last state
// before the deletion.
func pickAt(t time.Time, withDeleted bool) func(it *mailbox.Item) (selection, bool) {
	return pickAtSince(t, withDeleted, time.Time{})
}

// pickAtSince is pickAt whose deleted items come back only when deleted at
// or after since (zero: all).
func pickAtSince(t time.Time, withDeleted bool, since time.Time) func(it *mailbox.Item) (selection, bool) {
	return func(it *mailbox.Item) (selection, bool) {
		i := it.IndexAt(t)
		if i < 0 {
			return selection{}, false
		}
		if it.States[i].Deleted {
			if !withDeleted {
				return selection{}, false
			}
			if i = it.LiveBefore(i); i < 0 {
				return selection{}, false
			}
			// Deleted by the state after the live one.
			if !since.IsZero() && i+1 < len(it.States) && it.States[i+1].Start.Time().Before(since) {
				return selection{}, false
			}
		}
		s := &it.States[i]
		return selection{state: s, folderID: s.FolderID}, true
	}
}

// pickUndeleted restores items deleted in [start, end] (zero: open): the
// state before the (last such) deletion, into the folder it was in before
// it went to the Trash (or the Trash, if it never was anywhere else), as
// Carbonio's undelete does.
func pickUndeleted(start, end time.Time) func(it *mailbox.Item) (selection, bool) {
	lo, hi := mailbox.MillisOf(start), mailbox.MillisOf(end)
	return func(it *mailbox.Item) (selection, bool) {
		for i := len(it.States) - 1; i >= 1; i-- {
			s := &it.States[i]
			if !s.Deleted || it.States[i-1].Deleted || (lo != 0 && s.Start < lo) || (hi != 0 && s.Start > hi) {
				continue
			}
			live := &it.States[i-1]
			folder := mailbox.FolderTrash
			for k := i - 1; k >= 0; k-- {
				if !it.States[k].Deleted && it.States[k].FolderID != mailbox.FolderTrash {
					folder = it.States[k].FolderID
					break
				}
			}
			return selection{state: live, folderID: folder}, true
		}
		return selection{}, false
	}
}

// ---- accounts ----

// IsSystemAccount tells Carbonio's system accounts (spam/ham training,
// virus quarantine, GAL sync, ...) by attribute or by name
// (skip_system_accounts, getAvailableAccounts hide_system_accounts).
func IsSystemAccount(a *mailbox.Account) bool {
	for _, k := range []string{"zimbraIsSystemAccount", "zimbraIsSystemResource"} {
		if v, ok := a.Attrs[k]; ok && strings.Contains(strings.ToUpper(string(v)), "TRUE") {
			return true
		}
	}
	local, _, _ := strings.Cut(strings.ToLower(a.Name), "@")
	for _, p := range []string{"spam.", "ham.", "virus-quarantine.", "galsync", "zextras", "admin_"} {
		if strings.HasPrefix(local, p) {
			return true
		}
	}
	return false
}

type srcAccount struct {
	id   string
	acct *mailbox.Account
	err  error
}

func listAccounts(src *backuppath.Path) ([]srcAccount, error) {
	ids, err := src.AccountIDs()
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	out := make([]srcAccount, 0, len(ids))
	for _, id := range ids {
		a, err := src.ReadAccount(id)
		out = append(out, srcAccount{id: id, acct: a, err: err})
	}
	return out, nil
}

// findAccount resolves a name or id by the model's one rule.
func findAccount(src *backuppath.Path, nameOrID string) (*mailbox.Account, error) {
	a, err := src.FindAccount(nameOrID)
	if errors.Is(err, backuppath.ErrNoAccount) {
		return nil, fmt.Errorf("account %s: %w", nameOrID, ErrNotFound)
	}
	return a, err
}

func inList(list []string, vals ...string) bool {
	for _, l := range list {
		for _, v := range vals {
			if strings.EqualFold(strings.TrimSpace(l), v) {
				return true
			}
		}
	}
	return false
}

// ---- the operations ----

// ExternalRestore restores a whole Backup Path (doExternalRestore): phase 1
// provisions (the domains, COS and distribution lists of the latest
// configuration backup and the accounts, recorded by the target; every
// account's folder tree created), reports that phase through
// opt.PhaseReport, then phase 2 restores every account's messages, in their
// latest state, into their folders. Nothing is written into src.
//
// It is idempotent and resumable through the ledger: items restored before
// are skipped. The error is non-nil when the operation could not finish (ctx
// ended, the target went away): the report says what was done, and running
// it again resumes it.
func ExternalRestore(ctx context.Context, src *backuppath.Path, tgt Target, ledger *Ledger, opt Options) (*Report, error) {
	e, err := newEngine(OpExternalRestore, src, tgt, ledger, opt)
	if err != nil {
		return nil, err
	}
	all, err := listAccounts(src)
	if err != nil {
		return nil, err
	}
	var (
		jobs    []*job
		leftOut []LeftOutAccount
	)
	matched := map[string]bool{}
	for _, a := range all {
		if a.acct == nil {
			if len(opt.Accounts) == 0 && len(opt.Domains) == 0 || inList(opt.Accounts, a.id) {
				matched[strings.ToLower(a.id)] = true
				e.rep.FailedAccounts = append(e.rep.FailedAccounts, FailedAccount{Account: a.id, Class: classOf(a.err), Reason: a.err.Error()})
			}
			continue
		}
		acct := a.acct
		if len(opt.Accounts) > 0 && !inList(opt.Accounts, acct.Name, acct.ID) {
			continue
		}
		matched[strings.ToLower(acct.Name)], matched[strings.ToLower(acct.ID)] = true, true
		if why := filteredOut(acct, opt); why != "" {
			if len(opt.Accounts) > 0 {
				// Named, yet left out: said, never silent.
				leftOut = append(leftOut, LeftOutAccount{Account: acct.Name, Reason: why})
			}
			continue
		}
		jobs = append(jobs, &job{acct: acct, dst: acct.Name, pick: pickAt(time.Time{}, !opt.FilterDeleted),
			primary: liveAt(0), createTree: true})
	}
	var missing []string
	for _, name := range opt.Accounts {
		if n := strings.ToLower(strings.TrimSpace(name)); n != "" && !matched[n] {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 && len(missing) == len(opt.Accounts) {
		return nil, fmt.Errorf("account %s: %w (backup getAvailableAccounts lists the accounts it holds)", strings.Join(missing, ", "), ErrNotFound)
	}
	for _, name := range missing {
		e.rep.FailedAccounts = append(e.rep.FailedAccounts, FailedAccount{Account: name, Class: ClassNotFound,
			Reason: "no such account in the backup (backup getAvailableAccounts lists the accounts it holds)"})
	}
	// Two accounts of one name (a deleted one and its successor): the
	// active, most recent one is restored.
	jobs = dedupeJobs(jobs)
	// A name left out that is restored all the same (the deleted
	// predecessor of an active account) is not reported.
	for _, l := range leftOut {
		if !slices.ContainsFunc(jobs, func(j *job) bool { return strings.EqualFold(j.dst, l.Account) }) {
			e.rep.LeftOut = append(e.rep.LeftOut, l)
		}
	}

	jobs, err = e.provision(ctx, jobs)
	if err != nil {
		return e.finish(err)
	}
	if opt.ProvisioningOnly {
		return e.finish(nil)
	}
	return e.finish(e.runJobs(ctx, jobs, "restoring", e.runAccount))
}

// filteredOut is why an external restore's filters leave acct out
// (domains, filter_deleted, skip_system_accounts), saying which filter and
// how to include it, or "" when they keep it.
func filteredOut(acct *mailbox.Account, opt Options) string {
	switch {
	case len(opt.Domains) > 0 && !inList(opt.Domains, acct.Domain()):
		return fmt.Sprintf("domain %s, left out by domains %s (add it to domains to include it)", acct.Domain(), strings.Join(opt.Domains, ","))
	case opt.FilterDeleted && acct.Status == mailbox.StatusDeleted:
		when := "deleted"
		if !acct.DeletedDate.IsZero() {
			when = "deleted on " + acct.DeletedDate.Time().UTC().Format("2006-01-02")
		}
		return when + ", left out by filter_deleted (filter_deleted false includes it)"
	case opt.SkipSystemAccounts && IsSystemAccount(acct):
		return "a system account, left out by skip_system_accounts (skip_system_accounts false includes it)"
	}
	return ""
}

func dedupeJobs(jobs []*job) []*job {
	byName := map[string]*job{}
	var out []*job
	for _, j := range jobs {
		k := strings.ToLower(j.dst)
		prev, ok := byName[k]
		if !ok {
			byName[k] = j
			out = append(out, j)
			continue
		}
		better := prev.acct.Status != mailbox.StatusActive && j.acct.Status == mailbox.StatusActive ||
			(prev.acct.Status == mailbox.StatusActive) == (j.acct.Status == mailbox.StatusActive) && j.acct.Created > prev.acct.Created
		if better {
			*prev = *j
		}
	}
	return out
}

// provision is phase 1 of an external restore.
func (e *engine) provision(ctx context.Context, jobs []*job) ([]*job, error) {
	pr := &ProvisioningReport{}
	e.rep.Provisioning = pr
	p := &Provisioning{ServerID: e.serverID, Source: e.src.Root, Date: e.opt.Now().UTC()}
	files, err := e.src.ServerFiles()
	if err != nil {
		pr.Notes = append(pr.Notes, "server configuration backups unreadable: "+err.Error())
	}
	var cfg *backuppath.ServerConfig
	for i := len(files) - 1; i >= 0 && cfg == nil; i-- {
		if files[i].Kind != backuppath.KindConfig {
			continue
		}
		c, err := e.src.ReadServerConfig(files[i].RelPath)
		if err != nil {
			pr.Notes = append(pr.Notes, "configuration backup "+files[i].RelPath+" skipped: "+err.Error())
			continue
		}
		cfg, p.ConfigBackup = c, files[i].RelPath
	}
	if cfg == nil {
		pr.Notes = append(pr.Notes, "no configuration backup: domains, COS and distribution lists not provisioned")
	} else {
		for _, d := range cfg.Domains {
			if len(e.opt.Domains) == 0 || inList(e.opt.Domains, d.Name) {
				p.Domains = append(p.Domains, d)
			}
		}
		if !e.opt.SkipCOSes {
			p.COS = cfg.COS
		}
		if !e.opt.SkipDistributionLists {
			for _, dl := range cfg.DistributionLists {
				_, dom, _ := strings.Cut(dl.Name, "@")
				if len(e.opt.Domains) == 0 || inList(e.opt.Domains, dom) {
					p.DistributionLists = append(p.DistributionLists, dl)
				}
			}
		}
	}
	var mu sync.Mutex
	err = e.runJobs(ctx, jobs, "provisioning", func(ctx context.Context, j *job) error {
		folders, err := e.readAccount(ctx, j.acct, nil)
		if err != nil {
			return err
		}
		tr := buildTree(folders, j.primary, nil)
		mb, err := e.open(ctx, j.dst)
		if err != nil {
			return err
		}
		defer mb.Close()
		if err := mb.CreateFolders(ctx, tr.all); err != nil {
			return cmp.Or(targetFull(err), err)
		}
		pa := ProvisionedAccount{ID: j.acct.ID, Name: j.dst, DisplayName: j.acct.DisplayName, Status: j.acct.Status,
			COSName: j.acct.COSName}
		for _, f := range tr.all {
			pa.Folders = append(pa.Folders, strings.Join(f, "/"))
		}
		mu.Lock()
		p.Accounts = append(p.Accounts, pa)
		pr.Folders += len(tr.all)
		mu.Unlock()
		return nil
	})
	sort.Slice(p.Accounts, func(a, b int) bool { return p.Accounts[a].Name < p.Accounts[b].Name })
	if e.opt.SkipDomainProvisioning {
		p.Domains = nil
	}
	if e.opt.SkipAccountProvisioning {
		p.Accounts = nil
	}
	pr.Domains, pr.COS, pr.DistributionLists, pr.Accounts = len(p.Domains), len(p.COS), len(p.DistributionLists), len(p.Accounts)
	if err != nil {
		return nil, err
	}
	if e.opt.DryRun {
		// Nothing recorded on the target.
	} else if err := e.tgt.Provision(ctx, p); err != nil {
		return nil, fmt.Errorf("provisioning: %w", cmp.Or(targetFull(err), err))
	}
	// Accounts that failed in phase 1 are not tried again in phase 2.
	if len(e.rep.FailedAccounts) > 0 {
		failed := map[string]bool{}
		for _, f := range e.rep.FailedAccounts {
			failed[f.Account] = true
		}
		var kept []*job
		for _, j := range jobs {
			if !failed[j.dst] {
				kept = append(kept, j)
			}
		}
		jobs = kept
	}
	if e.opt.PhaseReport != nil {
		e.opt.PhaseReport(pr.String())
	}
	return jobs, nil
}
