// Package policy is the former name of package toggles (the COS/account
// backupEnabled toggles). It forwards to toggles only until purge/ and
// export/, edited on other branches, import toggles themselves; then it
// goes.
//
// Deprecated: use package toggles.
package policy

import (
	"github.com/cbfs/cbfs/statedir"
	"github.com/cbfs/cbfs/toggles"
)

// Forwarded names (see package toggles).
type (
	Policy      = toggles.Policy
	ApplyResult = toggles.ApplyResult
	Scope       = toggles.Scope
	Store       = toggles.Store
)

// Forwarded constants (see package toggles).
const (
	Attribute    = toggles.Attribute
	ScopeCOS     = toggles.ScopeCOS
	ScopeAccount = toggles.ScopeAccount
)

// Open is toggles.Open of the state directory stateDir.
func Open(stateDir string) (*Store, error) { return toggles.Open(statedir.Dir(stateDir)) }
