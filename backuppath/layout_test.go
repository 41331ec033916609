package backuppath

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cbfs/cbfs/mailbox"
)

// rawPath is a Backup Path made by hand (no Create: it makes server/).
func rawPath(t *testing.T, dirs ...string) *Path {
	t.Helper()
	root := t.TempDir()
	for _, d := range dirs {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	p, err := Open(root)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return p
}

const cfgName = "config_03_05_24#01_00_00.json"

func TestServersDir(t *testing.T) {
	cfg := `{"date": 1714698000000, "serverId": "srv-1"}`
	tests := []struct {
		name        string
		dirs        []string
		files       []string // relative paths of config files
		use, ignore string
	}{
		{"server only", []string{"server"}, []string{"server/" + cfgName}, "server", ""},
		{"servers only", []string{"servers"}, []string{"servers/" + cfgName}, "servers", ""},
		{"servers only, empty", []string{"servers"}, nil, "servers", ""},
		{"both, files in servers", []string{"server", "servers"}, []string{"servers/" + cfgName}, "servers", "server"},
		{"both, files in server", []string{"server", "servers"}, []string{"server/" + cfgName}, "server", "servers"},
		{"both, files in both", []string{"server", "servers"}, []string{"server/" + cfgName, "servers/" + cfgName}, "server", "servers"},
		{"both empty", []string{"server", "servers"}, nil, "server", "servers"},
		{"neither", []string{"accounts"}, nil, "server", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := rawPath(t, tc.dirs...)
			for _, f := range tc.files {
				writeRaw(t, p, f, cfg)
			}
			use, ign := p.ServerDirs()
			if use != tc.use || ign != tc.ignore {
				t.Fatalf("ServerDirs = %q, %q; want %q, %q", use, ign, tc.use, tc.ignore)
			}
			files, err := p.ServerFiles()
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range files {
				if filepath.Dir(f.RelPath) != tc.use {
					t.Errorf("server file %s read from the wrong folder (want %s/)", f.RelPath, tc.use)
				}
				if _, err := p.ReadServerConfig(f.RelPath); err != nil {
					t.Errorf("ReadServerConfig(%s): %v", f.RelPath, err)
				}
			}
			if len(tc.files) > 0 && len(files) != 1 {
				t.Errorf("ServerFiles = %v, want the one in %s/", files, tc.use)
			}
		})
	}

	t.Run("a path with only servers/ is a Backup Path", func(t *testing.T) {
		root := t.TempDir()
		if _, err := Open(root); err == nil {
			t.Fatal("an empty folder opened as a Backup Path")
		}
		if err := os.Mkdir(filepath.Join(root, ServerDirAlt), 0o755); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(root); err != nil {
			t.Fatalf("Open with servers/: %v", err)
		}
	})

	t.Run("a symbolic link named servers is not the folder", func(t *testing.T) {
		p := rawPath(t, "accounts", "elsewhere")
		writeRaw(t, p, "elsewhere/"+cfgName, cfg)
		if err := os.Symlink(filepath.Join(p.Root, "elsewhere"), filepath.Join(p.Root, ServerDirAlt)); err != nil {
			t.Fatal(err)
		}
		if use, _ := p.ServerDirs(); use != ServerDir {
			t.Errorf("ServerDirs followed a link: %q", use)
		}
		if files, _ := p.ServerFiles(); len(files) != 0 {
			t.Errorf("ServerFiles through a link: %v", files)
		}
	})

	t.Run("writes go where reads come from; Create keeps servers/ alone", func(t *testing.T) {
		root := t.TempDir()
		if err := os.Mkdir(filepath.Join(root, ServerDirAlt), 0o755); err != nil {
			t.Fatal(err)
		}
		p, err := Create(root, BackupStat{ServerID: "srv-1"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Lstat(filepath.Join(root, ServerDir)); err == nil {
			t.Errorf("Create made server/ beside servers/")
		}
		rel, err := p.WriteServerConfig(&ServerConfig{Date: mailbox.MillisOf(time.Date(2024, 5, 3, 1, 0, 0, 0, time.UTC))})
		if err != nil {
			t.Fatal(err)
		}
		if rel != filepath.Join(ServerDirAlt, cfgName) {
			t.Errorf("WriteServerConfig wrote %s, want it in servers/", rel)
		}
	})
}

func TestDriveItems(t *testing.T) {
	p := rawPath(t, "accounts")
	writeRaw(t, p, "drive_items/0a/7c0e8a5e-0000-4000-8000-00000000000a", "12345")
	writeRaw(t, p, "drive_items/ff/7c0e8a5e-0000-4000-8000-0000000000ff", "1234567")
	writeRaw(t, p, filepath.Join(AccountsDir, acctID, "drive_items/3c/7c0e8a5e-0000-4000-8000-00000000003c"), "xyz")
	writeRaw(t, p, filepath.Join(AccountsDir, acctID, AccountInfoFile), `{"name": "john@example.com"}`)
	mkdir(t, p, filepath.Join(AccountsDir, acct2ID))
	// A link in drive_items is counted as other, never followed.
	writeRaw(t, p, "outside/big", strings.Repeat("x", 1000))
	if err := os.Symlink(filepath.Join(p.Root, "outside"), filepath.Join(p.Root, "drive_items", "ee")); err != nil {
		t.Fatal(err)
	}
	d, err := p.DriveItems(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := DriveItems{
		Folders: []string{"drive_items", "accounts/" + acctID + "/drive_items"},
		Files:   3, Bytes: 15, Other: 1,
	}
	if !reflect.DeepEqual(d, want) {
		t.Errorf("DriveItems = %+v, want %+v", d, want)
	}
	if d, err := rawPath(t, "accounts").DriveItems(context.Background()); err != nil || d.Files != 0 || len(d.Folders) != 0 {
		t.Errorf("DriveItems without drive_items = %+v, %v", d, err)
	}
}
