package purge

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/internal/atomicfile"
	"github.com/cbfs/cbfs/internal/confined"
)

// LegalHoldFile is the legal hold list at the root of a Backup Path
// (docs/FORMAT.md § 10.1). It lives in the Backup Path, not in a state
// directory, so that every purge of that path — run by any service, from
// any copy — honours it.
const LegalHoldFile = "cbfs_legal_hold"

// Hold is one account under legal hold.
type Hold struct {
	ID   string    `json:"id"`
	Name string    `json:"name,omitempty"` // when it was set
	Set  time.Time `json:"set"`            // when it was set (UTC)
}

// legalHoldJSON is the file's content.
type legalHoldJSON struct {
	Version  int    `json:"version"`
	Accounts []Hold `json:"accounts"`
}

// ReadLegalHold lists the accounts of bp under legal hold, by account id.
// No file is no hold; a file that cannot be read or parsed is an error (a
// purge must not guess what is held).
func ReadLegalHold(bp *backuppath.Path) (map[string]Hold, error) {
	raw, err := confined.ReadFile(bp.Root, LegalHoldFile, backuppath.MaxMetadataFile)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]Hold{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("legal hold list %s: %w", LegalHoldFile, err)
	}
	var v legalHoldJSON
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("legal hold list %s: %v", filepath.Join(bp.Root, LegalHoldFile), err)
	}
	out := make(map[string]Hold, len(v.Accounts))
	for _, h := range v.Accounts {
		if h.ID = strings.TrimSpace(h.ID); h.ID != "" {
			out[h.ID] = h
		}
	}
	return out, nil
}

// WriteLegalHold replaces bp's legal hold list (atomically). The caller
// holds the Backup Path's writer lock.
func WriteLegalHold(bp *backuppath.Path, holds map[string]Hold) error {
	v := legalHoldJSON{Version: 1, Accounts: make([]Hold, 0, len(holds))}
	for _, h := range holds {
		v.Accounts = append(v.Accounts, h)
	}
	sort.Slice(v.Accounts, func(i, j int) bool { return v.Accounts[i].ID < v.Accounts[j].ID })
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(bp.Root, LegalHoldFile), 0o644, func(w io.Writer) error {
		_, err := w.Write(append(b, '\n'))
		return err
	})
}
