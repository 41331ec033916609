package sample

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/mailbox"
)

// LargeOptions shape a metadata-only Backup Path for scale benchmarks
// (GenerateLarge).
type LargeOptions struct {
	Items    int // items in all (messages and folders); at least Accounts*LargeFolders
	Accounts int // accounts (0 means 100)
	// BigAccount is the number of items of the first account, whose
	// messages are all in its Inbox (0 means min(100000, Items/2)). The
	// other accounts share the rest evenly.
	BigAccount int
	Workers    int // goroutines writing item files (0 means 4)
}

// LargeFolders is the number of folder items each account of
// GenerateLarge has: Projects (under Inbox) and Archive (under the root).
const LargeFolders = 2

// LargeReport says what GenerateLarge wrote.
type LargeReport struct {
	Accounts []LargeAccount
	Items    int
	Blobs    int
}

// LargeAccount is one account GenerateLarge wrote.
type LargeAccount struct {
	ID, Name string
	Items    int // item files, folders included
	FirstID  int // lowest message id; messages are FirstID..FirstID+Items-LargeFolders-1
}

// The shared bodies every message of GenerateLarge points at.
var largeBodies = []string{
	"From: alice@large.example\r\nTo: bob@large.example\r\nSubject: quarterly report\r\n\r\nSee the figures attached.\r\n",
	"From: carol@large.example\r\nTo: bob@large.example\r\nSubject: lunch\r\n\r\nNoon?\r\n",
	"From: dave@large.example\r\nTo: team@large.example\r\nSubject: release notes\r\n\r\nVersion 2 is out.\r\n",
	"From: erin@large.example\r\nTo: bob@large.example\r\nSubject: invoice 2024-117\r\n\r\nPlease pay by Friday.\r\n",
}

// GenerateLarge writes a large metadata-only Backup Path at dest (missing
// or empty) quickly: every message points at one of a handful of shared
// blobs, and item files are written straight into place by many
// goroutines, without the temporary file, rename and fsync of the
// Backup Path's writers (nobody reads dest until it returns). The result
// is the same for the same options, except for file times.
//
// Account i (from 0) is largeNNN@large.example; account 0 holds BigAccount
// items, all its messages in Inbox; in the others, a message is in Inbox,
// Projects or Archive by its id, a third of the messages have a second
// state (flagged an hour later) and one in 50 ends deleted.
func GenerateLarge(ctx context.Context, dest string, o LargeOptions) (*LargeReport, error) {
	if o.Accounts == 0 {
		o.Accounts = 100
	}
	if o.BigAccount == 0 {
		o.BigAccount = min(100000, o.Items/2)
	}
	if o.Workers <= 0 {
		o.Workers = 4
	}
	switch {
	case o.Accounts < 1:
		return nil, fmt.Errorf("sample: accounts must be at least 1, got %d", o.Accounts)
	case o.Items < o.Accounts*LargeFolders || o.BigAccount < LargeFolders || o.BigAccount > o.Items-(o.Accounts-1)*LargeFolders:
		return nil, fmt.Errorf("sample: %d items cannot fill %d accounts (big account %d items, %d folders each)", o.Items, o.Accounts, o.BigAccount, LargeFolders)
	}
	if err := prepareDest(dest); err != nil {
		return nil, err
	}
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	p, err := backuppath.Create(dest, backuppath.BackupStat{ServerID: "large", FirstRun: mailbox.MillisOf(base)})
	if err != nil {
		return nil, fmt.Errorf("sample: %w", err)
	}
	p.Write.NoSync = true
	digests := make([]blob.Digest, len(largeBodies))
	for i, b := range largeBodies {
		if digests[i], _, err = p.Blobs.Put([]byte(b)); err != nil {
			return nil, fmt.Errorf("sample: %w", err)
		}
	}
	rep := &LargeReport{Blobs: len(digests)}
	rest := o.Items - o.BigAccount
	for a := 0; a < o.Accounts; a++ {
		n := o.BigAccount
		if a > 0 {
			n = rest / (o.Accounts - 1)
			if a <= rest%(o.Accounts-1) {
				n++
			}
		}
		la := LargeAccount{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", a), Name: fmt.Sprintf("large%03d@large.example", a),
			Items: n, FirstID: 300}
		acct := &mailbox.Account{ID: la.ID, Name: la.Name, Status: mailbox.StatusActive, COSName: "default", Created: mailbox.MillisOf(base)}
		if err := p.WriteAccount(acct); err != nil {
			return nil, fmt.Errorf("sample: %w", err)
		}
		if err := p.WriteAccountStat(la.ID, &backuppath.AccountStat{LastItemID: la.FirstID + n - LargeFolders - 1, ItemCount: n}); err != nil {
			return nil, fmt.Errorf("sample: %w", err)
		}
		for b := 0; b < 100; b++ {
			if err := os.MkdirAll(filepath.Join(p.AccountDir(la.ID), backuppath.ItemsDir, mailbox.Bucket(b)), 0o755); err != nil {
				return nil, fmt.Errorf("sample: %w", err)
			}
		}
		rep.Accounts = append(rep.Accounts, la)
		rep.Items += n
	}

	// Work is handed out in runs of ids of one account.
	type run struct {
		a, from, to int // account index, ids [from, to)
	}
	runs := make(chan run, o.Workers)
	var failed atomic.Pointer[error]
	var wg sync.WaitGroup
	for w := 0; w < o.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range runs {
				if failed.Load() != nil {
					continue
				}
				if err := writeLargeRun(p, rep.Accounts[r.a], r.a == 0, digests, base, r.from, r.to); err != nil {
					failed.CompareAndSwap(nil, &err)
				}
			}
		}()
	}
	const chunk = 2000
feed:
	for a, la := range rep.Accounts {
		last := la.FirstID + la.Items - LargeFolders
		for from := la.FirstID; from < last; from += chunk {
			if ctx.Err() != nil || failed.Load() != nil {
				break feed
			}
			runs <- run{a, from, min(from+chunk, last)}
		}
		if err := writeLargeFolders(p, la, base); err != nil {
			failed.CompareAndSwap(nil, &err)
		}
	}
	close(runs)
	wg.Wait()
	if e := failed.Load(); e != nil {
		return nil, fmt.Errorf("sample %s: %w", dest, *e)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sample %s: %w", dest, err)
	}
	return rep, nil
}

// Folder ids of GenerateLarge's accounts.
const (
	largeProjects = 257
	largeArchive  = 258
)

func writeLargeFolders(p *backuppath.Path, la LargeAccount, base time.Time) error {
	for _, f := range []mailbox.State{
		{Type: mailbox.TypeFolder, FolderID: mailbox.FolderInbox, ParentID: mailbox.FolderInbox, Name: "Projects"},
		{Type: mailbox.TypeFolder, FolderID: mailbox.FolderRoot, ParentID: mailbox.FolderRoot, Name: "Archive"},
	} {
		f.Start = mailbox.MillisOf(base)
		id := largeProjects
		if f.Name == "Archive" {
			id = largeArchive
		}
		if err := writeLargeItem(p, la.ID, &mailbox.Item{ID: id, States: []mailbox.State{f}}); err != nil {
			return err
		}
	}
	return nil
}

func writeLargeRun(p *backuppath.Path, la LargeAccount, big bool, digests []blob.Digest, base time.Time, from, to int) error {
	for id := from; id < to; id++ {
		i := id - la.FirstID
		t := base.Add(time.Duration(i) * time.Minute)
		k := i % len(digests)
		folder := mailbox.FolderInbox
		if !big {
			folder = []int{mailbox.FolderInbox, largeProjects, largeArchive}[i%3]
		}
		st := mailbox.State{Start: mailbox.MillisOf(t), Type: mailbox.TypeMessage, FolderID: folder, Flags: "u",
			Digest: digests[k], Size: int64(len(largeBodies[k])), Date: mailbox.MillisOf(t),
			Subject: "message " + strconv.Itoa(id), From: "sender" + strconv.Itoa(i%97) + "@large.example", To: la.Name}
		it := &mailbox.Item{ID: id, States: []mailbox.State{st}}
		if !big && i%3 == 0 {
			st.Start += 3600_000
			st.Flags = "f"
			it.States = append(it.States, st)
		}
		if !big && i%50 == 0 {
			st.Start += 7200_000
			st.Deleted = true
			it.States = append(it.States, st)
		}
		if err := writeLargeItem(p, la.ID, it); err != nil {
			return err
		}
	}
	return nil
}

// writeLargeItem writes the item file straight into its usual place.
func writeLargeItem(p *backuppath.Path, accountID string, it *mailbox.Item) error {
	b, err := it.Encode()
	if err != nil {
		return fmt.Errorf("encode item %d: %w", it.ID, err)
	}
	return os.WriteFile(filepath.Join(p.Root, backuppath.ItemRelPath(accountID, it.ID)), b, 0o644)
}
