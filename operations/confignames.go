package operations

import (
	"fmt"
	"strings"

	"github.com/cbfs/cbfs/backuppath"
)

// ForceScope prefixes a config request's scope ("force:cos") to set a
// toggle of a name nobody knows (cbctl config set --force). It travels in
// the scope because the service's ConfigRequest has no other field for it.
const ForceScope = "force:"

// knownName reports whether name is a known account or COS (scope
// "account" or "cos"): one of the Backup Path's accounts (by name or id),
// a COS named in their account_info or in the last configuration backup,
// or a line of --accounts-file. Names are compared case-insensitively.
func (r *Runner) knownName(scope, name string) (bool, []string) {
	key := strings.ToLower(strings.TrimSpace(name))
	var seen []string
	found := false
	add := func(s string) {
		if s == "" {
			return
		}
		if strings.ToLower(s) == key {
			found = true
		}
		if len(seen) < 5 {
			seen = append(seen, s)
		}
	}
	account := strings.EqualFold(scope, "account")
	for _, a := range r.accountList() {
		if account {
			add(a.Name)
		} else {
			add(a.COS)
		}
	}
	if bp, err := r.openPath(); err == nil {
		if entries, err := bp.Accounts(); err == nil {
			for _, e := range entries {
				if account {
					add(e.ID)
				}
				if e.Account == nil {
					continue
				}
				if account {
					add(e.Account.Name)
				} else {
					add(e.Account.COSName)
				}
			}
		}
		if !account {
			if files, err := bp.ServerFiles(); err == nil {
				for i := len(files) - 1; i >= 0; i-- {
					if files[i].Kind != backuppath.KindConfig {
						continue
					}
					if cfg, err := bp.ReadServerConfig(files[i].RelPath); err == nil {
						for _, c := range cfg.COS {
							add(c.Name)
						}
					}
					break
				}
			}
		}
	}
	return found, seen
}

// checkConfigName refuses to set a toggle of an unknown name (a typo
// would otherwise print its value and succeed, changing nothing).
func (r *Runner) checkConfigName(scope, name string) error {
	ok, seen := r.knownName(scope, name)
	if ok {
		return nil
	}
	known := "none known"
	if len(seen) > 0 {
		known = "known: " + strings.Join(seen, ", ")
		if len(seen) == 5 {
			known += ", ..."
		}
	}
	return fmt.Errorf("no %s named %q in the Backup Path %s or the accounts file (%s); --force sets it anyway", strings.ToLower(scope), name, r.s.BackupPath, known)
}
