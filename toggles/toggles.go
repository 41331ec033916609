// Package toggles keeps the COS- and account-level backupEnabled toggles
// (Carbonio's "config set cos NAME backupEnabled false") and applies them to
// a Backup Path.
//
// The toggles live in the service's state directory, in
// <state-dir>/backup_config.json (statedir.Dir.Toggles), not in the Backup Path: they are the
// service's configuration. Apply mirrors their effect into each account's
// account_info: an account whose backup is disabled is marked deleted for
// the backup system (status "deleted", deletedDate, backupEnabled false and
// the cbfs key "cbfsDeletedBy": "backupEnabled"), which starts its retention
// clock; re-enabling it marks it active again. An account deleted for real
// (without that key) is never touched.
//
// Precedence: an account-level setting wins, else the COS setting, else
// backup is enabled.
package toggles

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/internal/atomicfile"
	"github.com/cbfs/cbfs/mailbox"
	"github.com/cbfs/cbfs/statedir"
)

// Attribute is the only attribute the toggles know (matched without regard
// to case).
const Attribute = "backupEnabled"

// DeletedByKey is the account_info key (cbfs's own) that Apply writes when
// it marks an account deleted because its backup is disabled, with the
// value DeletedByToggle. Only accounts carrying it are re-activated when
// backup is enabled again.
const (
	DeletedByKey    = "cbfsDeletedBy"
	DeletedByToggle = "backupEnabled"
)

// Scope says what a toggle applies to.
type Scope string

// Scopes.
const (
	ScopeCOS     Scope = "cos"
	ScopeAccount Scope = "account"
)

// ParseScope accepts "cos" and "account" (any case).
func ParseScope(s string) (Scope, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "cos":
		return ScopeCOS, nil
	case "account":
		return ScopeAccount, nil
	}
	return "", fmt.Errorf("unknown scope %q (want cos or account)", s)
}

// Policy is one snapshot of the toggles: COS name -> enabled, account name
// -> enabled. Names are kept lower-case (COS names and addresses are matched
// without regard to case, as LDAP does). A nil *Policy enables everything.
type Policy struct {
	COS      map[string]bool `json:"cos,omitempty"`
	Accounts map[string]bool `json:"accounts,omitempty"`
}

func key(name string) string { return strings.ToLower(strings.TrimSpace(name)) }

// Enabled reports whether backup is enabled for the account accountName
// whose COS is cosName ("" if none): the account's own setting if it has
// one, else its COS's, else true.
func (p *Policy) Enabled(accountName, cosName string) bool {
	if p == nil {
		return true
	}
	if v, ok := p.Accounts[key(accountName)]; ok {
		return v
	}
	if cosName != "" {
		if v, ok := p.COS[key(cosName)]; ok {
			return v
		}
	}
	return true
}

// Setting returns the explicit setting of one COS or account (set=false if
// it has none).
func (p *Policy) Setting(scope Scope, name string) (value, set bool) {
	if p == nil {
		return true, false
	}
	m := p.COS
	if scope == ScopeAccount {
		m = p.Accounts
	}
	value, set = m[key(name)]
	if !set {
		value = true
	}
	return value, set
}

// AccountEnabled is Enabled for an account as account_info describes it
// (its name and cosName; the cosId when it has no cosName).
func (p *Policy) AccountEnabled(a *mailbox.Account) bool {
	cos := a.COSName
	if cos == "" {
		cos = a.COSID
	}
	return p.Enabled(a.Name, cos)
}

// Store is the toggles file of one state directory. Every call reads the
// file afresh (so a foreground cbctl and a service see each other's
// changes) and every change replaces it atomically. Safe for concurrent use
// within a process.
type Store struct {
	path string
	mu   sync.Mutex
}

// Open returns the store in stateDir (the file need not exist yet). It
// fails if the file exists and cannot be read or is malformed.
func Open(stateDir statedir.Dir) (*Store, error) {
	if stateDir == "" {
		return nil, errors.New("backup toggles: no state directory given")
	}
	s := &Store{path: stateDir.Toggles()}
	if _, err := s.load(); err != nil {
		return nil, err
	}
	return s, nil
}

// Path is the toggles file.
func (s *Store) Path() string { return s.path }

func (s *Store) load() (*Policy, error) {
	b, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return &Policy{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("backup toggles: %w", err)
	}
	var p Policy
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("backup toggles %s: malformed JSON: %w", s.path, err)
	}
	// Normalize names written by hand.
	norm := func(m map[string]bool) map[string]bool {
		out := make(map[string]bool, len(m))
		for k, v := range m {
			out[key(k)] = v
		}
		return out
	}
	p.COS, p.Accounts = norm(p.COS), norm(p.Accounts)
	return &p, nil
}

func (s *Store) save(p *Policy) error {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return fmt.Errorf("backup toggles: encode: %w", err)
	}
	if err := atomicfile.WriteFile(s.path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("backup toggles: %w", err)
	}
	return nil
}

// Policy returns the current toggles.
func (s *Store) Policy() (*Policy, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.load()
}

// checkArgs validates a name and the attribute name.
func checkArgs(scope Scope, name, attr string) error {
	if scope != ScopeCOS && scope != ScopeAccount {
		return fmt.Errorf("unknown scope %q (want cos or account)", scope)
	}
	if key(name) == "" {
		return fmt.Errorf("config %s: no %s name given", scope, scope)
	}
	if !strings.EqualFold(strings.TrimSpace(attr), Attribute) {
		return fmt.Errorf("config %s %s: unknown attribute %q (only %s is supported)", scope, name, attr, Attribute)
	}
	return nil
}

// ParseValue accepts "true" and "false" (any case).
func ParseValue(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fmt.Errorf("%s must be true or false, not %q", Attribute, v)
}

// Set sets backupEnabled of a COS or account to value ("true" or "false").
func (s *Store) Set(scope Scope, name, attr, value string) error {
	if err := checkArgs(scope, name, attr); err != nil {
		return err
	}
	v, err := ParseValue(value)
	if err != nil {
		return fmt.Errorf("config set %s %s: %w", scope, name, err)
	}
	return s.change(func(p *Policy) {
		m := &p.COS
		if scope == ScopeAccount {
			m = &p.Accounts
		}
		if *m == nil {
			*m = map[string]bool{}
		}
		(*m)[key(name)] = v
	})
}

// Unset removes the explicit setting of a COS or account (it inherits
// again: an account from its COS, a COS the default, true). Unsetting what
// is not set is not an error.
func (s *Store) Unset(scope Scope, name, attr string) error {
	if err := checkArgs(scope, name, attr); err != nil {
		return err
	}
	return s.change(func(p *Policy) {
		if scope == ScopeAccount {
			delete(p.Accounts, key(name))
		} else {
			delete(p.COS, key(name))
		}
	})
}

func (s *Store) change(fn func(*Policy)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.load()
	if err != nil {
		return err
	}
	fn(p)
	return s.save(p)
}

// Get returns the explicit setting of a COS or account: value and set=true,
// or set=false (and value true, the default) if it has none.
func (s *Store) Get(scope Scope, name, attr string) (value, set bool, err error) {
	if err := checkArgs(scope, name, attr); err != nil {
		return false, false, err
	}
	p, err := s.Policy()
	if err != nil {
		return false, false, err
	}
	value, set = p.Setting(scope, name)
	return value, set, nil
}

// Format renders a setting for "config get": "true", "false", or
// "true (not set: default)".
func Format(value, set bool) string {
	if !set {
		return strconv.FormatBool(value) + " (not set: default)"
	}
	return strconv.FormatBool(value)
}

// Config runs one "config ACTION SCOPE NAME ATTR [VALUE]" command (action
// get, set or unset) and returns the value to show: for get the setting
// (Format), for set and unset the explicit setting afterwards.
func (s *Store) Config(action, scope, name, attr, value string) (string, error) {
	sc, err := ParseScope(scope)
	if err != nil {
		return "", err
	}
	switch strings.ToLower(action) {
	case "get":
		if value != "" {
			return "", fmt.Errorf("config get takes no value")
		}
		v, set, err := s.Get(sc, name, attr)
		if err != nil {
			return "", err
		}
		return Format(v, set), nil
	case "set":
		if err := s.Set(sc, name, attr, value); err != nil {
			return "", err
		}
	case "unset":
		if value != "" {
			return "", fmt.Errorf("config unset takes no value")
		}
		if err := s.Unset(sc, name, attr); err != nil {
			return "", err
		}
	default:
		return "", fmt.Errorf("unknown config action %q (want get, set or unset)", action)
	}
	v, set, err := s.Get(sc, name, attr)
	if err != nil {
		return "", err
	}
	return Format(v, set), nil
}

// ApplyResult says what Apply changed.
type ApplyResult struct {
	Accounts    int      `json:"accounts"`              // accounts looked at
	Disabled    []string `json:"disabled,omitempty"`    // names newly marked deleted (backup disabled)
	Reactivated []string `json:"reactivated,omitempty"` // names marked active again
	Unreadable  []string `json:"unreadable,omitempty"`  // account ids whose account_info could not be read
}

// Report is the human summary.
func (r *ApplyResult) Report() string {
	var b strings.Builder
	b.WriteString("- stats -\n")
	fmt.Fprintf(&b, "Accounts: %d\n", r.Accounts)
	fmt.Fprintf(&b, "Marked Deleted (backup disabled): %d\n", len(r.Disabled))
	fmt.Fprintf(&b, "Marked Active (backup enabled): %d\n", len(r.Reactivated))
	fmt.Fprintf(&b, "Unreadable Accounts: %d\n", len(r.Unreadable))
	for _, s := range []struct {
		title string
		names []string
	}{{"disabled accounts", r.Disabled}, {"reactivated accounts", r.Reactivated}, {"unreadable accounts", r.Unreadable}} {
		if len(s.names) > 0 {
			fmt.Fprintf(&b, "\n- %s -\n%s\n", s.title, strings.Join(s.names, "\n"))
		}
	}
	return b.String()
}

// IsDeletedByToggle reports whether account_info a was marked deleted by
// Apply (not deleted for real).
func IsDeletedByToggle(a *mailbox.Account) bool {
	raw, ok := a.Extra[DeletedByKey]
	if !ok {
		return false
	}
	var v string
	return json.Unmarshal(raw, &v) == nil && v == DeletedByToggle
}

// Apply brings every account of bp in line with the toggles, at time now:
//
//   - backup disabled, account active: status "deleted", deletedDate now
//     (kept if already set), backupEnabled false, cbfsDeletedBy
//     "backupEnabled". Its retention clock starts at deletedDate.
//   - backup enabled, account marked deleted by Apply (cbfsDeletedBy):
//     status "active", deletedDate, backupEnabled and cbfsDeletedBy removed.
//   - an account deleted for real (status deleted without cbfsDeletedBy) is
//     left as it is, whatever the toggles say.
//
// account_info files are rewritten atomically, unknown keys kept. An
// unreadable account_info is reported and skipped. A nil *Policy enables
// everything (and so only reactivates).
func (p *Policy) Apply(ctx context.Context, bp *backuppath.Path, now time.Time) (*ApplyResult, error) {
	ids, err := bp.AccountIDs()
	if err != nil {
		return nil, fmt.Errorf("apply backup toggles: %w", err)
	}
	res := &ApplyResult{}
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("apply backup toggles: %w", err)
		}
		a, err := bp.ReadAccount(id)
		if err != nil {
			res.Unreadable = append(res.Unreadable, id)
			continue
		}
		res.Accounts++
		enabled := p.AccountEnabled(a)
		changed := false
		switch {
		case !enabled && a.Status != mailbox.StatusDeleted:
			a.Status = mailbox.StatusDeleted
			if a.DeletedDate == 0 {
				a.DeletedDate = mailbox.MillisOf(now)
			}
			f := false
			a.BackupEnabled = &f
			if a.Extra == nil {
				a.Extra = mailbox.Extra{}
			}
			a.Extra[DeletedByKey] = json.RawMessage(strconv.Quote(DeletedByToggle))
			res.Disabled = append(res.Disabled, a.Name)
			changed = true
		case enabled && a.Status == mailbox.StatusDeleted && IsDeletedByToggle(a):
			a.Status = mailbox.StatusActive
			a.DeletedDate = 0
			a.BackupEnabled = nil
			delete(a.Extra, DeletedByKey)
			res.Reactivated = append(res.Reactivated, a.Name)
			changed = true
		}
		if changed {
			if err := bp.WriteAccount(a); err != nil {
				return res, fmt.Errorf("apply backup toggles to %s: %w", a.Name, err)
			}
		}
	}
	sort.Strings(res.Disabled)
	sort.Strings(res.Reactivated)
	res.Unreadable = slices.Clip(res.Unreadable)
	return res, nil
}
