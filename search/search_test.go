package search

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/cbfs/cbfs/mailbox"
)

func buildCorpus(t *testing.T) (*Index, *Report, string) {
	t.Helper()
	p := writeCorpus(t)
	file := filepath.Join(t.TempDir(), "search.idx")
	rep, err := Build(context.Background(), p, file, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ix, err := Open(file)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	return ix, rep, file
}

// TestQueries: each query form finds exactly the items it should.
func TestQueries(t *testing.T) {
	ix, rep, _ := buildCorpus(t)
	// One document per distinct blob: the invoice is in both accounts.
	if rep.Messages != 6 || rep.Items != 7 || rep.States != 8 {
		t.Fatalf("report %+v: want 6 documents, 7 items, 8 states", rep)
	}
	for _, tc := range []struct {
		q    string
		want []string
	}{
		// free text, in any field; case and accents folded
		{"invoice", []string{"alice:300", "bob:400", "bob:401"}},
		{"INVOICE", []string{"alice:300", "bob:400", "bob:401"}},
		{"café", []string{"alice:301"}},
		{"cafe", []string{"alice:301"}},
		{"reunion", []string{"alice:301"}},
		{"zurich", []string{"alice:303"}},
		{"hauptstrasse", []string{"alice:303"}},
		{"nachste", []string{"alice:303"}},
		{"привет", []string{"bob:402"}},     // koi8-r body and subject
		{"ПРИВЕТ мир", []string{"bob:402"}}, // case folding beyond ASCII
		// fields
		{"subject:invoice", []string{"alice:300", "bob:400"}},
		{"subject:report", []string{"bob:401"}},
		{"from:john", []string{"alice:300", "bob:400"}},
		{"from:jöhn", []string{"alice:300", "bob:400"}},
		{"from:JOHN@acme.com", []string{"alice:300", "bob:400"}},
		{"from:acme.com", []string{"alice:300", "bob:400"}},
		{"from:smith", []string{"alice:300", "bob:400"}},
		{"from:alice", nil},
		{"to:alice", []string{"alice:300", "alice:301", "alice:302", "alice:303", "bob:400"}}, // bob has alice's invoice too
		{"to:bob@example.org", []string{"bob:401", "bob:402"}},
		{"cc:paul", []string{"alice:301"}},
		{"cc:marie", nil},
		{"body:cafe", []string{"alice:301"}},
		{"body:pret", []string{"alice:301"}},
		{"body:secretscript", nil}, // script and style are not text
		{"body:secretstyle", nil},
		{"body:htmlonlyword", nil}, // an alternative's text is taken once
		{"body:agenda", []string{"alice:302"}},
		{"body:invoice", []string{"alice:300", "bob:400", "bob:401"}},
		{"attachment:facture", []string{"alice:300", "bob:400"}},
		{"attachment:facture-mars.pdf", []string{"alice:300", "bob:400"}},
		{"attachment:pdf", []string{"alice:300", "bob:400"}},
		{"has:attachment", []string{"alice:300", "bob:400"}},
		{"message-id:abc123@acme.com", []string{"alice:300", "bob:400"}},
		{"message-id:<ABC123@acme.com>", []string{"alice:300", "bob:400"}},
		// state filters
		{"account:bob", []string{"bob:400", "bob:401", "bob:402"}},
		{"account:BOB@example.org", []string{"bob:400", "bob:401", "bob:402"}},
		{"account:" + aliceID + " invoice", []string{"alice:300"}},
		{`folder:"Projets Été"`, []string{"alice:301"}},
		{`folder:"projets ete"`, []string{"alice:301"}},
		{`folder:"/Inbox/Projets Été"`, []string{"alice:301"}},
		{"folder:inbox/projets", nil},
		{"folder:trash", []string{"alice:302"}},
		{"folder:inbox account:alice", []string{"alice:300", "alice:302", "alice:303"}},
		{"is:deleted", []string{"alice:302"}},
		{"is:unread", []string{"alice:300"}},
		{"is:flagged", []string{"bob:401"}},
		{"is:read invoice", []string{"bob:400", "bob:401"}}, // alice's copy is unread
		{"before:2024-03-10", []string{"alice:302"}},
		{"after:2024-05-01", []string{"bob:401"}},
		{"after:2024-04-10 before:2024-04-11", []string{"alice:303"}},
		{"on:2024-03-15", []string{"alice:300", "bob:400"}},
		{"on:15/03/2024", []string{"alice:300", "bob:400"}},
		// phrases
		{`"quarterly invoice"`, []string{"alice:300", "bob:400"}},
		{`"invoice quarterly"`, nil},
		{`body:"find the quarterly"`, []string{"alice:300", "bob:400"}},
		{`subject:"quarterly invoice"`, nil},
		{`"john smith"`, []string{"alice:300", "bob:400"}},
		// boolean
		{"invoice OR agenda", []string{"alice:300", "alice:302", "bob:400", "bob:401"}},
		{"invoice AND report", []string{"bob:401"}},
		{"invoice report", []string{"bob:401"}},
		{"invoice -subject:invoice", []string{"bob:401"}},
		{"invoice NOT subject:invoice", []string{"bob:401"}},
		{"NOT account:alice", []string{"bob:400", "bob:401", "bob:402"}},
		{"(cafe OR zurich) account:alice", []string{"alice:301", "alice:303"}},
		{"is:deleted OR is:flagged", []string{"alice:302", "bob:401"}},
		{"nosuchword", nil},
	} {
		t.Run(tc.q, func(t *testing.T) {
			q, err := Parse(tc.q)
			if err != nil {
				t.Fatal(err)
			}
			hits, total, err := ix.Search(q, SearchOptions{})
			if err != nil {
				t.Fatal(err)
			}
			got := hitKeys(hits)
			slices.Sort(got)
			if !slices.Equal(got, tc.want) || total != len(tc.want) {
				t.Errorf("%s: got %v (total %d), want %v", tc.q, got, total, tc.want)
			}
		})
	}
}

func TestHitFields(t *testing.T) {
	ix, _, _ := buildCorpus(t)
	q, _ := Parse("agenda")
	hits, _, err := ix.Search(q, SearchOptions{})
	if err != nil || len(hits) != 1 {
		t.Fatalf("%v %v", hits, err)
	}
	h := hits[0]
	// The latest matching state: the deletion, in Trash.
	want := Hit{Account: "alice@example.com", AccountID: aliceID, Folder: "/Trash", FolderID: mailbox.FolderTrash, ItemID: 302,
		StateDate: corpusStart.Add(48 * time.Hour), Date: time.Date(2024, 3, 1, 8, 0, 0, 0, time.UTC), Subject: "Agenda",
		From: "Bob bob@example.org", Deleted: true, States: 2,
		MountPath: "accounts/alice@example.com/items/302/2024-06-03T10:00:00Z/message.eml"}
	h.Score, h.Digest = 0, ""
	if h != want {
		t.Errorf("hit\n%+v, want\n%+v", h, want)
	}
	// Not deleted: the first state, in the Inbox.
	q, _ = Parse("agenda -is:deleted")
	hits, _, _ = ix.Search(q, SearchOptions{})
	if len(hits) != 1 || hits[0].Folder != "/Inbox" || hits[0].Deleted || hits[0].States != 1 ||
		hits[0].MountPath != "accounts/alice@example.com/items/302/2024-06-01T10:00:00Z/message.eml" {
		t.Errorf("agenda -is:deleted: %+v", hits)
	}
	q, _ = Parse("cafe")
	hits, _, _ = ix.Search(q, SearchOptions{})
	if len(hits) != 1 || hits[0].Folder != "/Inbox/Projets Été" || hits[0].Subject != "Réunion café" {
		t.Errorf("cafe: %+v", hits)
	}
}

func TestRankingAndOptions(t *testing.T) {
	ix, _, _ := buildCorpus(t)
	q, _ := Parse("invoice")
	hits, total, err := ix.Search(q, SearchOptions{AccountIDs: []string{bobID}})
	if err != nil {
		t.Fatal(err)
	}
	// Subject and body beat a body mention.
	if got := hitKeys(hits); !slices.Equal(got, []string{"bob:400", "bob:401"}) || total != 2 || !(hits[0].Score > hits[1].Score) {
		t.Errorf("ranked %v total %d (scores %v %v)", got, total, hits[0].Score, hits[len(hits)-1].Score)
	}
	hits, total, _ = ix.Search(q, SearchOptions{Limit: 1})
	if len(hits) != 1 || total != 3 {
		t.Errorf("limit 1: %d hits, total %d", len(hits), total)
	}
	// A limit keeps the best hits in the same order as without one.
	q, _ = Parse("invoice OR agenda OR cafe OR zurich OR account:bob")
	all, _, _ := ix.Search(q, SearchOptions{})
	for n := 1; n <= len(all); n++ {
		some, total, _ := ix.Search(q, SearchOptions{Limit: n})
		if total != len(all) || !slices.Equal(hitKeys(some), hitKeys(all)[:n]) {
			t.Errorf("limit %d: %v (total %d), want %v", n, hitKeys(some), total, hitKeys(all)[:n])
		}
	}
	// Latest: the item's latest state, matching or not (search_filter).
	q, _ = Parse("agenda -is:deleted")
	for latest, want := range map[string]int{"": 1, "deleted": 1, "not_deleted": 0} {
		if hits, _, _ := ix.Search(q, SearchOptions{Latest: latest}); len(hits) != want {
			t.Errorf("agenda -is:deleted, latest %q: %d hits, want %d", latest, len(hits), want)
		}
	}
}

func TestBadQueries(t *testing.T) {
	for _, q := range []string{"", "   ", "from:", "is:nice", "has:cats", "before:someday", `"unclosed`, "(a", "a)", "a OR", "NOT", "AND a", "subject:!!!", "---"} {
		if _, err := Parse(q); !errors.Is(err, ErrQuery) {
			t.Errorf("Parse(%q) = %v, want ErrQuery", q, err)
		}
	}
}
