package imapmaster

import (
	"errors"
	"strings"
	"testing"
)

// lexAll feeds stream to a lexer armed with lim, in pieces of step bytes
// (0: whole), and returns the bytes passed on, the tagged answers and the
// error.
func lexAll(lim Limits, stream string, step int) (int, int, error) {
	var l lexer
	l.arm(lim)
	p := []byte(stream)
	passed, answered := 0, 0
	for len(p) > 0 {
		k := len(p)
		if step > 0 {
			k = min(step, len(p))
		}
		n, err := l.feed(p[:k])
		passed += n
		answered += len(l.tags)
		if err != nil {
			return passed, answered, err
		}
		p = p[k:]
	}
	return passed, answered, nil
}

func TestLexer(t *testing.T) {
	small := Limits{Line: 40, Literal: 10, Response: 60, Responses: 5, Bytes: 200}
	for _, c := range []struct {
		name     string
		lim      Limits
		stream   string
		err      string // "" : none
		answered int
		passed   int // bytes passed on before the error (-1: all)
	}{
		{name: "sane", lim: small, stream: "* 1 EXISTS\r\n* OK [UIDNEXT 5] x\r\na1 OK done\r\n", answered: 1, passed: -1},
		{name: "lone LF ends a line", lim: small, stream: "* 1 EXISTS\na1 OK done\n", answered: 1, passed: -1},
		{name: "literal skipped, not text", lim: small,
			stream: "* LIST () \"/\" {10}\r\n0123456789\r\na1 OK done\r\n", answered: 1, passed: -1},
		{name: "literal then more literals in one response", lim: small,
			stream: "* 1 FETCH (A {3}\r\nabc B {3}\r\nabc)\r\na2 OK\r\n", answered: 1, passed: -1},
		{name: "literal with SP before CRLF (go-imap takes it)", lim: small,
			stream: "* X {5} \r\nab\r\nc)\r\na1 OK\r\n", answered: 1, passed: -1},
		{name: "{N+}", lim: small, stream: "* X {4+}\r\na1 O)\r\na1 OK\r\n", answered: 1, passed: -1},
		{name: "braces inside a line are no announcement", lim: small, stream: "* OK {5} and more\r\na1 OK\r\n", answered: 1, passed: -1},
		{name: "zero literal", lim: small, stream: "* X {0}\r\n)\r\na1 OK\r\n", answered: 1, passed: -1},
		{name: "continuation is not an answer", lim: small, stream: "+ go ahead\r\n", answered: 0, passed: -1},

		{name: "literal over the limit", lim: small, stream: "* 1 FETCH (BODY[] {11}\r\n01234567890)\r\n",
			err: "a literal of 11 bytes (at most 10)", passed: len("* 1 FETCH (BODY[] {11}\r")},
		{name: "10 GB literal", lim: DefaultLimits, stream: "* 1 FETCH (BODY[] {10000000000}\r\n",
			err: "a literal of 10000000000 bytes", passed: len("* 1 FETCH (BODY[] {10000000000}\r")},
		{name: "absurd literal", lim: DefaultLimits, stream: "* 1 FETCH (BODY[] {" + strings.Repeat("9", 40) + "}\r\n",
			err: "a literal of over 2^62 bytes"},
		{name: "line over the limit", lim: small, stream: "* OK " + strings.Repeat("x", 40) + "\r\n",
			err: "a response line of more than 40 bytes", passed: 40},
		{name: "text of a response split by literals", lim: small,
			stream: "* X " + strings.Repeat("{1}\r\na", 10) + "\r\n", err: "a response line of more than 40 bytes"},
		{name: "response over the limit", lim: small,
			stream: "* X {10}\r\n0123456789 {10}\r\n0123456789 {10}\r\n0123456789 {10}\r\n0123456789\r\n",
			err:    "response of more than 60 bytes"},
		{name: "literal that would take a response over the limit", lim: Limits{Line: 40, Literal: 50, Response: 60, Responses: 5, Bytes: 200},
			stream: "* X {10}\r\n0123456789 {45}\r\n" + strings.Repeat("y", 45) + ")\r\n",
			err:    "a literal of 45 bytes in a response of more than 60 bytes", passed: len("* X {10}\r\n0123456789 {45}\r")},
		{name: "response over the limit by text after a literal", lim: Limits{Line: 40, Literal: 30, Response: 60, Responses: 5, Bytes: 200},
			stream: "* X {30}\r\n" + strings.Repeat("z", 30) + strings.Repeat("t", 25) + "\r\n", err: "a response of more than 60 bytes"},
		{name: "too many responses", lim: small, stream: strings.Repeat("* 1 EXISTS\r\n", 6),
			err: "more than 5 responses to one command", passed: 5 * 12},
		{name: "too many bytes", lim: Limits{Line: 1000, Literal: 1000, Response: 2000, Responses: 100, Bytes: 50},
			stream: "* X {100}\r\n" + strings.Repeat("y", 100), err: "more than 50 bytes of responses"},
	} {
		for _, step := range []int{0, 1, 3} {
			passed, answered, err := lexAll(c.lim, c.stream, step)
			if c.err == "" {
				if err != nil {
					t.Errorf("%s (step %d): %v", c.name, step, err)
				}
				if answered != c.answered {
					t.Errorf("%s (step %d): %d answers, want %d", c.name, step, answered, c.answered)
				}
				continue
			}
			if err == nil || !strings.Contains(err.Error(), c.err) || !errors.Is(err, ErrOverLimit) {
				t.Errorf("%s (step %d): error %v, want %q", c.name, step, err, c.err)
			}
			if c.passed > 0 && passed != c.passed {
				t.Errorf("%s (step %d): %d bytes passed on, want %d", c.name, step, passed, c.passed)
			}
		}
	}
}

// Arm starts a new budget: responses and bytes count per command.
func TestLexerBudgetPerArm(t *testing.T) {
	var l lexer
	lim := Limits{Responses: 2, Bytes: 1000}
	for range 3 {
		l.arm(lim)
		if _, err := l.feed([]byte("* 1 EXISTS\r\na1 OK\r\n")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.feed([]byte("* 2 EXISTS\r\n")); err == nil {
		t.Fatal("a third response within one command's budget of 2")
	}
}

// FuzzLexer: any stream, in any pieces, gives the same verdict as whole,
// never passes on more than it was given, and never panics.
func FuzzLexer(f *testing.F) {
	f.Add([]byte("* 1 FETCH (BODY[] {5}\r\nhello)\r\na1 OK\r\n"), uint8(1))
	f.Add([]byte("* X {99999999999999999999999}\r\n"), uint8(2))
	f.Add([]byte("{1}\n{2} \r\n{3+}\r\r\n"), uint8(3))
	f.Fuzz(func(t *testing.T, stream []byte, step uint8) {
		lim := Limits{Line: 64, Literal: 32, Response: 128, Responses: 8, Bytes: 512}
		p1, a1, e1 := lexAll(lim, string(stream), 0)
		p2, a2, e2 := lexAll(lim, string(stream), int(step%7)+1)
		if (e1 == nil) != (e2 == nil) || p1 != p2 || a1 != a2 {
			t.Fatalf("whole: %d %d %v; in pieces of %d: %d %d %v", p1, a1, e1, step%7+1, p2, a2, e2)
		}
		if p1 > len(stream) {
			t.Fatalf("passed %d of %d bytes", p1, len(stream))
		}
	})
}
