package scan

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/internal/testuser"
	"github.com/cbfs/cbfs/mailbox"
)

// A user's Maildir is theirs to fill with anything. These tests plant, as
// a real local user, what issue 18's review found cbfs reading as root:
// symbolic links to root-only files, to /proc/self/environ and to another
// user's mail; hard links to such files (made by root here, as a user can
// where fs.protected_hardlinks is 0); FIFOs; /dev/zero; huge sparse
// files; folders with names that are not modified UTF-7. The scan must
// read none of them, report each, and back the rest up.

// putMsg writes a message file into folder dir's cur/ (making the
// Maildir++ folders) and returns its path.
func putMsg(t *testing.T, dir, base, subject, body string) string {
	t.Helper()
	for _, sub := range []string{"cur", "new", "tmp"} {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, sub), 0o755))
	}
	content := msg(subject, body)
	p := filepath.Join(dir, "cur", fmt.Sprintf("%s,S=%d:2,S", base, len(content)))
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	return p
}

// hostileWorld is a Maildir root with a hostile user (alice), her victim
// (bob, whose Maildir is private to him), and carol (a Maildir of root's).
type hostileWorld struct {
	root             string
	secret           string // a root-only file
	secretText       string
	public           string // a Maildir outside root that anyone may read
	publicText       string
	bobText          string // in bob's only message
	alice, bob       testuser.User
	aliceBox, bobBox string
	bobMsg           string
}

// What alice planted, and what must come of it.
var (
	// Her good mail: backed up.
	aliceGood = []string{"alice inbox 1", "alice inbox 2", "alice sent"}
	// Files in her INBOX's cur/ that are not hers to give: read errors.
	alicePlantedFiles = 9
	// Folders that cannot be backed up: reported and skipped.
	aliceBadFolders = map[string]string{
		".Evil":     "is a symbolic link",       // cur/ linked to bob's
		".Link":     "is a symbolic link",       // the folder linked to bob's Maildir
		".Pub":      "is a symbolic link",       // cur/ linked to a folder she may read, outside
		".Shared":   "is a symbolic link",       // the folder linked to one she may read, outside
		".Kfifo":    "not a regular file: FIFO", // dovecot-keywords a FIFO
		".Kzero":    "is a symbolic link",       // dovecot-keywords linked to /dev/zero
		".Ufifo":    "not a regular file: FIFO", // dovecot-uidlist a FIFO
		".Uzero":    "is a symbolic link",       // dovecot-uidlist linked to /dev/zero
		".Bad&Jjo":  "not valid modified UTF-7", // "&" not closed
		".Raw\xff":  "not valid modified UTF-7", // raw 8-bit
		".Priv":     "permission denied",        // cur/ she made unreadable
		".Emp..ty":  "an empty name",            // an empty component
		".Kbig":     "file too large",           // dovecot-keywords of 1 MB
		".Enc&AGE-": "not valid modified UTF-7", // encodes "a", which stands for itself
	}
)

func newHostileWorld(t *testing.T) *hostileWorld {
	t.Helper()
	w := &hostileWorld{alice: testuser.New(t), bob: testuser.New(t)}
	w.root = testuser.TempDir(t, "cbfs-maildirs-")
	secretDir, err := os.MkdirTemp("", "cbfs-secret-") // 0700, root's
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(secretDir) })
	w.secret = filepath.Join(secretDir, "shadow")
	w.secretText = testuser.Marker("ROOT-ONLY")
	require.NoError(t, os.WriteFile(w.secret, []byte(w.secretText+"\n"), 0o600))

	// bob: a private Maildir.
	w.bobText = testuser.Marker("BOB-PRIVATE")
	w.bobBox = filepath.Join(w.root, "example.test", "bob", "Maildir")
	w.bobMsg = putMsg(t, w.bobBox, "1700000001.M1P1.host", "bob private", w.bobText)
	w.bob.Own(t, filepath.Dir(w.bobBox))
	require.NoError(t, filepath.Walk(filepath.Dir(w.bobBox), func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if fi.IsDir() {
			return os.Chmod(p, 0o700)
		}
		return os.Chmod(p, 0o600)
	}))

	// Outside the root, a Maildir anyone may read: only the confinement
	// keeps it out of alice's backup (acting as her does not).
	w.public = filepath.Join(testuser.TempDir(t, "cbfs-public-"), "Maildir")
	w.publicText = testuser.Marker("PUBLIC-OUTSIDE")
	publicMsg := putMsg(t, w.public, "1700000003.M1P1.host", "public", w.publicText)

	// carol: a Maildir of root's (read as root).
	carol := filepath.Join(w.root, "other.test", "carol", "Maildir")
	putMsg(t, carol, "1700000002.M1P1.host", "carol inbox", "hello carol")

	// alice: good mail, then what she plants.
	w.aliceBox = filepath.Join(w.root, "example.test", "alice", "Maildir")
	putMsg(t, w.aliceBox, "1700000010.M1P1.host", "alice inbox 1", "one")
	putMsg(t, w.aliceBox, "1700000011.M1P1.host", "alice inbox 2", "two")
	putMsg(t, filepath.Join(w.aliceBox, ".Sent"), "1700000012.M1P1.host", "alice sent", "three")
	for name := range aliceBadFolders {
		if name == ".Evil" || name == ".Link" || name == ".Pub" || name == ".Shared" {
			continue
		}
		putMsg(t, filepath.Join(w.aliceBox, name), "17000001"+hex.EncodeToString([]byte(name))[:4]+".M1P1.host", "alice in "+name, "lost")
	}
	require.NoError(t, os.MkdirAll(filepath.Join(w.root, "example.test", "alice2"), 0o755))
	w.alice.Own(t, filepath.Join(w.root, "example.test", "alice"))
	w.alice.Own(t, filepath.Join(w.root, "example.test", "alice2"))
	w.alice.Sh(t, w.aliceBox, fmt.Sprintf(`
		ln -s %[1]s cur/1700000100.M1P1.host,S=50:2,S
		ln -s /proc/self/environ cur/1700000101.M1P1.host:2,S
		ln -s %[2]s cur/1700000102.M1P1.host:2,S
		ln -s /dev/zero cur/1700000103.M1P1.host:2,S
		mkfifo cur/1700000104.M1P1.host:2,S
		truncate -s 16G cur/1700000105.M1P1.host,S=2000:2,S
		mkdir -p .Evil/new .Evil/tmp && ln -s %[3]s/cur .Evil/cur
		ln -s %[3]s .Link
		mkdir -p .Pub/new .Pub/tmp && ln -s %[4]s/cur .Pub/cur
		ln -s %[4]s .Shared
		ln -s %[5]s cur/1700000108.M1P1.host:2,S
		mkfifo .Kfifo/dovecot-keywords
		ln -s /dev/zero .Kzero/dovecot-keywords
		mkfifo .Ufifo/dovecot-uidlist
		ln -s /dev/zero .Uzero/dovecot-uidlist
		head -c 1048576 /dev/zero | tr '\0' 'x' > .Kbig/dovecot-keywords
		chmod 000 .Priv/cur
		ln -s %[3]s ../../alice2/Maildir
	`, w.secret, w.bobMsg, w.bobBox, w.public, publicMsg))
	// Hard links to files she may not read (root makes them: a user can
	// where fs.protected_hardlinks is 0).
	require.NoError(t, os.Link(w.secret, filepath.Join(w.aliceBox, "cur", "1700000106.M1P1.host:2,S")))
	require.NoError(t, os.Link(w.bobMsg, filepath.Join(w.aliceBox, "cur", "1700000107.M1P1.host:2,S")))

	// An administrator's symbolic link where a domain folder should be.
	require.NoError(t, os.Symlink(filepath.Join(w.root, "other.test"), filepath.Join(w.root, "linked.test")))
	age(t, w.root)
	return w
}

// runWithin runs a scan and fails t if it has not ended within d (a FIFO
// opened for reading would block it forever).
func runWithin(t *testing.T, d time.Duration, bp *backuppath.Path, src Source, opt Options) (*Report, error) {
	t.Helper()
	type out struct {
		rep *Report
		err error
	}
	done := make(chan out, 1)
	go func() {
		rep, err := Run(context.Background(), bp, src, opt)
		done <- out{rep, err}
	}()
	select {
	case o := <-done:
		return o.rep, o.err
	case <-time.After(d):
		t.Fatalf("the scan has not ended after %v: it blocks on something the user planted", d)
		return nil, nil
	}
}

func accountReport(t *testing.T, rep *Report, name string) *AccountReport {
	t.Helper()
	for _, a := range rep.PerAccount {
		if a.Name == name {
			return a
		}
	}
	t.Fatalf("no account %s in the report", name)
	return nil
}

// contents gives every file under root's content, gunzipped (every layer)
// where it is gzip: what a restore could hand out.
func contents(t *testing.T, root string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
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
		out[p] = b
		return nil
	}))
	return out
}

func TestMaildirHostileUser(t *testing.T) {
	w := newHostileWorld(t)
	bp := newBP(t)
	var logs bytes.Buffer
	rep, err := runWithin(t, 2*time.Minute, bp, NewMaildir(w.root), Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	require.NoError(t, err)
	t.Logf("report errors:\n%s\nlog:\n%s", strings.Join(rep.Errors, "\n"), logs.String())

	environ, err := os.ReadFile("/proc/self/environ")
	require.NoError(t, err)
	t.Run("no byte of what alice may not read is in the Backup Path", func(t *testing.T) {
		for p, b := range contents(t, bp.Root) {
			assert.NotContains(t, string(b), w.secretText, "%s holds the root-only file", p)
			assert.NotContains(t, string(b), w.publicText, "%s holds a file outside the Maildir root", p)
			assert.False(t, len(environ) > 0 && bytes.Contains(b, environ), "%s holds the scan's environment", p)
		}
		// bob's mail is in bob's backup only.
		bobDigests := map[blob.Digest]bool{}
		for _, it := range items(t, bp, accountID(t, bp, "bob@example.test")) {
			bobDigests[it.Latest().Digest] = true
		}
		for id, it := range items(t, bp, accountID(t, bp, "alice@example.test")) {
			for _, s := range it.States {
				if s.Digest != "" {
					assert.False(t, bobDigests[s.Digest], "alice's item %d is bob's message", id)
					data, err := bp.Blobs.Read(s.Digest)
					require.NoError(t, err)
					assert.NotContains(t, string(data), w.bobText)
				}
			}
		}
	})
	t.Run("alice's good mail is backed up, the rest reported", func(t *testing.T) {
		a := accountReport(t, rep, "alice@example.test")
		assert.ElementsMatch(t, aliceGood, sortedKeys(live(t, items(t, bp, a.ID))))
		assert.Equal(t, alicePlantedFiles, a.ReadErrors, "each planted file is a read error")
		assert.Equal(t, len(aliceBadFolders), a.FoldersSkipped)
		errs := strings.Join(a.Errors, "\n")
		for name, why := range aliceBadFolders {
			raw := strings.Split(name[1:], ".")
			assert.Contains(t, errs, fmt.Sprintf("folder %q skipped", strings.Join(raw, "/")), name)
			if why != "" {
				found := false
				for _, e := range a.Errors {
					found = found || (strings.Contains(e, fmt.Sprintf("%q", strings.Join(raw, "/"))) && strings.Contains(e, why))
				}
				assert.True(t, found, "folder %s reported with %q:\n%s", name, why, errs)
			}
		}
		for _, why := range []string{"is a symbolic link", "not a regular file: FIFO", "permission denied",
			"17179869184 bytes, over the scan's max file size of 1073741824 bytes"} {
			assert.Contains(t, logs.String(), why)
		}
	})
	t.Run("the other accounts are backed up", func(t *testing.T) {
		assert.Equal(t, []string{"bob private"}, sortedKeys(live(t, items(t, bp, accountID(t, bp, "bob@example.test")))))
		assert.Equal(t, []string{"carol inbox"}, sortedKeys(live(t, items(t, bp, accountID(t, bp, "carol@other.test")))))
		for _, n := range []string{"bob@example.test", "carol@other.test"} {
			a := accountReport(t, rep, n)
			assert.Empty(t, a.Errors, n)
			assert.Zero(t, a.ReadErrors, n)
		}
	})
	t.Run("a Maildir that is a symbolic link fails its account, reported", func(t *testing.T) {
		a := accountReport(t, rep, "alice2@example.test")
		require.NotEmpty(t, a.Errors)
		assert.Equal(t, "maildir source "+w.root+": open example.test/alice2/Maildir: is a symbolic link: not followed", a.Errors[0])
	})
	t.Run("a domain folder that is a symbolic link is reported", func(t *testing.T) {
		assert.Contains(t, strings.Join(rep.Errors, "\n"), `"linked.test" is a symbolic link: not followed`)
	})
}

func TestMaildirMaxFileSize(t *testing.T) {
	m := newMailTree(t)
	box := m.box("ann@example.com")
	putMsg(t, box, "1700000001.M1P1.host", "small", "x")
	// Its name claims 10 bytes: the file's own size counts.
	big := filepath.Join(box, "cur", "1700000002.M1P1.host,S=10:2,S")
	require.NoError(t, os.WriteFile(big, []byte(msg("big", strings.Repeat("y", 1500))), 0o644))
	fi, err := os.Stat(big)
	require.NoError(t, err)
	age(t, m.root)
	bp := newBP(t)
	var logs bytes.Buffer
	rep, err := Run(context.Background(), bp, NewMaildir(m.root), Options{MaxFileSize: 1000, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	require.NoError(t, err)
	assert.Equal(t, 1, rep.ReadErrors)
	assert.Contains(t, logs.String(), fmt.Sprintf("cur/1700000002.M1P1.host,S=10:2,S: %d bytes, over the scan's max file size of 1000 bytes: not read", fi.Size()))
	assert.Equal(t, []string{"small"}, sortedKeys(live(t, items(t, bp, accountID(t, bp, "ann@example.com")))))

	// No limit: read, whatever the name said.
	rep, err = Run(context.Background(), bp, NewMaildir(m.root), Options{MaxFileSize: -1})
	require.NoError(t, err)
	assert.Zero(t, rep.ReadErrors)
	l := live(t, items(t, bp, accountID(t, bp, "ann@example.com")))
	require.Contains(t, l, "big")
	assert.Equal(t, fi.Size(), l["big"].Size)
}

// A name's ",S=" is a claim for change detection only: the file is read
// whole, as fstat measures it.
func TestMaildirSizeClaims(t *testing.T) {
	m := newMailTree(t)
	box := m.box("ann@example.com")
	for i, claim := range []string{"S=10", "S=99999999999999", "S=-5", "S=x"} {
		p := filepath.Join(box, "cur", fmt.Sprintf("170000000%d.M1P1.host,%s:2,S", i, claim))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(msg("claim "+claim, strings.Repeat("z", 3000))), 0o644))
	}
	age(t, m.root)
	bp := newBP(t)
	rep := run(t, bp, NewMaildir(m.root), Options{})
	assert.Zero(t, rep.ReadErrors)
	for subj, s := range live(t, items(t, bp, accountID(t, bp, "ann@example.com"))) {
		data, err := bp.Blobs.Read(s.Digest)
		require.NoError(t, err)
		assert.Equal(t, msg(subj, strings.Repeat("z", 3000)), string(data))
		assert.EqualValues(t, len(data), s.Size)
	}
	// Nothing changed: a second scan reads nothing, writes nothing.
	rep = run(t, bp, NewMaildir(m.root), Options{})
	assert.Zero(t, rep.Written)
}

// Messages over bigMessage are streamed into their blobs: the same blobs,
// items and summaries as messages read whole; moves, flag changes and a
// deep scan's repair work on them too.
func TestMaildirStreamedMessages(t *testing.T) {
	old := bigMessage
	bigMessage = 4096
	t.Cleanup(func() { bigMessage = old })

	m := newMailTree(t)
	box := m.box("ann@example.com")
	bodies := map[string]string{
		"tiny":   "t",
		"big":    strings.Repeat("b", 10000),
		"bigger": strings.Repeat("g", 3<<20), // past blob's small path too
	}
	for subj, body := range bodies {
		m.add(box, "INBOX", "S", msg(subj, body))
	}
	age(t, m.root)
	bp := newBP(t)
	rep := run(t, bp, NewMaildir(m.root), Options{})
	assert.Equal(t, 3, rep.BlobsNew)
	id := accountID(t, bp, "ann@example.com")
	l := live(t, items(t, bp, id))
	require.Len(t, l, 3)
	for subj, body := range bodies {
		s := l[subj]
		require.NotNil(t, s, subj)
		data, err := bp.Blobs.Read(s.Digest)
		require.NoError(t, err)
		assert.Equal(t, msg(subj, body), string(data), subj)
		assert.EqualValues(t, len(data), s.Size)
		assert.Equal(t, "Ann <ann@example.com>", s.From, "the summary of %s", subj)
		// The same bytes as a blob written whole.
		other := blob.NewStore(t.TempDir())
		d, _, err := other.Put(data)
		require.NoError(t, err)
		want, err := os.ReadFile(other.Path(d))
		require.NoError(t, err)
		got, err := os.ReadFile(bp.Blobs.Path(d))
		require.NoError(t, err)
		assert.Equal(t, want, got, "blob of %s", subj)
	}
	var total int64
	for subj, body := range bodies {
		total += int64(len(msg(subj, body)))
	}
	assert.Equal(t, total, rep.Bytes)

	// A flag change and a move under another name.
	p := m.find(box, strings.Split(filepath.Base(findSubject(t, box, "big")), ":")[0])
	require.NoError(t, os.Rename(p, strings.TrimSuffix(p, "S")+"FS"))
	pg := findSubject(t, box, "bigger")
	sent := filepath.Join(box, ".Sent", "cur")
	require.NoError(t, os.MkdirAll(sent, 0o755))
	require.NoError(t, os.Rename(pg, filepath.Join(sent, "1800000000.M9P9.other:2,S")))
	age(t, m.root)
	rep = run(t, bp, NewMaildir(m.root), Options{})
	assert.Equal(t, 1, rep.Items.Moved, "the big message found again by content")
	assert.Zero(t, rep.Items.Deleted)
	assert.Zero(t, rep.BlobsNew)
	l = live(t, items(t, bp, id))
	assert.Equal(t, "f", l["big"].Flags)

	// A name whose ",S=" is not the size: whenever its folder is listed,
	// the message is taken for changed, re-read (hashed) and found
	// unchanged: nothing is written for it; its blob missing, it is
	// written again.
	liarMsg := msg("liar", strings.Repeat("l", 20000))
	require.NoError(t, os.WriteFile(filepath.Join(box, "cur", "1900000000.M1P1.host,S=5:2,S"), []byte(liarMsg), 0o644))
	age(t, m.root)
	rep = run(t, bp, NewMaildir(m.root), Options{})
	assert.Equal(t, 1, rep.Items.New)
	for i, name := range []string{"other", "other2"} {
		if i == 1 {
			require.NoError(t, os.Remove(bp.Blobs.Path(live(t, items(t, bp, id))["liar"].Digest)))
		}
		m.add(box, "INBOX", "S", msg(name, "o")) // the folder changes: listed
		age(t, m.root)
		rep = run(t, bp, NewMaildir(m.root), Options{})
		assert.Equal(t, 1, rep.Items.New, name)
		assert.Zero(t, rep.Items.Changed, "the liar is unchanged")
		assert.Equal(t, int64(len(liarMsg)+len(msg(name, "o"))), rep.Bytes, "the liar is re-read")
		assert.Equal(t, 1+i, rep.BlobsNew, "the new message's, and the liar's when it was missing")
	}
	assert.NoError(t, bp.Blobs.Check(live(t, items(t, bp, id))["liar"].Digest))

	// A damaged blob of a streamed message: a deep scan writes it again.
	d := l["bigger"].Digest
	require.NoError(t, os.WriteFile(bp.Blobs.Path(d), []byte("not gzip"), 0o644))
	require.Error(t, bp.Blobs.Check(d))
	rep = run(t, bp, NewMaildir(m.root), Options{Deep: true})
	assert.Equal(t, 1, rep.BlobsNew)
	assert.NoError(t, bp.Blobs.Check(d))
	// And a missing one.
	require.NoError(t, os.Remove(bp.Blobs.Path(d)))
	rep = run(t, bp, NewMaildir(m.root), Options{Deep: true})
	assert.Equal(t, 1, rep.BlobsNew)
	assert.NoError(t, bp.Blobs.Check(d))
	assert.Zero(t, rep.Items.Changed+rep.Items.New+rep.Items.Deleted)
}

// findSubject finds the message file of a subject under box.
func findSubject(t *testing.T, box, subject string) string {
	t.Helper()
	var found string
	filepath.WalkDir(box, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			f, err := os.Open(p)
			if err != nil {
				return nil
			}
			defer f.Close()
			head := make([]byte, 512)
			n, _ := f.Read(head)
			if strings.Contains(string(head[:n]), "Subject: "+subject+"\n") {
				found = p
			}
		}
		return nil
	})
	require.NotEmpty(t, found, subject)
	return found
}

// A file that changes between fstat and read is an error, never read past
// the size fstat gave.
func TestReadSizedAndBody(t *testing.T) {
	p := filepath.Join(t.TempDir(), "m")
	require.NoError(t, os.WriteFile(p, []byte("0123456789"), 0o644))
	for _, tc := range []struct {
		size int64
		want string
	}{{10, ""}, {9, "longer than its size"}, {11, "shorter than its size"}, {0, "longer than its size"}} {
		f, err := os.Open(p)
		require.NoError(t, err)
		data, err := readSized(f, tc.size, "cur/m")
		f.Close()
		if tc.want == "" {
			assert.NoError(t, err)
			assert.Equal(t, "0123456789", string(data))
		} else {
			assert.ErrorContains(t, err, "cur/m: "+tc.want)
		}
		b := &body{r: strings.NewReader("0123456789"), size: tc.size, name: "cur/m"}
		got, err := io.ReadAll(b)
		if tc.want == "" {
			assert.NoError(t, err)
			assert.Equal(t, "0123456789", string(got))
		} else {
			assert.ErrorContains(t, err, "cur/m: "+tc.want)
			assert.ErrorIs(t, b.err, err)
			assert.LessOrEqual(t, int64(len(got)), tc.size, "nothing past the size is given")
		}
	}
}

func TestDecodeMUTF7(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{"INBOX", "INBOX", ""},
		{"Entw&APw-rfe", "Entwürfe", ""},
		{"a&-b", "a&b", ""},
		{"&-&-", "&&", ""},
		{"&ZeVnLIqe-", "日本語", ""},
		{"&2D3eAA-", "\U0001F600", ""},   // a surrogate pair
		{"&AOkA6Q-", "éé", ""},           // one run, two characters
		{"&AAo-", "\n", ""},              // a control character, encoded
		{"~peter&AOk-x", "~peteréx", ""}, // printable ASCII around a run
		{"&", "", "not closed"},          // no "-"
		{"a&Jjo", "", "not closed"},
		{"bad&%%-", "", "bad base64"},
		{"&AGE-", "", "stands for itself"}, // "a" encoded
		{"&ACY-", "", "stands for itself"}, // "&" encoded
		{"&AOk-&AOk-", "", "two encoded runs in a row"},
		{"&AOl-", "", "bad base64"},         // unused bits not zero
		{"&AO-", "", "bad base64"},          // unused bits not zero
		{"&AA-", "", "not a whole number"},  // one byte
		{"&2D0-", "", "unpaired surrogate"}, // a high surrogate alone
		{"&3gA-", "", "unpaired surrogate"}, // a low surrogate alone
		{"&AOk/-", "", "bad base64"},        // "/" is "," in modified base64
		{"&AOk=-", "", "bad base64"},        // no padding
		{"&0\n\n00-", "", "bad base64"},     // encoding/base64 would skip the newlines
		{"caf\xc3\xa9", "", "byte 0xc3"},    // raw UTF-8
		{"a\tb", "", "byte 0x09"},           // a raw control character
		{"a\x7fb", "", "byte 0x7f"},
	} {
		got, err := decodeMUTF7(tc.in)
		if tc.err == "" {
			assert.NoError(t, err, "%q", tc.in)
			assert.Equal(t, tc.want, got, "%q", tc.in)
			assert.Equal(t, tc.in, mailbox.EncodeMUTF7(got), "the one encoding of %q", got)
		} else {
			assert.ErrorContains(t, err, tc.err, "%q", tc.in)
			assert.ErrorIs(t, err, errMUTF7)
		}
	}
}

// Every name that decodes has exactly one encoding (so two folders never
// decode to one path), and every name decodes from its encoding.
func FuzzDecodeMUTF7(f *testing.F) {
	for _, s := range []string{"INBOX", "Entw&APw-rfe", "a&-b", "&ZeVnLIqe-", "&2D3eAA-", "&AOk-&AOk-", "&AGE-", "bad&%%-", "&"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		dec, err := decodeMUTF7(s)
		if err == nil {
			if enc := mailbox.EncodeMUTF7(dec); enc != s {
				t.Fatalf("%q decodes to %q, which encodes to %q", s, dec, enc)
			}
		}
		if utf8.ValidString(s) {
			back, err := decodeMUTF7(mailbox.EncodeMUTF7(s))
			if err != nil || back != s {
				t.Fatalf("%q encodes to %q, which decodes to %q, %v", s, mailbox.EncodeMUTF7(s), back, err)
			}
		}
	})
}
