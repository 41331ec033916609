package search

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/internal/testbomb"
	"github.com/cbfs/cbfs/mailbox"
)

func search(t *testing.T, file, query string) []string {
	t.Helper()
	ix, err := Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	q, err := Parse(query)
	if err != nil {
		t.Fatal(err)
	}
	hits, _, err := ix.Search(q, SearchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return hitKeys(hits)
}

// TestRefresh: a second build reads no blob it has indexed; a new message
// and a new state of an old one are found; a blob no state names is
// dropped; rebuild reads everything again.
func TestRefresh(t *testing.T) {
	p := writeCorpus(t)
	file := filepath.Join(t.TempDir(), "sub", "search.idx")
	ctx := context.Background()
	rep, err := Build(ctx, p, file, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Indexed != 6 || rep.Reused != 0 {
		t.Fatalf("first build %+v", rep)
	}
	rep, err = Build(ctx, p, file, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Indexed != 0 || rep.Reused != 6 || rep.BytesRead != 0 {
		t.Fatalf("second build %+v: want nothing read", rep)
	}
	if got := search(t, file, "quarterly"); len(got) != 3 {
		t.Fatalf("after reuse: quarterly %v", got)
	}
	raw := "From: Zed <zed@example.net>\r\nSubject: Kangaroo\r\n\r\nsightings\r\n"
	addMessage(t, p, bobID, 403, []byte(raw), []mailbox.State{msgState(corpusStart, mailbox.FolderInbox, "", false)})
	// bob's 402 is deleted now
	if err := p.AppendState(bobID, 402, mailbox.State{Start: mailbox.MillisOf(corpusStart.Add(72 * 3600e9)), Type: mailbox.TypeMessage, FolderID: mailbox.FolderTrash, Deleted: true}); err != nil {
		t.Fatal(err)
	}
	rep, err = Build(ctx, p, file, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Indexed != 1 || rep.Reused != 6 {
		t.Fatalf("third build %+v", rep)
	}
	if got := search(t, file, "kangaroo sightings"); strings.Join(got, ",") != "bob:403" {
		t.Errorf("new message: %v", got)
	}
	if got := search(t, file, "is:deleted account:bob"); strings.Join(got, ",") != "bob:402" {
		t.Errorf("new state: %v", got)
	}
	if got := search(t, file, "quarterly invoice"); len(got) != 3 {
		t.Errorf("reused postings: %v", got)
	}
	// An item file gone: its blob's document is dropped.
	if err := os.Remove(filepath.Join(p.Root, "accounts", bobID, "items", mailbox.Bucket(403), "403")); err != nil {
		t.Fatal(err)
	}
	rep, err = Build(ctx, p, file, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Dropped != 1 || rep.Messages != 6 {
		t.Errorf("after removal %+v", rep)
	}
	if got := search(t, file, "kangaroo"); len(got) != 0 {
		t.Errorf("dropped message still found: %v", got)
	}
	rep, err = Build(ctx, p, file, Options{Rebuild: true})
	if err != nil || rep.Indexed != 6 || rep.Reused != 0 {
		t.Errorf("rebuild %+v %v", rep, err)
	}
}

// TestHostileBlobs: a gzip bomb, a 50 MB HTML body, a blob bigger than
// its state says and a missing blob each cost a bounded read and their
// own document, never the build.
func TestHostileBlobs(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 50 MB message")
	}
	p := writeCorpus(t)
	// A bomb of 48 MiB of zeros, no size recorded.
	bomb, err := testbomb.Plant(p.Root, 48<<20)
	if err != nil {
		t.Fatal(err)
	}
	bombState := msgState(corpusStart, mailbox.FolderInbox, "", false)
	bombState.Digest = blob.Digest(bomb)
	if err := p.CreateItem(aliceID, mailbox.NewItem(500, []mailbox.State{bombState})); err != nil {
		t.Fatal(err)
	}
	// Another under a state that records 1000 bytes: broken.
	bomb2, err := testbomb.Plant(p.Root, 4<<20)
	if err != nil {
		t.Fatal(err)
	}
	small := bombState
	small.Digest, small.Size = blob.Digest(bomb2), 1000
	if err := p.CreateItem(bobID, mailbox.NewItem(501, []mailbox.State{small})); err != nil {
		t.Fatal(err)
	}
	// 50 MB of HTML: the first MaxText bytes of text are indexed.
	var b strings.Builder
	b.WriteString("From: big@example.com\r\nSubject: Huge page\r\nContent-Type: text/html\r\n\r\n<html><body>")
	for b.Len() < 50<<20 {
		b.WriteString("<p>lorem ipsum dolor</p>\n")
	}
	b.WriteString("<p>tailword</p></body></html>\r\n")
	addMessage(t, p, aliceID, 502, []byte(b.String()), []mailbox.State{msgState(corpusStart, mailbox.FolderInbox, "", false)})
	// A state naming a blob that is not there.
	gone := msgState(corpusStart, mailbox.FolderInbox, "", false)
	gone.Digest = blob.Sum([]byte("never written"))
	if err := p.CreateItem(aliceID, mailbox.NewItem(503, []mailbox.State{gone})); err != nil {
		t.Fatal(err)
	}

	file := filepath.Join(t.TempDir(), "search.idx")
	rep, err := Build(context.Background(), p, file, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// bomb (read up to MaxRead) + the 50 MB page (read up to MaxRead) + the corpus
	if rep.BytesRead > 2*MaxRead+1<<20 {
		t.Errorf("read %d bytes: more than the bounds allow", rep.BytesRead)
	}
	// Truncated: the unsized bomb (MaxRead) and the page (MaxHTML);
	// broken: the sized bomb (longer than its state says) and the missing blob.
	if rep.Truncated != 2 || rep.Broken != 2 || rep.Messages != 6+4 {
		t.Errorf("report %+v: want 2 truncated, 2 broken, 10 documents", rep)
	}
	if got := search(t, file, "subject:huge lorem"); strings.Join(got, ",") != "alice:502" {
		t.Errorf("50 MB page: %v", got)
	}
	if got := search(t, file, "tailword"); len(got) != 0 {
		t.Errorf("text past MaxText indexed: %v", got)
	}
	// Every other message is still found.
	if got := search(t, file, "invoice"); len(got) != 3 {
		t.Errorf("invoice: %v", got)
	}
	// Items with unreadable content are still found by what their states say.
	if got := search(t, file, "account:alice folder:inbox NOT invoice NOT agenda NOT zurich NOT huge"); strings.Join(got, ",") != "alice:500,alice:503" && strings.Join(got, ",") != "alice:503,alice:500" {
		t.Errorf("states of unreadable blobs: %v", got)
	}
	// A broken blob is read again by the next build, a sound one not.
	rep2, err := Build(context.Background(), p, file, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep2.Indexed != rep.Broken {
		t.Errorf("second build indexed %d, want the %d broken ones again (%+v)", rep2.Indexed, rep.Broken, rep2)
	}
}

// TestCorruptIndex: a damaged index file is ErrCorrupt, never a panic, and
// a build replaces it.
func TestCorruptIndex(t *testing.T) {
	p := writeCorpus(t)
	file := filepath.Join(t.TempDir(), "search.idx")
	if _, err := Build(context.Background(), p, file, Options{}); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	q, _ := Parse("invoice OR \"meeting agenda\" OR has:attachment OR is:deleted OR before:2030-01-01")
	for _, cut := range []int{0, 7, len(good) / 2, len(good) - 1} {
		if err := os.WriteFile(file, good[:cut], 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(file); !errors.Is(err, ErrCorrupt) {
			t.Errorf("cut at %d: %v, want ErrCorrupt", cut, err)
		}
	}
	// Flip bytes in the tables: Search fails cleanly or answers, never panics.
	for off := 8; off < len(good)-200; off += len(good) / 97 {
		bad := append([]byte(nil), good...)
		bad[off] ^= 0xff
		bad[off+1] ^= 0x5a
		if err := os.WriteFile(file, bad, 0o600); err != nil {
			t.Fatal(err)
		}
		ix, err := Open(file)
		if err != nil {
			continue
		}
		ix.Search(q, SearchOptions{})
		ix.Close()
	}
	if _, err := Build(context.Background(), p, file, Options{}); err != nil {
		t.Fatalf("build over a corrupt index: %v", err)
	}
	if got := search(t, file, "invoice"); len(got) != 3 {
		t.Errorf("after rebuild: %v", got)
	}
}

// TestFileRoot: the Backup Path an index file names, read from its meta
// alone; a file that is not an index is ErrCorrupt.
func TestFileRoot(t *testing.T) {
	ix, _, file := buildCorpus(t)
	root, err := FileRoot(file)
	if err != nil || root != ix.Meta().Root || root == "" {
		t.Fatalf("FileRoot = %q, %v; want %q", root, err, ix.Meta().Root)
	}
	good, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"empty": nil, "cut": good[:len(good)/2], "text": []byte(strings.Repeat("not an index\n", 20))} {
		bad := filepath.Join(t.TempDir(), name+".search")
		if err := os.WriteFile(bad, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if root, err := FileRoot(bad); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %q, %v; want ErrCorrupt", name, root, err)
		}
	}
}

// TestBuildCancel: a build stopped while it reads messages returns the
// context's error, leaves no file, and the next build is whole.
func TestBuildCancel(t *testing.T) {
	p := writeCorpus(t)
	for i := 0; i < 300; i++ { // enough messages that the workers are still busy
		raw := fmt.Sprintf("From: n%d@example.com\r\nSubject: filler %d\r\n\r\nfiller text %d\r\n", i, i, i)
		addMessage(t, p, bobID, 1000+i, []byte(raw), []mailbox.State{msgState(corpusStart, mailbox.FolderInbox, "", false)})
	}
	file := filepath.Join(t.TempDir(), "search.idx")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := Build(ctx, p, file, Options{Workers: 2, Progress: func(pr Progress) {
		if pr.Phase == "messages" && pr.MessagesDone == 0 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Build = %v, want context.Canceled", err)
	}
	if _, err := os.Stat(file); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a stopped build left %s: %v", file, err)
	}
	rep, err := Build(context.Background(), p, file, Options{})
	if err != nil || rep.Indexed != 306 || rep.Broken != 0 {
		t.Fatalf("next build %+v, %v", rep, err)
	}
	if got := search(t, file, "filler 299"); strings.Join(got, ",") != "bob:1299" {
		t.Errorf("filler 299: %v", got)
	}
}
