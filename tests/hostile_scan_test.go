package tests

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/internal/testuser"
)

// Issue 18, the scan's Maildir source: a local mail user plants, in their
// own Maildir, what would make cbfs (root) read what they may not, block,
// or run out of memory. The real scan (cbctl doSmartScan, doAccountScan)
// must read none of it, report each, back the rest of the account and
// every other account up, end within a deadline, and stay under
// bombRSSLimit of peak RSS.

// scanDeadline: a scan of these few messages takes a second or two; one
// blocked on a FIFO never ends.
const scanDeadline = 3 * time.Minute

// maildirMsg writes a message into a Maildir++ folder's cur/ and returns
// its path.
func maildirMsg(t *testing.T, folder, base, subject, body string) string {
	t.Helper()
	for _, sub := range []string{"cur", "new", "tmp"} {
		require.NoError(t, os.MkdirAll(filepath.Join(folder, sub), 0o755))
	}
	content := serveMsg(subject, body)
	p := filepath.Join(folder, "cur", fmt.Sprintf("%s,S=%d:2,S", base, len(content)))
	require.NoError(t, os.WriteFile(p, content, 0o644))
	return p
}

// ageTree sets every folder's mtime an hour back (a folder changed within
// the scan's racy window is always listed: harmless, but not what a
// rescan of an unchanged Maildir does).
func ageTree(t *testing.T, root string) {
	t.Helper()
	old := time.Now().Add(-time.Hour)
	require.NoError(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			return os.Chtimes(p, old, old)
		}
		return err
	}))
}

// secretsIn lists the files under root holding any of secrets, gzip
// layers undone: what a restore or the mount could hand out.
func secretsIn(t *testing.T, root string, secrets ...string) []string {
	t.Helper()
	var found []string
	require.NoError(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for len(b) > 2 && b[0] == 0x1f && b[1] == 0x8b {
			zr, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				break
			}
			in, err := io.ReadAll(io.LimitReader(zr, 1<<30))
			if err != nil {
				break
			}
			b = in
		}
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				found = append(found, fmt.Sprintf("%s holds %s", p, s))
			}
		}
		return nil
	}))
	return found
}

func TestHostileScanSource(t *testing.T) {
	alice, bob := testuser.New(t), testuser.New(t)
	root := testuser.TempDir(t, "cbfs-mail-")
	dir := t.TempDir()
	bp, st := filepath.Join(dir, "bp"), filepath.Join(dir, "st")

	// Secrets: a root-only file, the service's environment, bob's mail.
	secretDir, err := os.MkdirTemp("", "cbfs-secret-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(secretDir) })
	rootSecret := testuser.Marker("ROOT-ONLY")
	secret := filepath.Join(secretDir, "shadow")
	require.NoError(t, os.WriteFile(secret, []byte(rootSecret+"\n"), 0o600))
	imapPassword, awsSecret := testuser.Marker("IMAP-PASSWORD"), testuser.Marker("AWS-SECRET")
	env := []string{"CBFS_IMAP_PASSWORD=" + imapPassword, "AWS_SECRET_ACCESS_KEY=" + awsSecret}
	bobText := testuser.Marker("BOB-PRIVATE")
	bobBox := filepath.Join(root, "example.test", "bob", "Maildir")
	bobMsg := maildirMsg(t, bobBox, "1700000001.M1P1.host", "bob private", bobText)
	bob.Own(t, filepath.Dir(bobBox))
	require.NoError(t, exec.Command("chmod", "-R", "go-rwx", filepath.Dir(bobBox)).Run())
	// carol: a Maildir of root's, read as root.
	maildirMsg(t, filepath.Join(root, "example.test", "carol", "Maildir"), "1700000002.M1P1.host", "carol inbox", "hello")

	// alice: good mail, and what she plants.
	box := filepath.Join(root, "example.test", "alice", "Maildir")
	maildirMsg(t, box, "1700000010.M1P1.host", "alice inbox", "one")
	maildirMsg(t, filepath.Join(box, ".Sent"), "1700000011.M1P1.host", "alice sent", "two")
	for _, f := range []string{".Kfifo", ".Kzero", ".Ufifo", ".Uzero", ".Bad&Jjo", ".Raw\xff"} {
		maildirMsg(t, filepath.Join(box, f), "17000000"+strconv.Itoa(20+len(f))+".M1P1.host", "alice in "+f, "lost")
	}
	require.NoError(t, os.MkdirAll(filepath.Join(root, "example.test", "alice2"), 0o755))
	alice.Own(t, filepath.Join(root, "example.test", "alice"))
	alice.Own(t, filepath.Join(root, "example.test", "alice2"))
	alice.Sh(t, box, fmt.Sprintf(`
		ln -s %[1]s cur/1700000100.M1P1.host,S=40:2,S
		ln -s /proc/self/environ cur/1700000101.M1P1.host,S=40:2,S
		ln -s %[2]s cur/1700000102.M1P1.host:2,S
		ln -s /dev/zero cur/1700000103.M1P1.host:2,S
		mkfifo cur/1700000104.M1P1.host:2,S
		truncate -s 16G cur/1700000105.M1P1.host,S=100:2,S
		mkdir -p .Evil/new .Evil/tmp && ln -s %[3]s/cur .Evil/cur
		mkfifo .Kfifo/dovecot-keywords
		ln -s /dev/zero .Kzero/dovecot-keywords
		mkfifo .Ufifo/dovecot-uidlist
		ln -s /dev/zero .Uzero/dovecot-uidlist
		ln -s %[3]s ../../alice2/Maildir
	`, secret, bobMsg, bobBox))
	// Hard links to what she may not read (made by root here: a user can
	// where fs.protected_hardlinks is 0).
	require.NoError(t, os.Link(secret, filepath.Join(box, "cur", "1700000106.M1P1.host:2,S")))
	require.NoError(t, os.Link(bobMsg, filepath.Join(box, "cur", "1700000107.M1P1.host:2,S")))
	ageTree(t, root)

	check := func(t *testing.T, r result, rss int64) {
		t.Helper()
		assert.LessOrEqual(t, rss, int64(bombRSSLimit), "peak RSS %d MiB", rss>>20)
		t.Logf("peak RSS %d MiB", rss>>20)
		assert.Empty(t, secretsIn(t, bp, rootSecret, imapPassword, awsSecret), "secrets in the Backup Path")
		got := serveRead(t, bp)
		require.Contains(t, got, "alice@example.test")
		for _, it := range got["alice@example.test"].items {
			for _, s := range it.States {
				if s.Digest == "" {
					continue
				}
				data, err := blob.NewStore(bp).Read(s.Digest)
				require.NoError(t, err)
				assert.NotContains(t, string(data), bobText, "alice's item %d is bob's mail", it.ID)
			}
		}
		assert.ElementsMatch(t, []string{"alice inbox", "alice sent"}, keys(got["alice@example.test"].messages(t)))
		assert.ElementsMatch(t, []string{"bob private"}, keys(got["bob@example.test"].messages(t)))
		assert.ElementsMatch(t, []string{"carol inbox"}, keys(got["carol@example.test"].messages(t)))
	}

	t.Run("doSmartScan", func(t *testing.T) {
		r, rss := cbctlRSSWithin(t, scanDeadline, env, "backup", "doSmartScan", "--backup-path", bp, "--source", "maildir:"+root, "--state-dir", st)
		t.Logf("stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
		assert.Equal(t, 3, r.code, "partial: alice's bad folders and alice2 are reported")
		assert.Equal(t, 4, statLine(t, r.stdout, "Accounts Scanned"))
		assert.Equal(t, 8, statLine(t, r.stdout, "Read Errors"), "each file alice planted in cur/")
		for _, want := range []string{
			`folder "Evil" skipped: open .Evil/cur: is a symbolic link`,
			`folder "Kfifo" skipped: list: open .Kfifo/dovecot-keywords: not a regular file: FIFO`,
			`folder "Kzero" skipped: list: open .Kzero/dovecot-keywords: is a symbolic link`,
			`folder "Ufifo" skipped: open .Ufifo/dovecot-uidlist: not a regular file: FIFO`,
			`folder "Uzero" skipped: open .Uzero/dovecot-uidlist: is a symbolic link`,
			`folder "Bad&Jjo" skipped: ".Bad&Jjo": not valid modified UTF-7`,
			`folder "Raw\xff" skipped: ".Raw\xff": not valid modified UTF-7: byte 0xff`,
			`alice2@example.test: maildir source ` + root + `: open example.test/alice2/Maildir: is a symbolic link: not followed`,
		} {
			assert.Contains(t, r.stdout, want)
		}
		for _, want := range []string{
			"cur/1700000100.M1P1.host,S=40:2,S: is a symbolic link",
			"cur/1700000101.M1P1.host,S=40:2,S: is a symbolic link",
			"cur/1700000104.M1P1.host:2,S: not a regular file: FIFO",
			"cur/1700000105.M1P1.host,S=100:2,S: 17179869184 bytes, over the scan's max file size of 1073741824 bytes: not read",
			"cur/1700000106.M1P1.host:2,S: permission denied",
			"cur/1700000107.M1P1.host:2,S: permission denied",
		} {
			assert.Contains(t, r.stderr, want)
		}
		check(t, r, rss)
	})
	t.Run("doAccountScan deep", func(t *testing.T) {
		r, rss := cbctlRSSWithin(t, scanDeadline, env, "backup", "doAccountScan", "alice@example.test", "deep", "true",
			"--backup-path", bp, "--source", "maildir:"+root, "--state-dir", st)
		assert.Equal(t, 1, r.code, "alice's one account has skipped folders: failed\nstdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
		assert.Equal(t, 8, statLine(t, r.stdout, "Read Errors"))
		check(t, r, rss)
	})
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// Large messages (real ones, or sparse files a user makes for free) are
// streamed into their blobs: eight of 96 MiB, read ahead together, and
// a 16 GB one over the limit, cost the scan little memory.
func TestHostileScanBigMessages(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: 768 MiB of messages")
	}
	u := testuser.New(t)
	root := testuser.TempDir(t, "cbfs-mail-")
	box := filepath.Join(root, "example.test", "ann", "Maildir")
	maildirMsg(t, box, "1700000001.M1P1.host", "small", "x")
	const n, size = 8, 96 << 20
	for i := range n {
		p := filepath.Join(box, "cur", fmt.Sprintf("17000001%02d.M1P1.host:2,S", i))
		head := serveMsg(fmt.Sprintf("big %d", i), "")
		require.NoError(t, os.WriteFile(p, head, 0o644))
		require.NoError(t, os.Truncate(p, size)) // zeros after the header, no disk
	}
	u.Own(t, filepath.Join(root, "example.test", "ann"))
	u.Sh(t, box, "truncate -s 16G cur/1700000200.M1P1.host,S=10:2,S")
	ageTree(t, root)
	bp := filepath.Join(t.TempDir(), "bp")
	start := time.Now()
	r, rss := cbctlRSSWithin(t, scanDeadline, nil, "backup", "doSmartScan", "--backup-path", bp, "--source", "maildir:"+root, "--state-dir", filepath.Join(t.TempDir(), "st"))
	t.Logf("scan of %d × %d MiB: %v, peak RSS %d MiB\nstdout:\n%s", n, size>>20, time.Since(start).Round(time.Millisecond), rss>>20, r.stdout)
	assert.Equal(t, 0, r.code, r.stderr)
	assert.LessOrEqual(t, rss, int64(bombRSSLimit), "peak RSS %d MiB", rss>>20)
	assert.Equal(t, 1, statLine(t, r.stdout, "Read Errors"), "the 16 GB file")
	assert.Contains(t, r.stderr, "cur/1700000200.M1P1.host,S=10:2,S: 17179869184 bytes, over the scan's max file size of 1073741824 bytes: not read")
	msgs := serveRead(t, bp)["ann@example.test"].messages(t)
	assert.Len(t, msgs, n+1)
	for i := range n {
		it := msgs[fmt.Sprintf("big %d", i)]
		require.NotNil(t, it, "big %d", i)
		assert.EqualValues(t, size, it.States[0].Size)
	}

	// The service setting lowers the limit: each is then a read error
	// naming its size, none is read.
	bp2 := filepath.Join(t.TempDir(), "bp")
	r, _ = cbctlRSSWithin(t, scanDeadline, nil, "backup", "doAccountScan", "ann@example.test", "--scan-max-file-size", "64M",
		"--backup-path", bp2, "--source", "maildir:"+root, "--state-dir", filepath.Join(t.TempDir(), "st"))
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, n+1, statLine(t, r.stdout, "Read Errors"))
	assert.Equal(t, 1, statLine(t, r.stdout, "Items New"), "the small message")
	assert.Contains(t, r.stderr, fmt.Sprintf("cur/1700000100.M1P1.host:2,S: %d bytes, over the scan's max file size of %d bytes: not read", size, 64<<20))
}
