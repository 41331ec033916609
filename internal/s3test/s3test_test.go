package s3test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/objstore"
	"github.com/cbfs/cbfs/objstore/s3"
)

// TestBucket exercises the S3 store against the real server: put if
// absent, get, ranged get, stat, list, a missing object, a wrong key.
func TestBucket(t *testing.T) {
	srv := Start(t)
	t.Setenv("AWS_ACCESS_KEY_ID", srv.Access)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.Secret)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	b, err := s3.Open(srv.URL("pre"), s3.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := b.Check(ctx); err != nil {
		t.Fatal(err)
	}
	data := []byte("hello, object store")
	for i, want := range []bool{true, false} {
		created, err := b.PutIfAbsent(ctx, "items/ab/abc", bytes.NewReader(data), int64(len(data)))
		if err != nil || created != want {
			t.Fatalf("put %d: created %v, %v; want %v", i, created, err, want)
		}
	}
	rc, n, err := b.Get(ctx, "items/ab/abc")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if n != int64(len(data)) || !bytes.Equal(got, data) {
		t.Fatalf("get: %d %q", n, got)
	}
	rc, err = b.GetRange(ctx, "items/ab/abc", 7, 6)
	if err != nil {
		t.Fatal(err)
	}
	got, _ = io.ReadAll(rc)
	rc.Close()
	if string(got) != "object" {
		t.Fatalf("range: %q", got)
	}
	if sz, err := b.Stat(ctx, "items/ab/abc"); err != nil || sz != int64(len(data)) {
		t.Fatalf("stat: %d %v", sz, err)
	}
	if _, err := b.Stat(ctx, "items/ab/none"); !errors.Is(err, objstore.ErrNotExist) {
		t.Fatalf("stat of a missing object: %v", err)
	}
	if _, _, err := b.Get(ctx, "items/ab/none"); !errors.Is(err, objstore.ErrNotExist) {
		t.Fatalf("get of a missing object: %v", err)
	}
	var names []string
	if err := b.List(ctx, "items/", func(o objstore.Object) error { names = append(names, o.Name); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(names) != 1 || names[0] != "items/ab/abc" {
		t.Fatalf("list: %q", names)
	}

	// --s3-credentials FILE, with nothing in the environment.
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	creds := filepath.Join(t.TempDir(), "credentials")
	if err := os.WriteFile(creds, []byte("[default]\naws_access_key_id = "+srv.Access+"\naws_secret_access_key = "+srv.Secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fromFile, err := s3.Flags{Credentials: creds}.Open(srv.URL("pre"))
	if err != nil {
		t.Fatal(err)
	}
	if err := fromFile.Check(ctx); err != nil {
		t.Fatalf("credentials from a file: %v", err)
	}
	none, err := s3.Open(srv.URL("pre"), s3.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := none.Check(ctx); err == nil || !strings.Contains(err.Error(), "no S3 credentials") {
		t.Fatalf("check without credentials: %v", err)
	}

	t.Setenv("AWS_ACCESS_KEY_ID", srv.Access)
	t.Setenv("AWS_SECRET_ACCESS_KEY", "wrong")
	bad, err := s3.Open(srv.URL("pre"), s3.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := bad.Check(ctx); !errors.Is(err, objstore.ErrAccess) {
		t.Fatalf("check with a wrong secret: %v, want ErrAccess", err)
	}
}

// killingReader kills the server once n bytes of a body have been read.
type killingReader struct {
	io.ReadCloser
	n    int64
	kill func()
}

func (k *killingReader) Read(p []byte) (int, error) {
	n, err := k.ReadCloser.Read(p)
	if k.n -= int64(n); k.n <= 0 && k.kill != nil {
		k.kill()
		k.kill = nil
	}
	return n, err
}

// killing is the bucket, with the server killed during the first GET's
// body.
type killing struct {
	objstore.Store
	srv *Server
	at  int64
}

func (k *killing) Get(ctx context.Context, name string) (io.ReadCloser, int64, error) {
	rc, n, err := k.Store.Get(ctx, name)
	if err != nil {
		return rc, n, err
	}
	return &killingReader{ReadCloser: rc, n: k.at, kill: k.srv.Kill}, n, nil
}

// TestRemoteKilledMidRead kills versitygw while a large blob's GET is
// under way: the read fails as unreadable (never a partial blob served as
// whole), nothing is left in the cache, and the next read fails fast.
func TestRemoteKilledMidRead(t *testing.T) {
	srv := Start(t)
	t.Setenv("AWS_ACCESS_KEY_ID", srv.Access)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.Secret)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	b, err := s3.Open(srv.URL("k"), s3.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	// A blob of 48 MiB of incompressible content.
	src := blob.NewStore(t.TempDir())
	src.Write.NoSync = true
	content := make([]byte, 48<<20)
	rand.New(rand.NewSource(1)).Read(content)
	d, _, err := src.Put(content)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(src.Path(d))
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := f.Stat()
	if _, err := b.PutIfAbsent(ctx, d.RelPath(), f, fi.Size()); err != nil {
		t.Fatal(err)
	}
	f.Close()

	// Whole, it arrives in ranges: the first from the GET, the other five
	// with ranged GETs (8 MiB each, the default), verified as one blob.
	whole, err := blob.NewRemote(b, t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	ws := blob.NewStore(t.TempDir())
	ws.SetRemote(whole)
	got, err := ws.ReadLimit(d, blob.Limit{Size: int64(len(content))})
	if err != nil || !bytes.Equal(got, content) {
		t.Fatalf("ranged fetch from versitygw: %v (equal %v)", err, bytes.Equal(got, content))
	}
	if want := (fi.Size() + blob.DefaultRangeSize - 1) / blob.DefaultRangeSize; whole.Gets.Load() != want {
		t.Fatalf("GETs of a %d-byte object: %d, want %d", fi.Size(), whole.Gets.Load(), want)
	}

	cache := t.TempDir()
	r, err := blob.NewRemote(&killing{Store: b, srv: srv, at: 1 << 20}, cache, 0)
	if err != nil {
		t.Fatal(err)
	}
	st := blob.NewStore(t.TempDir())
	st.SetRemote(r)
	for i := range 2 {
		_, err = st.ReadLimit(d, blob.Limit{Size: int64(len(content))})
		if !errors.Is(err, blob.ErrUnreadable) || errors.Is(err, blob.ErrMissing) {
			t.Fatalf("read %d with the server killed: %v, want unreadable", i, err)
		}
		if r.CachedBytes() != 0 {
			t.Fatalf("read %d: %d bytes cached from a cut transfer", i, r.CachedBytes())
		}
		left, _ := filepath.Glob(filepath.Join(cache, "items", "*", "*"))
		if len(left) != 0 {
			t.Fatalf("read %d: files left in the cache: %q", i, left)
		}
	}
}
