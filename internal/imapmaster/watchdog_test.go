package imapmaster

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cbfs/cbfs/internal/dovecot"
	"github.com/cbfs/cbfs/internal/imapmaster/imapfrozen"
)

// frozenServer is imapfrozen's server: greets, answers LOGIN when
// answerLogin is set, then never answers again.
func frozenServer(t *testing.T, answerLogin bool) string { return imapfrozen.Start(t, answerLogin) }

func testServer(t *testing.T, addr, pass string) Server {
	t.Helper()
	u, err := url.Parse("imap://admin:" + pass + "@" + addr + "?timeout=1s")
	if err != nil {
		t.Fatal(err)
	}
	s, _, err := Parse(u, "test")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestFrozenServerAtLogin(t *testing.T) {
	s := testServer(t, frozenServer(t, false), "pw")
	start := time.Now()
	c, _, err := s.Dial(context.Background(), "ann@example.com", nil)
	if err == nil {
		c.Close()
		t.Fatal("Dial to a server that never answers LOGIN succeeded")
	}
	if el := time.Since(start); el > s.Timeout+2*time.Second {
		t.Fatalf("Dial returned after %s, want within %s", el, s.Timeout+2*time.Second)
	}
	if !errors.Is(err, ErrSilent) {
		t.Errorf("error %v does not say the server was silent", err)
	}
}

func TestFrozenServerAfterLogin(t *testing.T) {
	s := testServer(t, frozenServer(t, true), "pw")
	c, conn, err := s.Dial(context.Background(), "ann@example.com", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	conn.Arm(DefaultLimits)
	_, err = c.List("", "*", nil).Collect()
	if err == nil {
		t.Fatal("LIST on a frozen server succeeded")
	}
	if el := time.Since(start); el > s.Timeout+2*time.Second {
		t.Fatalf("LIST returned after %s, want within %s", el, s.Timeout+2*time.Second)
	}
	if !strings.Contains(err.Error(), ErrSilent.Error()) {
		t.Errorf("error %v does not say the server was silent", err)
	}
}

// With the watchdog armed, a working server's commands succeed, and an
// idle connection (its commands answered) outlives the timeout.
func TestWatchdogLeavesWorkingServerAlone(t *testing.T) {
	dv := dovecot.Start(t, map[string]string{"ann@example.com": "pw"})
	s := testServer(t, dv.IMAPAddr, dv.AdminPass)
	c, conn, err := s.Dial(context.Background(), "ann@example.com", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range 3 {
		conn.Arm(DefaultLimits)
		if _, err := c.List("", "*", nil).Collect(); err != nil {
			t.Fatalf("LIST %d: %v", i, err)
		}
		conn.Arm(DefaultLimits)
		if _, err := c.Select("INBOX", nil).Wait(); err != nil {
			t.Fatalf("SELECT %d: %v", i, err)
		}
		time.Sleep(s.Timeout + 300*time.Millisecond) // idle longer than the timeout
	}
	conn.Arm(DefaultLimits)
	if err := c.Noop().Wait(); err != nil {
		t.Fatalf("NOOP after idling: %v", err)
	}
}
