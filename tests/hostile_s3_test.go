package tests

import (
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/external"
	"github.com/cbfs/cbfs/internal/s3test/s3hostile"
	"github.com/cbfs/cbfs/objstore"
)

// A Backup Path kept on an S3 endpoint that lies (s3hostile, issue 18):
// three accounts, each archived and its blobs uploaded as cbfs serve
// --external does. ann's are honest. liar's archive is honest but two of
// its blobs, each recorded as 150 bytes, are answered with 200 MiB (an
// honest Content-Length) and with an endless body (no Content-Length);
// its third message is honest. bomb's archive is an endless tar stream.
const (
	hsAnnID   = "aaaaaaaa-0000-4000-8000-000000000001"
	hsLiarID  = "aaaaaaaa-0000-4000-8000-000000000002"
	hsBombID  = "aaaaaaaa-0000-4000-8000-000000000003"
	hsPrefix  = "mail01"
	hsRecord  = 150
	hsCache   = 8 << 20 // --cache-size of the mounts
	hsMaxSent = 64 << 20
)

// hsBody is a message of exactly hsRecord bytes.
func hsBody(subject string) []byte {
	b := []byte("Subject: " + subject + "\r\nFrom: zimbra@example.com\r\n\r\n" + strings.Repeat("x", hsRecord))
	return append(b[:hsRecord-2], '\r', '\n')
}

type hostileS3 struct {
	srv                *s3hostile.Server
	url                string
	good, big, endless blob.Digest // ann's message; liar's two lying blobs
	liarGood           blob.Digest
	bombArchive        []byte // bomb's honest archive (the test may restore it)
}

// startHostileS3 builds the Backup Path, puts it on a hostile endpoint and
// makes it lie; the credentials go to the environment.
func startHostileS3(t *testing.T) *hostileS3 {
	t.Helper()
	root := t.TempDir()
	writeJSONFile(t, filepath.Join(root, "backupstat"), map[string]any{
		"serverId": fixSrv, "hostname": "mail.example.com",
		"firstRunDate": day("01/07/2013 00:00:00"), "lastScanDate": day("16/07/2013 03:00:00"),
	})
	h := &hostileS3{}
	account := func(id, name string, msgs ...[]byte) []blob.Digest {
		writeJSONFile(t, filepath.Join(root, "accounts", id, "account_info"), map[string]any{
			"id": id, "name": name, "status": "active", "cosName": "default", "cosId": "cos-1",
			"createdDate": day("01/07/2013 09:00:00"),
		})
		var ds []blob.Digest
		for i, m := range msgs {
			d := putBlob(t, root, m, gz(t, m))
			st := msgState("12/07/2013 16:35:44", 2, "", false, d, "message "+strconv.Itoa(i))
			st["size"] = len(m)
			writeItem(t, root, id, 300+i, st)
			ds = append(ds, d)
		}
		return ds
	}
	h.good = account(hsAnnID, "ann@example.com", hsBody("ann's message"))[0]
	liar := account(hsLiarID, "liar@example.com", hsBody("liar 0"), hsBody("liar 1"), hsBody("liar 2"))
	h.big, h.endless, h.liarGood = liar[0], liar[1], liar[2]
	account(hsBombID, "bomb@example.com", hsBody("bomb's message"))

	stage := t.TempDir()
	ctx := context.Background()
	_, err := external.UploadBlobs(ctx, root, &objstore.Dir{Root: stage}, 4)
	require.NoError(t, err)
	_, err = external.UploadMetadata(ctx, root, &objstore.Dir{Root: stage}, 4)
	require.NoError(t, err)

	h.srv = s3hostile.Start(t)
	require.NoError(t, filepath.WalkDir(stage, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(stage, p)
		h.srv.Put(hsPrefix+"/"+filepath.ToSlash(rel), b)
		return nil
	}))
	obj := func(d blob.Digest) string { return hsPrefix + "/" + d.RelPath() }
	h.srv.Lie(obj(h.big), gz(t, hsBody("liar 0")), s3hostile.Oversize(200<<20))
	h.srv.Lie(obj(h.endless), gz(t, hsBody("liar 1")), s3hostile.EndlessBody())
	h.bombArchive, err = os.ReadFile(filepath.Join(stage, external.AccountArchive(hsBombID)))
	require.NoError(t, err)
	h.srv.Lie(hsPrefix+"/"+external.AccountArchive(hsBombID), h.bombArchive, s3hostile.EndlessTar("items", 20, false))
	h.url = h.srv.URL(hsPrefix)
	for _, kv := range h.srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	return h
}

// tmpfsUsed mounts a tmpfs of its own at dir (removed at cleanup) and
// returns a function giving its use at one instant (statfs), which a walk
// of the folder cannot.
func tmpfsUsed(t *testing.T, dir string) func() int64 {
	t.Helper()
	require.NoError(t, unix.Mount("tmpfs", dir, "tmpfs", 0, "size=1g,mode=0700"))
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	return func() int64 {
		var s unix.Statfs_t
		if err := unix.Statfs(dir, &s); err != nil {
			return -1
		}
		return int64(s.Blocks-s.Bfree) * int64(s.Bsize)
	}
}

// hsLeftovers is every cbfs temporary name below dir.
func hsLeftovers(dir string) []string {
	var out []string
	filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err == nil && (strings.HasPrefix(e.Name(), ".cbfs-tmp-") || (strings.HasPrefix(e.Name(), ".") && e.Type().IsRegular() && strings.Contains(p, "/items/"))) {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// TestHostileS3Mount: cbfs mount of the lying endpoint comes up with every
// account named; the endless archive costs its account only (no items,
// user.cbfs.index.error and the log say why); each lying blob fails with EIO and its reason within a
// deadline, having downloaded little and never grown the cache past
// --cache-size; the honest messages read; the mount stays within 300 MiB.
func TestHostileS3Mount(t *testing.T) {
	mountSkipUnlessFUSE(t)
	h := startHostileS3(t)
	dir := t.TempDir()
	bin := mountBinary(t, dir)
	cache := filepath.Join(dir, "cache")
	require.NoError(t, os.Mkdir(cache, 0o700))
	used := tmpfsUsed(t, cache)
	mp := filepath.Join(dir, "mnt")
	require.NoError(t, os.Mkdir(mp, 0o755))
	start := time.Now()
	p := mountStart(t, bin, h.url, mp, filepath.Join(dir, "index"), "--cache-dir", cache, "--cache-size", "8M",
		"--s3-max-archive-files", "20000")
	t.Logf("mount ready in %s", time.Since(start).Round(time.Millisecond))
	// The mount is lazy: every account is named from its summary; the
	// bomb's archive is refused when its items are first indexed (its
	// first use, or the background), and only that account shows none,
	// saying why.
	assert.Contains(t, p.ready, "(3 accounts,")
	ents, err := os.ReadDir(filepath.Join(mp, "accounts"))
	require.NoError(t, err)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	assert.Equal(t, []string{"ann@example.com", "bomb@example.com", "liar@example.com"}, names)
	bombDir := filepath.Join(mp, "accounts", "bomb@example.com")
	_, err = os.ReadDir(filepath.Join(bombDir, "items"))
	require.NoError(t, err)
	why, err := unixGetxattr(bombDir, "user.cbfs.index.error")
	require.NoError(t, err)
	assert.Contains(t, why, "accounts/"+hsBombID+".tar.gz: more than 20000 entries")
	assert.Eventually(t, func() bool { return strings.Contains(p.stderr.String(), "more than 20000 entries") },
		10*time.Second, 50*time.Millisecond, "the log says why the account shows no items\n%s", p.stderr)
	assert.Empty(t, hsLeftovers(cache), "nothing of the refused archive is left")

	base := used()
	peak := base
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if u := used(); u > peak {
				peak = u
			}
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	inbox := func(acct string, id int) string {
		return filepath.Join(mp, "accounts", acct, "folders", "Inbox", strconv.Itoa(id)+".eml")
	}
	for _, tc := range []struct {
		name, file, want string
	}{
		{"200 MiB for a blob of 150 bytes", inbox("liar@example.com", 300),
			"broken: size mismatch: the store announces 209715200 bytes, more than the blob's file can take (at most 8346 bytes) (state records 150)"},
		{"an endless body for a blob of 150 bytes", inbox("liar@example.com", 301),
			"broken: size mismatch: the store sends more than the blob's file can take (at most 8346 bytes), announcing no size (state records 150)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fi, err := os.Stat(tc.file)
			require.NoError(t, err)
			assert.Equal(t, int64(hsRecord), fi.Size())
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			out, err := exec.CommandContext(ctx, "cat", tc.file).CombinedOutput()
			require.NoError(t, ctx.Err(), "cat still reading after a minute")
			require.Error(t, err, "cat of a lying blob must fail")
			assert.Contains(t, string(out), "Input/output error")
			st, err := unixGetxattr(tc.file, "user.cbfs.status")
			require.NoError(t, err)
			assert.Contains(t, st, tc.want)
		})
	}
	t.Run("the honest messages read", func(t *testing.T) {
		for _, c := range []struct {
			file string
			want []byte
		}{{inbox("ann@example.com", 300), hsBody("ann's message")}, {inbox("liar@example.com", 302), hsBody("liar 2")}} {
			b, err := os.ReadFile(c.file)
			require.NoError(t, err)
			assert.Equal(t, c.want, b)
		}
	})
	close(stop)
	<-sampled
	t.Logf("cache file system: %d bytes at ready, peak %d; endpoint sent %d bytes", base, peak, h.srv.Sent.Load())
	// A file takes whole pages: a page of slack for each.
	assert.LessOrEqual(t, peak-base, int64(hsCache+16*4096), "the cache grew past --cache-size")
	assert.Less(t, h.srv.Sent.Load(), int64(hsMaxSent), "the lies were not downloaded")
	assert.Empty(t, hsLeftovers(cache))
	rss := vmHWM(t, p.cmd.Process.Pid)
	assert.Less(t, rss, int64(bombRSSLimit), "mount peak RSS %d MiB", rss>>20)
	t.Logf("mount: peak RSS %d MiB", rss>>20)
	p.stop(t)
}

// TestHostileS3Retrieve: retrieveMetadataFromArchive from the lying
// endpoint: the endless archive is refused with one line naming it, the
// other accounts are retrieved, exit 3 (partial); an endless listing ends
// with a clear error; both within a deadline and 300 MiB.
func TestHostileS3Retrieve(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	h := startHostileS3(t)
	dir := t.TempDir()
	t.Run("an endless archive", func(t *testing.T) {
		dest := filepath.Join(dir, "retrieved")
		r, rss := cbctlRSSWithin(t, 3*time.Minute, nil, "backup", "retrieveMetadataFromArchive", "S3", dest, "url", h.url, "max_archive_files", "5000")
		assert.Equal(t, 3, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
		// (5000: cbctl writes each file durably, a few hundred a second here)
		assert.Contains(t, r.stderr, "cbctl: warning: account "+hsBombID+": accounts/"+hsBombID+".tar.gz: more than 5000 entries")
		assert.Contains(t, r.stdout, "retrieved 3 archives")
		for _, id := range []string{hsAnnID, hsLiarID} {
			_, err := os.Stat(filepath.Join(dest, "accounts", id, "account_info"))
			assert.NoError(t, err, id)
		}
		_, err := os.Stat(filepath.Join(dest, "accounts", hsBombID))
		assert.True(t, os.IsNotExist(err), "no folder for the refused archive")
		assert.Empty(t, hsLeftovers(dest))
		assert.Less(t, rss, int64(bombRSSLimit), "peak RSS %d MiB", rss>>20)
		t.Logf("retrieve: peak RSS %d MiB", rss>>20)
	})
	t.Run("an endless listing", func(t *testing.T) {
		h.srv.LiePrefix, h.srv.Listing = hsPrefix+"/accounts/", s3hostile.ListEndless
		defer func() { h.srv.Listing = s3hostile.ListHonest }()
		start := time.Now()
		r, rss := cbctlRSSWithin(t, 3*time.Minute, nil, "backup", "retrieveMetadataFromArchive", "S3", filepath.Join(dir, "r2"), "url", h.url)
		assert.Equal(t, 1, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
		assert.Contains(t, r.stderr, "more than 1048576 objects under accounts/")
		assert.Equal(t, 1, strings.Count(strings.TrimSpace(r.stderr), "\n")+1, r.stderr)
		assert.Less(t, rss, int64(bombRSSLimit), "peak RSS %d MiB", rss>>20)
		t.Logf("endless listing: %s, %d pages, peak RSS %d MiB", time.Since(start).Round(time.Millisecond), h.srv.Lists.Load(), rss>>20)
	})
	t.Run("a listing that repeats", func(t *testing.T) {
		h.srv.LiePrefix, h.srv.Listing = hsPrefix+"/accounts/", s3hostile.ListRepeat
		defer func() { h.srv.Listing = s3hostile.ListHonest }()
		r, _ := cbctlRSSWithin(t, time.Minute, nil, "backup", "retrieveMetadataFromArchive", "S3", filepath.Join(dir, "r3"), "url", h.url)
		assert.Equal(t, 1, r.code)
		assert.Contains(t, r.stderr, "listing does not end: key")
	})
}

// TestHostileS3Restore: doExternalRestore from the lying endpoint (its
// bomb archive made honest: a restore takes the default bounds) restores
// the honest messages and reports the lying ones broken, within 300 MiB.
func TestHostileS3Restore(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	h := startHostileS3(t)
	h.srv.Put(hsPrefix+"/"+external.AccountArchive(hsBombID), h.bombArchive)
	dir := t.TempDir()
	tgt := filepath.Join(dir, "maildir")
	r, rss := cbctlRSSWithin(t, 3*time.Minute, nil, "backup", "doExternalRestore", h.url, "target", "maildir:"+tgt, "--state-dir", filepath.Join(dir, "st"))
	require.Equal(t, 3, r.code, "a partial restore; stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Equal(t, 3, statLine(t, r.stdout, "Restored Items"), r.stdout)
	assert.Equal(t, 2, statLine(t, r.stdout, "Unrestored Items"), r.stdout)
	ids, classes := unrestored(t, r.stdout)
	assert.Equal(t, map[string][]int{"liar@example.com": {300, 301}}, ids)
	assert.Equal(t, "broken", classes["liar@example.com/300"], r.stdout)
	assert.Equal(t, "broken", classes["liar@example.com/301"], r.stdout)
	assert.Less(t, h.srv.Sent.Load(), int64(hsMaxSent))
	assert.Less(t, rss, int64(bombRSSLimit), "peak RSS %d MiB", rss>>20)
	t.Logf("restore: peak RSS %d MiB, endpoint sent %d bytes", rss>>20, h.srv.Sent.Load())
}
