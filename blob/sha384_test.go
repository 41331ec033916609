package blob

import (
	"bytes"
	"compress/gzip"
	"crypto/sha512"
	"os"
	"path/filepath"
	"testing"
)

// A 384-bit digest (64 characters, one Zextras glossary names them) is a
// digest: parsed, verified with SHA-384 on read, and a mismatch is broken.
func TestSHA384Digest(t *testing.T) {
	content := []byte("Subject: old\r\n\r\nwritten with a 384-bit digest\r\n")
	sum := sha512.Sum384(content)
	d := FromHash(sum[:])
	if len(d) != SHA384Len || d.Algorithm() != "sha384" {
		t.Fatalf("digest %q (%s)", d, d.Algorithm())
	}
	if _, err := ParseDigest(string(d)); err != nil {
		t.Fatalf("ParseDigest: %v", err)
	}
	root := t.TempDir()
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write(content)
	w.Close()
	path := filepath.Join(root, "items", d.Dir(), string(d))
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, gz.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	s := NewStore(root)
	got, err := s.Read(d)
	if err != nil || !bytes.Equal(got, content) {
		t.Fatalf("Read = %q, %v", got, err)
	}
	// The same file under another 384-bit name does not verify.
	other := sha512.Sum384([]byte("something else"))
	od := FromHash(other[:])
	opath := filepath.Join(root, "items", od.Dir(), string(od))
	os.MkdirAll(filepath.Dir(opath), 0o700)
	os.WriteFile(opath, gz.Bytes(), 0o600)
	if _, err := s.Read(od); Class(err) != "broken" {
		t.Fatalf("a mismatched 384-bit blob: %v, want broken", err)
	}
}
