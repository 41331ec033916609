package blob

import (
	"bytes"
	stdgzip "compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"sync"
	"testing"

	kgzip "github.com/klauspost/compress/gzip"
	"github.com/klauspost/pgzip"
	"github.com/stretchr/testify/require"
)

// benchContents are the payloads of the read benchmarks: a typical text
// mail, mails of growing size with a base64 attachment, and a 10 MB one.
var benchContents = []struct {
	name string
	make func() []byte
}{
	{"small", func() []byte { return mailText(20<<10, 7) }},
	{"large", func() []byte { return attachmentMail(10<<20, 8) }},
}

// BenchmarkRead is Store.Read (read file, inflate, verify) of a 20 KB text
// message and a 10 MB message with an attachment.
func BenchmarkRead(b *testing.B) {
	for _, bc := range benchContents {
		b.Run(bc.name, func(b *testing.B) {
			s := NewStore(b.TempDir())
			s.Write.NoSync = true
			c := bc.make()
			d, _, err := s.Put(c)
			require.NoError(b, err)
			b.SetBytes(int64(len(c)))
			b.ReportAllocs()
			for b.Loop() {
				got, err := s.Read(d)
				if err != nil || len(got) != len(c) {
					b.Fatalf("read: %v (%d bytes)", err, len(got))
				}
			}
		})
	}
}

// BenchmarkOpenStream is Store.Open of a 10 MB message read through with
// io.Copy (what the FUSE layer does for large files).
func BenchmarkOpenStream(b *testing.B) {
	s := NewStore(b.TempDir())
	s.Write.NoSync = true
	c := attachmentMail(10<<20, 8)
	d, _, err := s.Put(c)
	require.NoError(b, err)
	b.SetBytes(int64(len(c)))
	b.ReportAllocs()
	for b.Loop() {
		rc, err := s.Open(d)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil || n != int64(len(c)) {
			b.Fatalf("stream: %v (%d bytes)", err, n)
		}
	}
}

// BenchmarkPut stores new content (a counter makes each iteration's content
// distinct, so nothing is deduplicated). NoSync: this measures compression
// and writing, not the disk's fsync latency; "small-fsync" shows the latter.
func BenchmarkPut(b *testing.B) {
	cases := []struct {
		name   string
		size   int
		noSync bool
	}{
		{"small", 20 << 10, true},
		{"large", 10 << 20, true},
		{"small-fsync", 20 << 10, false},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			s := NewStore(b.TempDir())
			s.Write.NoSync = bc.noSync
			var c []byte
			if bc.size > 1<<20 {
				c = attachmentMail(bc.size, 9)
			} else {
				c = mailText(bc.size, 9)
			}
			b.SetBytes(int64(len(c)))
			b.ReportAllocs()
			var i uint64
			for b.Loop() {
				i++
				binary.LittleEndian.PutUint64(c, i)
				if _, created, err := s.Put(c); err != nil || !created {
					b.Fatalf("put: %v (created %v)", err, created)
				}
			}
		})
	}
}

// BenchmarkDecoders compares the decoders on the same in-memory gzip data,
// each inflating and SHA-256-hashing the content (what a verified read does),
// for contents whose compressed size spans the small/large threshold
// (smallMax). The names carry the compressed size.
func BenchmarkDecoders(b *testing.B) {
	type decoder struct {
		name string
		run  func(comp []byte) (int64, error)
	}
	hash := sha256.New()
	buf := make([]byte, 64<<10)
	sink := func(r io.Reader) (int64, error) {
		hash.Reset()
		return io.CopyBuffer(hash, r, buf)
	}
	var pooledK kgzip.Reader
	var pooledP pgzip.Reader
	var br bytes.Reader
	decoders := []decoder{
		{"klauspost-pooled", func(comp []byte) (int64, error) {
			br.Reset(comp)
			if err := pooledK.Reset(&br); err != nil {
				return 0, err
			}
			return sink(&pooledK)
		}},
		{"klauspost-new", func(comp []byte) (int64, error) {
			z, err := kgzip.NewReader(bytes.NewReader(comp))
			if err != nil {
				return 0, err
			}
			return sink(z)
		}},
		{"pgzip-new", func(comp []byte) (int64, error) {
			z, err := pgzip.NewReader(bytes.NewReader(comp))
			if err != nil {
				return 0, err
			}
			defer z.Close()
			return sink(z)
		}},
		{"pgzip-pooled", func(comp []byte) (int64, error) {
			br.Reset(comp)
			if err := pooledP.Reset(&br); err != nil {
				return 0, err
			}
			return sink(&pooledP)
		}},
		{"std-new", func(comp []byte) (int64, error) {
			z, err := stdgzip.NewReader(bytes.NewReader(comp))
			if err != nil {
				return 0, err
			}
			return sink(z)
		}},
	}
	sizes := []struct {
		size int
		text bool
	}{
		{20 << 10, true},
		{50 << 10, true},
		{100 << 10, false},
		{200 << 10, false},
		{400 << 10, false},
		{1 << 20, false},
		{10 << 20, false},
	}
	for _, sz := range sizes {
		var c []byte
		if sz.text {
			c = mailText(sz.size, 11)
		} else {
			c = attachmentMail(sz.size, 11)
		}
		var z bytes.Buffer
		require.NoError(b, compress(&z, func(w io.Writer) error { _, err := w.Write(c); return err }))
		comp := z.Bytes()
		name := fmt.Sprintf("%dKB-comp%dKB", len(c)>>10, len(comp)>>10)
		for _, dec := range decoders {
			b.Run(name+"/"+dec.name, func(b *testing.B) {
				b.SetBytes(int64(len(c)))
				b.ReportAllocs()
				for b.Loop() {
					n, err := dec.run(comp)
					if err != nil || n != int64(len(c)) {
						b.Fatalf("%s: %v (%d bytes)", dec.name, err, n)
					}
				}
			})
		}
	}
}

// BenchmarkThreshold runs Store.Read and Store.Open (read through) with each
// decoder path forced, on blobs whose compressed size spans the threshold:
// this is what smallMax is chosen from.
func BenchmarkThreshold(b *testing.B) {
	for _, size := range []int{64 << 10, 200 << 10, 350 << 10, 700 << 10, 1400 << 10, 4 << 20} {
		s := NewStore(b.TempDir())
		s.Write.NoSync = true
		c := attachmentMail(size, 12)
		d, _, err := s.Put(c)
		require.NoError(b, err)
		comp, err := s.Stat(d)
		require.NoError(b, err)
		for _, path := range []struct {
			name string
			max  int64
		}{{"small", 1 << 40}, {"large", 0}} {
			name := fmt.Sprintf("comp%dKB/%s", comp>>10, path.name)
			b.Run(name+"/Read", func(b *testing.B) {
				old := smallMax
				smallMax = path.max
				defer func() { smallMax = old }()
				b.SetBytes(int64(len(c)))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := s.Read(d); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run(name+"/Open", func(b *testing.B) {
				old := smallMax
				smallMax = path.max
				defer func() { smallMax = old }()
				b.SetBytes(int64(len(c)))
				b.ReportAllocs()
				buf := make([]byte, 128<<10) // the FUSE read size
				for b.Loop() {
					rc, err := s.Open(d)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{rc}, buf); err != nil {
						b.Fatal(err)
					}
					rc.Close()
				}
			})
		}
	}
}

// BenchmarkPgzipBlocks compares read-ahead geometries of the large path on
// a 10 MB stream (Store.Open read through in 128 KiB reads).
func BenchmarkPgzipBlocks(b *testing.B) {
	s := NewStore(b.TempDir())
	s.Write.NoSync = true
	c := attachmentMail(10<<20, 8)
	d, _, err := s.Put(c)
	require.NoError(b, err)
	for _, g := range []struct{ size, n int }{{1 << 20, 4}, {512 << 10, 4}, {256 << 10, 8}, {128 << 10, 8}, {64 << 10, 16}} {
		b.Run(fmt.Sprintf("%dKBx%d", g.size>>10, g.n), func(b *testing.B) {
			oldS, oldN := pgzBlockSize, pgzBlocks
			pgzBlockSize, pgzBlocks = g.size, g.n
			pgzPool = sync.Pool{New: func() any { return newPgzip() }}
			defer func() {
				pgzBlockSize, pgzBlocks = oldS, oldN
				pgzPool = sync.Pool{New: func() any { return newPgzip() }}
			}()
			b.SetBytes(int64(len(c)))
			buf := make([]byte, 128<<10)
			for b.Loop() {
				rc, err := s.Open(d)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{rc}, buf); err != nil {
					b.Fatal(err)
				}
				rc.Close()
			}
		})
	}
}
