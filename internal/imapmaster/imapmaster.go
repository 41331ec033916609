// Package imapmaster holds what cbfs's IMAP source (scan) and IMAP restore
// target (restore) share: the imap[s]://admin:password@host:port URL of a
// master login, and opening a session as one account through it (LOGIN
// "account<sep>admin" with the admin's password: Dovecot's
// auth_master_user_separator, "*" by default).
//
// The server is input, not trust (issue 18): every connection to it (Dial,
// Wrap, ListRaw, and the restore's MULTIAPPEND connections) is a Conn,
// whose guard bounds what the server may send for each command (Limits:
// lines, literals by their announced size, responses, a command's
// responses and bytes) before any parser sees a byte, and whose Watchdog
// wants progress, not mere activity, from a command that runs past
// Timeout. A server that crosses a bound gets its connection closed, and
// the command an error naming the bound (ErrOverLimit, ErrSilent).
package imapmaster

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"
)

// Server is a master login on an IMAP server.
type Server struct {
	Addr     string        // host:port (143, or 993 for imaps, when the URL has none)
	TLS      bool          // imaps
	Insecure bool          // skip certificate checks (a self-signed imaps certificate)
	User     string        // the admin (master) user
	Pass     string        // its password
	Sep      string        // master-user separator, "*"
	Timeout  time.Duration // bounds each command's wait for the server (Watchdog); 2 minutes
	MinRate  int64         // bytes a second a command must keep up past Timeout (Watchdog); DefaultMinRate
}

// Query parameters every IMAP URL takes.
var common = []string{"separator", "insecure", "timeout"}

// Parse reads an imap:// or imaps:// URL. what names it in errors
// ("source", "target"); extra lists further query parameters the caller
// reads itself from the returned values. Any other parameter is an error.
// Errors never show the password.
func Parse(u *url.URL, what string, extra ...string) (Server, url.Values, error) {
	s := Server{Addr: u.Host, TLS: u.Scheme == "imaps", Sep: "*", Timeout: 2 * time.Minute, MinRate: DefaultMinRate}
	if u.User == nil || u.User.Username() == "" {
		return s, nil, fmt.Errorf("%s %s: imap needs the admin login: imap://admin:password@host:port", what, u.Redacted())
	}
	if u.Hostname() == "" {
		return s, nil, fmt.Errorf("%s %s: no host", what, u.Redacted())
	}
	s.User = u.User.Username()
	s.Pass, _ = u.User.Password()
	if u.Port() == "" {
		port := "143"
		if s.TLS {
			port = "993"
		}
		s.Addr = net.JoinHostPort(u.Hostname(), port)
	}
	q := u.Query()
	known := append(slices.Clone(common), extra...)
	for k := range q {
		if !slices.Contains(known, k) {
			return s, nil, fmt.Errorf("%s %s: unknown parameter %q (want %s)", what, u.Redacted(), k, strings.Join(known, ", "))
		}
	}
	if v := q.Get("separator"); v != "" {
		s.Sep = v
	}
	switch v := q.Get("insecure"); v {
	case "", "0", "false":
	case "1", "true":
		s.Insecure = true
	default:
		return s, nil, fmt.Errorf("%s %s: insecure %q: want true or false", what, u.Redacted(), v)
	}
	if v := q.Get("timeout"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return s, nil, fmt.Errorf("%s %s: timeout %q: want a duration such as 2m", what, u.Redacted(), v)
		}
		s.Timeout = d
	}
	return s, q, nil
}

// String is the URL without the password: "imap://admin@host:port".
func (s *Server) String() string {
	scheme := "imap"
	if s.TLS {
		scheme = "imaps"
	}
	return scheme + "://" + s.User + "@" + s.Addr
}

// Dial connects, waits for the greeting and logs in as account through the
// master login. A refused login returns an error wrapping the server's
// *imap.Error (errors.As finds it). The returned connection is watched
// and guarded (Conn): Arm it before each command; a server silent or too
// slow fails the command with an error wrapping ErrSilent, one that sends
// more than the command's Limits with an error wrapping ErrOverLimit
// (Conn.Explain recovers both from go-imap's errors).
func (s *Server) Dial(ctx context.Context, account string, opts *imapclient.Options) (*imapclient.Client, *Conn, error) {
	d := net.Dialer{Timeout: 30 * time.Second}
	raw, err := d.DialContext(ctx, "tcp", s.Addr)
	if err != nil {
		return nil, nil, fmt.Errorf("imap %s: %w", s.Addr, err)
	}
	conn := s.Wrap(raw)
	conn.Arm(DefaultLimits)
	c := imapclient.New(conn, opts)
	if err := c.WaitGreeting(); err != nil {
		c.Close()
		return nil, nil, fmt.Errorf("imap %s: %w", s.Addr, conn.Explain(err))
	}
	conn.Arm(DefaultLimits)
	if err := c.Login(account+s.Sep+s.User, s.Pass).Wait(); err != nil {
		c.Close()
		return nil, nil, fmt.Errorf("imap login as %s%s%s: %w", account, s.Sep, s.User, conn.Explain(err))
	}
	return c, conn, nil
}

// Wrap makes a dialed TCP connection to the server the connection an
// IMAP client is given: over TLS for imaps, watched (Timeout, MinRate)
// and guarded (Limits).
func (s *Server) Wrap(raw net.Conn) *Conn {
	conn := raw
	if s.TLS {
		host, _, _ := net.SplitHostPort(s.Addr)
		conn = tls.Client(raw, &tls.Config{ServerName: host, InsecureSkipVerify: s.Insecure})
	}
	return NewConn(raw, conn, s.Timeout, s.MinRate)
}
