package backuppath

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/cbfs/cbfs/internal/atomicfile"
)

// TestItemCount: ItemCount counts exactly what ItemFiles returns, whatever
// the buckets hold (getAvailableAccounts prints it as ITEMS).
func TestItemCount(t *testing.T) {
	p := openTestPath(t)
	items := filepath.Join(AccountsDir, acctID, ItemsDir)
	for _, rel := range []string{
		"57/257", "58/258", "99/1099", // usual places
		"00/257",                            // the same id in another bucket: both are listed
		"07/notanid",                        // a name that is no id
		"07/00012",                          // a zero-padded name
		"07/99999999999",                    // over MaxItemID
		"07/" + atomicfile.TempPrefix + "x", // a writer's temporary file
		"loose",                             // a file beside the buckets
	} {
		writeRaw(t, p, filepath.Join(items, rel), "[]")
	}
	mkdir(t, p, filepath.Join(items, "08", "300")) // a folder named by an id
	if err := os.Symlink(filepath.Join(p.Root, items, "57"), filepath.Join(p.Root, items, "09")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/nowhere", filepath.Join(p.Root, items, "58", "358")); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{acctID, acct2ID} { // acct2ID has no items folder
		files, _, err := p.ItemFiles(id)
		if err != nil {
			t.Fatal(err)
		}
		n, err := p.ItemCount(id)
		if err != nil {
			t.Fatal(err)
		}
		if n != len(files) {
			t.Errorf("account %s: ItemCount %d, ItemFiles %d", id, n, len(files))
		}
		if id == acctID && n < 5 {
			t.Errorf("account %s: only %d item files found", id, n)
		}
	}
	if _, err := p.ItemCount("../x"); err == nil {
		t.Error("ItemCount accepted an account id outside accounts/")
	}
}
