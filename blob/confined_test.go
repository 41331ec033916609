package blob

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A Backup Path is foreign input: these are the blob files it may hold in
// place of regular files. None may be followed or read.

// outsideBlob writes a sound blob file for content outside the store's root
// (as a root-only file) and returns its path.
func outsideBlob(t *testing.T, content []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secret.gz")
	require.NoError(t, os.WriteFile(p, gz(t, content), 0o600))
	return p
}

// refusedBlobs are blob files that must be refused as unreadable, with the
// reason each gives.
func refusedBlobs() []damage {
	return []damage{
		{name: "symlink to a sound blob outside", kind: ErrUnreadable, reason: "symbolic link (not followed)", make: func(t *testing.T, s *Store, c []byte) (Digest, []byte) {
			d := Sum(c)
			require.NoError(t, os.MkdirAll(filepath.Dir(s.Path(d)), 0o755))
			require.NoError(t, os.Symlink(outsideBlob(t, c), s.Path(d)))
			return d, nil
		}},
		{name: "symlink to a sound blob inside", kind: ErrUnreadable, reason: "symbolic link (not followed)", make: func(t *testing.T, s *Store, c []byte) (Digest, []byte) {
			d := Sum(c)
			writeRaw(t, s, d, gz(t, c))
			other := filepath.Join(s.Root(), "items", "copy.gz")
			require.NoError(t, os.Rename(s.Path(d), other))
			require.NoError(t, os.Symlink("../copy.gz", s.Path(d)))
			return d, nil
		}},
		{name: "symlinked blob folder", kind: ErrUnreadable, reason: "symbolic link (not followed)", make: func(t *testing.T, s *Store, c []byte) (Digest, []byte) {
			d := Sum(c)
			dir := filepath.Dir(outsideBlob(t, c))
			require.NoError(t, os.WriteFile(filepath.Join(dir, string(d)), gz(t, c), 0o600))
			require.NoError(t, os.MkdirAll(filepath.Join(s.Root(), "items"), 0o755))
			require.NoError(t, os.Symlink(dir, filepath.Dir(s.Path(d))))
			return d, nil
		}},
		{name: "FIFO", kind: ErrUnreadable, reason: "not a regular file", make: func(t *testing.T, s *Store, c []byte) (Digest, []byte) {
			d := Sum(c)
			require.NoError(t, os.MkdirAll(filepath.Dir(s.Path(d)), 0o755))
			require.NoError(t, syscall.Mkfifo(s.Path(d), 0o644))
			return d, nil
		}},
	}
}

// TestRefusedBlobs reads each refused blob every way, through both
// decoders, within 5 s each (a FIFO must not block), and checks that no
// byte of the content comes back.
func TestRefusedBlobs(t *testing.T) {
	content := mailText(5<<10, 31)
	ops := map[string]func(s *Store, d Digest) ([]byte, error){
		"Read":    (*Store).Read,
		"Salvage": (*Store).Salvage,
		"Check":   func(s *Store, d Digest) ([]byte, error) { return nil, s.Check(d) },
		"Open": func(s *Store, d Digest) ([]byte, error) {
			rc, err := s.Open(d)
			if err != nil {
				return nil, err
			}
			defer rc.Close()
			return io.ReadAll(rc)
		},
		"Stat": func(s *Store, d Digest) ([]byte, error) {
			n, err := s.Stat(d)
			if n != 0 {
				return []byte("a size"), err
			}
			return nil, err
		},
		"SizeHint": func(s *Store, d Digest) ([]byte, error) {
			n, err := s.SizeHint(d)
			if n != 0 {
				return []byte("a size"), err
			}
			return nil, err
		},
	}
	for _, path := range decoderPaths {
		t.Run(path.name, func(t *testing.T) {
			withSmallMax(t, path.smallMax)
			for _, dm := range refusedBlobs() {
				t.Run(dm.name, func(t *testing.T) {
					for name, op := range ops {
						t.Run(name, func(t *testing.T) {
							s := NewStore(t.TempDir())
							d, _ := dm.make(t, s, content)
							done := make(chan struct{})
							var got []byte
							var err error
							go func() {
								defer close(done)
								got, err = op(s, d)
							}()
							select {
							case <-done:
							case <-time.After(5 * time.Second):
								t.Fatal("blocked for 5 s")
							}
							checkErr(t, d, err, dm.kind, dm.reason)
							assert.Empty(t, got, "bytes returned")
							assert.NotContains(t, err.Error(), "From:", "content in the error")
						})
					}
				})
			}
		})
	}
}

// TestWalkDoesNotFollow lists a store whose items/<xx> is a symbolic link to
// a folder of sound blobs outside, and that holds a symlinked blob file.
func TestWalkDoesNotFollow(t *testing.T) {
	s := NewStore(t.TempDir())
	c1, c2 := mailText(1000, 41), mailText(1000, 42)
	d1, d2 := Sum(c1), Sum(c2)
	outside := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(outside, string(d1)), gz(t, c1), 0o644))
	require.NoError(t, os.MkdirAll(filepath.Join(s.Root(), "items"), 0o755))
	require.NoError(t, os.Symlink(outside, filepath.Dir(s.Path(d1))))
	if d2.Dir() == d1.Dir() {
		t.Skip("the two digests share a folder")
	}
	require.NoError(t, os.MkdirAll(filepath.Dir(s.Path(d2)), 0o755))
	require.NoError(t, os.Symlink(outsideBlob(t, c2), s.Path(d2)))

	var got []string
	require.NoError(t, s.Walk(t.Context(), func(name string, d Digest, ok bool) error {
		got = append(got, name+map[bool]string{true: " ok", false: " bad"}[ok])
		return nil
	}))
	assert.ElementsMatch(t, []string{"items/" + d1.Dir() + " bad", d2.RelPath() + " ok"}, got)
	checkErr(t, d2, s.Check(d2), ErrUnreadable, "symbolic link")

	t.Run("symlinked items folder", func(t *testing.T) {
		s := NewStore(t.TempDir())
		require.NoError(t, os.Symlink(outside, filepath.Join(s.Root(), "items")))
		err := s.Walk(context.Background(), func(name string, d Digest, ok bool) error {
			t.Errorf("called for %s", name)
			return nil
		})
		assert.ErrorContains(t, err, "symbolic link")
	})
}

// TestPutOverSymlink: a symbolic link where a blob goes is in the way (it is
// neither trusted as the blob nor written through), and so is a symlinked
// blob folder.
func TestPutOverSymlink(t *testing.T) {
	c := mailText(2000, 43)
	d := Sum(c)
	t.Run("blob file", func(t *testing.T) {
		s := NewStore(t.TempDir())
		require.NoError(t, os.MkdirAll(filepath.Dir(s.Path(d)), 0o755))
		require.NoError(t, os.Symlink(outsideBlob(t, c), s.Path(d)))
		_, created, err := s.Put(c)
		assert.ErrorContains(t, err, "in the way")
		assert.False(t, created)
	})
	t.Run("blob folder", func(t *testing.T) {
		s := NewStore(t.TempDir())
		outside := t.TempDir()
		require.NoError(t, os.MkdirAll(filepath.Join(s.Root(), "items"), 0o755))
		require.NoError(t, os.Symlink(outside, filepath.Dir(s.Path(d))))
		_, _, err := s.Put(c)
		assert.ErrorContains(t, err, "symbolic link")
		_, _, _, err = s.PutReader(bytes.NewReader(c))
		assert.ErrorContains(t, err, "symbolic link")
		ents, _ := os.ReadDir(outside)
		assert.Empty(t, ents, "written through the link")
	})
}
