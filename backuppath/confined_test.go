package backuppath

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/internal/confined"
	"github.com/cbfs/cbfs/mailbox"
)

// A Backup Path is foreign input: its metadata files may be symbolic links
// to files elsewhere, or FIFOs. None may be followed, read or waited for.

// outside writes content to a file outside the Backup Path and returns its
// path.
func outside(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "outside")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func symlink(t *testing.T, p *Path, target, rel string) {
	t.Helper()
	mkdir(t, p, filepath.Dir(rel))
	os.Remove(filepath.Join(p.Root, rel))
	if err := os.Symlink(target, filepath.Join(p.Root, rel)); err != nil {
		t.Fatal(err)
	}
}

func fifo(t *testing.T, p *Path, rel string) {
	t.Helper()
	mkdir(t, p, filepath.Dir(rel))
	os.Remove(filepath.Join(p.Root, rel))
	if err := syscall.Mkfifo(filepath.Join(p.Root, rel), 0o644); err != nil {
		t.Fatal(err)
	}
}

const (
	validAccount = `{"id":"` + acctID + `","name":"secret@example.com"}`
	validItem    = `[{"startDate":1714521600000,"type":"MESSAGE","folderId":2}]`
	shadow       = "root:$6$SECRETHASH:19000:0:99999:7:::\n"
)

func TestConfinedReads(t *testing.T) {
	accountInfo := filepath.Join(AccountsDir, acctID, AccountInfoFile)
	item := ItemRelPath(acctID, 77)
	readAccount := func(p *Path) error { _, err := p.ReadAccount(acctID); return err }
	readItem := func(p *Path) error { _, err := p.ReadItem(acctID, 77); return err }
	tests := []struct {
		name   string
		setup  func(t *testing.T, p *Path)
		read   func(p *Path) error
		want   error // blob.ErrUnreadable or blob.ErrBroken
		reason error // the confined sentinel
	}{
		{
			name:   "account_info symlinked to a valid one outside",
			setup:  func(t *testing.T, p *Path) { symlink(t, p, outside(t, validAccount), accountInfo) },
			read:   readAccount,
			want:   blob.ErrUnreadable,
			reason: confined.ErrSymlink,
		},
		{
			name: "account_info symlinked inside the Backup Path",
			setup: func(t *testing.T, p *Path) {
				writeRaw(t, p, "elsewhere.json", validAccount)
				symlink(t, p, "../../elsewhere.json", accountInfo)
			},
			read:   readAccount,
			want:   blob.ErrUnreadable,
			reason: confined.ErrSymlink,
		},
		{
			name: "account folder symlinked outside",
			setup: func(t *testing.T, p *Path) {
				dir := filepath.Dir(outside(t, ""))
				if err := os.WriteFile(filepath.Join(dir, AccountInfoFile), []byte(validAccount), 0o600); err != nil {
					t.Fatal(err)
				}
				symlink(t, p, dir, filepath.Join(AccountsDir, acctID))
			},
			read:   readAccount,
			want:   blob.ErrUnreadable,
			reason: confined.ErrSymlink,
		},
		{
			name:   "account_info is a FIFO",
			setup:  func(t *testing.T, p *Path) { fifo(t, p, accountInfo) },
			read:   readAccount,
			want:   blob.ErrUnreadable,
			reason: confined.ErrNotRegular,
		},
		{
			name:   "item file symlinked to a valid one outside",
			setup:  func(t *testing.T, p *Path) { symlink(t, p, outside(t, validItem), item) },
			read:   readItem,
			want:   blob.ErrUnreadable,
			reason: confined.ErrSymlink,
		},
		{
			name:   "item file symlinked to a shadow file",
			setup:  func(t *testing.T, p *Path) { symlink(t, p, outside(t, shadow), item) },
			read:   readItem,
			want:   blob.ErrUnreadable,
			reason: confined.ErrSymlink,
		},
		{
			name:   "item file is a FIFO",
			setup:  func(t *testing.T, p *Path) { fifo(t, p, item) },
			read:   readItem,
			want:   blob.ErrUnreadable,
			reason: confined.ErrNotRegular,
		},
		{
			name:   "account_stat is a FIFO",
			setup:  func(t *testing.T, p *Path) { fifo(t, p, filepath.Join(AccountsDir, acctID, AccountStatFile)) },
			read:   func(p *Path) error { _, err := p.ReadAccountStat(acctID); return err },
			want:   blob.ErrUnreadable,
			reason: confined.ErrNotRegular,
		},
		{
			name:   "backupstat symlinked",
			setup:  func(t *testing.T, p *Path) { symlink(t, p, outside(t, `{"serverId":"x"}`), BackupStatFile) },
			read:   func(p *Path) error { _, err := p.ReadBackupStat(); return err },
			want:   blob.ErrUnreadable,
			reason: confined.ErrSymlink,
		},
		{
			name:   "map file is a FIFO",
			setup:  func(t *testing.T, p *Path) { fifo(t, p, MapPrefix+"srv") },
			read:   func(p *Path) error { _, err := p.ReadMap("srv"); return err },
			want:   blob.ErrUnreadable,
			reason: confined.ErrNotRegular,
		},
		{
			name: "id_mapper.log symlinked",
			setup: func(t *testing.T, p *Path) {
				symlink(t, p, outside(t, "1 2\n"), filepath.Join(AccountsDir, acctID, IDMapperFile))
			},
			read:   func(p *Path) error { _, err := p.ReadIDMap(acctID); return err },
			want:   blob.ErrUnreadable,
			reason: confined.ErrSymlink,
		},
		{
			name: "server config is a FIFO",
			setup: func(t *testing.T, p *Path) {
				fifo(t, p, "server/config_01_05_24#00_00_00.json")
			},
			read: func(p *Path) error {
				_, err := p.ReadServerConfig("server/config_01_05_24#00_00_00.json")
				return err
			},
			want:   blob.ErrUnreadable,
			reason: confined.ErrNotRegular,
		},
		{
			name: "a user-given server config file that is a FIFO",
			setup: func(t *testing.T, p *Path) {
				fifo(t, p, "given.json")
			},
			read: func(p *Path) error {
				_, err := ReadServerConfigFile(filepath.Join(p.Root, "given.json"))
				return err
			},
			want:   blob.ErrUnreadable,
			reason: confined.ErrNotRegular,
		},
		{
			name: "item file larger than MaxMetadataFile",
			setup: func(t *testing.T, p *Path) {
				writeRaw(t, p, item, validItem)
				// Sparse: no disk space, no read.
				if err := os.Truncate(filepath.Join(p.Root, item), MaxMetadataFile+1); err != nil {
					t.Fatal(err)
				}
			},
			read:   readItem,
			want:   blob.ErrBroken,
			reason: confined.ErrTooLarge,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := openTestPath(t)
			tc.setup(t, p)
			done := make(chan error)
			go func() { done <- tc.read(p) }()
			var err error
			select {
			case err = <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("blocked for 5 s")
			}
			if !errors.Is(err, tc.want) || !errors.Is(err, tc.reason) {
				t.Fatalf("error %v, want %v and %v", err, tc.want, tc.reason)
			}
			if tc.want == blob.ErrUnreadable && (errors.Is(err, blob.ErrBroken) || errors.Is(err, blob.ErrMissing)) {
				t.Errorf("error %v is also broken or missing", err)
			}
			for _, leak := range []string{"SECRET", "secret@", "root:", "invalid character"} {
				if strings.Contains(err.Error(), leak) {
					t.Errorf("the error shows the file's content (%q): %v", leak, err)
				}
			}
		})
	}
}

// TestSymlinkedFoldersNotListed: a symbolic link to a folder under accounts/
// is no account, and one under items/ is a stray name (others), not a
// bucket to descend into.
func TestSymlinkedFoldersNotListed(t *testing.T) {
	p := openTestPath(t)
	if err := p.WriteAccount(&mailbox.Account{ID: acctID, Name: "a@example.com"}); err != nil {
		t.Fatal(err)
	}
	if err := p.AppendState(acctID, 1, mailbox.State{Start: ms(1, 0), Type: mailbox.TypeMessage, FolderID: mailbox.FolderInbox}); err != nil {
		t.Fatal(err)
	}
	elsewhere := t.TempDir()
	for _, rel := range []string{
		filepath.Join(elsewhere, "items", "05", "5"),
		filepath.Join(elsewhere, "5"),
	} {
		if err := os.MkdirAll(filepath.Dir(rel), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(rel, []byte(validItem), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	symlink(t, p, elsewhere, filepath.Join(AccountsDir, acct2ID))
	symlink(t, p, elsewhere, filepath.Join(AccountsDir, acctID, ItemsDir, "05"))

	ids, err := p.AccountIDs()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids, []string{acctID}) {
		t.Errorf("AccountIDs = %v, want only %s", ids, acctID)
	}
	files, others, err := p.ItemFiles(acctID)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 || files[0].ItemID != 1 {
		t.Errorf("files %+v, want item 1 only", files)
	}
	if want := filepath.Join(AccountsDir, acctID, ItemsDir, "05"); !slices.Equal(others, []string{want}) {
		t.Errorf("others %v, want %v", others, want)
	}
	if _, err := p.BucketFiles(acctID, "05"); !errors.Is(err, confined.ErrSymlink) || !errors.Is(err, blob.ErrUnreadable) {
		t.Errorf("BucketFiles of a symlinked bucket: %v", err)
	}
	if _, _, err := p.ItemFiles(acct2ID); !errors.Is(err, confined.ErrSymlink) {
		t.Errorf("ItemFiles of a symlinked account folder: %v", err)
	}
}
