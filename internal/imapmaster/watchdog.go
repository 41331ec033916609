package imapmaster

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// ErrSilent is wrapped by the read errors of a connection its Watchdog
// closed: the server left a command unanswered for the whole Timeout.
var ErrSilent = errors.New("imap server did not answer in time")

// Watchdog bounds how long a command waits for the server. go-imap v2
// sets and clears the connection's read deadline around every response,
// so a deadline set before a command does not survive it, and a server
// that accepts a command and then says nothing would hang the client
// forever. Armed before a command, the Watchdog closes the connection when
// the server has sent nothing for Timeout while the client waits for it
// (something was written, or Arm was called, and no byte came back since);
// the command then fails. A connection that is merely idle, its last
// command answered, is left alone; a response that stalls half-way is
// go-imap's own read deadline's business.
//
// It watches the connection returned by NewWatchdog, which must be the
// only one the client reads and writes.
type Watchdog struct {
	raw     net.Conn // closed when it bites
	timeout time.Duration
	base    time.Time

	armedAt   atomic.Int64 // nanoseconds since base
	lastRead  atomic.Int64
	lastWrite atomic.Int64
	bitten    atomic.Bool

	mu     sync.Mutex
	timer  *time.Timer
	closed bool
}

// NewWatchdog returns a watchdog that closes raw, and the connection to
// give the IMAP client instead of conn (conn is raw, or a TLS connection
// over raw). A timeout of 0 or less never bites.
func NewWatchdog(raw, conn net.Conn, timeout time.Duration) (*Watchdog, net.Conn) {
	w := &Watchdog{raw: raw, timeout: timeout, base: time.Now()}
	w.lastRead.Store(-1)
	w.lastWrite.Store(-1)
	return w, &watchedConn{Conn: conn, w: w}
}

func (w *Watchdog) now() int64 { return int64(time.Since(w.base)) }

// Arm starts (or restarts) the countdown of the command about to be sent.
func (w *Watchdog) Arm() {
	if w.timeout <= 0 {
		return
	}
	w.armedAt.Store(w.now())
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	if w.timer != nil {
		w.timer.Stop()
	}
	w.timer = time.AfterFunc(w.timeout, w.check)
}

// Stop disarms the watchdog for good (the connection is being closed).
func (w *Watchdog) Stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	if w.timer != nil {
		w.timer.Stop()
	}
}

// Bitten reports whether the watchdog closed the connection.
func (w *Watchdog) Bitten() bool { return w.bitten.Load() }

// check runs when the countdown ends: it bites if the client has waited
// Timeout for an answer, re-arms for the rest if it has waited less, and
// lets an answered connection be.
func (w *Watchdog) check() {
	ref := max(w.armedAt.Load(), w.lastWrite.Load())
	if w.lastRead.Load() >= ref {
		return // answered since the client last asked
	}
	if left := ref + int64(w.timeout) - w.now(); left > 0 {
		w.mu.Lock()
		if !w.closed {
			w.timer = time.AfterFunc(time.Duration(left), w.check)
		}
		w.mu.Unlock()
		return
	}
	w.bitten.Store(true)
	w.raw.Close()
}

// watchedConn records reads and writes for its Watchdog, and names a
// closing by the watchdog in read and write errors.
type watchedConn struct {
	net.Conn
	w *Watchdog
}

func (c *watchedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.w.lastRead.Store(c.w.now())
	}
	return n, c.wrap(err)
}

func (c *watchedConn) Write(p []byte) (int, error) {
	c.w.lastWrite.Store(c.w.now())
	n, err := c.Conn.Write(p)
	return n, c.wrap(err)
}

func (c *watchedConn) Close() error {
	c.w.Stop()
	return c.Conn.Close()
}

func (c *watchedConn) wrap(err error) error {
	if err != nil && c.w.Bitten() {
		// Not wrapping err (net.ErrClosed): go-imap then reports this
		// error to the waiting command instead of "unexpected EOF".
		return fmt.Errorf("%w (nothing for %s)", ErrSilent, c.w.timeout)
	}
	return err
}

// Arm arms the watchdog of a connection returned by Dial before a command
// (on any other connection it sets the deadline, as Deadline does).
func (s *Server) Arm(conn net.Conn) {
	if c, ok := conn.(*watchedConn); ok {
		c.w.Arm()
		return
	}
	s.Deadline(conn)
}
