// Package notifytest runs a real SMTP server (go-smtp) on loopback for
// tests of notification mail: it keeps every mail it receives.
package notifytest

import (
	"errors"
	"io"
	"net"
	"sync"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Mail is one received message.
type Mail struct {
	From string
	To   []string
	Data string // the message as sent (CRLF line ends)
}

// Server is a running SMTP server.
type Server struct {
	Addr string // host:port to give as the SMTP server

	// User and Password, when set (StartAuth), are the only login the
	// server takes; a mail is then refused without AUTH PLAIN.
	User, Password string
	authFailures   int

	mu    sync.Mutex
	mails []Mail
}

// Start listens on 127.0.0.1 and stops the server when the test ends.
func Start(t testing.TB) *Server { return StartAuth(t, "", "") }

// StartAuth is Start with a server that wants AUTH PLAIN as user/password
// ("" user: no authentication).
func StartAuth(t testing.TB, user, password string) *Server {
	t.Helper()
	s := &Server{User: user, Password: password}
	srv := smtp.NewServer(s)
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true // loopback only: net/smtp sends PLAIN to localhost in clear
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("notifytest: %v", err)
	}
	s.Addr = l.Addr().String()
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return s
}

// Mails returns what was received so far, oldest first.
func (s *Server) Mails() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.mails...)
}

// Last is the last mail received (zero Mail if none).
func (s *Server) Last() Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.mails) == 0 {
		return Mail{}
	}
	return s.mails[len(s.mails)-1]
}

func (s *Server) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{s: s}, nil }

type session struct {
	s      *Server
	mail   Mail
	authed bool
}

func (x *session) Reset()        { x.mail = Mail{} }
func (x *session) Logout() error { return nil }

// AuthMechanisms offers PLAIN when the server wants a login.
func (x *session) AuthMechanisms() []string {
	if x.s.User == "" {
		return nil
	}
	return []string{sasl.Plain}
}

// Auth checks a PLAIN login against the server's.
func (x *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		if user != x.s.User || pass != x.s.Password {
			x.s.mu.Lock()
			x.s.authFailures++
			x.s.mu.Unlock()
			return errors.New("invalid credentials")
		}
		x.authed = true
		return nil
	}), nil
}

// AuthFailures counts refused logins.
func (s *Server) AuthFailures() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.authFailures
}

func (x *session) Mail(from string, _ *smtp.MailOptions) error {
	if x.s.User != "" && !x.authed {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "authentication required"}
	}
	x.mail.From = from
	return nil
}
func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.mail.To = append(x.mail.To, to)
	return nil
}
func (x *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	x.mail.Data = string(b)
	x.s.mu.Lock()
	x.s.mails = append(x.s.mails, x.mail)
	x.s.mu.Unlock()
	return nil
}
