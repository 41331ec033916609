package imapmaster

import (
	"bufio"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestCmdLexer(t *testing.T) {
	for _, c := range []struct {
		name   string
		writes []string
		answer string // answered between the writes (after the first)
		want   []string
	}{
		{"one", []string{"a1 NOOP\r\n"}, "", []string{"a1"}},
		{"pipelined, in pieces", []string{"a1 NO", "OP\r\na2 SELECT INBOX\r", "\na3 LOGOUT\r\n"}, "", []string{"a1", "a2", "a3"}},
		{"literal+", []string{"m1 APPEND INBOX {5+}\r\na2 B\r\n m2 x\r\nm3 NOOP\r\n"}, "", []string{"m1", "m3"}},
		{"synchronizing literal sent", []string{"m1 LOGIN {3}\r\n", "m2 x\r\n", "m3 NOOP\r\n"}, "", []string{"m1", "m3"}},
		{"synchronizing literal refused", []string{"m1 LOGIN {3}\r\n", "m2 NOOP\r\n"}, "m1", []string{"m1", "m2"}},
		{"not a command", []string{"DONE\r\n", "a1 NOOP\r\n"}, "", []string{"a1"}},
	} {
		var l cmdLexer
		var got []string
		for i, w := range c.writes {
			if i == 1 && c.answer != "" {
				l.answered(c.answer)
			}
			l.feed([]byte(w), func(tag string) { got = append(got, tag) })
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: tags %q, want %q", c.name, got, c.want)
		}
	}
}

// scripted serves one connection with script (given the client's lines)
// and returns a Conn to it, watched with timeout.
func scripted(t *testing.T, timeout time.Duration, script func(c net.Conn, r *bufio.Reader)) *Conn {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		script(c, bufio.NewReader(c))
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	conn := NewConn(raw, raw, timeout, DefaultMinRate)
	t.Cleanup(func() { conn.Close() })
	return conn
}

// trickleAfter answers the client's commands with answer, then sends a
// line every 200 ms, forever.
func trickleAfter(answer string, commands int) func(c net.Conn, r *bufio.Reader) {
	return func(c net.Conn, r *bufio.Reader) {
		for range commands {
			if _, err := r.ReadString('\n'); err != nil {
				return
			}
		}
		c.Write([]byte(answer))
		for {
			if _, err := c.Write([]byte("* OK still here\r\n")); err != nil {
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

// readUntilError reads the connection until it fails, or for 15 s.
func readUntilError(t *testing.T, conn *Conn) error {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		buf := make([]byte, 4096)
		for {
			if _, err := conn.Read(buf); err != nil {
				errc <- err
				return
			}
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-time.After(15 * time.Second):
		t.Fatal("still reading after 15 s: the watchdog did not bite")
		return nil
	}
}

// An answer to a command never sent, or to a later command than the one
// waited for, does not end the wait: a server cannot answer something
// else and then trickle.
func TestWatchdogWantsTheAnswerItWaitsFor(t *testing.T) {
	for _, c := range []struct {
		name, write, answer string
		commands            int
	}{
		{"an answer to no command sent", "a1 NOOP\r\n", "zz9 OK done\r\n", 1},
		{"the later command's answer first", "a1 NOOP\r\na2 NOOP\r\n", "a2 OK done\r\n", 2},
		{"an untagged response", "a1 NOOP\r\n", "* OK a1 OK done\r\n", 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn := scripted(t, time.Second, trickleAfter(c.answer, c.commands))
			conn.Arm(DefaultLimits)
			start := time.Now()
			if _, err := conn.Write([]byte(c.write)); err != nil {
				t.Fatal(err)
			}
			err := readUntilError(t, conn)
			if !errors.Is(err, ErrSilent) || !strings.Contains(err.Error(), "still running after") {
				t.Fatalf("error %v, want the watchdog's", err)
			}
			if el := time.Since(start); el > 3*time.Second {
				t.Fatalf("bitten after %s", el)
			}
		})
	}
}

// Answered, a connection may get unsolicited responses as slowly as it
// likes: nothing waits for them.
func TestWatchdogIgnoresChatterWhenAnswered(t *testing.T) {
	conn := scripted(t, 500*time.Millisecond, trickleAfter("a1 OK done\r\n", 1))
	conn.Arm(DefaultLimits)
	conn.Write([]byte("a1 NOOP\r\n"))
	errc := make(chan error, 1)
	go func() {
		buf := make([]byte, 4096)
		for {
			if _, err := conn.Read(buf); err != nil {
				errc <- err
				return
			}
		}
	}()
	select {
	case err := <-errc:
		t.Fatalf("an answered connection was closed: %v", err)
	case <-time.After(3 * time.Second):
	}
}
