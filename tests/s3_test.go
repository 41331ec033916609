package tests

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/internal/dovecot"
	"github.com/cbfs/cbfs/internal/s3test"
)

// s3Env hands the test server's credentials to every binary the test runs
// (through the environment, as an administrator would).
func s3Env(t *testing.T, srv *s3test.Server) {
	for _, kv := range srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
}

// s3Message is a message of about size bytes with a unique subject.
func s3Message(subject string, size int, r *rand.Rand) []byte {
	var b strings.Builder
	b.WriteString("From: Ann <ann@example.com>\nTo: someone@example.test\nSubject: " + subject +
		"\nMessage-ID: <" + subject + "@example.com>\nDate: Wed, 01 May 2024 08:59:58 +0000\n\n")
	const letters = "abcdefghijklmnopqrstuvwxyz      \n"
	for b.Len() < size {
		b.WriteByte(letters[r.Intn(len(letters))])
	}
	b.WriteString("\n")
	return []byte(b.String())
}

// s3Tree is every file the mount shows for accounts' folders, items,
// deleted items and account.json, and server/, as path -> sha256 of the
// bytes read (at/ and Maildir/ show the same blobs again; blobs/ lists
// what the blob area holds, which for an s3:// mount is what it has
// fetched so far).
func s3Tree(t *testing.T, mp string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(mp, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(mp, p)
		parts := strings.Split(rel, string(filepath.Separator))
		if e.IsDir() {
			if rel == "blobs" || (len(parts) == 3 && parts[0] == "accounts" && (parts[2] == "at" || parts[2] == "Maildir")) {
				return filepath.SkipDir
			}
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		sum := sha256.Sum256(b)
		out[rel] = hex.EncodeToString(sum[:])
		return nil
	})
	require.NoError(t, err)
	return out
}

// s3MetaFiles is every metadata file of a Backup Path (all but items/ and
// cbfs's own dot files), path -> content.
func s3MetaFiles(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if strings.HasPrefix(e.Name(), ".") && rel != "." {
			if e.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if e.IsDir() {
			if rel == "items" || rel == "quarantine" {
				return filepath.SkipDir
			}
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out[rel] = string(b)
		return nil
	})
	require.NoError(t, err)
	return out
}

// TestS3RoundTrip is issue 14's "done when": a Maildir backed up with
// --external to a real S3 server, the local Backup Path deleted, its
// metadata retrieved from the archives, the bucket mounted: every message
// byte-identical; then the mount serves from its cache with the server
// gone, and an uncached message fails with EIO, not a hang.
func TestS3RoundTrip(t *testing.T) {
	mountSkipUnlessFUSE(t)
	srv := s3test.Start(t)
	s3Env(t, srv)
	users := map[string]string{"alice@example.test": "pw", "bob@example.test": "pw"}
	dv := dovecot.Start(t, users)
	dv2 := dovecot.Start(t, users) // the restore's target (started here: a subtest's name would make its socket paths too long)
	r := rand.New(rand.NewSource(14))
	for i := range 30 {
		size := 200 + r.Intn(20000)
		if i == 7 {
			size = 3 << 20 // streamed, not read whole
		}
		require.NoError(t, dv.Deliver("ann@example.com", []string{"alice@example.test"}, s3Message(fmt.Sprintf("alice-%d", i), size, r)))
	}
	for i := range 5 {
		require.NoError(t, dv.Deliver("ann@example.com", []string{"bob@example.test"}, s3Message(fmt.Sprintf("bob-%d", i), 500, r)))
	}

	dir := t.TempDir()
	bin := mountBinary(t, dir)
	root, st := filepath.Join(dir, "bp"), filepath.Join(dir, "st")
	url := srv.URL("mail01")
	svc := serveStart(t, bin, st, "--backup-path", root, "--source", "maildir:"+dv.MailRoot(), "--external", url)
	ok(t, "backup", "doSmartScan", "--wait", "--state-dir", st)
	// A purge writes the metadata archives (as the daily timer does).
	ok(t, "backup", "doPurge", "--wait", "--state-dir", st)
	svc.term(t)
	assert.Contains(t, svc.stderr.String(), "external: blobs uploaded")
	assert.Contains(t, svc.stderr.String(), "external: metadata archived")

	// What the local Backup Path shows, before it goes.
	mp := filepath.Join(dir, "mnt-local")
	require.NoError(t, os.Mkdir(mp, 0o755))
	m := mountStart(t, bin, root, mp, filepath.Join(dir, "local.db"))
	want := s3Tree(t, mp)
	m.stop(t)
	wantMeta := s3MetaFiles(t, root)
	emls := 0
	for p := range want {
		if strings.HasSuffix(p, ".eml") && strings.Contains(p, "/folders/") {
			emls++
		}
	}
	require.Equal(t, 35, emls, "every message is in the local mount")
	require.NoError(t, os.RemoveAll(root))

	t.Run("retrieveMetadataFromArchive rebuilds the metadata tree", func(t *testing.T) {
		dest := filepath.Join(dir, "retrieved")
		res := ok(t, "backup", "retrieveMetadataFromArchive", "S3", dest, "bucket_name", srv.Bucket,
			"url", "http://"+srv.Addr, "prefix", "mail01", "threads", "4")
		assert.Contains(t, res.stdout, "retrieved 3 archives")
		assert.Equal(t, wantMeta, s3MetaFiles(t, dest))
		// Again: nothing changed in the bucket, nothing is fetched.
		res = ok(t, "backup", "retrieveMetadataFromArchive", "S3", dest, "bucket_name", srv.Bucket,
			"url", "http://"+srv.Addr, "prefix", "mail01")
		assert.Contains(t, res.stdout, "retrieved 0 archives")
		assert.Contains(t, res.stdout, "3 unchanged")
		assert.Equal(t, wantMeta, s3MetaFiles(t, dest))

		// Local: the same layout in a folder (versitygw's posix backend
		// keeps each object as a file of its name).
		local := filepath.Join(dir, "retrieved-local")
		res = ok(t, "backup", "retrieveMetadataFromArchive", "Local", filepath.Join(srv.Dir, srv.Bucket, "mail01"), local)
		assert.Contains(t, res.stdout, "retrieved 3 archives")
		assert.Equal(t, wantMeta, s3MetaFiles(t, local))
	})

	cache := filepath.Join(dir, "cache")
	mp2 := filepath.Join(dir, "mnt-s3")
	require.NoError(t, os.Mkdir(mp2, 0o755))
	m2 := mountStart(t, bin, url, mp2, filepath.Join(dir, "s3.db"), "--cache-dir", cache)
	assert.Contains(t, m2.ready, "mounted s3://"+srv.Bucket+"/mail01")

	t.Run("every message is byte-identical through the s3:// mount", func(t *testing.T) {
		got := s3Tree(t, mp2)
		assert.Equal(t, len(want), len(got))
		for p, sum := range want {
			assert.Equal(t, sum, got[p], p)
		}
		// The bytes came from the bucket: the blobs are now in the cache.
		cached, _ := filepath.Glob(filepath.Join(cache, "*", "items", "*", "*"))
		assert.Len(t, cached, 35, "one cached blob per message")
	})

	t.Run("wrong key: one clear line, non-zero exit", func(t *testing.T) {
		t.Setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
		mp3 := filepath.Join(dir, "mnt-bad")
		require.NoError(t, os.Mkdir(mp3, 0o755))
		code, stderr := mountRun(t, bin, "mount", url, mp3, "--cache-dir", filepath.Join(dir, "cache3"))
		assert.NotEqual(t, 0, code)
		assert.Equal(t, 1, strings.Count(strings.TrimSpace(stderr), "\n")+1, "one line: %s", stderr)
		assert.Contains(t, stderr, "refused the credentials")
		assert.NotContains(t, stderr, "not-the-secret")
		res := cbctl(t, "backup", "retrieveMetadataFromArchive", "S3", filepath.Join(dir, "r3"), "url", url)
		assert.NotEqual(t, 0, res.code)
		assert.Contains(t, res.stderr, "refused the credentials")
		// The service does not start with a key the store refuses.
		cmd := exec.Command(bin, "serve", "--state-dir", filepath.Join(dir, "st-bad"), "--backup-path", filepath.Join(dir, "bp-bad"),
			"--source", "maildir:"+dv.MailRoot(), "--scan-schedule", "off", "--purge-schedule", "off", "--external", url)
		out, err := cmd.CombinedOutput()
		require.Error(t, err, "serve with a wrong key must not start: %s", out)
		assert.Contains(t, string(out), "refused the credentials")
		assert.NotContains(t, string(out), "not-the-secret")
	})
	m2.stop(t)

	t.Run("doExternalRestore s3:// into Dovecot restores everything", func(t *testing.T) {
		r := ok(t, "backup", "doExternalRestore", url, "target", dv2.SourceURL(), "--state-dir", filepath.Join(dir, "st2"))
		assert.Equal(t, 35, statLine(t, r.stdout, "Restored Items"), r.stdout)
		for user := range users {
			wantSums := map[string]int{}
			for p, sum := range want {
				if strings.HasPrefix(p, filepath.Join("accounts", user, "folders")+"/") {
					wantSums[sum]++
				}
			}
			assert.Equal(t, wantSums, s3MaildirSums(t, dv2.MaildirOf(user)), user)
		}
	})

	t.Run("store killed: cached files still served, an uncached one fails with EIO, listing unaffected", func(t *testing.T) {
		mp4 := filepath.Join(dir, "mnt-fault")
		require.NoError(t, os.Mkdir(mp4, 0o755))
		mountStart(t, bin, url, mp4, filepath.Join(dir, "fault.db"), "--cache-dir", filepath.Join(dir, "cache4"))
		bob := s3FolderFiles(t, mp4, "bob@example.test")
		require.Len(t, bob, 5)
		for _, f := range bob {
			_, err := os.ReadFile(f)
			require.NoError(t, err)
		}

		// Listing and ls -l come from the local index: listing alice's
		// folder and stat'ing every file fetches nothing.
		alice := s3FolderFiles(t, mp4, "alice@example.test")
		require.Len(t, alice, 30)
		large, size := "", int64(0)
		for _, f := range alice {
			fi, err := os.Stat(f)
			require.NoError(t, err)
			if fi.Size() > size {
				large, size = f, fi.Size()
			}
		}
		cached, _ := filepath.Glob(filepath.Join(dir, "cache4", "*", "items", "*", "*"))
		assert.Len(t, cached, 5, "only bob's messages were fetched")

		srv.Kill()
		for _, f := range bob {
			b, err := os.ReadFile(f)
			require.NoError(t, err, "a cached file with the store down")
			rel, _ := filepath.Rel(mp4, f)
			sum := sha256.Sum256(b)
			assert.Equal(t, want[rel], hex.EncodeToString(sum[:]), rel)
		}
		require.Greater(t, size, int64(1<<20))
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, "cat", large).CombinedOutput()
		require.NoError(t, ctx.Err(), "cat hung with the store down")
		require.Error(t, err, "cat of an unreachable blob must fail")
		assert.Contains(t, string(out), "Input/output error")
	})
}

// s3MaildirSums is the sha256 of every message file of a Maildir++ tree
// (cur/ and new/ of every folder), counted.
func s3MaildirSums(t *testing.T, md string) map[string]int {
	t.Helper()
	out := map[string]int{}
	err := filepath.WalkDir(md, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		if d := filepath.Base(filepath.Dir(p)); d != "cur" && d != "new" {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		out[hex.EncodeToString(sum[:])]++
		return nil
	})
	require.NoError(t, err)
	return out
}

// s3FolderFiles lists the .eml files of an account's folders/ tree.
func s3FolderFiles(t *testing.T, mp, account string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(filepath.Join(mp, "accounts", account, "folders"), func(p string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() && strings.HasSuffix(p, ".eml") {
			out = append(out, p)
		}
		return err
	})
	require.NoError(t, err)
	return out
}
