package operations

import "github.com/cbfs/cbfs/scan"

// ReloadAccounts reads --accounts-file again (cbfs serve's SIGHUP): later
// operations use the new list; one running keeps the list it started
// with. It returns the number of accounts, -1 when there is no
// --accounts-file; on an error the previous list stays.
func (r *Runner) ReloadAccounts() (int, error) {
	if r.s.AccountsFile == "" {
		return -1, nil
	}
	accts, err := ReadAccountsFile(r.s.AccountsFile)
	if err != nil {
		return 0, err
	}
	r.mu.Lock()
	r.accounts = accts
	r.mu.Unlock()
	return len(accts), nil
}

// accountList is the account list now (see ReloadAccounts).
func (r *Runner) accountList() []scan.AccountSpec {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.accounts
}
