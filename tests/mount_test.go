package tests

// Integration tests of `cbfs mount`: they mount a generated sample for real
// (as root: go-fuse's direct mount; otherwise fusermount3) and check the
// tree against the Backup Path. Every mount is unmounted and its process
// killed in t.Cleanup, also when a test fails.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/mailbox"
	"github.com/cbfs/cbfs/sample"
)

// mountSkipUnlessFUSE skips when this machine cannot mount FUSE.
func mountSkipUnlessFUSE(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skip("no /dev/fuse: FUSE mount tests need the fuse kernel module (run as root, or install fuse3)")
	}
	if os.Geteuid() != 0 {
		if _, err := exec.LookPath("fusermount3"); err != nil {
			t.Skip("not root and no fusermount3: install fuse3 (apt-get install -y fuse3) or run as root")
		}
	}
}

// mountBinary builds cmd/cbfs into dir.
func mountBinary(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "cbfs")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/cbfs/cbfs/cmd/cbfs").CombinedOutput()
	require.NoError(t, err, "build cbfs:\n%s", out)
	return bin
}

// mountProc is a running `cbfs mount`.
type mountProc struct {
	cmd    *exec.Cmd
	mp     string
	ready  string // the "mounted ..." line
	stderr *bytes.Buffer
	waited chan struct{}
	err    error // of Wait, once waited is closed
}

// mountIsMounted reports whether mp is in /proc/mounts.
func mountIsMounted(mp string) bool {
	b, err := os.ReadFile("/proc/mounts")
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) > 1 && f[1] == mp {
			return true
		}
	}
	return false
}

// mountForceUnmount clears mp whatever state it is in.
func mountForceUnmount(mp string) {
	for i := 0; i < 3 && mountIsMounted(mp); i++ {
		if err := exec.Command("fusermount3", "-u", mp).Run(); err != nil {
			exec.Command("umount", "-l", mp).Run()
		}
	}
}

// mountStart runs cbfs mount and waits until it says it is mounted.
func mountStart(t *testing.T, bin, bp, mp, idx string, extra ...string) *mountProc {
	t.Helper()
	args := append([]string{"mount", bp, mp, "--index", idx}, extra...)
	cmd := exec.Command(bin, args...)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	p := &mountProc{cmd: cmd, mp: mp, stderr: &bytes.Buffer{}, waited: make(chan struct{})}
	cmd.Stderr = p.stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		mountForceUnmount(mp)
		select {
		case <-p.waited:
		default:
			cmd.Process.Kill()
			<-p.waited
		}
	})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
		io.Copy(io.Discard, stdout)
		p.err = cmd.Wait()
		close(p.waited)
	}()
	select {
	case l := <-lines:
		p.ready = l
	case <-p.waited:
		t.Fatalf("cbfs mount exited before mounting: %v\n%s", p.err, p.stderr)
	case <-time.After(2 * time.Minute):
		t.Fatalf("cbfs mount not ready after 2 minutes\n%s", p.stderr)
	}
	require.True(t, strings.HasPrefix(p.ready, "mounted "), p.ready)
	require.Contains(t, p.ready, "fusermount3 -u "+mp)
	require.True(t, mountIsMounted(mp), "not in /proc/mounts")
	return p
}

// stop sends SIGTERM and waits for a clean exit.
func (p *mountProc) stop(t *testing.T) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-p.waited:
	case <-time.After(30 * time.Second):
		t.Fatalf("cbfs mount did not exit on SIGTERM\n%s", p.stderr)
	}
	require.NoError(t, p.err, "exit status\n%s", p.stderr)
	assert.False(t, mountIsMounted(p.mp), "still mounted after SIGTERM")
}

// mountRun runs cbfs and returns its exit code and stderr.
func mountRun(t *testing.T, bin string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	go func() {
		<-ctx.Done()
		if cmd.Process != nil && ctx.Err() == context.DeadlineExceeded {
			cmd.Process.Kill()
		}
	}()
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), errb.String()
	}
	require.NoError(t, err)
	return 0, errb.String()
}

// mountFixture is a sample, its report, and the account folders by id.
type mountFixture struct {
	bp     *backuppath.Path
	rep    *sample.Report
	names  map[string]string // account id -> folder name under accounts/
	broken map[blob.Digest]string
}

func TestMount(t *testing.T) {
	mountSkipUnlessFUSE(t)
	dir := t.TempDir()
	bin := mountBinary(t, dir)
	root := filepath.Join(dir, "bp")
	rep, err := sample.Generate(context.Background(), root, sample.Options{Seed: 3, BigAttachments: true})
	require.NoError(t, err)
	bp, err := backuppath.Open(root)
	require.NoError(t, err)
	mp := filepath.Join(dir, "mnt")
	require.NoError(t, os.Mkdir(mp, 0o755))
	idx := filepath.Join(dir, "cache", "index.db")

	p := mountStart(t, bin, root, mp, idx)
	t.Logf("first mount (index built): %s", p.ready)

	fx := &mountFixture{bp: bp, rep: rep, names: map[string]string{}, broken: map[blob.Digest]string{}}
	for _, d := range rep.Damaged {
		if d.Digest != "" {
			fx.broken[blob.Digest(d.Digest)] = d.Kind
		}
	}
	ents, err := os.ReadDir(filepath.Join(mp, "accounts"))
	require.NoError(t, err)
	for _, e := range ents {
		var a struct{ ID string }
		b, err := os.ReadFile(filepath.Join(mp, "accounts", e.Name(), "account.json"))
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(b, &a))
		fx.names[a.ID] = e.Name()
	}
	ids, err := bp.AccountIDs()
	require.NoError(t, err)
	require.Len(t, fx.names, len(ids), "every account folder shows")

	t.Run("folders", func(t *testing.T) { mountTestFolders(t, fx, mp) })
	t.Run("items", func(t *testing.T) { mountTestItems(t, fx, mp) })
	t.Run("damage", func(t *testing.T) { mountTestDamage(t, fx, mp) })
	t.Run("readonly", func(t *testing.T) { mountTestReadOnly(t, fx, mp) })
	t.Run("sorted", func(t *testing.T) { mountTestSorted(t, mp) })
	t.Run("xattrs", func(t *testing.T) { mountTestXattrs(t, fx, mp) })
	t.Run("blobs", func(t *testing.T) { mountTestBlobs(t, fx, mp) })
	t.Run("large files", func(t *testing.T) { mountTestLarge(t, fx, mp) })
	t.Run("server", func(t *testing.T) { mountTestServer(t, fx, mp) })
	t.Run("at", func(t *testing.T) { mountTestAt(t, fx, mp) })
	t.Run("refusals", func(t *testing.T) { mountTestRefusals(t, bin, root, mp, dir) })

	t.Run("inodes stable across a remount", func(t *testing.T) {
		before := mountInodes(t, mp)
		require.Greater(t, len(before), 100)
		p.stop(t)
		p2 := mountStart(t, bin, root, mp, idx)
		t.Logf("remount (index loaded): %s", p2.ready)
		after := mountInodes(t, mp)
		assert.Equal(t, before, after)
		p2.stop(t)
	})

	t.Run("stale mount refused", func(t *testing.T) {
		mp2 := filepath.Join(dir, "stale")
		require.NoError(t, os.Mkdir(mp2, 0o755))
		p3 := mountStart(t, bin, root, mp2, filepath.Join(dir, "cache", "stale.db"))
		require.NoError(t, p3.cmd.Process.Kill())
		<-p3.waited
		_, err := os.ReadDir(mp2)
		require.ErrorIs(t, err, syscall.ENOTCONN, "SIGKILL leaves a stale mount")
		code, stderr := mountRun(t, bin, "mount", root, mp2, "--index", filepath.Join(dir, "cache", "stale.db"))
		assert.NotZero(t, code)
		assert.Contains(t, stderr, "stale mount")
		assert.Contains(t, stderr, "fusermount3 -u "+mp2)
		assert.Contains(t, stderr, "umount -l "+mp2)
		require.NoError(t, exec.Command("umount", "-l", mp2).Run())
		assert.False(t, mountIsMounted(mp2))
	})
}

// mountItem reads an item file straight from the Backup Path.
func mountItem(t *testing.T, bp *backuppath.Path, accountID string, id int) *mailbox.Item {
	t.Helper()
	it, err := bp.ReadItem(accountID, id)
	require.NoError(t, err)
	return it
}

// contentOf is the state whose digest is state i's content.
func mountContent(it *mailbox.Item, i int) *mailbox.State {
	for ; i >= 0; i-- {
		if it.States[i].Digest != "" {
			return &it.States[i]
		}
	}
	return nil
}

// mountCheckContent compares a mounted file with its blob: equal and of the
// stated size for a sound blob, EIO for a damaged one.
func mountCheckContent(t *testing.T, fx *mountFixture, path string, d blob.Digest) {
	t.Helper()
	got, err := os.ReadFile(path)
	switch fx.broken[d] {
	case sample.DamageTruncated, sample.DamageMismatch, sample.DamageUnreadable, sample.DamageMissing:
		assert.ErrorIs(t, err, syscall.EIO, "%s: damaged (%s) blob must fail with EIO", path, fx.broken[d])
		return
	}
	require.NoError(t, err, path)
	want, err := fx.bp.Blobs.Read(d)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(want, got), "%s differs from blob %s", path, d)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, int64(len(want)), fi.Size(), "%s: size", path)
}

var mountFileRE = regexp.MustCompile(`^(\d+)\.(eml|vcf|ics|bin)$`)

func mountTestFolders(t *testing.T, fx *mountFixture, mp string) {
	files := 0
	for id, name := range fx.names {
		base := filepath.Join(mp, "accounts", name, "folders")
		err := filepath.WalkDir(base, func(path string, e fs.DirEntry, err error) error {
			require.NoError(t, err)
			if e.IsDir() {
				return nil
			}
			m := mountFileRE.FindStringSubmatch(e.Name())
			require.NotNil(t, m, "unexpected file %s", path)
			itemID, _ := strconv.Atoi(m[1])
			it := mountItem(t, fx.bp, id, itemID)
			latest := it.Latest()
			assert.False(t, latest.Deleted, "%s: deleted item in folders/", path)
			assert.Equal(t, latest.Type.Extension(), m[2])
			c := mountContent(it, len(it.States)-1)
			require.NotNil(t, c)
			mountCheckContent(t, fx, path, c.Digest)
			if _, bad := fx.broken[c.Digest]; !bad && !latest.Date.Time().IsZero() {
				fi, err := os.Stat(path)
				require.NoError(t, err)
				assert.True(t, fi.ModTime().Equal(latest.Date.Time()), "%s: mtime %s, want item date %s", path, fi.ModTime(), latest.Date.Time())
			}
			files++
			return nil
		})
		require.NoError(t, err)
	}
	assert.Greater(t, files, 100, "files checked")
}

func mountTestItems(t *testing.T, fx *mountFixture, mp string) {
	multi := 0
	for id, name := range fx.names {
		files, _, err := fx.bp.ItemFiles(id)
		require.NoError(t, err)
		ents, err := os.ReadDir(filepath.Join(mp, "accounts", name, "items"))
		require.NoError(t, err)
		assert.Len(t, ents, len(files), "items/ of %s", name)
		for _, f := range files {
			it, err := fx.bp.ReadItemFile(f.RelPath, f.ItemID)
			if err != nil {
				continue // the malformed one: see damage
			}
			dir := filepath.Join(mp, "accounts", name, "items", strconv.Itoa(f.ItemID))
			var meta struct {
				ItemID int
				Status string
				States []json.RawMessage
			}
			b, err := os.ReadFile(filepath.Join(dir, "meta.json"))
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(b, &meta))
			assert.Equal(t, f.ItemID, meta.ItemID)
			// The item's status is the worst of its states' (unreadable over broken).
			wantStatus := "ok"
			for _, st := range it.States {
				switch fx.broken[st.Digest] {
				case sample.DamageUnreadable, sample.DamageMissing:
					wantStatus = "unreadable"
				case sample.DamageTruncated, sample.DamageMismatch:
					if wantStatus == "ok" {
						wantStatus = "broken"
					}
				}
			}
			assert.Equal(t, wantStatus, meta.Status, dir)
			assert.Len(t, meta.States, len(it.States))
			ents, err := os.ReadDir(dir)
			require.NoError(t, err)
			assert.Len(t, ents, len(it.States)+1, "%s: meta.json and one folder per state", dir)
			if len(it.States) < 2 {
				continue
			}
			multi++
			for i, s := range it.States {
				sd := filepath.Join(dir, ents[i].Name())
				fi, err := os.Stat(sd)
				require.NoError(t, err)
				assert.True(t, fi.ModTime().Equal(s.Start.Time()), "%s: mtime is the start date", sd)
				if !s.Type.HasContent() {
					continue
				}
				c := mountContent(it, i)
				require.NotNil(t, c)
				var content string
				switch s.Type {
				case mailbox.TypeMessage:
					content = "message.eml"
				case mailbox.TypeContact:
					content = "contact.vcf"
				case mailbox.TypeAppointment:
					content = "appointment.ics"
				default:
					continue
				}
				mountCheckContent(t, fx, filepath.Join(sd, content), c.Digest)
			}
		}
	}
	assert.Greater(t, multi, 5, "items with several states checked")
}

// mountFindState finds the state folder of item id that holds digest d.
func mountFindState(t *testing.T, dir string, d string) string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		var m struct{ Digest string }
		b, err := os.ReadFile(filepath.Join(dir, e.Name(), "meta.json"))
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(b, &m))
		if m.Digest == d {
			return filepath.Join(dir, e.Name())
		}
	}
	t.Fatalf("no state of %s has digest %s", dir, d)
	return ""
}

func mountTestDamage(t *testing.T, fx *mountFixture, mp string) {
	kinds := map[string]bool{}
	for _, dm := range fx.rep.Damaged {
		kinds[dm.Kind] = true
		t.Run(dm.Kind, func(t *testing.T) {
			dir := filepath.Join(mp, "accounts", fx.names[dm.AccountID], "items", strconv.Itoa(dm.ItemID))
			if dm.Kind == sample.DamageMalformedJSON {
				b, err := os.ReadFile(filepath.Join(dir, "meta.json"))
				require.NoError(t, err)
				var m struct{ Status, Error string }
				require.NoError(t, json.Unmarshal(b, &m))
				assert.Equal(t, "broken", m.Status)
				assert.Contains(t, m.Error, "malformed")
				st, err := unixGetxattr(filepath.Join(dir, "meta.json"), "user.cbfs.status")
				require.NoError(t, err)
				assert.Contains(t, st, "broken")
				return
			}
			sd := mountFindState(t, dir, dm.Digest)
			content := filepath.Join(sd, "message.eml")
			var meta struct{ Status, Error string }
			b, err := os.ReadFile(filepath.Join(sd, "meta.json"))
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(b, &meta))
			status, err := unixGetxattr(content, "user.cbfs.status")
			require.NoError(t, err)
			_, partialErr := os.Stat(filepath.Join(sd, "message.partial.eml"))
			switch dm.Kind {
			case sample.DamageTruncated, sample.DamageMismatch:
				_, err := os.ReadFile(content)
				assert.ErrorIs(t, err, syscall.EIO)
				assert.Equal(t, "broken", meta.Status)
				assert.NotEmpty(t, meta.Error)
				assert.True(t, strings.HasPrefix(status, "broken: "), status)
				require.NoError(t, partialErr, "message.partial.eml offered")
				part, err := os.ReadFile(filepath.Join(sd, "message.partial.eml"))
				require.NoError(t, err)
				salvaged, _ := fx.bp.Blobs.Salvage(blob.Digest(dm.Digest))
				assert.Equal(t, salvaged, part)
			case sample.DamageUnreadable, sample.DamageMissing:
				_, err := os.ReadFile(content)
				assert.ErrorIs(t, err, syscall.EIO)
				assert.Equal(t, "unreadable", meta.Status)
				assert.NotEmpty(t, meta.Error)
				assert.True(t, strings.HasPrefix(status, "unreadable: "), status)
				assert.ErrorIs(t, partialErr, fs.ErrNotExist, "nothing to salvage")
			case sample.DamageDoubleGzip:
				got, err := os.ReadFile(content)
				require.NoError(t, err)
				want, err := fx.bp.Blobs.Read(blob.Digest(dm.Digest))
				require.NoError(t, err)
				assert.Equal(t, want, got)
				assert.Equal(t, "ok", meta.Status)
				assert.Equal(t, "ok", status)
			default:
				t.Fatalf("unknown damage kind %q", dm.Kind)
			}
		})
	}
	for _, k := range []string{sample.DamageTruncated, sample.DamageMismatch, sample.DamageUnreadable, sample.DamageMissing, sample.DamageDoubleGzip, sample.DamageMalformedJSON} {
		assert.True(t, kinds[k], "the sample plants %s", k)
	}
}

func unixGetxattr(path, name string) (string, error) {
	buf := make([]byte, 4096)
	n, err := unix.Getxattr(path, name, buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// mountSomeFile returns one .eml under folders/ of some account.
func mountSomeFile(t *testing.T, fx *mountFixture, mp string) string {
	t.Helper()
	for _, name := range fx.names {
		m, _ := filepath.Glob(filepath.Join(mp, "accounts", name, "folders", "Inbox", "*.eml"))
		for _, p := range m {
			if v, err := unixGetxattr(p, "user.cbfs.status"); err == nil && v == "ok" {
				return p
			}
		}
	}
	t.Fatal("no sound .eml in any Inbox")
	return ""
}

func mountTestReadOnly(t *testing.T, fx *mountFixture, mp string) {
	file := mountSomeFile(t, fx, mp)
	dir := filepath.Dir(file)
	tests := []struct {
		name string
		op   func() error
	}{
		{"write", func() error {
			f, err := os.OpenFile(file, os.O_WRONLY, 0)
			if err == nil {
				f.Close()
			}
			return err
		}},
		{"truncate", func() error { return os.Truncate(file, 0) }},
		{"create", func() error { return os.WriteFile(filepath.Join(dir, "new.eml"), []byte("x"), 0o644) }},
		{"mkdir", func() error { return os.Mkdir(filepath.Join(dir, "new"), 0o755) }},
		{"rename", func() error { return os.Rename(file, file+".moved") }},
		{"unlink", func() error { return os.Remove(file) }},
		{"rmdir", func() error { return os.Remove(filepath.Join(mp, "blobs")) }},
		{"chmod", func() error { return os.Chmod(file, 0o777) }},
		{"chtimes", func() error { return os.Chtimes(file, time.Now(), time.Now()) }},
		{"setxattr", func() error { return unix.Setxattr(file, "user.cbfs.itemid", []byte("1"), 0) }},
		{"removexattr", func() error { return unix.Removexattr(file, "user.cbfs.itemid") }},
		{"symlink", func() error { return os.Symlink(file, filepath.Join(dir, "link")) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.ErrorIs(t, tt.op(), syscall.EROFS)
		})
	}
}

// mountRawNames lists a folder in the order the file system returns.
func mountRawNames(t *testing.T, dir string) []string {
	t.Helper()
	f, err := os.Open(dir)
	require.NoError(t, err)
	defer f.Close()
	names, err := f.Readdirnames(-1)
	require.NoError(t, err)
	return names
}

func mountTestSorted(t *testing.T, mp string) {
	checked := 0
	err := filepath.WalkDir(mp, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return nil // damaged files are checked elsewhere
		}
		rel, _ := filepath.Rel(mp, path)
		if strings.Count(rel, "/") > 4 || strings.Contains(rel, "/at/") {
			return fs.SkipDir
		}
		if e.IsDir() {
			names := mountRawNames(t, path)
			assert.True(t, sort.StringsAreSorted(names), "%s not sorted: %v", rel, names)
			again := mountRawNames(t, path)
			assert.Equal(t, names, again, "%s: same order twice", rel)
			checked++
		}
		return nil
	})
	require.NoError(t, err)
	assert.Greater(t, checked, 50)
}

func mountTestXattrs(t *testing.T, fx *mountFixture, mp string) {
	file := mountSomeFile(t, fx, mp)
	m := mountFileRE.FindStringSubmatch(filepath.Base(file))
	require.NotNil(t, m)
	id, _ := unixGetxattr(file, "user.cbfs.itemid")
	assert.Equal(t, m[1], id)
	typ, _ := unixGetxattr(file, "user.cbfs.type")
	assert.Equal(t, "message", typ)
	folder, _ := unixGetxattr(file, "user.cbfs.folder")
	assert.Equal(t, "Inbox", folder)
	dg, err := unixGetxattr(file, "user.cbfs.digest")
	require.NoError(t, err)
	want, err := fx.bp.Blobs.Read(blob.Digest(dg))
	require.NoError(t, err)
	got, err := os.ReadFile(file)
	require.NoError(t, err)
	assert.Equal(t, want, got, "the digest attribute names the content")
	_, err = unixGetxattr(file, "user.cbfs.flags")
	assert.NoError(t, err)

	buf := make([]byte, 1024)
	n, err := unix.Listxattr(file, buf)
	require.NoError(t, err)
	for _, x := range []string{"itemid", "type", "folder", "flags", "digest", "status"} {
		assert.Contains(t, string(buf[:n]), "user.cbfs."+x)
	}
	// getfattr -d reads every name listed: each must exist.
	for _, name := range strings.Split(strings.TrimSuffix(string(buf[:n]), "\x00"), "\x00") {
		_, err := unixGetxattr(file, name)
		assert.NoError(t, err, "listed but absent: %s", name)
	}
	for other, want := range map[string]error{
		"security.selinux":        unix.EOPNOTSUPP,
		"system.posix_acl_access": unix.EOPNOTSUPP,
		"user.other":              unix.ENODATA,
	} {
		_, err := unixGetxattr(file, other)
		assert.ErrorIs(t, err, want, other)
	}
}

func mountTestBlobs(t *testing.T, fx *mountFixture, mp string) {
	names := mountRawNames(t, filepath.Join(mp, "blobs"))
	var want []string
	require.NoError(t, fx.bp.Blobs.Walk(context.Background(), func(name string, d blob.Digest, ok bool) error {
		if ok {
			want = append(want, string(d)+".eml")
		}
		return nil
	}))
	sort.Strings(want)
	assert.Equal(t, want, names)
	checked := 0
	for _, n := range names {
		d := blob.Digest(strings.TrimSuffix(n, ".eml"))
		if _, bad := fx.broken[d]; bad && fx.broken[d] != sample.DamageDoubleGzip {
			mountCheckContent(t, fx, filepath.Join(mp, "blobs", n), d)
			continue
		}
		if checked < 40 || fx.broken[d] == sample.DamageDoubleGzip {
			got, err := os.ReadFile(filepath.Join(mp, "blobs", n))
			require.NoError(t, err)
			w, err := fx.bp.Blobs.Read(d)
			require.NoError(t, err)
			assert.Equal(t, w, got, n)
			checked++
		}
	}
	_, err := os.Stat(filepath.Join(mp, "blobs", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=.eml"))
	assert.ErrorIs(t, err, fs.ErrNotExist)
	_, err = os.Stat(filepath.Join(mp, "blobs", "not-a-digest.eml"))
	assert.ErrorIs(t, err, fs.ErrNotExist)
}

func mountTestServer(t *testing.T, fx *mountFixture, mp string) {
	files, err := fx.bp.ServerFiles()
	require.NoError(t, err)
	configs, customs := 0, 0
	for _, f := range files {
		raw, err := os.ReadFile(filepath.Join(fx.bp.Root, f.RelPath))
		require.NoError(t, err)
		switch f.Kind {
		case backuppath.KindConfig:
			configs++
			d := filepath.Join(mp, "server", "config", f.Date.UTC().Format("2006-01-02T15:04:05Z"))
			got, err := os.ReadFile(filepath.Join(d, "config.json"))
			require.NoError(t, err)
			assert.Equal(t, raw, got)
			for _, sec := range []string{"serverConfig.json", "globalConfig.json", "domain.json", "cos.json", "distributionList.json"} {
				b, err := os.ReadFile(filepath.Join(d, sec))
				require.NoError(t, err, sec)
				assert.True(t, json.Valid(b), sec)
			}
		case backuppath.KindCustomizations:
			customs++
			got, err := os.ReadFile(filepath.Join(mp, "server", "customizations", f.Name))
			require.NoError(t, err)
			assert.Equal(t, raw, got)
		}
	}
	assert.Len(t, mountRawNames(t, filepath.Join(mp, "server", "config")), configs)
	assert.Len(t, mountRawNames(t, filepath.Join(mp, "server", "customizations")), customs)
	assert.Positive(t, configs)
	assert.Positive(t, customs)
}

func mountTestAt(t *testing.T, fx *mountFixture, mp string) {
	for id, name := range fx.names {
		at := filepath.Join(mp, "accounts", name, "at")
		days := mountRawNames(t, at)
		if len(days) == 0 {
			continue
		}
		for _, d := range days {
			_, err := time.Parse("2006-01-02", d)
			require.NoError(t, err, d)
		}
		// The account as it was at the end of its last change day equals
		// its latest view for items that never changed afterwards: every
		// file there is the item's state at that moment.
		last := days[len(days)-1]
		moment, _ := time.Parse("2006-01-02", last)
		moment = moment.Add(24*time.Hour - time.Millisecond)
		n := 0
		err := filepath.WalkDir(filepath.Join(at, last), func(path string, e fs.DirEntry, err error) error {
			require.NoError(t, err)
			if e.IsDir() || n >= 30 {
				return nil
			}
			m := mountFileRE.FindStringSubmatch(e.Name())
			require.NotNil(t, m, path)
			itemID, _ := strconv.Atoi(m[1])
			it := mountItem(t, fx.bp, id, itemID)
			s := it.StateAt(moment)
			require.NotNil(t, s, path)
			assert.False(t, s.Deleted, path)
			idx := 0
			for i := range it.States {
				if &it.States[i] == s {
					idx = i
				}
			}
			mountCheckContent(t, fx, path, mountContent(it, idx).Digest)
			n++
			return nil
		})
		require.NoError(t, err)
		// Any datetime can be looked up, also one before the account existed.
		for _, x := range []string{"2024-03-05T10:20:30Z", "2024-03-05T10:20", "1999-01-01"} {
			fi, err := os.Stat(filepath.Join(at, x))
			require.NoError(t, err, x)
			assert.True(t, fi.IsDir())
		}
		_, err = os.Stat(filepath.Join(at, "not-a-date"))
		assert.ErrorIs(t, err, fs.ErrNotExist)
		return // one account is enough
	}
	t.Fatal("no account has change days")
}

func mountTestRefusals(t *testing.T, bin, root, mp, dir string) {
	idx := filepath.Join(dir, "cache", "refusal.db")
	inside := filepath.Join(root, "server")
	nonEmpty := filepath.Join(dir, "nonempty")
	require.NoError(t, os.MkdirAll(filepath.Join(nonEmpty, "x"), 0o755))
	tests := []struct {
		name string
		args []string
		msg  string
	}{
		{"inside the Backup Path", []string{"mount", root, inside, "--index", idx}, "inside the Backup Path"},
		{"Backup Path inside the mountpoint", []string{"mount", root, dir, "--index", idx}, "inside the mountpoint"},
		{"not empty", []string{"mount", root, nonEmpty, "--index", idx}, "not empty"},
		{"missing", []string{"mount", root, filepath.Join(dir, "nope"), "--index", idx}, "no such folder"},
		{"already mounted", []string{"mount", root, mp, "--index", idx}, "already a mount point"},
		{"not a Backup Path", []string{"mount", nonEmpty, filepath.Join(dir, "nope"), "--index", idx}, "not a Backup Path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stderr := mountRun(t, bin, tt.args...)
			assert.Equal(t, 1, code, stderr)
			assert.Contains(t, stderr, tt.msg)
			assert.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
		})
	}
	t.Run("index in use by the running mount", func(t *testing.T) {
		empty := filepath.Join(dir, "empty")
		require.NoError(t, os.MkdirAll(empty, 0o755))
		code, stderr := mountRun(t, bin, "mount", root, empty, "--index", filepath.Join(dir, "cache", "index.db"))
		assert.Equal(t, 1, code)
		assert.Contains(t, stderr, "in use by another process")
		assert.False(t, mountIsMounted(empty))
	})
	before, err := filepath.Glob(filepath.Join(root, "*"))
	require.NoError(t, err)
	assert.NotContains(t, before, filepath.Join(root, "index.db"), "nothing written into the Backup Path")
}

// mountInodes records the inode number of a sample of paths.
func mountInodes(t *testing.T, mp string) map[string]uint64 {
	t.Helper()
	out := map[string]uint64{}
	owner := map[uint64]string{}
	err := filepath.WalkDir(mp, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(mp, path)
		if strings.Contains(rel, "/at/") && strings.Count(rel, "/") > 3 {
			return fs.SkipDir
		}
		fi, err := os.Lstat(path)
		require.NoError(t, err)
		ino := fi.Sys().(*syscall.Stat_t).Ino
		// The Maildir view's messages are the folders/ files themselves,
		// and changes/<day>/<kind>/ files the items/ states themselves
		// (hard links, by design: one page cache); nothing else shares.
		linked := func(p string) bool { return strings.Contains(p, "/Maildir/") || strings.Contains(p, "/changes/") }
		if p, dup := owner[ino]; dup && !((linked(p) || linked(rel)) && e.Type().IsRegular()) {
			t.Errorf("%s and %s share inode %d", p, rel, ino)
		}
		owner[ino] = rel
		out[rel] = ino
		if len(out) > 3000 {
			return fs.SkipAll
		}
		return nil
	})
	require.NoError(t, err)
	return out
}

// mountTestLarge reads the streamed (large) blobs out of order and in
// parallel, with the page cache dropped in between.
func mountTestLarge(t *testing.T, fx *mountFixture, mp string) {
	names := mountRawNames(t, filepath.Join(mp, "blobs"))
	large := 0
	for _, n := range names {
		path := filepath.Join(mp, "blobs", n)
		fi, err := os.Stat(path)
		require.NoError(t, err)
		d := blob.Digest(strings.TrimSuffix(n, ".eml"))
		if fi.Size() < 2<<20 || fx.broken[d] != "" {
			continue
		}
		large++
		want, err := fx.bp.Blobs.Read(d)
		require.NoError(t, err)
		f, err := os.Open(path)
		require.NoError(t, err)
		require.NoError(t, unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED))
		size := int64(len(want))
		offs := []int64{size - 5000, 0, size / 2, size / 3, 12345, size - 1}
		for _, off := range offs {
			buf := make([]byte, 100000)
			k, err := f.ReadAt(buf, off)
			if err != io.EOF {
				require.NoError(t, err, "offset %d", off)
			}
			end := min(off+int64(len(buf)), size)
			require.Equal(t, int(end-off), k, "offset %d", off)
			assert.True(t, bytes.Equal(want[off:end], buf[:k]), "%s at %d", n, off)
		}
		f.Close()
		// Two readers at once.
		errs := make(chan error, 2)
		for i := 0; i < 2; i++ {
			go func() {
				got, err := os.ReadFile(path)
				if err == nil && !bytes.Equal(got, want) {
					err = fmt.Errorf("%s: parallel read differs", n)
				}
				errs <- err
			}()
		}
		require.NoError(t, <-errs)
		require.NoError(t, <-errs)
	}
	assert.Positive(t, large, "the sample has streamed (large) blobs")
}
