package backuppath

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/mailbox"
)

// checkName rejects a name that cannot be one folder or file name inside
// the Backup Path (empty, ".", "..", or holding '/' or NUL), so an id from a
// command line or a file never reaches outside the tree.
func checkName(what, name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return fmt.Errorf("invalid %s %q", what, name)
	}
	return nil
}

// AccountDir is the folder of account id.
func (p *Path) AccountDir(id string) string { return filepath.Join(p.Root, AccountsDir, id) }

// AccountIDs lists the account folders under accounts/, sorted. Anything
// else there, a symbolic link to a folder included, is no account.
func (p *Path) AccountIDs() ([]string, error) {
	ents, err := p.listDir(AccountsDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	ids := make([]string, 0, len(ents))
	for _, e := range ents {
		if e.IsDir() {
			ids = append(ids, e.Name())
		}
	}
	return ids, nil
}

// ReadAccount reads accounts/<id>/account_info, in any dialect the
// model's decoder reads (mailbox.Decoder.ParseAccount).
func (p *Path) ReadAccount(id string) (*mailbox.Account, error) {
	if err := checkName("account id", id); err != nil {
		return nil, fmt.Errorf("read account: %w", err)
	}
	path := filepath.Join(p.AccountDir(id), AccountInfoFile)
	b, err := p.readFile(filepath.Join(AccountsDir, id, AccountInfoFile))
	if err != nil {
		return nil, err
	}
	a, err := p.decoder().ParseAccount(id, b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: malformed account_info: %w", path, blob.ErrBroken, err)
	}
	return a, nil
}

// WriteAccount replaces the account's account_info.
func (p *Path) WriteAccount(a *mailbox.Account) error {
	if err := checkName("account id", a.ID); err != nil {
		return fmt.Errorf("write account: %w", err)
	}
	return p.writeJSON(filepath.Join(p.AccountDir(a.ID), AccountInfoFile), a)
}

// ReadAccountStat reads accounts/<id>/account_stat.
func (p *Path) ReadAccountStat(id string) (*AccountStat, error) {
	if err := checkName("account id", id); err != nil {
		return nil, fmt.Errorf("read account stat: %w", err)
	}
	var s AccountStat
	if err := p.decodeFile(filepath.Join(AccountsDir, id, AccountStatFile), &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// WriteAccountStat replaces accounts/<id>/account_stat.
func (p *Path) WriteAccountStat(id string, s *AccountStat) error {
	if err := checkName("account id", id); err != nil {
		return fmt.Errorf("write account stat: %w", err)
	}
	return p.writeJSON(filepath.Join(p.AccountDir(id), AccountStatFile), s)
}

// AccountEntry is one account folder and what could be read of it.
type AccountEntry struct {
	ID      string
	Account *mailbox.Account // nil when account_info could not be read
	Err     error
}

// Accounts reads every account_info. A bad file is an entry with its
// error, never fatal.
func (p *Path) Accounts() ([]AccountEntry, error) {
	ids, err := p.AccountIDs()
	if err != nil {
		return nil, err
	}
	out := make([]AccountEntry, len(ids))
	Parallel(len(ids), func(i int) {
		a, err := p.ReadAccount(ids[i])
		out[i] = AccountEntry{ID: ids[i], Account: a, Err: err}
	})
	return out, nil
}

// ReadWorkers is how many small files Parallel reads at once. Reads of
// a cold Backup Path wait on the disk, not the CPU: several in flight let
// the disk (an SSD, a RAID, network storage) serve them together.
const ReadWorkers = 8

// Parallel calls fn(0) ... fn(n-1) from up to ReadWorkers goroutines
// and returns when all have returned. fn must be safe for concurrent use;
// results go into slots the caller indexes by i, so their order is kept.
func Parallel(n int, fn func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < min(n, ReadWorkers); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				fn(i)
			}
		}()
	}
	wg.Wait()
}

// ErrNoAccount: no account has that name or id.
var ErrNoAccount = errors.New("no account")

// FindAccount resolves an account reference (an id, a name, case
// insensitively, or the name the mount lists it under) by the model's one
// rule (mailbox.Resolve: an id first; among accounts sharing a name,
// mailbox.Prefer's choice; then mailbox.ListingNames). An account whose
// account_info cannot be read is that error (the mount lists it by its
// id, as ListingNames does an account without a name).
func (p *Path) FindAccount(ref string) (*mailbox.Account, error) {
	ref = strings.TrimSpace(ref)
	entries, err := p.Accounts()
	if err != nil {
		return nil, err
	}
	accts := make([]mailbox.Account, 0, len(entries))
	bad := map[string]error{}
	for _, e := range entries {
		if e.Account == nil {
			bad[e.ID] = e.Err
			accts = append(accts, mailbox.Account{ID: e.ID})
			continue
		}
		accts = append(accts, *e.Account)
	}
	if a := mailbox.Resolve(accts, ref); a != nil {
		if err, ok := bad[a.ID]; ok {
			return nil, fmt.Errorf("account %s: %w", a.ID, err)
		}
		return a, nil
	}
	return nil, fmt.Errorf("%w %q in %s (neither a name nor an id)", ErrNoAccount, ref, p.Root)
}
