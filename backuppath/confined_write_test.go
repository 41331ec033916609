package backuppath

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cbfs/cbfs/internal/confined"
	"github.com/cbfs/cbfs/mailbox"
)

// Writes into a Backup Path whose folders are symbolic links (to a folder
// outside, or inside the path) are refused, never made through the link.
func TestWritesNotThroughLinks(t *testing.T) {
	for _, link := range []string{AccountsDir, filepath.Join(AccountsDir, acctID), ServerDir} {
		t.Run(link, func(t *testing.T) {
			p, err := Create(t.TempDir(), BackupStat{ServerID: "s"})
			if err != nil {
				t.Fatal(err)
			}
			p.Write.NoSync = true
			out := t.TempDir()
			os.RemoveAll(filepath.Join(p.Root, link))
			if err := os.Symlink(out, filepath.Join(p.Root, link)); err != nil {
				t.Fatal(err)
			}
			it := &mailbox.Item{ID: 5, States: []mailbox.State{{Start: 1, Type: mailbox.TypeMessage, FolderID: 2}}}
			writes := map[string]error{
				"WriteAccount":     p.WriteAccount(&mailbox.Account{ID: acctID, Name: "a@example.com"}),
				"WriteAccountStat": p.WriteAccountStat(acctID, &AccountStat{}),
				"WriteItem":        p.WriteItem(acctID, it),
				"CreateItem":       p.CreateItem(acctID, &mailbox.Item{ID: 6, States: it.States}),
				"AppendIDMap":      p.AppendIDMap(acctID, 1, 2),
			}
			_, writes["WriteCustomizations"] = p.WriteCustomizations(time.Unix(1, 0), []byte("tgz"))
			for name, err := range writes {
				if link == ServerDir && name != "WriteCustomizations" {
					continue
				}
				if link != ServerDir && name == "WriteCustomizations" {
					continue
				}
				if !errors.Is(err, confined.ErrSymlink) {
					t.Errorf("%s through a symlinked %s: %v, want ErrSymlink", name, link, err)
				}
			}
			if ents, _ := os.ReadDir(out); len(ents) > 0 {
				t.Errorf("written through the link: %v", ents)
			}
		})
	}
}

// RemoveLeftover removes on folder descriptors: accounts/ swapped for a
// link to a folder holding leftovers of the same names, again and again
// while leftovers are removed, never makes it remove anything there.
func TestRemoveLeftoverWhileSwapped(t *testing.T) {
	p, err := Create(t.TempDir(), BackupStat{ServerID: "s"})
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	const n = 300
	var ls []Leftover
	for i := 0; i < n; i++ {
		name := fmt.Sprintf(".cbfs-tmp-%03d", i)
		for _, base := range []string{filepath.Join(p.Root, AccountsDir), out} {
			if err := os.MkdirAll(filepath.Join(base, name, "items"), 0o755); err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(base, name, "items", "1"), []byte("x"), 0o600)
		}
		ls = append(ls, Leftover{RelPath: AccountsDir + "/" + name, Dir: true})
	}
	accts, link := filepath.Join(p.Root, AccountsDir), filepath.Join(p.Root, "accounts.link")
	if err := os.Symlink(out, link); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	swaps := 0
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			if err := unix.Renameat2(unix.AT_FDCWD, accts, unix.AT_FDCWD, link, unix.RENAME_EXCHANGE); err != nil {
				t.Errorf("swap: %v", err)
				return
			}
			runtime.Gosched()
			if err := unix.Renameat2(unix.AT_FDCWD, accts, unix.AT_FDCWD, link, unix.RENAME_EXCHANGE); err != nil {
				t.Errorf("swap back: %v", err)
				return
			}
			swaps++
			runtime.Gosched()
		}
	}()
	removed := 0
	for _, l := range ls {
		if err := p.RemoveLeftover(l); err == nil {
			removed++
		} else if testing.Verbose() {
			t.Log(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	t.Logf("%d of %d removed, %d swaps", removed, n, swaps)
	ents, _ := os.ReadDir(out)
	if len(ents) != n {
		t.Errorf("%d of the %d folders outside were removed through the link", n-len(ents), n)
	}
	for _, e := range ents {
		if _, err := os.Stat(filepath.Join(out, e.Name(), "items", "1")); err != nil {
			t.Errorf("outside %s: %v", e.Name(), err)
		}
	}
}
