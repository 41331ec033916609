package ctl

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/sample"
)

// TestFolderChainNames: getItem's chain-only folders (the folder items on
// one folder's chain) name every folder of the sample, nested ones
// included, as the whole-account tree does.
func TestFolderChainNames(t *testing.T) {
	dest := filepath.Join(t.TempDir(), "bp")
	if _, err := sample.Generate(context.Background(), dest, sample.Options{Accounts: 3, Messages: 20}); err != nil {
		t.Fatal(err)
	}
	p, err := backuppath.Open(dest)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := p.AccountIDs()
	if err != nil {
		t.Fatal(err)
	}
	nested := 0
	for _, acct := range ids {
		full := newFolders(p, acct)
		full.load()
		if len(full.paths) == 0 {
			t.Fatalf("account %s: no folders", acct)
		}
		for id, want := range full.paths {
			if got := newFolderChain(p, acct).Path(id); got != want {
				t.Errorf("account %s folder %d: chain names it %q, the whole tree %q", acct, id, got, want)
			}
			if filepath.Dir(want) != "/" {
				nested++
			}
		}
		if got := newFolderChain(p, acct).Path(999999); got != "" {
			t.Errorf("account %s: no folder 999999, named %q", acct, got)
		}
	}
	if nested == 0 {
		t.Error("the sample has no nested folder: the chain was not walked")
	}
}
