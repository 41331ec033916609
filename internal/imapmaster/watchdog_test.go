package imapmaster

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/cbfs/cbfs/internal/dovecot"
	"github.com/cbfs/cbfs/internal/imapmaster/imapfrozen"
	"github.com/cbfs/cbfs/internal/imapmaster/imaphostile"
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

// within runs fn, failing the test if it has not returned after d (fn
// is left running).
func within(t *testing.T, d time.Duration, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("still running after %s", d)
	}
}

// hostileServer serves one account, ann@example.com, whose folder Slow
// holds a 96 KiB message, answering as sc.
func hostileServer(t *testing.T, sc imaphostile.Scenario, at string, rate int) Server {
	body := []byte("Subject: big\r\n\r\n" + strings.Repeat("0123456789abcde\n", 6<<10))
	srv := imaphostile.Start(t, map[string]*imaphostile.Account{"ann@example.com": {Bad: sc, At: at, Rate: rate,
		Folders: map[string][]*imaphostile.Message{"Slow": {{Body: body, Date: time.Now()}}}}})
	s := testServer(t, srv.Addr, "pw")
	s.MinRate = 16 << 10 // with timeout=1s: at least 16 KiB in every second past the first
	return s
}

// One line a second, forever, is not an answer: the command ends when
// its Timeout has passed (within the window after it), with a clear error.
func TestWatchdogCutsATrickle(t *testing.T) {
	s := hostileServer(t, imaphostile.Trickle, "LIST", 0)
	s.Timeout = 3 * time.Second // and so a window of 3 s: a line a second is activity in every window
	c, conn, err := s.Dial(context.Background(), "ann@example.com", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	conn.Arm(DefaultLimits)
	within(t, 20*time.Second, func() { _, err = c.List("", "*", nil).Collect() })
	el := time.Since(start)
	if err == nil {
		t.Fatal("LIST answered a line a second succeeded")
	}
	err = conn.Explain(err)
	if !errors.Is(err, ErrSilent) || !strings.Contains(err.Error(), "still running after") {
		t.Errorf("error %v does not say the server was too slow", err)
	}
	if el > s.Timeout+time.Second+time.Second {
		t.Fatalf("LIST returned after %s, want within %s", el, s.Timeout+2*time.Second)
	}
	t.Logf("%v after %s", err, el.Round(time.Millisecond))
}

// A message sent slowly but steadily (32 KiB/s, above MinRate) takes
// three times the Timeout and arrives whole.
func TestWatchdogLetsASlowLinkWork(t *testing.T) {
	s := hostileServer(t, imaphostile.SlowSteady, "", 32<<10)
	c, conn, err := s.Dial(context.Background(), "ann@example.com", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	conn.Arm(DefaultLimits)
	if _, err := c.Select("Slow", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	conn.Arm(FetchLimits(1, 1<<20))
	var bufs []*imapclient.FetchMessageBuffer
	within(t, 20*time.Second, func() {
		bufs, err = c.Fetch(imap.UIDSetNum(1), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
	})
	el := time.Since(start)
	if err != nil {
		t.Fatalf("FETCH over a slow link, after %s: %v", el, conn.Explain(err))
	}
	if len(bufs) != 1 || len(bufs[0].BodySection) != 1 || len(bufs[0].BodySection[0].Bytes) != 16+96<<10 {
		t.Fatalf("FETCH returned %d messages", len(bufs))
	}
	if el < 2*s.Timeout {
		t.Fatalf("the slow link took %s: the test shows nothing", el)
	}
	t.Logf("96 KiB in %s", el.Round(time.Millisecond))
}

// The guard refuses a 10 GB literal on its announcement, before go-imap
// reads a byte of it.
func TestGuardRefusesHugeLiteral(t *testing.T) {
	s := hostileServer(t, imaphostile.HugeLiteral, "", 0)
	c, conn, err := s.Dial(context.Background(), "ann@example.com", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	conn.Arm(DefaultLimits)
	if _, err := c.Select("Slow", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	conn.Arm(FetchLimits(1, 1<<20))
	within(t, 20*time.Second, func() {
		_, err = c.Fetch(imap.UIDSetNum(1), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
	})
	err = conn.Explain(err)
	if !errors.Is(err, ErrOverLimit) || !strings.Contains(err.Error(), "a literal of 10000000000 bytes (at most 1048576)") {
		t.Fatalf("FETCH of a 10 GB literal: %v", err)
	}
}
