package scan

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cbfs/cbfs/internal/imapmaster/imapfrozen"
)

// A server that stops answering after LOGIN fails the scan's folder
// listing within the timeout instead of hanging it.
func TestIMAPSourceFrozenServer(t *testing.T) {
	src, err := ParseSource(imapfrozen.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	start := time.Now()
	mb, err := src.Open(context.Background(), "ann@example.com")
	if err == nil {
		defer mb.Close()
		_, err = mb.Folders(context.Background())
	}
	if err == nil {
		t.Fatal("listing folders on a frozen server succeeded")
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Fatalf("returned after %s, want within 3s", el)
	}
	if !strings.Contains(err.Error(), "did not answer in time") {
		t.Errorf("error %v", err)
	}
}
