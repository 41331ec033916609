package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/mailbox"
	"github.com/cbfs/cbfs/operations"
	"github.com/cbfs/cbfs/sample"
	"github.com/cbfs/cbfs/search"
)

// cbfs serve's search refresh: nothing while no index exists; after a
// write, the existing index holds the new message.
func TestServeRefreshesSearchIndex(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	ctx := context.Background()
	bp := filepath.Join(t.TempDir(), "bp")
	if _, err := sample.Generate(ctx, bp, sample.Options{Accounts: 3, Messages: 5, Seed: 7}); err != nil {
		t.Fatal(err)
	}
	s := operations.Settings{BackupPath: bp, Flags: operations.Flags{StateDir: filepath.Join(t.TempDir(), "st")}}
	if err := s.Normalize(); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var r searchRefresher
	wait := func() {
		t.Helper()
		r.mu.Lock()
		done := r.done
		r.mu.Unlock()
		<-done
	}
	file, err := search.DefaultFile(bp)
	if err != nil {
		t.Fatal(err)
	}
	r.kick(ctx, s, log)
	wait()
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Fatalf("an index was built unasked: %v", err)
	}

	p, err := backuppath.Open(bp)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := search.Build(ctx, p, file, search.Options{}); err != nil {
		t.Fatal(err)
	}
	ids, err := p.AccountIDs()
	if err != nil || len(ids) == 0 {
		t.Fatal(ids, err)
	}
	raw := []byte("From: zed@example.net\r\nSubject: Wombat census\r\n\r\nnew since the index\r\n")
	d, _, err := p.Blobs.Put(raw)
	if err != nil {
		t.Fatal(err)
	}
	st := mailbox.State{Start: mailbox.MillisOf(time.Now()), Type: mailbox.TypeMessage, FolderID: mailbox.FolderInbox, Digest: d, Size: int64(len(raw))}
	if err := p.CreateItem(ids[0], mailbox.NewItem(99999, []mailbox.State{st})); err != nil {
		t.Fatal(err)
	}
	r.kick(ctx, s, log)
	wait()
	ix, err := search.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	q, _ := search.Parse("wombat census")
	hits, _, err := ix.Search(q, search.SearchOptions{})
	if err != nil || len(hits) != 1 || hits[0].ItemID != 99999 {
		t.Fatalf("after the refresh: %+v %v", hits, err)
	}
}
