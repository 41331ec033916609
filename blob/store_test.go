package blob

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// damage is one way a blob can be (or not be) on disk.
type damage struct {
	name string
	// make puts the blob for content into s and returns its digest and, for
	// sound blobs, the content Read must return.
	make func(t *testing.T, s *Store, content []byte) (d Digest, want []byte)
	kind error // nil: sound
	// reason is what Error.Reason must contain ("" for any).
	reason string
	// prefix: Salvage must return a non-empty prefix of the content.
	prefix   bool
	skipRoot bool
}

func damages() []damage {
	return []damage{
		{name: "sound", make: func(t *testing.T, s *Store, c []byte) (Digest, []byte) {
			d := Sum(c)
			writeRaw(t, s, d, gz(t, c))
			return d, c
		}},
		{name: "double gzip", make: func(t *testing.T, s *Store, c []byte) (Digest, []byte) {
			d := Sum(c)
			writeRaw(t, s, d, gz(t, gz(t, c)))
			return d, c
		}},
		{name: "content that is gzip", make: func(t *testing.T, s *Store, c []byte) (Digest, []byte) {
			inner := gz(t, c) // e.g. a .gz attachment stored as a document
			d := Sum(inner)
			writeRaw(t, s, d, gz(t, inner))
			return d, inner
		}},
		{name: "SHA-1 name", make: func(t *testing.T, s *Store, c []byte) (Digest, []byte) {
			d := sha1Digest(c)
			require.Len(t, string(d), SHA1Len)
			writeRaw(t, s, d, gz(t, c))
			return d, c
		}},
		{name: "SHA-1 name, double gzip", make: func(t *testing.T, s *Store, c []byte) (Digest, []byte) {
			d := sha1Digest(c)
			writeRaw(t, s, d, gz(t, gz(t, c)))
			return d, c
		}},
		{name: "missing", kind: ErrMissing, make: func(t *testing.T, s *Store, c []byte) (Digest, []byte) {
			return Sum(c), nil
		}},
		{name: "folder where the file should be", kind: ErrUnreadable, reason: "folder", make: func(t *testing.T, s *Store, c []byte) (Digest, []byte) {
			d := Sum(c)
			require.NoError(t, os.MkdirAll(s.Path(d), 0o755))
			return d, nil
		}},
		{name: "permission denied", kind: ErrUnreadable, reason: "cannot open", skipRoot: true, make: func(t *testing.T, s *Store, c []byte) (Digest, []byte) {
			d := Sum(c)
			writeRaw(t, s, d, gz(t, c))
			require.NoError(t, os.Chmod(s.Path(d), 0))
			return d, nil
		}},
		{name: "truncated", kind: ErrBroken, reason: "truncated gzip stream", prefix: true, make: func(t *testing.T, s *Store, c []byte) (Digest, []byte) {
			d := Sum(c)
			z := gz(t, c)
			writeRaw(t, s, d, z[:len(z)*2/3])
			return d, nil
		}},
		{name: "truncated in the trailer", kind: ErrBroken, reason: "truncated gzip stream", prefix: true, make: func(t *testing.T, s *Store, c []byte) (Digest, []byte) {
			d := Sum(c)
			z := gz(t, c)
			writeRaw(t, s, d, z[:len(z)-3])
			return d, nil
		}},
		{name: "truncated in the header", kind: ErrBroken, reason: "truncated gzip stream", make: func(t *testing.T, s *Store, c []byte) (Digest, []byte) {
			d := Sum(c)
			writeRaw(t, s, d, gz(t, c)[:6])
			return d, nil
		}},
		{name: "garbage, not gzip", kind: ErrBroken, reason: "not gzip data", make: func(t *testing.T, s *Store, c []byte) (Digest, []byte) {
			d := Sum(c)
			writeRaw(t, s, d, c) // the content itself, uncompressed
			return d, nil
		}},
		{name: "empty file", kind: ErrBroken, reason: "empty file", make: func(t *testing.T, s *Store, c []byte) (Digest, []byte) {
			d := Sum(c)
			writeRaw(t, s, d, nil)
			return d, nil
		}},
		{name: "corrupt deflate data", kind: ErrBroken, make: func(t *testing.T, s *Store, c []byte) (Digest, []byte) {
			d := Sum(c)
			z := gz(t, c)
			for i := len(z) / 2; i < len(z)/2+64; i++ {
				z[i] ^= 0x5a
			}
			writeRaw(t, s, d, z)
			return d, nil
		}},
		{name: "garbage after the gzip stream", kind: ErrBroken, reason: "not gzip", make: func(t *testing.T, s *Store, c []byte) (Digest, []byte) {
			d := Sum(c)
			writeRaw(t, s, d, append(gz(t, c), "trailing junk"...))
			return d, nil
		}},
		{name: "digest mismatch", kind: ErrBroken, reason: "digest mismatch", make: func(t *testing.T, s *Store, c []byte) (Digest, []byte) {
			d := Sum(c)
			other := append([]byte("X"), c[1:]...)
			writeRaw(t, s, d, gz(t, other))
			return d, nil
		}},
		{name: "SHA-1 digest mismatch", kind: ErrBroken, reason: "digest mismatch", make: func(t *testing.T, s *Store, c []byte) (Digest, []byte) {
			d := sha1Digest(c)
			writeRaw(t, s, d, gz(t, c[1:]))
			return d, nil
		}},
		{name: "double gzip, digest mismatch", kind: ErrBroken, reason: "digest mismatch", make: func(t *testing.T, s *Store, c []byte) (Digest, []byte) {
			d := Sum(c)
			writeRaw(t, s, d, gz(t, gz(t, c[1:])))
			return d, nil
		}},
		{name: "double gzip, inner truncated", kind: ErrBroken, reason: "inner truncated gzip stream", prefix: true, make: func(t *testing.T, s *Store, c []byte) (Digest, []byte) {
			d := Sum(c)
			z := gz(t, c)
			writeRaw(t, s, d, gz(t, z[:len(z)/2]))
			return d, nil
		}},
		{name: "double gzip, outer truncated", kind: ErrBroken, reason: "truncated gzip stream", prefix: true, make: func(t *testing.T, s *Store, c []byte) (Digest, []byte) {
			d := Sum(c)
			z := gz(t, gz(t, c))
			writeRaw(t, s, d, z[:len(z)*3/4])
			return d, nil
		}},
	}
}

// checkErr asserts that err is a *Error for d of class kind (nil: no error)
// whose reason contains reason.
func checkErr(t *testing.T, d Digest, err error, kind error, reason string) {
	t.Helper()
	if kind == nil {
		require.NoError(t, err)
		return
	}
	require.Error(t, err)
	var be *Error
	require.ErrorAs(t, err, &be)
	assert.Equal(t, d, be.Digest)
	assert.True(t, errors.Is(err, kind), "want %v, got %v", kind, err)
	assert.Contains(t, be.Reason, reason)
	switch kind {
	case ErrBroken:
		assert.False(t, errors.Is(err, ErrUnreadable), "broken must not be unreadable: %v", err)
		assert.Equal(t, "broken", Class(err))
	case ErrUnreadable:
		assert.False(t, errors.Is(err, ErrMissing), "unreadable, not missing: %v", err)
		assert.Equal(t, "unreadable", Class(err))
	case ErrMissing:
		assert.True(t, errors.Is(err, ErrUnreadable))
		assert.Equal(t, "unreadable", Class(err))
	}
}

// withSmallMax runs the test with the decoder threshold set to v.
func withSmallMax(t *testing.T, v int64) {
	old := smallMax
	smallMax = v
	t.Cleanup(func() { smallMax = old })
}

// decoderPaths force each decoder for every size of content.
var decoderPaths = []struct {
	name     string
	smallMax int64
}{
	{"small decoder", 1 << 40},
	{"large decoder", 0},
}

var contentSizes = []struct {
	name string
	make func() []byte
}{
	{"5KB text", func() []byte { return mailText(5<<10, 1) }},
	{"700KB attachment", func() []byte { return attachmentMail(700<<10, 2) }},
}

// TestDamage reads every kind of blob damage with Read, Open, Check and
// Salvage, through both decoders.
func TestDamage(t *testing.T) {
	ops := []struct {
		name string
		run  func(t *testing.T, s *Store, d Digest, dm damage, want, content []byte)
	}{
		{"Read", func(t *testing.T, s *Store, d Digest, dm damage, want, _ []byte) {
			got, err := s.Read(d)
			checkErr(t, d, err, dm.kind, dm.reason)
			if dm.kind == nil {
				assert.True(t, bytes.Equal(want, got), "content differs (%d vs %d bytes)", len(want), len(got))
			} else {
				assert.Nil(t, got)
			}
		}},
		{"Open", func(t *testing.T, s *Store, d Digest, dm damage, want, _ []byte) {
			rc, err := s.Open(d)
			if err == nil {
				var got []byte
				got, err = io.ReadAll(rc)
				require.NoError(t, rc.Close())
				if dm.kind == nil {
					assert.True(t, bytes.Equal(want, got), "content differs (%d vs %d bytes)", len(want), len(got))
				}
				// Reads after Close fail.
				_, cerr := rc.Read(make([]byte, 1))
				assert.ErrorIs(t, cerr, os.ErrClosed)
			} else {
				assert.Nil(t, rc)
			}
			checkErr(t, d, err, dm.kind, dm.reason)
		}},
		{"Check", func(t *testing.T, s *Store, d Digest, dm damage, _, _ []byte) {
			checkErr(t, d, s.Check(d), dm.kind, dm.reason)
		}},
		// With the true size recorded every reader answers the same.
		{"ReadLimit", func(t *testing.T, s *Store, d Digest, dm damage, want, content []byte) {
			got, err := s.ReadLimit(d, Limit{Size: int64(len(content))})
			checkErr(t, d, err, dm.kind, dm.reason)
			if dm.kind == nil {
				assert.True(t, bytes.Equal(want, got), "content differs (%d vs %d bytes)", len(want), len(got))
			}
		}},
		{"OpenLimit", func(t *testing.T, s *Store, d Digest, dm damage, want, content []byte) {
			rc, err := s.OpenLimit(d, Limit{Size: int64(len(content))})
			if err == nil {
				var got []byte
				got, err = io.ReadAll(rc)
				require.NoError(t, rc.Close())
				if dm.kind == nil {
					assert.True(t, bytes.Equal(want, got), "content differs (%d vs %d bytes)", len(want), len(got))
				}
			}
			checkErr(t, d, err, dm.kind, dm.reason)
		}},
		{"CheckLimit", func(t *testing.T, s *Store, d Digest, dm damage, _, content []byte) {
			checkErr(t, d, s.CheckLimit(d, Limit{Size: int64(len(content))}), dm.kind, dm.reason)
		}},
		{"Layers", func(t *testing.T, s *Store, d Digest, dm damage, _, content []byte) {
			n, err := s.Layers(d, Limit{Size: int64(len(content))})
			checkErr(t, d, err, dm.kind, dm.reason)
			switch {
			case dm.kind != nil:
				assert.Zero(t, n)
			case strings.Contains(dm.name, "double gzip"):
				assert.Equal(t, 2, n)
			default:
				assert.Equal(t, 1, n)
			}
		}},
		{"RewriteSingle", func(t *testing.T, s *Store, d Digest, dm damage, want, content []byte) {
			before, _ := os.ReadFile(s.Path(d))
			if rc, err := s.Open(d); err == nil { // the Store remembers the layer
				_, _ = io.Copy(io.Discard, rc)
				rc.Close()
			}
			err := s.RewriteSingle(d, Limit{Size: int64(len(content))})
			checkErr(t, d, err, dm.kind, dm.reason)
			after, _ := os.ReadFile(s.Path(d))
			noTemp(t, s.Root())
			if dm.kind != nil || !strings.Contains(dm.name, "double gzip") {
				assert.True(t, bytes.Equal(before, after), "a blob that is not a sound double gzip is left as it is")
				return
			}
			assert.Equal(t, putBytes(t, want), after, "the bytes Put writes")
			n, err := s.Layers(d, Limit{})
			require.NoError(t, err)
			assert.Equal(t, 1, n)
			rc, err := s.Open(d) // not through the remembered layer
			require.NoError(t, err)
			got, err := io.ReadAll(rc)
			require.NoError(t, err)
			require.NoError(t, rc.Close())
			assert.True(t, bytes.Equal(want, got), "content differs (%d vs %d bytes)", len(want), len(got))
		}},
		{"Salvage", func(t *testing.T, s *Store, d Digest, dm damage, want, content []byte) {
			got, err := s.Salvage(d)
			checkErr(t, d, err, dm.kind, dm.reason)
			switch {
			case dm.kind == nil:
				assert.True(t, bytes.Equal(want, got), "content differs (%d vs %d bytes)", len(want), len(got))
			case dm.prefix:
				require.NotEmpty(t, got)
				assert.True(t, bytes.HasPrefix(content, got), "salvaged %d bytes are not a prefix of the content", len(got))
			}
		}},
	}
	for _, path := range decoderPaths {
		t.Run(path.name, func(t *testing.T) {
			withSmallMax(t, path.smallMax)
			for i, size := range contentSizes {
				if testing.Short() && i > 0 {
					break // -short: small content only (both decoders still run)
				}
				content := size.make()
				t.Run(size.name, func(t *testing.T) {
					for _, dm := range damages() {
						t.Run(dm.name, func(t *testing.T) {
							if dm.skipRoot && os.Geteuid() == 0 {
								t.Skip("root reads files whatever their mode")
							}
							for _, op := range ops {
								t.Run(op.name, func(t *testing.T) {
									s := NewStore(t.TempDir())
									d, want := dm.make(t, s, content)
									op.run(t, s, d, dm, want, content)
								})
							}
						})
					}
				})
			}
		})
	}
}

// TestOpenNeverEndsCleanlyWhenBroken reads a mismatching blob in small
// pieces: no Read may return io.EOF.
func TestOpenNeverEndsCleanlyWhenBroken(t *testing.T) {
	for _, path := range decoderPaths {
		t.Run(path.name, func(t *testing.T) {
			withSmallMax(t, path.smallMax)
			s := NewStore(t.TempDir())
			c := attachmentMail(600<<10, 3)
			d := Sum(c)
			writeRaw(t, s, d, gz(t, c[:len(c)-1]))
			rc, err := s.Open(d)
			require.NoError(t, err)
			defer rc.Close()
			buf := make([]byte, 4096)
			var n int64
			for {
				k, err := rc.Read(buf)
				n += int64(k)
				require.NotErrorIs(t, err, io.EOF, "clean end after %d bytes", n)
				if err != nil {
					checkErr(t, d, err, ErrBroken, "digest mismatch")
					// The error is sticky.
					_, err2 := rc.Read(buf)
					assert.Equal(t, err, err2)
					break
				}
			}
			assert.Equal(t, int64(len(c)-1), n)
		})
	}
}

// TestOpenCloseEarly closes streams before their end (pooled decoders must
// come back usable) and then reads other blobs with the same pools.
func TestOpenCloseEarly(t *testing.T) {
	for _, path := range decoderPaths {
		t.Run(path.name, func(t *testing.T) {
			withSmallMax(t, path.smallMax)
			s := NewStore(t.TempDir())
			var ds []Digest
			var cs [][]byte
			for i := range 4 {
				c := attachmentMail(300<<10+i, uint64(10+i))
				d, _, err := s.Put(c)
				require.NoError(t, err)
				ds, cs = append(ds, d), append(cs, c)
			}
			for round := range 3 {
				for i, d := range ds {
					rc, err := s.Open(d)
					require.NoError(t, err)
					buf := make([]byte, 1000*(round+1))
					_, err = io.ReadFull(rc, buf)
					require.NoError(t, err)
					assert.Equal(t, cs[i][:len(buf)], buf)
					require.NoError(t, rc.Close())
					require.NoError(t, rc.Close(), "Close twice")
				}
				for i, d := range ds {
					got, err := s.Read(d)
					require.NoError(t, err)
					assert.True(t, bytes.Equal(cs[i], got))
				}
			}
		})
	}
}

func TestInvalidDigest(t *testing.T) {
	s := NewStore(t.TempDir())
	for _, d := range []Digest{"", "x", "../../../../etc/passwd", Digest(string(Sum(nil))[:43] + "/")} {
		t.Run(string(d), func(t *testing.T) {
			_, err := s.Read(d)
			checkErr(t, d, err, ErrMissing, "invalid digest")
			_, err = s.Open(d)
			checkErr(t, d, err, ErrMissing, "invalid digest")
			checkErr(t, d, s.Check(d), ErrMissing, "invalid digest")
			_, err = s.Salvage(d)
			checkErr(t, d, err, ErrMissing, "invalid digest")
			_, err = s.Stat(d)
			checkErr(t, d, err, ErrMissing, "invalid digest")
			_, err = s.SizeHint(d)
			checkErr(t, d, err, ErrMissing, "invalid digest")
		})
	}
}

func TestStatAndSizeHint(t *testing.T) {
	c := mailText(30<<10, 4)
	tests := []struct {
		name     string
		file     func(t *testing.T, s *Store) Digest
		size     int64 // file size
		hint     int64
		kind     error
		hintKind error
	}{
		{name: "sound", file: func(t *testing.T, s *Store) Digest {
			writeRaw(t, s, Sum(c), gz(t, c))
			return Sum(c)
		}, size: int64(len(gz(t, c))), hint: int64(len(c))},
		{name: "double gzip: the hint is the inner gzip's size", file: func(t *testing.T, s *Store) Digest {
			writeRaw(t, s, Sum(c), gz(t, gz(t, c)))
			return Sum(c)
		}, size: int64(len(gz(t, gz(t, c)))), hint: int64(len(gz(t, c)))},
		{name: "missing", file: func(t *testing.T, s *Store) Digest { return Sum(c) }, kind: ErrMissing, hintKind: ErrMissing},
		{name: "folder", file: func(t *testing.T, s *Store) Digest {
			require.NoError(t, os.MkdirAll(s.Path(Sum(c)), 0o755))
			return Sum(c)
		}, kind: ErrUnreadable, hintKind: ErrUnreadable},
		{name: "items folder is a file", file: func(t *testing.T, s *Store) Digest {
			d := Sum(c)
			require.NoError(t, os.MkdirAll(filepath.Join(s.Root(), "items"), 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(s.Root(), "items", d.Dir()), nil, 0o644))
			return d
		}, kind: ErrUnreadable, hintKind: ErrUnreadable},
		{name: "too short", file: func(t *testing.T, s *Store) Digest {
			writeRaw(t, s, Sum(c), []byte{0x1f, 0x8b})
			return Sum(c)
		}, size: 2, hintKind: ErrBroken},
		{name: "empty", file: func(t *testing.T, s *Store) Digest {
			writeRaw(t, s, Sum(c), nil)
			return Sum(c)
		}, size: 0, hintKind: ErrBroken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewStore(t.TempDir())
			d := tt.file(t, s)
			size, err := s.Stat(d)
			checkErr(t, d, err, tt.kind, "")
			if tt.kind == nil {
				assert.Equal(t, tt.size, size)
			}
			hint, err := s.SizeHint(d)
			checkErr(t, d, err, tt.hintKind, "")
			if tt.hintKind == nil {
				assert.Equal(t, tt.hint, hint)
			}
		})
	}
}

// TestLayerCache opens a double-gzipped blob and a gzip-content blob many
// times: the layer is decided once and stays right.
func TestLayerCache(t *testing.T) {
	s := NewStore(t.TempDir())
	c := mailText(20<<10, 5)
	d1 := Sum(c)
	writeRaw(t, s, d1, gz(t, gz(t, c)))
	inner := gz(t, c)
	d2 := Sum(inner)
	writeRaw(t, s, d2, gz(t, inner))
	for range 3 {
		for _, x := range []struct {
			d    Digest
			want []byte
		}{{d1, c}, {d2, inner}} {
			rc, err := s.Open(x.d)
			require.NoError(t, err)
			got, err := io.ReadAll(rc)
			require.NoError(t, err)
			require.NoError(t, rc.Close())
			assert.Equal(t, x.want, got)
		}
	}
	assert.Equal(t, int64(2), s.layersLen.Load())
}
