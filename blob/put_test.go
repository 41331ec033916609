package blob

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/internal/atomicfile"
)

// files lists every file under root (relative names), temp files included.
func files(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !de.IsDir() {
			rel, _ := filepath.Rel(root, p)
			out = append(out, rel)
		}
		return nil
	})
	require.NoError(t, err)
	return out
}

func noTemp(t *testing.T, root string) {
	t.Helper()
	for _, f := range files(t, root) {
		assert.False(t, strings.HasPrefix(filepath.Base(f), atomicfile.TempPrefix), "temporary file left: %s", f)
	}
}

// chunky returns its data in chunks of n bytes (another Write pattern than
// one big Write).
type chunky struct {
	data []byte
	n    int
}

func (c *chunky) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	k := copy(p[:min(len(p), c.n)], c.data)
	c.data = c.data[k:]
	return k, nil
}

// failing returns data, then an error.
type failing struct {
	data []byte
	err  error
}

func (f *failing) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	k := copy(p, f.data)
	f.data = f.data[k:]
	return k, nil
}

func TestPut(t *testing.T) {
	contents := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"one byte", []byte("x")},
		{"text", mailText(30<<10, 21)},
		{"several compression blocks", attachmentMail(2*putBlockSize+12345, 22)},
	}
	for _, c := range contents {
		for _, noSync := range []bool{false, true} {
			name := c.name
			if noSync {
				name += "/NoSync"
			}
			t.Run(name, func(t *testing.T) {
				s := NewStore(t.TempDir())
				s.Write.NoSync = noSync
				d, created, err := s.Put(c.data)
				require.NoError(t, err)
				assert.True(t, created)
				assert.Equal(t, Sum(c.data), d)
				assert.Equal(t, []string{d.RelPath()}, files(t, s.Root()))

				raw, err := os.ReadFile(s.Path(d))
				require.NoError(t, err)
				// No name, no mtime: nothing in the header depends on when.
				assert.Equal(t, gzipMagic[:], raw[:3])
				assert.Zero(t, raw[3]&0x08, "FNAME flag")
				assert.Equal(t, []byte{0, 0, 0, 0}, raw[4:8], "MTIME")
				hint, err := s.SizeHint(d)
				require.NoError(t, err)
				assert.Equal(t, int64(len(c.data)), hint)

				got, err := s.Read(d)
				require.NoError(t, err)
				assert.True(t, bytes.Equal(c.data, got))

				// Deduplicated: the file is not rewritten.
				before, err := os.Stat(s.Path(d))
				require.NoError(t, err)
				d2, created, err := s.Put(c.data)
				require.NoError(t, err)
				assert.False(t, created)
				assert.Equal(t, d, d2)
				d3, size, created, err := s.PutReader(bytes.NewReader(c.data))
				require.NoError(t, err)
				assert.False(t, created)
				assert.Equal(t, d, d3)
				assert.Equal(t, int64(len(c.data)), size)
				after, err := os.Stat(s.Path(d))
				require.NoError(t, err)
				assert.True(t, os.SameFile(before, after), "the blob was replaced")
				assert.Equal(t, []string{d.RelPath()}, files(t, s.Root()))

				// Deterministic: Put and PutReader (any read sizes) in other
				// stores give the same bytes.
				s2 := NewStore(t.TempDir())
				_, _, err = s2.Put(c.data)
				require.NoError(t, err)
				s3 := NewStore(t.TempDir())
				d4, size, created, err := s3.PutReader(&chunky{data: c.data, n: 7919})
				require.NoError(t, err)
				assert.True(t, created)
				assert.Equal(t, d, d4)
				assert.Equal(t, int64(len(c.data)), size)
				for _, other := range []*Store{s2, s3} {
					raw2, err := os.ReadFile(other.Path(d))
					require.NoError(t, err)
					assert.True(t, bytes.Equal(raw, raw2), "compressed bytes differ")
				}
				noTemp(t, s3.Root())
			})
		}
	}
}

func TestPutReaderFails(t *testing.T) {
	boom := errors.New("boom")
	for _, n := range []int{0, 100, 3 * putBlockSize / 2} {
		s := NewStore(t.TempDir())
		_, _, created, err := s.PutReader(&failing{data: attachmentMail(max(n, 10000), 23)[:n], err: boom})
		require.ErrorIs(t, err, boom)
		assert.False(t, created)
		assert.Empty(t, files(t, s.Root()), "nothing may be left behind")
	}
	// The pooled compressor still works after a failure.
	s := NewStore(t.TempDir())
	c := mailText(10<<10, 24)
	d, _, _, err := s.PutReader(bytes.NewReader(c))
	require.NoError(t, err)
	got, err := s.Read(d)
	require.NoError(t, err)
	assert.Equal(t, c, got)
}

func TestPutOverDamage(t *testing.T) {
	c := mailText(10<<10, 25)
	d := Sum(c)
	t.Run("a folder where the blob should be", func(t *testing.T) {
		s := NewStore(t.TempDir())
		require.NoError(t, os.MkdirAll(s.Path(d), 0o755))
		_, created, err := s.Put(c)
		assert.ErrorContains(t, err, "in the way")
		assert.False(t, created)
		_, _, created, err = s.PutReader(bytes.NewReader(c))
		assert.ErrorContains(t, err, "in the way")
		assert.False(t, created)
		noTemp(t, s.Root())
	})
	t.Run("items is read-only", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("root writes anywhere")
		}
		s := NewStore(t.TempDir())
		items := filepath.Join(s.Root(), "items")
		require.NoError(t, os.MkdirAll(items, 0o555))
		_, _, err := s.Put(c)
		require.Error(t, err)
		_, _, _, err = s.PutReader(bytes.NewReader(c))
		require.Error(t, err)
	})
}

func TestWalk(t *testing.T) {
	s := NewStore(t.TempDir())
	var want []string
	var wantOK []Digest
	for i := range 20 {
		d, _, err := s.Put(mailText(100+i, uint64(i)))
		require.NoError(t, err)
		wantOK = append(wantOK, d)
	}
	sha1d := sha1Digest([]byte("old"))
	writeRaw(t, s, sha1d, gz(t, []byte("old")))
	wantOK = append(wantOK, sha1d)
	for _, d := range wantOK {
		want = append(want, d.RelPath()+" ok")
	}
	items := filepath.Join(s.Root(), "items")
	bad := []string{
		"ab/not-a-digest",
		"zz/" + string(Sum([]byte("wrong folder"))), // valid digest, wrong folder
		"stray-file",
	}
	for _, b := range bad {
		p := filepath.Join(items, b)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte("x"), 0o644))
		want = append(want, "items/"+b+" bad")
	}
	// A folder with a digest's name is passed (reading it says unreadable).
	dirBlob := Sum([]byte("a folder"))
	require.NoError(t, os.MkdirAll(s.Path(dirBlob), 0o755))
	want = append(want, dirBlob.RelPath()+" ok")
	// Temporary files are skipped, in items/ and in its folders.
	for _, tmp := range []string{atomicfile.TempPrefix + "1", "ab/" + atomicfile.TempPrefix + "2", atomicfile.TempPrefix + "dir/x"} {
		p := filepath.Join(items, tmp)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte("x"), 0o644))
	}

	var got []string
	err := s.Walk(t.Context(), func(name string, d Digest, ok bool) error {
		if ok {
			assert.Equal(t, d.RelPath(), name)
			got = append(got, name+" ok")
		} else {
			assert.Empty(t, d)
			got = append(got, name+" bad")
		}
		return nil
	})
	require.NoError(t, err)
	assert.ElementsMatch(t, want, got)
	// Sorted: folders, then names, byte order.
	names := make([]string, len(got))
	for i, g := range got {
		names[i] = strings.Fields(g)[0]
	}
	assert.IsNonDecreasing(t, names)

	t.Run("fn error stops", func(t *testing.T) {
		stop := errors.New("stop")
		n := 0
		err := s.Walk(t.Context(), func(string, Digest, bool) error { n++; return stop })
		assert.ErrorIs(t, err, stop)
		assert.Equal(t, 1, n)
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		err := s.Walk(ctx, func(string, Digest, bool) error { return nil })
		assert.ErrorIs(t, err, context.Canceled)
	})
	t.Run("no items folder", func(t *testing.T) {
		err := NewStore(t.TempDir()).Walk(t.Context(), func(string, Digest, bool) error {
			t.Error("called")
			return nil
		})
		assert.NoError(t, err)
	})
}

// putBytes is the file Put writes for content.
func putBytes(t *testing.T, content []byte) []byte {
	t.Helper()
	s := NewStore(t.TempDir())
	d, _, err := s.Put(content)
	require.NoError(t, err)
	raw, err := os.ReadFile(s.Path(d))
	require.NoError(t, err)
	return raw
}

// TestRewriteSingleLarge rewrites double-gzipped blobs whose content takes
// each compressor (compressSmall up to smallPutMax, pgzip above), through
// each decoder, with either digest kind: the result is what Put writes, and
// a stream that fails leaves the old file.
func TestRewriteSingleLarge(t *testing.T) {
	for _, path := range decoderPaths {
		t.Run(path.name, func(t *testing.T) {
			withSmallMax(t, path.smallMax)
			for _, c := range [][]byte{attachmentMail(smallPutMax, 31), attachmentMail(2*putBlockSize+777, 32)} {
				for _, d := range []Digest{Sum(c), sha1Digest(c)} {
					s := NewStore(t.TempDir())
					writeRaw(t, s, d, gz(t, gz(t, c)))
					require.NoError(t, s.RewriteSingle(d, Limit{Size: int64(len(c))}))
					raw, err := os.ReadFile(s.Path(d))
					require.NoError(t, err)
					assert.True(t, bytes.Equal(putBytes(t, c), raw), "%d bytes: not the bytes Put writes", len(c))
					got, err := s.ReadLimit(d, Limit{Size: int64(len(c))})
					require.NoError(t, err)
					assert.True(t, bytes.Equal(c, got))
					noTemp(t, s.Root())
				}
			}
			// Recorded smaller than the content: refused, file untouched.
			c := attachmentMail(2*putBlockSize, 33)
			s := NewStore(t.TempDir())
			old := gz(t, gz(t, c))
			writeRaw(t, s, Sum(c), old)
			checkErr(t, Sum(c), s.RewriteSingle(Sum(c), Limit{Size: int64(len(c)) - 1}), ErrBroken, "size mismatch")
			raw, err := os.ReadFile(s.Path(Sum(c)))
			require.NoError(t, err)
			assert.True(t, bytes.Equal(old, raw))
			noTemp(t, s.Root())
		})
	}
}

// TestCompressFailureReturnsWriter: when SetConcurrency fails, the pooled
// pgzip writer still goes back to the pool (it used to be dropped, so each
// failure made a new one).
func TestCompressFailureReturnsWriter(t *testing.T) {
	oldBlocks, oldNew := putBlocks, pgzwPool.New
	t.Cleanup(func() { putBlocks, pgzwPool.New = oldBlocks, oldNew })
	putBlocks = func() int { return 0 }
	made := 0
	pgzwPool.New = func() any { made++; return oldNew() }
	for range 100 {
		err := compress(io.Discard, func(io.Writer) error {
			t.Fatal("fill called after SetConcurrency failed")
			return nil
		})
		require.ErrorContains(t, err, "blocks cannot be zero")
	}
	// One writer serves every call (a few more where the pool drops some,
	// as it does at random under the race detector).
	assert.Less(t, made, 50, "writers made for 100 failures")
	putBlocks = oldBlocks
	s := NewStore(t.TempDir())
	c := attachmentMail(putBlockSize+1, 34)
	d, _, err := s.Put(c)
	require.NoError(t, err)
	got, err := s.Read(d)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(c, got), "the pooled writer works after the failures")
}

// TestRewriteSingleForgetsLayer: content that is itself gzip, stored gzip
// inside gzip, still opens after RewriteSingle through the Store that
// remembered its old layer (2, now 1).
func TestRewriteSingleForgetsLayer(t *testing.T) {
	s := NewStore(t.TempDir())
	content := gz(t, mailText(10<<10, 35)) // e.g. a .gz attachment
	d := Sum(content)
	writeRaw(t, s, d, gz(t, gz(t, content)))
	read := func() []byte {
		rc, err := s.Open(d)
		require.NoError(t, err)
		defer rc.Close()
		got, err := io.ReadAll(rc)
		require.NoError(t, err)
		return got
	}
	assert.Equal(t, content, read())
	require.NoError(t, s.RewriteSingle(d, Limit{}))
	assert.Equal(t, content, read())
	n, err := s.Layers(d, Limit{})
	require.NoError(t, err)
	assert.Equal(t, 1, n)
}
