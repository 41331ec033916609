package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/cbfs/cbfs/index"
)

// The first index build prints the item files read and their rate.
func TestIndexProgressShowsItemsAndRate(t *testing.T) {
	clock := time.Unix(1000, 0)
	now := func() time.Time { return clock }
	var buf bytes.Buffer
	pr := progressPrinterTo(&buf, now)
	clock = clock.Add(2 * time.Second)
	pr(index.Progress{Accounts: 2, AccountsDone: 1, ItemsDone: 900})
	if out := buf.String(); !strings.Contains(out, "900 item files read") || !strings.Contains(out, "450 items/s") {
		t.Fatalf("progress %q", out)
	}
}
