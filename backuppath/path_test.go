package backuppath

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/internal/atomicfile"
	"github.com/cbfs/cbfs/mailbox"
)

const (
	acctID  = "3b3c1a52-0d7a-4b54-9c0c-5a2bd2f4e0c1"
	acct2ID = "7f0e2c8a-1111-4a4a-8b8b-000000000002"
)

// newPath creates an empty Backup Path in a fresh folder.
func openTestPath(t *testing.T) *Path {
	t.Helper()
	p, err := Create(filepath.Join(t.TempDir(), "backup"), BackupStat{ServerID: "srv-1", FirstRun: ms(1, 0)})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return p
}

// writeRaw writes a file (and its folders) under the root, non-atomically,
// as a foreign writer or a damage would.
func writeRaw(t *testing.T, p *Path, rel, content string) {
	t.Helper()
	path := filepath.Join(p.Root, rel)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func mkdir(t *testing.T, p *Path, rel string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(p.Root, rel), 0o755); err != nil {
		t.Fatal(err)
	}
}

// tempFiles lists every atomicfile temporary left anywhere under root.
func tempFiles(t *testing.T, root string) []string {
	t.Helper()
	var left []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), atomicfile.TempPrefix) {
			left = append(left, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return left
}

func TestOpen(t *testing.T) {
	tests := []struct {
		name     string
		setup    func(t *testing.T, dir string) string // returns the path to open
		wantErr  string
		notBPath bool // want ErrNotBackupPath
	}{
		{
			name:    "missing folder",
			setup:   func(t *testing.T, dir string) string { return filepath.Join(dir, "nope") },
			wantErr: "no such folder",
		},
		{
			name: "a file",
			setup: func(t *testing.T, dir string) string {
				f := filepath.Join(dir, "file")
				if err := os.WriteFile(f, []byte("x"), 0o644); err != nil {
					t.Fatal(err)
				}
				return f
			},
			wantErr: "not a folder",
		},
		{
			name:     "empty folder",
			setup:    func(t *testing.T, dir string) string { return dir },
			wantErr:  "not a Backup Path",
			notBPath: true,
		},
		{
			name: "unrelated folder",
			setup: func(t *testing.T, dir string) string {
				os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o644)
				os.Mkdir(filepath.Join(dir, "items2"), 0o755)
				return dir
			},
			wantErr:  "not a Backup Path",
			notBPath: true,
		},
		{
			name: "created path",
			setup: func(t *testing.T, dir string) string {
				if _, err := Create(dir, BackupStat{ServerID: "s"}); err != nil {
					t.Fatal(err)
				}
				return dir
			},
		},
		{
			name: "only server/ (a partial rsync)",
			setup: func(t *testing.T, dir string) string {
				os.Mkdir(filepath.Join(dir, ServerDir), 0o755)
				return dir
			},
		},
		{
			name: "only backupstat",
			setup: func(t *testing.T, dir string) string {
				os.WriteFile(filepath.Join(dir, BackupStatFile), []byte("{}"), 0o644)
				return dir
			},
		},
		{
			name: "relative path",
			setup: func(t *testing.T, dir string) string {
				os.Mkdir(filepath.Join(dir, AccountsDir), 0o755)
				wd, _ := os.Getwd()
				rel, err := filepath.Rel(wd, dir)
				if err != nil {
					t.Skip("no relative path to the temp dir")
				}
				return rel
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.setup(t, t.TempDir())
			p, err := Open(path)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Open(%s) = %v, %v; want error containing %q", path, p, err, tc.wantErr)
				}
				if errors.Is(err, ErrNotBackupPath) != tc.notBPath {
					t.Errorf("errors.Is(%v, ErrNotBackupPath) = %v, want %v", err, !tc.notBPath, tc.notBPath)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open(%s): %v", path, err)
			}
			if !filepath.IsAbs(p.Root) || p.Blobs == nil || p.Blobs.Root() != p.Root {
				t.Errorf("Open(%s) = Root %q Blobs %v, want an absolute root and its blob store", path, p.Root, p.Blobs)
			}
		})
	}
}

func TestCreate(t *testing.T) {
	root := filepath.Join(t.TempDir(), "new", "backup")
	first := BackupStat{ServerID: "srv-1", Hostname: "mail.example.com", FirstRun: ms(1, 0)}
	p, err := Create(root, first)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	for _, d := range []string{AccountsDir, ItemsDir, ServerDir} {
		if fi, err := os.Stat(filepath.Join(root, d)); err != nil || !fi.IsDir() {
			t.Errorf("Create did not make %s/: %v", d, err)
		}
	}
	st, err := p.ReadBackupStat()
	if err != nil {
		t.Fatalf("ReadBackupStat: %v", err)
	}
	want := first
	want.FormatVersion = FormatVersion
	if !reflect.DeepEqual(*st, want) {
		t.Errorf("backupstat = %+v, want %+v", *st, want)
	}

	// A second Create opens the path and keeps the first backupstat.
	if _, err := Create(root, BackupStat{ServerID: "srv-2", FirstRun: ms(9, 0)}); err != nil {
		t.Fatalf("second Create: %v", err)
	}
	st, err = p.ReadBackupStat()
	if err != nil || !reflect.DeepEqual(*st, want) {
		t.Errorf("after a second Create backupstat = %+v, %v; want the first one %+v", st, err, want)
	}
	// An explicit format version is kept.
	p2, err := Create(t.TempDir(), BackupStat{ServerID: "s", FormatVersion: 7})
	if err != nil {
		t.Fatal(err)
	}
	if st, err := p2.ReadBackupStat(); err != nil || st.FormatVersion != 7 {
		t.Errorf("FormatVersion = %+v, %v; want 7", st, err)
	}
	if left := tempFiles(t, root); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
	// Create on a file fails.
	f := filepath.Join(t.TempDir(), "file")
	os.WriteFile(f, nil, 0o644)
	if _, err := Create(f, BackupStat{}); err == nil {
		t.Errorf("Create on a file succeeded")
	}
}

func TestAccounts(t *testing.T) {
	yes := true
	full := &mailbox.Account{
		ID: acctID, Name: "john@example.com", Status: mailbox.StatusActive, DisplayName: "John Smith",
		COSID: "e00428a1-0c00-11d9-836a-000d93afea2a", COSName: "default", Created: ms(1, 0),
		BackupEnabled: &yes,
		Attrs:         map[string]json.RawMessage{"zimbraMailQuota": json.RawMessage(`"0"`)},
		Extra:         mailbox.Extra{"zimbraMailHost": json.RawMessage(`"mail.example.com"`)},
	}
	t.Run("write and read", func(t *testing.T) {
		p := openTestPath(t)
		if err := p.WriteAccount(full); err != nil {
			t.Fatalf("WriteAccount: %v", err)
		}
		got, err := p.ReadAccount(acctID)
		if err != nil {
			t.Fatalf("ReadAccount: %v", err)
		}
		want := *full
		want.NameSource = "name" // what the reader says of where the name came from
		if !reflect.DeepEqual(got, &want) {
			t.Errorf("ReadAccount = %+v, want %+v", got, &want)
		}
		if left := tempFiles(t, p.Root); len(left) > 0 {
			t.Errorf("temporary files left: %v", left)
		}
	})

	tests := []struct {
		name       string
		content    string // account_info of acctID; "" = none
		dir        bool   // account_info is a folder
		wantErr    error
		wantReason string
		check      func(t *testing.T, a *mailbox.Account)
	}{
		{
			name:    "missing status means active",
			content: `{"id":"` + acctID + `","name":"john@example.com"}`,
			check: func(t *testing.T, a *mailbox.Account) {
				if a.Status != mailbox.StatusActive {
					t.Errorf("Status = %q, want %q", a.Status, mailbox.StatusActive)
				}
			},
		},
		{
			name:    "deleted kept",
			content: `{"id":"` + acctID + `","name":"old@example.com","status":"deleted","deletedDate":1700000000000}`,
			check: func(t *testing.T, a *mailbox.Account) {
				if a.Status != mailbox.StatusDeleted || a.DeletedDate != 1700000000000 {
					t.Errorf("got %+v", a)
				}
			},
		},
		{
			name:    "missing id taken from the folder",
			content: `{"name":"john@example.com","status":"active"}`,
			check: func(t *testing.T, a *mailbox.Account) {
				if a.ID != acctID {
					t.Errorf("ID = %q, want %q", a.ID, acctID)
				}
			},
		},
		{
			name:       "id mismatch",
			content:    `{"id":"` + acct2ID + `","name":"john@example.com"}`,
			wantErr:    blob.ErrBroken,
			wantReason: "does not match its folder",
		},
		{
			name:       "missing name",
			content:    `{"id":"` + acctID + `","status":"active"}`,
			wantErr:    blob.ErrBroken,
			wantReason: "has no name",
		},
		{name: "malformed JSON", content: `{"id":`, wantErr: blob.ErrBroken, wantReason: "malformed account_info"},
		{name: "not an object", content: `["john@example.com"]`, wantErr: blob.ErrBroken, wantReason: "malformed account_info"},
		{name: "uninterpretable name", content: `{"name":{"x":1}}`, wantErr: blob.ErrBroken, wantReason: `has no name`},
		{name: "deeply nested", content: strings.Repeat("[", 100000), wantErr: blob.ErrBroken, wantReason: "nested too deeply"},
		{name: "missing file", wantErr: blob.ErrMissing},
		{name: "folder instead of file", dir: true, wantErr: blob.ErrUnreadable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := openTestPath(t)
			rel := filepath.Join(AccountsDir, acctID, AccountInfoFile)
			switch {
			case tc.dir:
				mkdir(t, p, rel)
			case tc.content != "":
				writeRaw(t, p, rel, tc.content)
			default:
				mkdir(t, p, filepath.Dir(rel))
			}
			a, err := p.ReadAccount(acctID)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.wantReason) {
					t.Fatalf("ReadAccount = %+v, %v; want %v with %q", a, err, tc.wantErr, tc.wantReason)
				}
				if !strings.Contains(err.Error(), AccountInfoFile) {
					t.Errorf("error %q does not name the file", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ReadAccount: %v", err)
			}
			tc.check(t, a)
		})
	}
}

func TestAccountIDs(t *testing.T) {
	p := openTestPath(t)
	for _, id := range []string{acct2ID, acctID} {
		if err := p.WriteAccount(&mailbox.Account{ID: id, Name: id + "@example.com"}); err != nil {
			t.Fatal(err)
		}
	}
	writeRaw(t, p, filepath.Join(AccountsDir, "README"), "not an account")
	mkdir(t, p, filepath.Join(AccountsDir, atomicfile.TempPrefix+"123"))
	ids, err := p.AccountIDs()
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{acctID, acct2ID}; !reflect.DeepEqual(ids, want) {
		t.Errorf("AccountIDs = %v, want %v", ids, want)
	}
	// A path without accounts/ has no accounts, and that is no error.
	p2 := &Path{Root: t.TempDir()}
	if ids, err := p2.AccountIDs(); err != nil || len(ids) != 0 {
		t.Errorf("AccountIDs without accounts/ = %v, %v", ids, err)
	}
}

func TestAccountStat(t *testing.T) {
	p := openTestPath(t)
	want := &AccountStat{LastItemID: 258, LastScan: ms(2, 3), ItemCount: 97, BlobBytes: 123456,
		Extra: mailbox.Extra{"future": json.RawMessage(`[1,2]`)}}
	if err := p.WriteAccountStat(acctID, want); err != nil {
		t.Fatal(err)
	}
	got, err := p.ReadAccountStat(acctID)
	if err != nil || !sameJSON(t, got, want) {
		t.Fatalf("ReadAccountStat = %+v, %v; want %+v", got, err, want)
	}
	if _, err := p.ReadAccountStat(acct2ID); !errors.Is(err, blob.ErrMissing) {
		t.Errorf("ReadAccountStat of a missing file: %v, want ErrMissing", err)
	}
}

func TestInvalidIDsRejected(t *testing.T) {
	bad := []string{"", ".", "..", "a/b", "../../etc", "/abs", "x\x00y"}
	st := mailbox.State{Start: 1, Type: mailbox.TypeMessage, FolderID: 2}
	ops := map[string]func(p *Path, id string) error{
		"WriteAccount":     func(p *Path, id string) error { return p.WriteAccount(&mailbox.Account{ID: id, Name: "n@example.com"}) },
		"ReadAccount":      func(p *Path, id string) error { _, err := p.ReadAccount(id); return err },
		"WriteAccountStat": func(p *Path, id string) error { return p.WriteAccountStat(id, &AccountStat{}) },
		"ReadAccountStat":  func(p *Path, id string) error { _, err := p.ReadAccountStat(id); return err },
		"AppendState":      func(p *Path, id string) error { return p.AppendState(id, 5, st) },
		"WriteItem": func(p *Path, id string) error {
			return p.WriteItem(id, &mailbox.Item{ID: 5, States: []mailbox.State{st}})
		},
		"ReadItem":    func(p *Path, id string) error { _, err := p.ReadItem(id, 5); return err },
		"ItemFiles":   func(p *Path, id string) error { _, _, err := p.ItemFiles(id); return err },
		"AppendIDMap": func(p *Path, id string) error { return p.AppendIDMap(id, 1, 2) },
		"ReadIDMap":   func(p *Path, id string) error { _, err := p.ReadIDMap(id); return err },
		"WriteMap":    func(p *Path, id string) error { return p.WriteMap(&Map{ServerID: id}) },
		"ReadMap":     func(p *Path, id string) error { _, err := p.ReadMap(id); return err },
	}
	for name, op := range ops {
		for _, id := range bad {
			t.Run(name+" "+id, func(t *testing.T) {
				outer := t.TempDir()
				p, err := Create(filepath.Join(outer, "a", "backup"), BackupStat{ServerID: "s"})
				if err != nil {
					t.Fatal(err)
				}
				// Something a traversal could reach.
				writeRaw(t, p, filepath.Join(AccountsDir, AccountInfoFile), `{"name":"x@example.com"}`)
				before := listTree(t, outer)
				err = op(p, id)
				if err == nil || !strings.Contains(err.Error(), "invalid") {
					t.Fatalf("%s(%q) = %v, want an invalid-id error", name, id, err)
				}
				if after := listTree(t, outer); !reflect.DeepEqual(before, after) {
					t.Errorf("%s(%q) changed the tree:\n%v\n%v", name, id, before, after)
				}
			})
		}
	}
	// BucketFiles checks its bucket too.
	p := openTestPath(t)
	if _, err := p.BucketFiles(acctID, ".."); err == nil {
		t.Errorf("BucketFiles(..) succeeded")
	}
}

// sameJSON reports whether a and b encode the same. Files are written
// indented, so an unknown key's raw value reads back re-indented: equal as
// JSON, not as bytes.
func sameJSON(t *testing.T, a, b any) bool {
	t.Helper()
	ja, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	jb, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return string(ja) == string(jb)
}

func listTree(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		out = append(out, path)
		return nil
	})
	return out
}

func TestItemFiles(t *testing.T) {
	p := openTestPath(t)
	items := filepath.Join(AccountsDir, acctID, ItemsDir)
	state := `[{"startDate":1,"type":5,"folderId":2,"deleted":false}]`
	for _, rel := range []string{
		"05/105", "05/5", // the usual buckets
		"99/7",       // a bucket that is not the id's last two digits
		"misc/42",    // a bucket not named by digits
		"00/1000000", // a large id
	} {
		writeRaw(t, p, filepath.Join(items, rel), state)
	}
	others := []string{"05/abc", "05/007", "05/-3", "05/12.json", "README"}
	for _, rel := range others {
		writeRaw(t, p, filepath.Join(items, rel), "x")
	}
	// Writes in progress or left by a crash are not part of the backup.
	writeRaw(t, p, filepath.Join(items, "05", atomicfile.TempPrefix+"0815"), "half")
	mkdir(t, p, filepath.Join(items, atomicfile.TempPrefix+"dir"))
	// A folder where an item file should be is still an item (unreadable).
	mkdir(t, p, filepath.Join(items, "13", "13"))

	files, gotOthers, err := p.ItemFiles(acctID)
	if err != nil {
		t.Fatalf("ItemFiles: %v", err)
	}
	var gotIDs []int
	var gotPaths []string
	for _, f := range files {
		gotIDs = append(gotIDs, f.ItemID)
		gotPaths = append(gotPaths, f.RelPath)
		if f.ItemID != 13 && (f.Size != int64(len(state)) || f.ModTime.IsZero()) {
			t.Errorf("%s: size %d mtime %v, want %d and a time", f.RelPath, f.Size, f.ModTime, len(state))
		}
	}
	wantIDs := []int{5, 7, 13, 42, 105, 1000000}
	wantPaths := []string{"05/5", "99/7", "13/13", "misc/42", "05/105", "00/1000000"}
	for i := range wantPaths {
		wantPaths[i] = filepath.Join(items, wantPaths[i])
	}
	if !reflect.DeepEqual(gotIDs, wantIDs) || !reflect.DeepEqual(gotPaths, wantPaths) {
		t.Errorf("ItemFiles ids %v paths %v\nwant %v %v", gotIDs, gotPaths, wantIDs, wantPaths)
	}
	var wantOthers []string
	for _, o := range []string{"05/-3", "05/007", "05/12.json", "05/abc", "README"} {
		wantOthers = append(wantOthers, filepath.Join(items, o))
	}
	if !reflect.DeepEqual(gotOthers, wantOthers) {
		t.Errorf("others = %v\nwant %v", gotOthers, wantOthers)
	}

	// An account without items/ has none.
	if f, o, err := p.ItemFiles(acct2ID); err != nil || len(f) != 0 || len(o) != 0 {
		t.Errorf("ItemFiles of an account without items = %v %v %v", f, o, err)
	}
}

func TestItemFilesDuplicateID(t *testing.T) {
	// One id in two buckets: both are reported, in a fixed order, and
	// FindItem prefers the usual bucket.
	p := openTestPath(t)
	items := filepath.Join(AccountsDir, acctID, ItemsDir)
	for _, b := range []string{"zz", "07", "aa"} {
		writeRaw(t, p, filepath.Join(items, b, "7"), `[{"startDate":1}]`)
	}
	for run := 0; run < 5; run++ {
		files, _, err := p.ItemFiles(acctID)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, f := range files {
			got = append(got, f.RelPath)
		}
		want := []string{filepath.Join(items, "07/7"), filepath.Join(items, "aa/7"), filepath.Join(items, "zz/7")}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("ItemFiles = %v, want %v", got, want)
		}
	}
	if rel, err := p.FindItem(acctID, 7); err != nil || rel != ItemRelPath(acctID, 7) {
		t.Errorf("FindItem = %q, %v; want the usual bucket", rel, err)
	}
}

func TestFindItem(t *testing.T) {
	p := openTestPath(t)
	items := filepath.Join(AccountsDir, acctID, ItemsDir)
	writeRaw(t, p, filepath.Join(items, "42", "7"), `[{"startDate":1}]`) // not where a writer would put it
	writeRaw(t, p, ItemRelPath(acctID, 258), `[{"startDate":1}]`)

	tests := []struct {
		id      int
		want    string
		missing bool
	}{
		{id: 7, want: filepath.Join(items, "42", "7")},
		{id: 258, want: filepath.Join(items, "58", "258")},
		{id: 8, missing: true},
		{id: 42, missing: true},
	}
	for _, tc := range tests {
		rel, err := p.FindItem(acctID, tc.id)
		if tc.missing {
			if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "no item") {
				t.Errorf("FindItem(%d) = %q, %v; want a not-exist error", tc.id, rel, err)
			}
			continue
		}
		if err != nil || rel != tc.want {
			t.Errorf("FindItem(%d) = %q, %v; want %q", tc.id, rel, err, tc.want)
		}
		if _, err := p.ReadItem(acctID, tc.id); err != nil {
			t.Errorf("ReadItem(%d): %v", tc.id, err)
		}
	}
	if got := ItemRelPath(acctID, 5); got != filepath.Join(items, "05", "5") {
		t.Errorf("ItemRelPath(5) = %q", got)
	}
	if got := mailbox.Bucket(1200); got != "00" {
		t.Errorf("mailbox.Bucket(1200) = %q, want 00", got)
	}
}

func TestAppendState(t *testing.T) {
	p := openTestPath(t)
	d1 := blob.Sum([]byte("v1"))
	s1 := mailbox.State{Start: ms(1, 8), Type: mailbox.TypeMessage, FolderID: mailbox.FolderInbox, Flags: "u", Digest: d1, Size: 2}
	s2 := mailbox.State{Start: ms(2, 8), Type: mailbox.TypeMessage, FolderID: mailbox.FolderInbox, Digest: d1, Size: 2}
	s3 := mailbox.State{Start: ms(3, 8), Type: mailbox.TypeMessage, FolderID: mailbox.FolderTrash, Deleted: true}

	if err := p.AppendState(acctID, 258, s1); err != nil {
		t.Fatalf("AppendState to a new item: %v", err)
	}
	rel := ItemRelPath(acctID, 258)
	first, err := os.ReadFile(filepath.Join(p.Root, rel))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendState(acctID, 258, s3); err != nil {
		t.Fatal(err)
	}
	if err := p.AppendState(acctID, 258, s2); err != nil { // arrives late: sorted in
		t.Fatal(err)
	}
	it, err := p.ReadItem(acctID, 258)
	if err != nil {
		t.Fatal(err)
	}
	// The deletion names no blob: it keeps the content of the state before it.
	s3r := s3
	s3r.Digest, s3r.Size, s3r.Inherited = d1, 2, mailbox.Bit(mailbox.CDigest)|mailbox.Bit(mailbox.CSize)
	if want := []mailbox.State{s1, s2, s3r}; !reflect.DeepEqual(it.States, want) {
		t.Errorf("states = %+v\nwant %+v", it.States, want)
	}
	// The earlier state's line is unchanged, byte for byte.
	now, _ := os.ReadFile(filepath.Join(p.Root, rel))
	firstLine := strings.Split(string(first), "\n")[1]
	if !strings.HasPrefix(string(now), "[\n"+firstLine) {
		t.Errorf("first state rewritten:\nbefore %s\nafter %s", first, now)
	}

	// Unknown keys of states written by someone else survive an append.
	foreign := filepath.Join(AccountsDir, acctID, ItemsDir, "other", "300")
	writeRaw(t, p, foreign, `[{"startDate":1000,"type":5,"folderId":2,"deleted":false,"zimbraRevision":12}]`)
	if err := p.AppendState(acctID, 300, s3); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(p.Root, ItemRelPath(acctID, 300))); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("AppendState made a second file for item 300 in the usual bucket: %v", err)
	}
	it, err = p.ReadItemFile(foreign, 300)
	if err != nil {
		t.Fatal(err)
	}
	if len(it.States) != 2 || string(it.States[0].Extra["zimbraRevision"]) != "12" {
		t.Errorf("foreign item after append: %+v", it.States)
	}

	// A broken item is not overwritten.
	brokenRel := ItemRelPath(acctID, 400)
	writeRaw(t, p, brokenRel, `[{"startDate":`)
	if err := p.AppendState(acctID, 400, s1); !errors.Is(err, blob.ErrBroken) {
		t.Errorf("AppendState to a broken item: %v, want ErrBroken", err)
	}
	if b, _ := os.ReadFile(filepath.Join(p.Root, brokenRel)); string(b) != `[{"startDate":` {
		t.Errorf("broken item overwritten: %s", b)
	}
	if left := tempFiles(t, p.Root); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func TestWriteItem(t *testing.T) {
	p := openTestPath(t)
	tests := []struct {
		name    string
		it      *mailbox.Item
		wantErr bool
	}{
		{name: "ok", it: &mailbox.Item{ID: 9, States: []mailbox.State{{Start: 1, Type: mailbox.TypeContact, FolderID: mailbox.FolderContacts}}}},
		{name: "no states", it: &mailbox.Item{ID: 10}, wantErr: true},
		{name: "negative id", it: &mailbox.Item{ID: -1, States: []mailbox.State{{Start: 1}}}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := p.WriteItem(acctID, tc.it)
			if tc.wantErr != (err != nil) {
				t.Fatalf("WriteItem = %v, want error %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			got, err := p.ReadItem(acctID, tc.it.ID)
			if err != nil || !reflect.DeepEqual(got, tc.it) {
				t.Errorf("ReadItem = %+v, %v; want %+v", got, err, tc.it)
			}
		})
	}
}

func TestErrorClassification(t *testing.T) {
	tests := []struct {
		name     string
		setup    func(t *testing.T, p *Path)
		read     func(p *Path) error
		want     error // ErrUnreadable, ErrMissing or ErrBroken
		notWants []error
	}{
		{
			name:     "item file is a folder",
			setup:    func(t *testing.T, p *Path) { mkdir(t, p, ItemRelPath(acctID, 77)) },
			read:     func(p *Path) error { _, err := p.ReadItem(acctID, 77); return err },
			want:     blob.ErrUnreadable,
			notWants: []error{blob.ErrBroken, blob.ErrMissing},
		},
		{
			name: "item file is a folder in another bucket",
			setup: func(t *testing.T, p *Path) {
				mkdir(t, p, filepath.Join(AccountsDir, acctID, ItemsDir, "xx", "77"))
			},
			read:     func(p *Path) error { _, err := p.ReadItem(acctID, 77); return err },
			want:     blob.ErrUnreadable,
			notWants: []error{blob.ErrBroken, blob.ErrMissing},
		},
		{
			name:     "malformed item JSON",
			setup:    func(t *testing.T, p *Path) { writeRaw(t, p, ItemRelPath(acctID, 77), `[{"startDate":1,`) },
			read:     func(p *Path) error { _, err := p.ReadItem(acctID, 77); return err },
			want:     blob.ErrBroken,
			notWants: []error{blob.ErrUnreadable},
		},
		{
			name:     "item without states",
			setup:    func(t *testing.T, p *Path) { writeRaw(t, p, ItemRelPath(acctID, 77), "[]\n") },
			read:     func(p *Path) error { _, err := p.ReadItem(acctID, 77); return err },
			want:     blob.ErrBroken,
			notWants: []error{blob.ErrUnreadable},
		},
		{
			name:     "ReadItemFile of a vanished file",
			setup:    func(t *testing.T, p *Path) {},
			read:     func(p *Path) error { _, err := p.ReadItemFile(ItemRelPath(acctID, 77), 77); return err },
			want:     blob.ErrMissing,
			notWants: []error{blob.ErrBroken},
		},
		{
			name: "backupstat is a folder",
			setup: func(t *testing.T, p *Path) {
				os.Remove(filepath.Join(p.Root, BackupStatFile))
				mkdir(t, p, BackupStatFile)
			},
			read:     func(p *Path) error { _, err := p.ReadBackupStat(); return err },
			want:     blob.ErrUnreadable,
			notWants: []error{blob.ErrBroken, blob.ErrMissing},
		},
		{
			name:     "backupstat malformed",
			setup:    func(t *testing.T, p *Path) { writeRaw(t, p, BackupStatFile, "serverId=x\n") },
			read:     func(p *Path) error { _, err := p.ReadBackupStat(); return err },
			want:     blob.ErrBroken,
			notWants: []error{blob.ErrUnreadable},
		},
		{
			name:  "map file malformed",
			setup: func(t *testing.T, p *Path) { writeRaw(t, p, MapPrefix+"srv", `{"accounts":`) },
			read:  func(p *Path) error { _, err := p.ReadMap("srv"); return err },
			want:  blob.ErrBroken,
		},
		{
			name: "server config truncated",
			setup: func(t *testing.T, p *Path) {
				writeRaw(t, p, "server/config_01_05_24#00_00_00.json", `{"date":1714521600000,"serverConfig":{`)
			},
			read: func(p *Path) error { _, err := p.ReadServerConfig("server/config_01_05_24#00_00_00.json"); return err },
			want: blob.ErrBroken,
		},
		{
			name: "items bucket list fails",
			setup: func(t *testing.T, p *Path) {
				// A non-directory bucket is reported in others; a bucket that
				// cannot be listed makes the account's item list unreadable.
				mkdir(t, p, filepath.Join(AccountsDir, acctID, ItemsDir, "05"))
				os.Chmod(filepath.Join(p.Root, AccountsDir, acctID, ItemsDir, "05"), 0)
				t.Cleanup(func() { os.Chmod(filepath.Join(p.Root, AccountsDir, acctID, ItemsDir, "05"), 0o755) })
				if os.Geteuid() == 0 {
					t.Skip("root reads any folder")
				}
			},
			read: func(p *Path) error { _, _, err := p.ItemFiles(acctID); return err },
			want: blob.ErrUnreadable,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := openTestPath(t)
			tc.setup(t, p)
			err := tc.read(p)
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v is not %v", err, tc.want)
			}
			for _, nw := range tc.notWants {
				if errors.Is(err, nw) {
					t.Errorf("error %v is also %v", err, nw)
				}
			}
			wantClass := "unreadable"
			if tc.want == blob.ErrBroken {
				wantClass = "broken"
			}
			if c := blob.Class(err); c != wantClass {
				t.Errorf("blob.Class = %q, want %q", c, wantClass)
			}
		})
	}
}

func TestBadItemDoesNotSpoilOthers(t *testing.T) {
	p := openTestPath(t)
	good := mailbox.State{Start: 1, Type: mailbox.TypeMessage, FolderID: 2}
	if err := p.AppendState(acctID, 1, good); err != nil {
		t.Fatal(err)
	}
	writeRaw(t, p, ItemRelPath(acctID, 2), "{")
	mkdir(t, p, ItemRelPath(acctID, 3))
	files, _, err := p.ItemFiles(acctID)
	if err != nil || len(files) != 3 {
		t.Fatalf("ItemFiles = %v, %v", files, err)
	}
	want := map[int]string{1: "ok", 2: "broken", 3: "unreadable"}
	for _, f := range files {
		_, err := p.ReadItemFile(f.RelPath, f.ItemID)
		if got := blob.Class(err); got != want[f.ItemID] {
			t.Errorf("item %d: %s (%v), want %s", f.ItemID, got, err, want[f.ItemID])
		}
	}
}

func TestIDMap(t *testing.T) {
	t.Run("round trip", func(t *testing.T) {
		p := openTestPath(t)
		pairs := [][2]int{{258, 1001}, {259, 1002}, {300, 1003}, {258, 1010}} // 258 restored twice: last wins
		for _, pr := range pairs {
			if err := p.AppendIDMap(acctID, pr[0], pr[1]); err != nil {
				t.Fatalf("AppendIDMap: %v", err)
			}
		}
		b, err := os.ReadFile(filepath.Join(p.AccountDir(acctID), IDMapperFile))
		if err != nil {
			t.Fatal(err)
		}
		if want := "258 1001\n259 1002\n300 1003\n258 1010\n"; string(b) != want {
			t.Errorf("id_mapper.log = %q, want %q", b, want)
		}
		m, err := p.ReadIDMap(acctID)
		if err != nil {
			t.Fatal(err)
		}
		if want := map[int]int{258: 1010, 259: 1002, 300: 1003}; !reflect.DeepEqual(m, want) {
			t.Errorf("ReadIDMap = %v, want %v", m, want)
		}
		if left := tempFiles(t, p.Root); len(left) > 0 {
			t.Errorf("temporary files left: %v", left)
		}
	})
	tests := []struct {
		name     string
		content  string
		want     map[int]int
		badLine  int
		longLine bool
	}{
		{name: "blank lines and CRLF", content: "\n1 2\r\n\n  3\t4  \n", want: map[int]int{1: 2, 3: 4}},
		{name: "no final newline", content: "1 2\n3 4", want: map[int]int{1: 2, 3: 4}},
		{name: "empty", content: "", want: map[int]int{}},
		{name: "one field", content: "1 2\n5\n", badLine: 2},
		{name: "three fields", content: "1 2 3\n", badLine: 1},
		{name: "not a number", content: "1 2\n3 4\nabc 5\n", badLine: 3},
		{name: "arrow syntax", content: "1 -> 2\n", badLine: 1},
		{name: "second not a number", content: "7 x\n", badLine: 1},
		{name: "very long line", longLine: true, badLine: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := openTestPath(t)
			content := tc.content
			if tc.longLine {
				content = "1 2\n" + strings.Repeat("9", 100_000) + " x\n3 4\n"
			}
			writeRaw(t, p, filepath.Join(AccountsDir, acctID, IDMapperFile), content)
			m, err := p.ReadIDMap(acctID)
			if tc.badLine > 0 {
				wantLine := "line " + itoa(tc.badLine) + ":"
				if !errors.Is(err, blob.ErrBroken) || !strings.Contains(err.Error(), wantLine) {
					t.Fatalf("ReadIDMap = %v, %v; want ErrBroken at %q", m, err, wantLine)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(m, tc.want) {
				t.Fatalf("ReadIDMap = %v, %v; want %v", m, err, tc.want)
			}
		})
	}
	t.Run("missing", func(t *testing.T) {
		p := openTestPath(t)
		if _, err := p.ReadIDMap(acctID); !errors.Is(err, blob.ErrMissing) {
			t.Errorf("ReadIDMap of a missing file: %v, want ErrMissing", err)
		}
	})
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestMapFiles(t *testing.T) {
	p := openTestPath(t)
	maps := []*Map{
		{ServerID: "srv-b", Date: ms(4, 12), Accounts: map[string]string{acctID: acct2ID}},
		{ServerID: "srv-a", Accounts: map[string]string{}, Extra: mailbox.Extra{"domains": json.RawMessage(`{"old.example":"new.example"}`)}},
	}
	for _, m := range maps {
		if err := p.WriteMap(m); err != nil {
			t.Fatalf("WriteMap: %v", err)
		}
	}
	mkdir(t, p, MapPrefix+"dir")              // a folder is not a map file
	writeRaw(t, p, MapPrefix, "{}")           // no server id
	writeRaw(t, p, "mapping_x", "{}")         // not the prefix
	writeRaw(t, p, atomicfile.TempPrefix, "") // a write in progress
	ids, err := p.MapFiles()
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"srv-a", "srv-b"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("MapFiles = %v, want %v", ids, want)
	}
	for _, m := range maps {
		got, err := p.ReadMap(m.ServerID)
		if err != nil || !sameJSON(t, got, m) {
			t.Errorf("ReadMap(%s) = %+v, %v; want %+v", m.ServerID, got, err, m)
		}
	}
	if _, err := p.ReadMap("srv-c"); !errors.Is(err, blob.ErrMissing) {
		t.Errorf("ReadMap of a missing server: %v", err)
	}
}

func TestServerFileName(t *testing.T) {
	cet := time.FixedZone("CET", 3600)
	tests := []struct {
		kind string
		t    time.Time
		want string
	}{
		{KindConfig, time.Date(2022, 12, 28, 14, 14, 29, 0, time.UTC), "config_28_12_22#14_14_29.json"},
		{KindCustomizations, time.Date(2022, 12, 28, 4, 1, 14, 0, time.UTC), "customizations_28_12_22#04_01_14.tar.gz"},
		{KindConfig, time.Date(2022, 12, 28, 5, 1, 14, 0, cet), "config_28_12_22#04_01_14.json"}, // written in UTC
		{KindConfig, time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), "config_01_01_00#00_00_00.json"},
		{KindConfig, time.Date(2068, 12, 31, 23, 59, 59, 0, time.UTC), "config_31_12_68#23_59_59.json"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			name := ServerFileName(tc.kind, tc.t)
			if name != tc.want {
				t.Fatalf("ServerFileName = %q, want %q", name, tc.want)
			}
			kind, got, ok := ParseServerFileName(name)
			if !ok || kind != tc.kind || !got.Equal(tc.t) || got.Location() != time.UTC {
				t.Fatalf("ParseServerFileName(%q) = %q, %v, %v; want %q, %v", name, kind, got, ok, tc.kind, tc.t)
			}
		})
	}
	// Seconds below one are not part of the name.
	if n := ServerFileName(KindConfig, time.Date(2024, 5, 1, 0, 0, 0, 999e6, time.UTC)); n != "config_01_05_24#00_00_00.json" {
		t.Errorf("ServerFileName with milliseconds = %q", n)
	}
	rejects := []string{
		"", "config", "config_.json", "config_28_12_22#14_14_29", "config_28_12_22#14_14_29.json.gz",
		"config_28_12_22#4_01_14.json",    // one-digit hour
		"config_28_12_2022#14_14_29.json", // four-digit year
		"config_28-12-22#14_14_29.json", "config_28_12_22_14_14_29.json",
		"config_31_02_22#14_14_29.json",   // no 31 February
		"config_28_12_22#24_00_00.json",   // no hour 24
		"config_28_12_22#14_14_29.tar.gz", // config is JSON
		"customizations_28_12_22#04_01_14.json",
		"Config_28_12_22#14_14_29.json",
		"customization_28_12_22#04_01_14.tar.gz",
		atomicfile.TempPrefix + "config_28_12_22#14_14_29.json",
	}
	for _, name := range rejects {
		if kind, tm, ok := ParseServerFileName(name); ok {
			t.Errorf("ParseServerFileName(%q) = %q, %v, accepted", name, kind, tm)
		}
	}
}

func TestServerFiles(t *testing.T) {
	p := openTestPath(t)
	t1 := time.Date(2024, 5, 1, 1, 0, 0, 0, time.UTC)
	t2 := time.Date(2024, 5, 2, 1, 0, 0, 0, time.UTC)
	t0 := time.Date(2023, 12, 31, 23, 0, 0, 0, time.UTC) // older, though its name sorts last
	for _, tm := range []time.Time{t2, t1, t0} {
		if _, err := p.WriteServerConfig(&ServerConfig{Date: mailbox.MillisOf(tm), ServerID: "srv-1"}); err != nil {
			t.Fatalf("WriteServerConfig: %v", err)
		}
	}
	tgz := []byte("\x1f\x8b not really a tar.gz")
	rel, err := p.WriteCustomizations(t1, tgz)
	if err != nil {
		t.Fatalf("WriteCustomizations: %v", err)
	}
	if want := filepath.Join(ServerDir, "customizations_01_05_24#01_00_00.tar.gz"); rel != want {
		t.Errorf("WriteCustomizations = %q, want %q", rel, want)
	}
	writeRaw(t, p, filepath.Join(ServerDir, "notes.txt"), "x")
	mkdir(t, p, filepath.Join(ServerDir, "config_03_05_24#01_00_00.json")) // a folder
	writeRaw(t, p, filepath.Join(ServerDir, atomicfile.TempPrefix+"9"), "x")

	files, err := p.ServerFiles()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range files {
		got = append(got, f.Name)
		if f.RelPath != filepath.Join(ServerDir, f.Name) || f.Size == 0 || f.ModTime.IsZero() || f.Date.Location() != time.UTC {
			t.Errorf("%+v: want a relative path, a size, a mtime and a UTC date", f)
		}
		if f.Name == "customizations_01_05_24#01_00_00.tar.gz" && (f.Kind != KindCustomizations || f.Size != int64(len(tgz)) || !f.Date.Equal(t1)) {
			t.Errorf("customizations entry %+v", f)
		}
	}
	want := []string{
		"config_31_12_23#23_00_00.json",
		"config_01_05_24#01_00_00.json", // ties by name: config before customizations
		"customizations_01_05_24#01_00_00.tar.gz",
		"config_02_05_24#01_00_00.json",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ServerFiles = %v\nwant %v", got, want)
	}
	if files, err := (&Path{Root: t.TempDir()}).ServerFiles(); err != nil || len(files) != 0 {
		t.Errorf("ServerFiles without server/ = %v, %v", files, err)
	}
}

func TestWriteServerConfig(t *testing.T) {
	p := openTestPath(t)
	date := mailbox.MillisOf(time.Date(2022, 12, 28, 14, 14, 29, 0, time.UTC))
	c := &ServerConfig{
		Date: date, ServerID: "srv-1", Hostname: "mail.example.com",
		ServerConfig: map[string]json.RawMessage{"zimbraMailMode": json.RawMessage(`"https"`)},
		GlobalConfig: map[string]json.RawMessage{"zimbraMtaMaxMessageSize": json.RawMessage(`"10240000"`)},
		Domains:      []Record{{ID: "d-1", Name: "example.com", Attrs: map[string]json.RawMessage{"zimbraDomainStatus": json.RawMessage(`"active"`)}}},
		COS:          []Record{{ID: "c-1", Name: "default"}},
		DistributionLists: []Record{{ID: "dl-1", Name: "staff@example.com", Members: []string{"john@example.com"},
			Extra: mailbox.Extra{"hidden": json.RawMessage(`true`)}}},
	}
	rel, err := p.WriteServerConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(ServerDir, "config_28_12_22#14_14_29.json"); rel != want {
		t.Errorf("WriteServerConfig = %q, want %q", rel, want)
	}
	for _, path := range []string{rel, filepath.Join(p.Root, rel)} { // relative and absolute
		got, err := p.ReadServerConfig(path)
		if err != nil || !reflect.DeepEqual(got, c) {
			t.Errorf("ReadServerConfig(%s) = %+v, %v\nwant %+v", path, got, err, c)
		}
	}
	// Rewriting the same date replaces the file.
	c.Hostname = "mail2.example.com"
	if _, err := p.WriteServerConfig(c); err != nil {
		t.Fatal(err)
	}
	if got, err := p.ReadServerConfig(rel); err != nil || got.Hostname != "mail2.example.com" {
		t.Errorf("after rewrite: %+v, %v", got, err)
	}
	if _, err := p.WriteServerConfig(&ServerConfig{}); err == nil {
		t.Errorf("WriteServerConfig without a date succeeded")
	}
	if _, err := p.WriteCustomizations(time.Date(2022, 12, 28, 4, 1, 14, 0, time.UTC), []byte("tgz")); err != nil {
		t.Fatal(err)
	}
	if left := tempFiles(t, p.Root); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
	ents, _ := os.ReadDir(filepath.Join(p.Root, ServerDir))
	if len(ents) != 2 {
		t.Errorf("server/ holds %d entries, want 2", len(ents))
	}
	if _, err := ReadServerConfigFile(filepath.Join(p.Root, "nope.json")); !errors.Is(err, blob.ErrMissing) {
		t.Errorf("ReadServerConfigFile of a missing file: %v", err)
	}
}

func TestCreateItem(t *testing.T) {
	p := openTestPath(t)
	it := &mailbox.Item{ID: 257, States: []mailbox.State{{Start: ms(1, 8), Type: mailbox.TypeMessage, FolderID: mailbox.FolderInbox}}}
	if err := p.CreateItem(acctID, it); err != nil {
		t.Fatal(err)
	}
	got, err := p.ReadItem(acctID, 257)
	if err != nil || !reflect.DeepEqual(got.States, it.States) {
		t.Fatalf("ReadItem = %+v, %v; want %+v", got, err, it.States)
	}
	if err := p.CreateItem(acctID, it); err == nil {
		t.Error("CreateItem replaced an existing item")
	}
	if err := p.CreateItem(acctID, &mailbox.Item{ID: 258}); err == nil {
		t.Error("CreateItem wrote an item with no state")
	}
	if err := p.CreateItem("../x", it); err == nil {
		t.Error("CreateItem accepted a bad account id")
	}
}

func ms(day, hour int) mailbox.Millis {
	return mailbox.MillisOf(time.Date(2024, 5, day, hour, 0, 0, 0, time.UTC))
}
