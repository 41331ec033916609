// Package imapfrozen is a test IMAP server that freezes: it greets,
// answers LOGIN if asked to, and then never answers again while keeping
// the connection open. Tests of every IMAP client of cbfs (the scan
// source, the restore target, the master login) use it to show that a
// frozen server costs a bounded wait, never a hang.
package imapfrozen

import (
	"bufio"
	"net"
	"strings"
	"testing"
)

// Start listens on loopback and returns the server's address; it stops
// with the test.
func Start(t testing.TB, answerLogin bool) string {
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
			go serve(c, answerLogin)
		}
	}()
	return ln.Addr().String()
}

func serve(c net.Conn, answerLogin bool) {
	c.Write([]byte("* OK [CAPABILITY IMAP4rev1] ready\r\n"))
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		tag, rest, _ := strings.Cut(line, " ")
		if answerLogin && strings.HasPrefix(strings.ToUpper(rest), "LOGIN ") {
			c.Write([]byte(tag + " OK logged in\r\n"))
		}
	}
}

// URL is an imap:// master-login URL of a frozen server that answers
// LOGIN, with a one-second command timeout.
func URL(t testing.TB) string {
	return "imap://admin:pw@" + Start(t, true) + "?timeout=1s"
}
