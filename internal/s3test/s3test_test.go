package s3test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

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
	if err := b.List(ctx, "items/", func(n string, sz int64) error { names = append(names, n); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(names) != 1 || names[0] != "items/ab/abc" {
		t.Fatalf("list: %q", names)
	}

	t.Setenv("AWS_SECRET_ACCESS_KEY", "wrong")
	bad, err := s3.Open(srv.URL("pre"), s3.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := bad.Check(ctx); !errors.Is(err, objstore.ErrAccess) {
		t.Fatalf("check with a wrong secret: %v, want ErrAccess", err)
	}
}
