package restore

import (
	"bufio"
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

// frozenIMAP greets and answers LOGIN, then never answers again; it
// returns an imap:// URL with a 1s timeout.
func frozenIMAP(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
			go func() {
				c.Write([]byte("* OK [CAPABILITY IMAP4rev1] ready\r\n"))
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if tag, rest, _ := strings.Cut(line, " "); strings.HasPrefix(strings.ToUpper(rest), "LOGIN ") {
						c.Write([]byte(tag + " OK logged in\r\n"))
					}
				}
			}()
		}
	}()
	return "imap://admin:pw@" + ln.Addr().String() + "?timeout=1s"
}

// A server that stops answering after LOGIN fails the restore's Open
// within the timeout instead of hanging it.
func TestIMAPTargetFrozenServer(t *testing.T) {
	tgt, err := ParseTarget(frozenIMAP(t))
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
