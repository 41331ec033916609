package blob

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"hash"
	"strings"
)

// Digest names a blob: the hash of its uncompressed bytes in Zimbra's
// "FS-safe" base64 (standard alphabet with '=' padding, every '/' replaced by
// ','). SHA-256 digests are 44 characters; digests of old blobs written with
// SHA-1 are 28.
type Digest string

// Lengths of the digest kinds: SHA-256 (what Carbonio writes), SHA-1 (old
// Zimbra blobs) and 384-bit (SHA-384, named in one Zextras glossary; 64
// characters, no padding).
const (
	SHA256Len = 44
	SHA1Len   = 28
	SHA384Len = 64
)

// Sum returns the SHA-256 digest of data.
func Sum(data []byte) Digest {
	s := sha256.Sum256(data)
	return FromHash(s[:])
}

// FromHash encodes raw hash bytes as an FS-safe digest.
func FromHash(sum []byte) Digest {
	return Digest(strings.ReplaceAll(base64.StdEncoding.EncodeToString(sum), "/", ","))
}

// ParseDigest checks s and returns it as a Digest. It accepts the FS-safe
// form and the plain base64 form (with '/'), which it converts.
func ParseDigest(s string) (Digest, error) {
	if len(s) != SHA256Len && len(s) != SHA1Len && len(s) != SHA384Len {
		return "", fmt.Errorf("invalid digest %q: want %d (SHA-256), %d (SHA-1) or %d (SHA-384) characters, got %d", s, SHA256Len, SHA1Len, SHA384Len, len(s))
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(strings.ReplaceAll(s, ",", "/"))
	if err != nil {
		return "", fmt.Errorf("invalid digest %q: not base64: %w", s, err)
	}
	if len(raw) != sha256.Size && len(raw) != sha1.Size && len(raw) != sha512.Size384 {
		return "", fmt.Errorf("invalid digest %q: decodes to %d bytes", s, len(raw))
	}
	d := Digest(strings.ReplaceAll(s, "/", ","))
	if FromHash(raw) != d {
		// Line breaks (which the decoder skips) or a length that does not
		// fit the hash: no hash encodes to this name.
		return "", fmt.Errorf("invalid digest %q: not canonical base64 of a hash", s)
	}
	return d, nil
}

// Valid reports whether d is a well-formed digest.
func (d Digest) Valid() bool {
	_, err := ParseDigest(string(d))
	return err == nil && !strings.Contains(string(d), "/")
}

// NewHash returns a fresh hash of the kind d was made with (SHA-1 for 28
// characters, SHA-256 otherwise).
func (d Digest) NewHash() hash.Hash {
	switch len(d) {
	case SHA1Len:
		return sha1.New()
	case SHA384Len:
		return sha512.New384()
	}
	return sha256.New()
}

// Algorithm is "sha256" or "sha1".
func (d Digest) Algorithm() string {
	switch len(d) {
	case SHA1Len:
		return "sha1"
	case SHA384Len:
		return "sha384"
	}
	return "sha256"
}

// Dir is the blob's folder under items/: the digest's first two characters.
func (d Digest) Dir() string { return string(d[:2]) }

// RelPath is the blob's path relative to the Backup Path root.
func (d Digest) RelPath() string { return "items/" + string(d[:2]) + "/" + string(d) }

// Matches reports whether data hashes to d (with d's own algorithm).
func (d Digest) Matches(data []byte) bool {
	h := d.NewHash()
	h.Write(data)
	return FromHash(h.Sum(nil)) == d
}

// sumMatches reports whether h's sum is d.
func sumMatches(d Digest, h hash.Hash) bool {
	var buf [32]byte
	return FromHash(h.Sum(buf[:0])) == d
}

// hashOf is the digest of data with d's algorithm.
func hashOf(d Digest, data []byte) Digest {
	h := d.NewHash()
	h.Write(data)
	var buf [32]byte
	return FromHash(h.Sum(buf[:0]))
}
