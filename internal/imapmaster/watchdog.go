package imapmaster

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
)

// ErrSilent is wrapped by the error of a connection its Watchdog closed:
// the server left a command unanswered for the whole Timeout, or, past
// it, delivered less than MinRate.
var ErrSilent = errors.New("imap server did not answer in time")

// DefaultMinRate is the rate (bytes a second) a command still running
// after its Timeout must keep up: 16 KiB/s, 128 kbit/s, far below any
// link a mail server is backed up over, and far above a server that
// trickles a line a second to hold the client.
const DefaultMinRate = 16 << 10

// maxWindow is the longest span the rate is measured over.
const maxWindow = 30 * time.Second

// Watchdog bounds how long a command waits for the server, by progress
// rather than mere activity. go-imap v2 sets and clears the connection's
// read deadline around every response (30 s each), so a deadline set
// before a command does not survive it, and a server that answers with an
// endless string of small responses (one line a second, forever) would
// hold the client forever.
//
// The rule (curl's --speed-limit/--speed-time, after a grace period):
//
//   - The client waits while a command it sent is unanswered: the Conn
//     reads the tag of each command written, and only a tagged response
//     bearing one of them answers it (an answer to no command sent, or
//     to a later one, ends no wait). Arm also starts a wait (for the
//     greeting, or for commands already sent), which the next command
//     written, the last answer, or (with nothing sent) a whole untagged
//     response ends. The clock starts at the later of Arm and the last
//     write (an APPEND's upload is the client's time, not the server's).
//   - Within Timeout of that moment, anything goes (a server may think
//     before it answers: a SEARCH, a first FETCH of a cold folder).
//   - Past Timeout, the command lives only while the server keeps
//     delivering: at least MinRate × W bytes within every span of
//     W = min(Timeout, 30 s) (the speed-time). So a command that never
//     gets a byte ends at Timeout, one that gets a line a second ends at
//     Timeout (or within W after it), and a FETCH of 1 GB over a slow
//     link runs as long as it moves, however long that is. What the
//     command may receive at all is bounded by its Limits (the budget):
//     a server trickling just above MinRate holds a command at most
//     Timeout + budget/MinRate.
//
// When it bites, the Watchdog closes the connection: the command fails
// with an error wrapping ErrSilent that says which (nothing for Timeout,
// or how few bytes in the last W). A connection whose commands are
// answered is left alone however long it idles, and unsolicited
// responses the server sends meanwhile are not waited for.
type Watchdog struct {
	timeout time.Duration
	window  time.Duration
	quantum int64 // MinRate × window: the bytes that make a progress mark
	base    time.Time
	bite    func(error)

	mu       sync.Mutex
	cmds     cmdLexer
	open     []string // tags of the commands sent and not answered
	armed    bool     // Arm's wait, until a command is sent or answered
	asked    int64    // when the client last asked (ns since base)
	mark     int64    // when the last quantum of bytes was complete
	got      int64    // bytes since mark
	lastRead int64
	recent   int64 // bytes read since asked
	timer    *time.Timer
	closed   bool
}

func newWatchdog(timeout time.Duration, minRate int64, bite func(error)) *Watchdog {
	w := &Watchdog{timeout: timeout, window: min(timeout, maxWindow), base: time.Now(), bite: bite}
	w.quantum = max(1, int64(float64(minRate)*w.window.Seconds()))
	return w
}

func (w *Watchdog) now() int64 { return int64(time.Since(w.base)) }

func (w *Watchdog) waiting() bool { return w.armed || len(w.open) > 0 }

// arm starts a wait (Arm).
func (w *Watchdog) arm() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.armed = true
	w.got, w.recent = 0, 0
	w.start()
}

// wrote records bytes the client wrote, and the commands begun in them.
func (w *Watchdog) wrote(p []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.cmds.feed(p, func(tag string) {
		w.open = append(w.open, tag)
		w.armed = false
	})
	if w.waiting() {
		w.start()
	}
}

// start (re)starts the clock of a wait. w.mu is held.
func (w *Watchdog) start() {
	if w.timeout <= 0 || w.closed {
		return
	}
	w.asked = w.now()
	if w.timer == nil {
		w.timer = time.AfterFunc(w.timeout, w.check)
	}
}

// read records n bytes received, the tags answered in them, and how many
// responses of any kind ended.
func (w *Watchdog) read(n int, tags []string, ends int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	t := w.now()
	w.lastRead = t
	w.recent += int64(n)
	w.got += int64(n)
	if w.got >= w.quantum {
		w.mark, w.got = t, 0
	}
	for _, tag := range tags {
		for i, o := range w.open {
			if o == tag {
				w.open = append(w.open[:i], w.open[i+1:]...)
				w.cmds.answered(tag)
				if len(w.open) == 0 {
					w.armed = false
				}
				break
			}
		}
	}
	if ends > len(tags) && len(w.open) == 0 {
		w.armed = false // an untagged response (the greeting) with nothing sent
	}
}

// check runs when a deadline may have passed: it bites when the client
// has waited Timeout and the last W brought less than a quantum, and
// otherwise sets the next deadline. A connection not waited on lets its
// timer lapse (the next ask starts one).
func (w *Watchdog) check() {
	w.mu.Lock()
	if w.closed || !w.waiting() {
		w.timer = nil
		w.mu.Unlock()
		return
	}
	t := w.now()
	due := max(w.asked+int64(w.timeout), max(w.mark, w.asked)+int64(w.window))
	if t < due {
		w.timer = time.AfterFunc(time.Duration(due-t), w.check)
		w.mu.Unlock()
		return
	}
	w.closed, w.timer = true, nil
	var err error
	if w.lastRead < w.asked || w.recent == 0 {
		err = fmt.Errorf("%w (nothing for %s)", ErrSilent, time.Duration(t-w.asked).Round(time.Millisecond))
	} else {
		err = fmt.Errorf("%w (still running after %s, and under %d bytes/s over the last %s)",
			ErrSilent, time.Duration(t-w.asked).Round(time.Millisecond), int64(float64(w.quantum)/w.window.Seconds()), w.window)
	}
	w.mu.Unlock()
	w.bite(err)
}

// stop disarms the watchdog for good (the connection is being closed).
func (w *Watchdog) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	if w.timer != nil {
		w.timer.Stop()
		w.timer = nil
	}
}

// Conn is a connection to an IMAP server as Dial (and NewConn) return it:
// the one the client reads and writes, watched by a Watchdog and guarded
// by Limits. Arm it before each command.
type Conn struct {
	net.Conn          // the TLS or TCP connection
	raw      net.Conn // closed to stop everything
	wd       *Watchdog

	mu     sync.Mutex // lex is used by the reader and by Arm
	lex    lexer
	reason atomic.Pointer[error] // why the connection was closed by its guard or watchdog
}

// NewConn returns conn (raw, or a TLS connection over raw) watched and
// guarded: the connection to give the IMAP client. A timeout of 0 or less
// never bites; a minRate of 0 or less makes any byte progress.
func NewConn(raw, conn net.Conn, timeout time.Duration, minRate int64) *Conn {
	c := &Conn{Conn: conn, raw: raw}
	c.wd = newWatchdog(timeout, minRate, c.fail)
	c.lex.arm(DefaultLimits)
	return c
}

// Arm starts a command: its Watchdog countdown and its Limits (zero
// fields: DefaultLimits').
func (c *Conn) Arm(l Limits) {
	c.mu.Lock()
	c.lex.arm(l)
	c.mu.Unlock()
	c.wd.arm()
}

// Err is why the guard or the watchdog closed the connection, or nil.
func (c *Conn) Err() error {
	if p := c.reason.Load(); p != nil {
		return *p
	}
	return nil
}

// Explain returns err, or, when the guard or the watchdog closed the
// connection, that reason instead (go-imap hands its commands the
// reader's error as text, which errors.Is cannot see). A server's NO or
// BAD answer is returned as it is.
func (c *Conn) Explain(err error) error {
	if err == nil {
		return nil
	}
	var ie *imap.Error
	if errors.As(err, &ie) {
		return err
	}
	if r := c.Err(); r != nil && !errors.Is(err, r) {
		return r
	}
	return err
}

// fail closes the connection for reason (the first reason stays).
func (c *Conn) fail(reason error) {
	c.reason.CompareAndSwap(nil, &reason)
	c.wd.stop()
	c.raw.Close()
}

func (c *Conn) Read(p []byte) (int, error) {
	if r := c.Err(); r != nil {
		return 0, r
	}
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.mu.Lock()
		k, lerr := c.lex.feed(p[:n])
		c.wd.read(k, c.lex.tags, c.lex.ends)
		c.mu.Unlock()
		if lerr != nil {
			c.fail(lerr)
			if k > 0 {
				return k, nil // the next Read returns lerr
			}
			return 0, lerr
		}
	}
	if err != nil {
		if r := c.Err(); r != nil {
			// Not wrapping err (net.ErrClosed): go-imap then reports this
			// error to the waiting command instead of "unexpected EOF".
			return n, r
		}
	}
	return n, err
}

func (c *Conn) Write(p []byte) (int, error) {
	c.wd.wrote(p)
	n, err := c.Conn.Write(p)
	if err != nil {
		if r := c.Err(); r != nil {
			return n, r
		}
	}
	return n, err
}

func (c *Conn) Close() error {
	c.wd.stop()
	return c.Conn.Close()
}
