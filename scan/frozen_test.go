package scan

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

// A server that stops answering after LOGIN fails the scan's folder
// listing within the timeout instead of hanging it.
func TestIMAPSourceFrozenServer(t *testing.T) {
	src, err := ParseSource(frozenIMAP(t))
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
