package restore

import (
	"context"
	"fmt"
	"time"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/mailbox"
)

// RestoreOnNewAccount restores one account of the Backup Path as it was at
// `at` (the latest state for a zero time: "last") into the account dst on
// the target (doRestoreOnNewAccount): the folder tree of that moment, and
// every message in the state and folder it had then. With undelete, items
// already deleted at that moment come back too, in their last state
// before the deletion. Restoring a deleted account is this with its last
// moment (see RestoreDeletedAccount).
func RestoreOnNewAccount(ctx context.Context, src *backuppath.Path, srcAccount, dst string, at time.Time, undelete bool,
	tgt Target, ledger *Ledger, opt Options) (*Report, error) {
	e, err := newEngine(OpRestoreOnNewAccount, src, tgt, ledger, opt)
	if err != nil {
		return nil, err
	}
	acct, err := findAccount(src, srcAccount)
	if err != nil {
		return nil, fmt.Errorf("restore on new account: %w", err)
	}
	if dst == "" {
		return nil, fmt.Errorf("restore on new account: no destination account")
	}
	j := &job{acct: acct, dst: dst, pick: pickAtSince(at, undelete, opt.UndeleteStart), primary: liveAt(mailbox.MillisOf(at)), createTree: true}
	return e.finish(e.runJobs(ctx, []*job{j}, "restoring", e.runAccount))
}

// RestoreDeletedAccount restores a deleted account, as it was just before
// its deletion (its deletedDate; the latest states if it has none), into
// the account dst.
func RestoreDeletedAccount(ctx context.Context, src *backuppath.Path, srcAccount, dst string, tgt Target, ledger *Ledger, opt Options) (*Report, error) {
	acct, err := findAccount(src, srcAccount)
	if err != nil {
		return nil, fmt.Errorf("restore deleted account: %w", err)
	}
	var at time.Time
	if acct.DeletedDate != 0 {
		at = acct.DeletedDate.Time().Add(-time.Millisecond)
	}
	return RestoreOnNewAccount(ctx, src, acct.ID, dst, at, false, tgt, ledger, opt)
}

// UndeleteTag is the tag Carbonio's undelete puts on every item it brings
// back: "undelete_DD_MM_YY", the day of the undelete.
func UndeleteTag(t time.Time) string { return "undelete_" + t.Format("02_01_06") }

// Undelete brings back the items of an account deleted between start and end
// (zero times: "first" and "last"), as Carbonio's time-range undelete does
// (doUndelete):
//
//   - An item counts if one of its states turns it from live to deleted
//     within [start, end]; it is restored in the state it had just before
//     (the last such deletion, if several).
//   - It goes to the folder it was in before it was moved to the Trash (the
//     Trash if it never was anywhere else), with the tag UndeleteTag(now);
//     the IMAP \Deleted flag is never restored.
//   - Folders are named by their last state before the window's end, even
//     a folder deleted since; a folder the backup knows nothing of becomes
//     "unknown_<id>" under the root. With opt.DedicatedFolder
//     (target_original_folder false) the whole tree goes under a top
//     folder named like the tag.
//
// Items are restored into the account of the same name on the target.
func Undelete(ctx context.Context, src *backuppath.Path, account string, start, end time.Time, tgt Target, ledger *Ledger, opt Options) (*Report, error) {
	e, err := newEngine(OpUndelete, src, tgt, ledger, opt)
	if err != nil {
		return nil, err
	}
	if !start.IsZero() && !end.IsZero() && end.Before(start) {
		return nil, fmt.Errorf("undelete: end %s is before start %s", end.Format(time.RFC3339), start.Format(time.RFC3339))
	}
	acct, err := findAccount(src, account)
	if err != nil {
		return nil, fmt.Errorf("undelete: %w", err)
	}
	tag := UndeleteTag(e.opt.Now())
	j := &job{acct: acct, dst: acct.Name, pick: pickUndeleted(start, end), primary: lastLiveBefore(mailbox.MillisOf(end)),
		extraTags: []string{tag}}
	if opt.DedicatedFolder {
		j.under = []string{tag}
	}
	return e.finish(e.runJobs(ctx, []*job{j}, "restoring", e.runAccount))
}

// ItemRestore restores one item of an account (doItemRestore) into the
// account of the same name: its state at `at` (the latest for a zero time);
// if the item was deleted then, its last state before the deletion. It goes
// to the folder of that state (named by its last known state, or
// "unknown_<id>").
func ItemRestore(ctx context.Context, src *backuppath.Path, account string, itemID int, at time.Time, tgt Target, ledger *Ledger, opt Options) (*Report, error) {
	e, err := newEngine(OpItemRestore, src, tgt, ledger, opt)
	if err != nil {
		return nil, err
	}
	acct, err := findAccount(src, account)
	if err != nil {
		return nil, fmt.Errorf("item restore: %w", err)
	}
	e.seen = map[int]bool{}
	j := &job{acct: acct, dst: acct.Name, pick: pickAt(at, true), primary: liveAt(0), only: map[int]bool{itemID: true}}
	rep, err := e.finish(e.runJobs(ctx, []*job{j}, "restoring", e.runAccount))
	if err != nil {
		return rep, err
	}
	switch {
	case !e.seen[itemID]:
		return rep, fmt.Errorf("item restore: account %s: item %d: %w", acct.Name, itemID, ErrNotFound)
	case rep.Restored+rep.Skipped+rep.Unrestored == 0 && len(rep.Other) > 0:
		return rep, fmt.Errorf("item restore: account %s: item %d is not a message: a mail target cannot hold it", acct.Name, itemID)
	case rep.Restored+rep.Skipped+rep.Unrestored == 0:
		return rep, fmt.Errorf("item restore: account %s: item %d did not exist at that date (or holds no content)", acct.Name, itemID)
	}
	return rep, nil
}
