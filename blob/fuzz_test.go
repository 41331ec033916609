package blob

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
)

// FuzzParseDigest: no input panics, and what is accepted is canonical.
func FuzzParseDigest(f *testing.F) {
	f.Add(string(Sum([]byte("x"))))
	f.Add(string(sha1Digest([]byte("x"))))
	f.Add(strings.Repeat("A", 44))
	f.Add(strings.Repeat("/", 43) + "=")
	f.Add(string(sha1Digest(nil)) + strings.Repeat("\r\n", 8))
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDigest(s)
		if err != nil {
			if d != "" {
				t.Fatalf("error %v with digest %q", err, d)
			}
			return
		}
		if len(d) != SHA256Len && len(d) != SHA1Len {
			t.Fatalf("%q: length %d", d, len(d))
		}
		if !d.Valid() || strings.Contains(string(d), "/") {
			t.Fatalf("%q accepted but not valid", d)
		}
		raw, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(string(d), ",", "/"))
		if err != nil || FromHash(raw) != d {
			t.Fatalf("%q does not round-trip: %v", d, err)
		}
		if want := map[int]int{SHA256Len: 32, SHA1Len: 20}[len(d)]; len(raw) != want {
			t.Fatalf("%q: %d hash bytes for %d characters", d, len(raw), len(d))
		}
		if d2, err := ParseDigest(string(d)); err != nil || d2 != d {
			t.Fatalf("not idempotent: %q -> %q, %v", d, d2, err)
		}
		_ = d.RelPath()
	})
}

// FuzzBlob stores arbitrary bytes as a blob file and reads it every way,
// through both decoders. Nothing may panic; every error is a broken *Error
// (the file is readable); and the ways agree: Read, Check, Open and Salvage
// all succeed with the same content, or all fail. Then it rewrites the blob
// as single gzip (fuzzRewrite).
func FuzzBlob(f *testing.F) {
	c := mailText(3000, 31)
	gzc := gz(f, c)
	f.Add(gzc, false)
	f.Add(gzc[:len(gzc)/2], false)
	f.Add(gz(f, gzc), false)
	f.Add(gz(f, gzc[:100]), false)
	f.Add(append(gz(f, c), 0), false)
	f.Add([]byte("not gzip at all"), false)
	f.Add([]byte{0x1f, 0x8b, 0x08}, false)
	f.Add(gz(f, []byte("hello")), true)
	f.Add([]byte{}, true)
	f.Fuzz(func(t *testing.T, raw []byte, bySHA1 bool) {
		// The digest: of the content if raw is sound gzip of something,
		// so that sound blobs are reached, else of a fixed text.
		content := []byte("fixed")
		if out, err := inflateStd(raw); err == nil {
			content = out
			if inner, err := inflateStd(out); err == nil && len(raw)%2 == 0 {
				content = inner
			}
		}
		d := Sum(content)
		if bySHA1 {
			d = sha1Digest(content)
		}
		root := t.TempDir()
		for _, path := range decoderPaths {
			old := smallMax
			smallMax = path.smallMax
			s := NewStore(root) // new: no remembered layers
			writeRaw(t, s, d, raw)
			fuzzAgree(t, s, d)
			fuzzRewrite(t, s, d)
			smallMax = old
		}
	})
}

// inflateStd gunzips b with the standard library (up to 1 MiB).
func inflateStd(b []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(io.LimitReader(zr, 1<<20))
}

func fuzzAgree(t *testing.T, s *Store, d Digest) {
	t.Helper()
	broken := func(what string, err error) {
		t.Helper()
		var be *Error
		if !errors.As(err, &be) || !errors.Is(err, ErrBroken) || be.Reason == "" || be.Digest != d {
			t.Fatalf("%s: unclassified error %#v", what, err)
		}
	}
	data, rerr := s.Read(d)
	cerr := s.Check(d)
	salvaged, serr := s.Salvage(d)
	var streamed []byte
	rc, oerr := s.Open(d)
	if oerr == nil {
		streamed, oerr = io.ReadAll(rc)
		rc.Close()
	}
	ok := rerr == nil
	for what, err := range map[string]error{"Read": rerr, "Check": cerr, "Salvage": serr, "Open": oerr} {
		if (err == nil) != ok {
			t.Fatalf("Read says %v but %s says %v", rerr, what, err)
		}
		if err != nil {
			broken(what, err)
		}
	}
	if ok {
		if !d.Matches(data) || !bytes.Equal(data, salvaged) || !bytes.Equal(data, streamed) {
			t.Fatalf("sound blob read differently: Read %d, Salvage %d, Open %d bytes", len(data), len(salvaged), len(streamed))
		}
	} else if data != nil {
		t.Fatalf("Read returned %d bytes with %v", len(data), rerr)
	}
}

// fuzzRewrite checks RewriteSingle on what fuzzAgree read: a sound double
// gzip becomes the file Put writes for its content, which every way reads
// the same, with one layer; anything else is left byte for byte as it was
// (a broken blob with its broken *Error).
func fuzzRewrite(t *testing.T, s *Store, d Digest) {
	t.Helper()
	before, err := os.ReadFile(s.Path(d))
	if err != nil {
		t.Fatal(err)
	}
	want, rerr := s.Read(d)
	layers, lerr := s.Layers(d, Limit{})
	if (lerr == nil) != (rerr == nil) {
		t.Fatalf("Read says %v but Layers says %v", rerr, lerr)
	}
	err = s.RewriteSingle(d, Limit{})
	after, aerr := os.ReadFile(s.Path(d))
	if aerr != nil {
		t.Fatal(aerr)
	}
	if rerr != nil || layers == 1 {
		if (err == nil) != (rerr == nil) || (err != nil && !errors.Is(err, ErrBroken)) {
			t.Fatalf("RewriteSingle of a blob Read calls %v: %v", rerr, err)
		}
		if !bytes.Equal(before, after) {
			t.Fatal("RewriteSingle changed a blob that is not a sound double gzip")
		}
		return
	}
	if err != nil {
		t.Fatalf("RewriteSingle of a sound double gzip: %v", err)
	}
	if n, err := s.Layers(d, Limit{}); n != 1 || err != nil {
		t.Fatalf("after RewriteSingle: %d layers, %v", n, err)
	}
	if put := putBytes(t, want); !bytes.Equal(put, after) {
		t.Fatalf("rewritten as %d bytes, Put writes %d", len(after), len(put))
	}
	fuzzAgree(t, s, d)
	if got, _ := s.Read(d); !bytes.Equal(want, got) {
		t.Fatalf("content changed: %d bytes, then %d", len(want), len(got))
	}
}
