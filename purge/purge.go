// Package purge implements doPurge: it drops from a Backup Path what the
// retention period says has expired, and then the blobs nothing names any
// more.
//
// With retention R days and Now, the cutoff is Now - R×24h. The rule is that
// the account as it was at any moment from the cutoff to now stays
// restorable, and nothing older is kept:
//
//	(a) states: an item keeps the state in force at the cutoff (the last one
//	    whose startDate is at or before the cutoff) and every later state;
//	    earlier states are dropped. A state is thus dropped only when a
//	    newer state of the same item had already replaced it at the cutoff.
//	(b) items: an item whose latest state is deleted, with a startDate
//	    before the cutoff, is removed whole (its item file).
//	(c) accounts: an account whose account_info has status "deleted" and a
//	    deletedDate before the cutoff is removed whole (accounts/<id>/,
//	    renamed to a temporary name and then removed, so readers never see
//	    half of it). An account marked deleted without a deletedDate is kept
//	    (its retention cannot start) and reported.
//	(d) blobs: after (a)-(c), every blob that no remaining state of any
//	    account names is removed. If any item file could not be read or
//	    parsed, which blobs it names is unknown, and no blob is removed at
//	    all (the report says so). Blobs that a file in the quarantine folder
//	    (coherency check) or a stray file in an items bucket mentions are
//	    kept too.
//	(e) leftovers: temporary files of interrupted writes (".cbfs-tmp-*",
//	    backuppath.Leftovers) older than backuppath.LeftoverMinAge (1 hour)
//	    are removed; younger ones may be a write in progress.
//
// Retention 0 means keep forever: nothing is removed. With a Policy, its
// toggles are applied first (toggles.Policy.Apply), so an account whose backup is
// disabled counts as deleted from the moment it was first found disabled.
//
// Item files are rewritten atomically with the kept states in their order;
// account_stat (itemCount, blobBytes, lastItemId) of every changed account
// and backupstat's lastPurgeDate are updated.
package purge

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/internal/atomicfile"
	"github.com/cbfs/cbfs/internal/confined"
	"github.com/cbfs/cbfs/mailbox"
	"github.com/cbfs/cbfs/toggles"
)

// Options of a purge.
type Options struct {
	// RetentionDays: how long deleted data is kept (0: forever, purge
	// removes nothing). Carbonio's purgeDays parameter.
	RetentionDays int
	// Now is the time the cutoff is counted from (zero: the current time).
	Now time.Time
	// Policy, if set, is applied first (see toggles.Policy.Apply).
	Policy *toggles.Policy
	// Progress, if set, is called as the purge advances (phase "accounts",
	// then "blobs").
	Progress func(done, total int, phase string)
}

// Result says what a purge did.
type Result struct {
	RetentionDays   int       `json:"retentionDays"`
	Cutoff          time.Time `json:"cutoff,omitzero"`
	Accounts        int       `json:"accounts"` // account folders looked at
	StatesRemoved   int       `json:"statesRemoved"`
	ItemsRemoved    int       `json:"itemsRemoved"`
	AccountsRemoved int       `json:"accountsRemoved"`
	BlobsRemoved    int       `json:"blobsRemoved"`
	// LeftoversRemoved counts temporary files of interrupted writes removed
	// (older than backuppath.LeftoverMinAge).
	LeftoversRemoved int   `json:"leftoversRemoved"`
	BytesFreed       int64 `json:"bytesFreed"` // on disk: blobs, item and account files removed or shrunk
	// RemovedAccounts are the names (ids if unreadable) of removed accounts.
	RemovedAccounts []string `json:"removedAccounts,omitempty"`
	// Held are the accounts under legal hold (LegalHoldFile): kept whole.
	Held []string `json:"legalHold,omitempty"`
	// BlobsSkipped is set when blob removal was skipped as a whole.
	BlobsSkipped bool `json:"blobsSkipped,omitempty"`
	// Skipped lists what was not done and why.
	Skipped []string             `json:"skipped,omitempty"`
	Toggles *toggles.ApplyResult `json:"toggles,omitempty"`
	Stopped bool                 `json:"stopped,omitempty"`
}

// Report is the human text, in Carbonio's "- stats -" style.
func (r *Result) Report() string {
	var b strings.Builder
	b.WriteString("- stats -\n")
	fmt.Fprintf(&b, "Retention Days: %d\n", r.RetentionDays)
	if !r.Cutoff.IsZero() {
		fmt.Fprintf(&b, "Cutoff: %s\n", r.Cutoff.UTC().Format("02/01/2006 15:04:05"))
	}
	fmt.Fprintf(&b, "Accounts Checked: %d\n", r.Accounts)
	fmt.Fprintf(&b, "States Removed: %d\n", r.StatesRemoved)
	fmt.Fprintf(&b, "Items Removed: %d\n", r.ItemsRemoved)
	fmt.Fprintf(&b, "Accounts Removed: %d\n", r.AccountsRemoved)
	fmt.Fprintf(&b, "Blobs Removed: %d\n", r.BlobsRemoved)
	fmt.Fprintf(&b, "Leftover Temporary Files Removed: %d\n", r.LeftoversRemoved)
	fmt.Fprintf(&b, "Bytes Freed: %d\n", r.BytesFreed)
	if r.Toggles != nil && (len(r.Toggles.Disabled) > 0 || len(r.Toggles.Reactivated) > 0) {
		fmt.Fprintf(&b, "Accounts Marked Deleted (backup disabled): %d\n", len(r.Toggles.Disabled))
		fmt.Fprintf(&b, "Accounts Marked Active (backup enabled): %d\n", len(r.Toggles.Reactivated))
	}
	if r.Stopped {
		b.WriteString("Stopped: true\n")
	}
	if len(r.RemovedAccounts) > 0 {
		fmt.Fprintf(&b, "\n- removed accounts -\n%s\n", strings.Join(r.RemovedAccounts, "\n"))
	}
	if len(r.Held) > 0 {
		fmt.Fprintf(&b, "\n- legal hold: kept whole -\n%s\n", strings.Join(r.Held, "\n"))
	}
	if len(r.Skipped) > 0 {
		fmt.Fprintf(&b, "\n- skipped -\n%s\n", strings.Join(r.Skipped, "\n"))
	}
	return b.String()
}

// purgeTempPrefix names account folders being removed.
const purgeTempPrefix = atomicfile.TempPrefix + "purge-"

// Run purges bp. On cancellation it stops at the next item, removes no
// blob, and returns what it did with an error wrapping ctx.Err(); the Backup
// Path is valid at every moment (each step is atomic).
func Run(ctx context.Context, bp *backuppath.Path, opt Options) (*Result, error) {
	if opt.RetentionDays < 0 {
		return nil, fmt.Errorf("purge: retention days must not be negative, got %d", opt.RetentionDays)
	}
	now := opt.Now
	if now.IsZero() {
		now = time.Now()
	}
	progress := opt.Progress
	if progress == nil {
		progress = func(int, int, string) {}
	}
	res := &Result{RetentionDays: opt.RetentionDays}
	if opt.RetentionDays == 0 {
		res.Skipped = append(res.Skipped, "retention is 0 days (keep forever): nothing removed")
		return res, nil
	}
	cutoff := now.Add(-time.Duration(opt.RetentionDays) * 24 * time.Hour)
	res.Cutoff = cutoff.UTC()
	holds, err := ReadLegalHold(bp)
	if err != nil {
		return res, fmt.Errorf("purge: %w (nothing removed: what is under legal hold is unknown)", err)
	}
	p := &purger{bp: bp, res: res, cutoff: mailbox.MillisOf(cutoff), refs: map[blob.Digest]bool{}, holds: holds}
	stopped := func(err error) (*Result, error) {
		res.Stopped = true
		return res, fmt.Errorf("purge: %w", err)
	}

	if opt.Policy != nil {
		tr, err := opt.Policy.Apply(ctx, bp, now)
		res.Toggles = tr
		if err != nil {
			if ctx.Err() != nil {
				return stopped(ctx.Err())
			}
			return res, fmt.Errorf("purge: %w", err)
		}
	}
	if err := p.cleanLeftovers(ctx); err != nil {
		return stopped(err)
	}

	ids, err := bp.AccountIDs()
	if err != nil {
		return res, fmt.Errorf("purge: %w", err)
	}
	res.Accounts = len(ids)
	for n, id := range ids {
		progress(n, len(ids), "accounts")
		if err := p.account(ctx, id); err != nil {
			if ctx.Err() != nil {
				return stopped(ctx.Err())
			}
			return res, fmt.Errorf("purge: %w", err)
		}
	}
	progress(len(ids), len(ids), "accounts")

	if err := p.blobs(ctx, progress); err != nil {
		if ctx.Err() != nil {
			return stopped(ctx.Err())
		}
		return res, fmt.Errorf("purge: %w", err)
	}

	st, err := bp.ReadBackupStat()
	if err != nil {
		res.Skipped = append(res.Skipped, "backupstat not updated: "+relMsg(bp.Root, err))
	} else {
		st.LastPurge = mailbox.MillisOf(now)
		if err := bp.WriteBackupStat(st); err != nil {
			return res, fmt.Errorf("purge: %w", err)
		}
	}
	return res, nil
}

type purger struct {
	bp     *backuppath.Path
	res    *Result
	cutoff mailbox.Millis
	refs   map[blob.Digest]bool // named by a kept state (or possibly named)
	// blocked says why blob removal must be skipped ("" if it need not).
	blocked []string
	holds   map[string]Hold // accounts under legal hold, by id: nothing of theirs is removed
}

func relMsg(root string, err error) string {
	return strings.ReplaceAll(err.Error(), root+string(filepath.Separator), "")
}

// cleanLeftovers removes account folders a crashed purge left renamed,
// then every other temporary file of an interrupted write
// (backuppath.Leftovers) older than backuppath.LeftoverMinAge: a younger
// one may be a write in progress.
func (p *purger) cleanLeftovers(ctx context.Context) error {
	if ents, err := confined.ReadDir(p.bp.Root, backuppath.AccountsDir); err == nil {
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), purgeTempPrefix) {
				_ = confined.RemoveAll(p.bp.Root, backuppath.AccountsDir+"/"+e.Name())
			}
		}
	}
	lefts, err := p.bp.Leftovers(ctx)
	if err != nil {
		return err
	}
	now := time.Now() // the real clock, whatever opt.Now says
	for _, l := range lefts {
		if l.Age(now) < backuppath.LeftoverMinAge {
			continue
		}
		if err := p.bp.RemoveLeftover(l); err != nil {
			p.res.Skipped = append(p.res.Skipped, "leftover not removed: "+err.Error())
			continue
		}
		p.res.LeftoversRemoved++
		if !l.Dir {
			p.res.BytesFreed += l.Size
		}
	}
	return nil
}

// account applies (c), else (a) and (b), to one account and records the
// blobs its remaining states name.
func (p *purger) account(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, held := p.holds[id]; held {
		return p.keepHeld(ctx, id)
	}
	a, aerr := p.bp.ReadAccount(id)
	name := id
	if aerr == nil {
		name = a.Name
		if a.Status == mailbox.StatusDeleted {
			switch {
			case a.DeletedDate == 0:
				p.res.Skipped = append(p.res.Skipped, fmt.Sprintf("account %s: deleted without a deletedDate: kept", name))
			case a.DeletedDate < p.cutoff:
				removed, err := p.removeAccount(id)
				if err == nil && removed {
					p.res.AccountsRemoved++
					p.res.RemovedAccounts = append(p.res.RemovedAccounts, name)
					return nil
				}
				if err != nil {
					p.res.Skipped = append(p.res.Skipped, fmt.Sprintf("account %s: not removed: %s", name, relMsg(p.bp.Root, err)))
				}
			}
		}
	} else {
		p.res.Skipped = append(p.res.Skipped, fmt.Sprintf("account %s: account_info unreadable, account kept: %s", id, relMsg(p.bp.Root, aerr)))
	}

	files, others, err := p.bp.ItemFiles(id)
	if err != nil {
		p.block(fmt.Sprintf("account %s: items unreadable: %s", name, relMsg(p.bp.Root, err)))
		return nil
	}
	for _, o := range others {
		p.protectFile(filepath.Join(p.bp.Root, o), true)
	}
	changed := false
	kept, maxID := 0, 0
	var blobBytes int64
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			if changed {
				p.writeStat(id, kept, maxID, blobBytes, false)
			}
			return err
		}
		maxID = max(maxID, f.ItemID)
		it, err := p.bp.ReadItemFile(f.RelPath, f.ItemID)
		if err != nil {
			kept++
			p.block(fmt.Sprintf("account %s item %d: %s", name, f.ItemID, relMsg(p.bp.Root, err)))
			continue
		}
		latest := it.Latest()
		if latest.Deleted && latest.Start < p.cutoff {
			if err := confined.Remove(p.bp.Root, f.RelPath); err != nil {
				return fmt.Errorf("remove item %d of %s: %w", f.ItemID, name, err)
			}
			p.res.ItemsRemoved++
			p.res.BytesFreed += f.Size
			changed = true
			continue
		}
		// (a): keep from the state in force at the cutoff.
		from := 0
		for i := 1; i < len(it.States); i++ {
			if it.States[i].Start <= p.cutoff {
				from = i
			}
		}
		if from > 0 {
			it.States = it.States[from:]
			b, err := it.Encode()
			if err != nil {
				return fmt.Errorf("encode item %d of %s: %w", f.ItemID, name, err)
			}
			if err := p.bp.Write.WriteFile(filepath.Join(p.bp.Root, f.RelPath), b, 0o644); err != nil {
				return fmt.Errorf("rewrite item %d of %s: %w", f.ItemID, name, err)
			}
			p.res.StatesRemoved += from
			if d := f.Size - int64(len(b)); d > 0 {
				p.res.BytesFreed += d
			}
			changed = true
		}
		kept++
		for _, d := range it.Digests() {
			p.refs[d] = true
		}
		if l := it.Latest(); !l.Deleted {
			blobBytes += l.Size
		}
	}
	if changed {
		return p.writeStat(id, kept, maxID, blobBytes, true)
	}
	return nil
}

// writeStat updates account_stat after items changed.
// keepHeld keeps an account under legal hold whole: no state, item or
// account removed, and every blob its files name kept (an item file that
// cannot be read blocks blob removal, as elsewhere).
func (p *purger) keepHeld(ctx context.Context, id string) error {
	name := id
	if a, err := p.bp.ReadAccount(id); err == nil {
		name = a.Name
	}
	p.res.Held = append(p.res.Held, name)
	files, others, err := p.bp.ItemFiles(id)
	if err != nil {
		p.block(fmt.Sprintf("account %s (legal hold): items unreadable: %s", name, relMsg(p.bp.Root, err)))
		return nil
	}
	for _, o := range others {
		p.protectFile(filepath.Join(p.bp.Root, o), true)
	}
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		p.protectFile(filepath.Join(p.bp.Root, f.RelPath), true)
	}
	return nil
}

func (p *purger) writeStat(id string, items, maxID int, blobBytes int64, complete bool) error {
	st, err := p.bp.ReadAccountStat(id)
	if err != nil {
		st = &backuppath.AccountStat{}
	}
	st.LastItemID = max(st.LastItemID, maxID)
	if complete {
		st.ItemCount = items
		st.BlobBytes = blobBytes
	}
	if err := p.bp.WriteAccountStat(id, st); err != nil {
		return fmt.Errorf("update account_stat of %s: %w", id, err)
	}
	return nil
}

func (p *purger) block(why string) {
	p.blocked = append(p.blocked, why)
}

// protectFile keeps the blobs a file that is not an item file mentions.
// If strict, a file that cannot be looked into blocks blob removal.
func (p *purger) protectFile(path string, strict bool) {
	fi, err := os.Lstat(path)
	if err != nil || !fi.Mode().IsRegular() {
		return
	}
	if fi.Size() > 64<<20 {
		if strict {
			p.block(fmt.Sprintf("%s: too large to look for digests in", relMsg(p.bp.Root, errors.New(path))))
		}
		return
	}
	var b []byte
	if rel, rerr := filepath.Rel(p.bp.Root, path); rerr != nil {
		err = rerr
	} else {
		b, err = confined.ReadFile(p.bp.Root, rel, backuppath.MaxMetadataFile) // no symlink swapped in since the Lstat
	}
	if err != nil {
		if strict {
			p.block(relMsg(p.bp.Root, err))
		}
		return
	}
	for _, d := range mailbox.DigestsIn(b) {
		p.refs[d] = true
	}
}

// removeAccount renames accounts/<id> aside and removes it. removed is
// false (and err nil) if the folder was already gone.
func (p *purger) removeAccount(id string) (removed bool, err error) {
	dir := p.bp.AccountDir(id)
	var size int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				size += info.Size()
			}
		}
		return nil
	})
	tmp := filepath.Join(filepath.Dir(dir), purgeTempPrefix+id)
	rel, tmpRel := backuppath.AccountsDir+"/"+id, backuppath.AccountsDir+"/"+purgeTempPrefix+id
	if err := confined.Rename(p.bp.Root, rel, tmpRel); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return false, err
	}
	if !p.bp.Write.NoSync {
		_ = atomicfile.SyncDir(filepath.Dir(dir))
	}
	if err := confined.RemoveAll(p.bp.Root, tmpRel); err != nil {
		// The account is gone for readers; what is left is a temporary
		// folder the next purge removes.
		p.res.Skipped = append(p.res.Skipped, fmt.Sprintf("account %s: leftover %s: %s", id, filepath.Base(tmp), relMsg(p.bp.Root, err)))
	}
	p.res.BytesFreed += size
	return true, nil
}

// blobs applies (d).
func (p *purger) blobs(ctx context.Context, progress func(int, int, string)) error {
	if len(p.blocked) > 0 {
		p.res.BlobsSkipped = true
		p.res.Skipped = append(p.res.Skipped,
			fmt.Sprintf("blobs: none removed: %d item file(s) could not be read, so which blobs they name is unknown", len(p.blocked)))
		p.res.Skipped = append(p.res.Skipped, p.blocked...)
		return nil
	}
	// Item and account files in the quarantine folder may still be
	// salvaged: keep the blobs they mention.
	qdir := filepath.Join(p.bp.Root, backuppath.QuarantineDir)
	_ = filepath.WalkDir(qdir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.Contains(filepath.ToSlash(path), "/"+backuppath.AccountsDir+"/") {
			p.protectFile(path, false)
		}
		return nil
	})
	var victims []blob.Digest
	total := 0
	err := p.bp.Blobs.Walk(ctx, func(name string, d blob.Digest, ok bool) error {
		total++
		if ok && !p.refs[d] {
			victims = append(victims, d)
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.Slice(victims, func(i, j int) bool { return victims[i] < victims[j] })
	for i, d := range victims {
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			progress(i, len(victims), "blobs")
		}
		fi, err := confined.Stat(p.bp.Root, d.RelPath())
		if err != nil {
			continue
		}
		if !fi.Mode().IsRegular() {
			p.res.Skipped = append(p.res.Skipped, fmt.Sprintf("blob %s: unreferenced but not a file: kept", d))
			continue
		}
		if err := confined.Remove(p.bp.Root, d.RelPath()); err != nil {
			p.res.Skipped = append(p.res.Skipped, fmt.Sprintf("blob %s: %s", d, relMsg(p.bp.Root, err)))
			continue
		}
		p.res.BlobsRemoved++
		p.res.BytesFreed += fi.Size()
	}
	progress(len(victims), len(victims), "blobs")
	return nil
}
