package restore

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cbfs/cbfs/internal/imapmaster/imapfrozen"
)

// A server that stops answering after LOGIN fails the restore's Open
// within the timeout instead of hanging it.
func TestIMAPTargetFrozenServer(t *testing.T) {
	tgt, err := ParseTarget(imapfrozen.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer tgt.Close()
	start := time.Now()
	mb, err := tgt.Open(context.Background(), "ann@example.com")
	if err == nil {
		mb.Close()
		t.Fatal("Open on a frozen server succeeded")
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Fatalf("Open returned after %s, want within 3s", el)
	}
	if !strings.Contains(err.Error(), "did not answer in time") {
		t.Errorf("error %v", err)
	}
}
