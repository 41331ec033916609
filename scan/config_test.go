package scan

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/internal/testuser"
)

// archived is one entry of a customizations archive.
type archived struct {
	typ  byte
	link string
	body string
}

// untar lists a customizations archive by entry name.
func untar(t *testing.T, tgz []byte) map[string]archived {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(tgz))
	require.NoError(t, err)
	tr := tar.NewReader(zr)
	out := map[string]archived{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		b, err := io.ReadAll(tr)
		require.NoError(t, err)
		out[h.Name] = archived{typ: h.Typeflag, link: h.Linkname, body: string(b)}
	}
	return out
}

func has(m map[string]archived, name string) bool {
	_, ok := m[name]
	return ok
}

// tarGzWithin runs tarGz and fails the test if it takes more than a
// minute: a FIFO opened for reading without a writer blocks forever.
func tarGzWithin(t *testing.T, paths []string) ([]byte, []string) {
	t.Helper()
	type res struct {
		tgz  []byte
		errs []string
	}
	done := make(chan res, 1)
	go func() {
		tgz, errs := tarGz(paths)
		done <- res{tgz, errs}
	}()
	select {
	case r := <-done:
		return r.tgz, r.errs
	case <-time.After(time.Minute):
		t.Fatal("the customizations archive blocked for a minute (a FIFO opened?)")
		return nil, nil
	}
}

// errFor is the report line about path p ("" if none).
func errFor(errs []string, p string) string {
	for _, e := range errs {
		if strings.HasPrefix(e, "config path "+p+": ") {
			return e
		}
	}
	return ""
}

// TestCustomizationsHostileFolder: a configuration folder a local user can
// write into holds a FIFO, a symbolic link to /dev/zero, one to a
// root-only file and one to /etc, and a 100 MB sparse file. The archive is
// made at once: the links are archived as links (never followed), the FIFO
// and the big file are left out, each reported in one line naming it, and
// every ordinary file is archived.
func TestCustomizationsHostileFolder(t *testing.T) {
	u := testuser.New(t)
	secretDir := t.TempDir() // 0700, root's
	secret := filepath.Join(secretDir, "shadow")
	require.NoError(t, os.WriteFile(secret, []byte("ROOT-ONLY-SECRET"), 0o600))
	cfg := u.Home(t)
	u.Sh(t, cfg, `
mkdir conf.d
echo 'mail_location = maildir:~/Maildir' > conf.d/10-mail.conf
echo 'ok' > plain.conf
mkfifo fifo
ln -s /dev/zero zero
ln -s `+secret+` secret
ln -s /etc etc
truncate -s 100M big
`)
	tgz, errs := tarGzWithin(t, []string{cfg})
	got := untar(t, tgz)
	name := func(rel string) string { return strings.TrimPrefix(filepath.Join(cfg, rel), "/") }

	assert.Equal(t, "mail_location = maildir:~/Maildir\n", got[name("conf.d/10-mail.conf")].body)
	assert.Equal(t, "ok\n", got[name("plain.conf")].body)
	assert.True(t, has(got, name("conf.d")+"/"), "conf.d/ archived")
	for link, target := range map[string]string{"zero": "/dev/zero", "secret": secret, "etc": "/etc"} {
		e, ok := got[name(link)]
		if assert.True(t, ok, "%s archived as a link", link) {
			assert.Equal(t, byte(tar.TypeSymlink), e.typ, link)
			assert.Equal(t, target, e.link, link)
		}
	}
	for n, e := range got {
		assert.NotContains(t, e.body, "ROOT-ONLY-SECRET", n)
		assert.False(t, strings.HasPrefix(n, "etc/"), "%s: /etc followed", n)
	}
	assert.False(t, has(got, name("fifo")), "FIFO archived")
	assert.False(t, has(got, name("big")), "100 MB file archived")
	assert.Contains(t, errFor(errs, filepath.Join(cfg, "fifo")), "not a regular file: FIFO")
	assert.Contains(t, errFor(errs, filepath.Join(cfg, "big")), "file too large")
	assert.Len(t, errs, 2, "%q", errs)
}

// TestCustomizationsSwapped: the user swaps entries between the listing
// and the reading: a file becomes a FIFO, another a link to /dev/zero, a
// third a link to a root-only file, a folder a link to /etc. Nothing
// blocks, nothing is followed: each is left out and reported.
func TestCustomizationsSwapped(t *testing.T) {
	u := testuser.New(t)
	secretDir := t.TempDir()
	secret := filepath.Join(secretDir, "shadow")
	require.NoError(t, os.WriteFile(secret, []byte("ROOT-ONLY-SECRET"), 0o600))
	cfg := u.Home(t)
	u.Sh(t, cfg, `
echo a > a.conf; echo b > b.conf; echo c > c.conf; echo keep > keep.conf
mkdir sub; echo inner > sub/inner.conf
`)
	testHookListed = func(dir string) {
		if dir != cfg {
			return
		}
		u.Sh(t, cfg, `
rm a.conf && mkfifo a.conf
rm b.conf && ln -s /dev/zero b.conf
rm c.conf && ln -s `+secret+` c.conf
rm -r sub && ln -s /etc sub
`)
	}
	t.Cleanup(func() { testHookListed = nil })
	tgz, errs := tarGzWithin(t, []string{cfg})
	got := untar(t, tgz)
	name := func(rel string) string { return strings.TrimPrefix(filepath.Join(cfg, rel), "/") }
	assert.Equal(t, "keep\n", got[name("keep.conf")].body)
	for _, n := range []string{"a.conf", "b.conf", "c.conf", "sub/"} {
		assert.False(t, has(got, name(n)), "%s archived", n)
	}
	for n, e := range got {
		assert.NotContains(t, e.body, "ROOT-ONLY-SECRET", n)
		assert.False(t, strings.HasPrefix(n, "etc/") || strings.HasPrefix(n, name("sub/")), "%s: a swapped link followed", n)
	}
	assert.Contains(t, errFor(errs, filepath.Join(cfg, "a.conf")), "not a regular file: FIFO")
	assert.Contains(t, errFor(errs, filepath.Join(cfg, "b.conf")), "symbolic link")
	assert.Contains(t, errFor(errs, filepath.Join(cfg, "c.conf")), "symbolic link")
	assert.Contains(t, errFor(errs, filepath.Join(cfg, "sub")), "symbolic link")
	assert.Len(t, errs, 4, "%q", errs)
}

// TestCustomizationsNamedPaths: a configured path is the administrator's:
// a link to a folder is followed (its files archived under the configured
// name), but one that ends at /dev/zero or a FIFO is reported, not read.
func TestCustomizationsNamedPaths(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real")
	require.NoError(t, os.MkdirAll(real, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(real, "x.conf"), []byte("x"), 0o644))
	link := filepath.Join(dir, "conf")
	require.NoError(t, os.Symlink(real, link))
	zero := filepath.Join(dir, "zero")
	require.NoError(t, os.Symlink("/dev/zero", zero))
	fifo := filepath.Join(dir, "fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o644))
	tgz, errs := tarGzWithin(t, []string{link, zero, fifo})
	got := untar(t, tgz)
	assert.Equal(t, "x", got[strings.TrimPrefix(filepath.Join(link, "x.conf"), "/")].body)
	assert.Contains(t, errFor(errs, zero), "not a regular file: character device")
	assert.Contains(t, errFor(errs, fifo), "not a regular file: FIFO")
	assert.Len(t, errs, 2, "%q", errs)
}

// TestCustomizationsBounds: files past MaxConfigArchive and folders past
// maxConfigDepth are left out and reported; what came before is archived.
func TestCustomizationsBounds(t *testing.T) {
	dir := t.TempDir()
	n := MaxConfigArchive/(MaxConfigFile-1<<20) + 1 // files of 15 MiB: one too many
	for i := 0; i < n; i++ {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("f%02d", i)))
		require.NoError(t, err)
		require.NoError(t, f.Truncate(MaxConfigFile-1<<20))
		require.NoError(t, f.Close())
	}
	deep := filepath.Join(dir, "zdeep")
	p := deep
	for i := 0; i < maxConfigDepth+2; i++ {
		p = filepath.Join(p, "d")
	}
	require.NoError(t, os.MkdirAll(p, 0o755))

	tgz, errs := tarGzWithin(t, []string{dir})
	got := untar(t, tgz)
	last := filepath.Join(dir, fmt.Sprintf("f%02d", n-1))
	assert.True(t, has(got, strings.TrimPrefix(filepath.Join(dir, "f00"), "/")), "the first file archived")
	assert.False(t, has(got, strings.TrimPrefix(last, "/")), "the file past the bound archived")
	assert.Contains(t, errFor(errs, last), fmt.Sprintf("would pass %d bytes", MaxConfigArchive))
	assert.Len(t, errs, 1, "%q: the archive stops at its bound, one line", errs)

	tgz, errs = tarGzWithin(t, []string{deep})
	got = untar(t, tgz)
	assert.Equal(t, maxConfigDepth, len(got), "the folders down to the bound")
	require.Len(t, errs, 1, "%q", errs)
	assert.Contains(t, errs[0], fmt.Sprintf("more than %d folders deep", maxConfigDepth))
}
