package blob

import (
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseDigest(t *testing.T) {
	// A SHA-256 whose standard base64 has a '/' in it.
	var withSlash Digest
	for i := 0; withSlash == ""; i++ {
		s := sha256.Sum256([]byte{byte(i), byte(i >> 8)})
		if enc := base64.StdEncoding.EncodeToString(s[:]); strings.Contains(enc, "/") {
			withSlash = Digest(strings.ReplaceAll(enc, "/", ","))
		}
	}
	sha256d := Sum([]byte("hello"))
	sha1d := sha1Digest([]byte("hello"))
	nonCanonical := string(sha256d[:42]) + string(rune(sha256d[42]+1)) + "=" // low padding bits set
	tests := []struct {
		name string
		in   string
		want Digest
		err  string
	}{
		{name: "SHA-256", in: string(sha256d), want: sha256d},
		{name: "SHA-1", in: string(sha1d), want: sha1d},
		{name: "FS-safe with comma", in: string(withSlash), want: withSlash},
		{name: "plain base64 with slash", in: strings.ReplaceAll(string(withSlash), ",", "/"), want: withSlash},
		{name: "empty", in: "", err: "characters"},
		{name: "too short", in: string(sha256d[:43]), err: "characters"},
		{name: "too long", in: string(sha256d) + "A", err: "characters"},
		{name: "not base64", in: "!" + string(sha256d[1:]), err: "not base64"},
		{name: "no padding", in: strings.Repeat("A", 44), err: "decodes to 33 bytes"},
		{name: "non-canonical padding bits", in: nonCanonical, err: "not base64"},
		{name: "line breaks around a SHA-1", in: string(sha1d) + strings.Repeat("\n", 16), err: "not canonical"},
		{name: "path traversal", in: "../../../../../../../../../../../etc/passwd", err: "invalid digest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := ParseDigest(tt.in)
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				assert.False(t, Digest(tt.in).Valid())
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, d)
			assert.True(t, d.Valid())
			assert.Equal(t, "items/"+string(d[:2])+"/"+string(d), d.RelPath())
		})
	}
	assert.Equal(t, "sha1", sha1d.Algorithm())
	assert.Equal(t, "sha256", sha256d.Algorithm())
	assert.True(t, sha1d.Matches([]byte("hello")))
	assert.False(t, sha1d.Matches([]byte("hello!")))
}
