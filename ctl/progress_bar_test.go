package ctl

import (
	"bytes"
	"strings"
	"testing"

	"github.com/cbfs/cbfs/opqueue"
)

// The bar counts the unit that moves, shows a rate, and with no total is
// a spinner with a count (no percentage).
func TestBarCountsItemsAndSpinsWithoutTotal(t *testing.T) {
	var buf bytes.Buffer
	b := newBarTo(&buf)
	b.update(opqueue.Progress{Done: 0, Total: 900, Unit: "items", Phase: "restoring"})
	b.update(opqueue.Progress{Done: 450, Total: 900, Unit: "items", Bytes: 3 << 20, Phase: "restoring"})
	out := buf.String()
	for _, want := range []string{"450/900", "items/s", "3.0 MiB"} {
		if !strings.Contains(out, want) {
			t.Errorf("bar %q lacks %q", out, want)
		}
	}
	b.finish()

	buf.Reset()
	b = newBarTo(&buf)
	b.update(opqueue.Progress{Done: 17, Unit: "messages", Phase: "account 1/3 a@example.com"})
	out = buf.String()
	if !strings.Contains(out, "17") || !strings.Contains(out, "messages/s") || strings.Contains(out, "%") {
		t.Errorf("spinner %q: want the count and rate, no percentage", out)
	}
	b.finish()
}

func TestBarNotOnATerminalDrawsNothing(t *testing.T) {
	b := &bar{}
	b.update(opqueue.Progress{Done: 1, Total: 2, Unit: "items"})
	b.finish()
}
