// Package testbomb writes gzip bombs for tests: a small gzip file that
// inflates to a great many zero bytes, deterministically and without holding
// either the content or the compressed file in memory.
package testbomb

import (
	"crypto/sha256"
	"encoding/base64"
	"io"
	"os"
	"path/filepath"
	"strings"

	kgzip "github.com/klauspost/compress/gzip"
)

// Write writes n zero bytes to w, gzipped at best compression (about
// 1000:1: 1 GiB makes 1 MiB), and returns the SHA-256 of the n bytes, so
// the caller can name the blob by its content's digest (blob.FromHash).
func Write(w io.Writer, n int64) ([]byte, error) {
	zw, err := kgzip.NewWriterLevel(w, kgzip.BestCompression)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	zeros := make([]byte, 1<<20)
	for left := n; left > 0; {
		k := min(left, int64(len(zeros)))
		if _, err := zw.Write(zeros[:k]); err != nil {
			return nil, err
		}
		h.Write(zeros[:k])
		left -= k
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}

// Plant writes a bomb of n zeros into the blob area of the Backup Path at
// root, named by its content's digest (FS-safe base64 of the SHA-256, '/'
// made ','), and returns that name.
func Plant(root string, n int64) (string, error) {
	tmp, err := os.CreateTemp(root, ".bomb-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	sum, err := Write(tmp, n)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", err
	}
	d := strings.ReplaceAll(base64.StdEncoding.EncodeToString(sum), "/", ",")
	dir := filepath.Join(root, "items", d[:2])
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	return d, os.Rename(tmp.Name(), filepath.Join(dir, d))
}
