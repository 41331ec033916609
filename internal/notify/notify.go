// Package notify mails an operation's report to its notification
// addresses, the way Carbonio sends "Operation Completed" notifications.
package notify

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"strings"
	"time"
)

// Outcome is how an operation ended, as the subject of its notification
// says it.
type Outcome string

// The outcomes.
const (
	Completed = Outcome("Operation Completed")
	Partial   = Outcome("Operation Partially Completed")
	Failed    = Outcome("Operation Failed")
	Stopped   = Outcome("Operation Stopped")
)

// Login is an SMTP login (AUTH PLAIN); the zero Login sends without one.
type Login struct{ User, Password string }

// auth is l for net/smtp, which sends it only over TLS or to localhost.
func (l Login) auth(smtpAddr string) smtp.Auth {
	if l.User == "" {
		return nil
	}
	host, _, _ := net.SplitHostPort(smtpAddr)
	return smtp.PlainAuth("", l.User, l.Password, host)
}

// SendAs mails body to addrs through the SMTP server at smtpAddr
// (host:port, STARTTLS when the server offers it), from "cbfs@localhost"
// unless from is given, logged in with login unless it is the zero Login
// (AUTH PLAIN; net/smtp sends it only over STARTTLS or to localhost, never
// in clear text elsewhere). The subject is "[cbfs] <outcome>: <operation>",
// the outcome saying whether it succeeded (Completed), partly succeeded,
// failed or was stopped: a reader of the subject alone never takes a
// failure for a success.
func SendAs(login Login, smtpAddr, from string, addrs []string, operation string, outcome Outcome, body string) error {
	if len(addrs) == 0 {
		return nil
	}
	if smtpAddr == "" {
		return errors.New("notify: no SMTP server given")
	}
	if from == "" {
		from = "cbfs@localhost"
	}
	for _, a := range append([]string{from}, addrs...) {
		if strings.ContainsAny(a, "\r\n<>") || !strings.Contains(a, "@") {
			return fmt.Errorf("notify: invalid address %q", a)
		}
	}
	if strings.ContainsAny(operation, "\r\n") {
		return fmt.Errorf("notify: invalid operation name %q", operation)
	}
	if _, _, err := net.SplitHostPort(smtpAddr); err != nil {
		return fmt.Errorf("notify: SMTP server %q: %w", smtpAddr, err)
	}
	status := string(outcome)
	if status == "" || strings.ContainsAny(status, "\r\n") {
		return fmt.Errorf("notify: invalid outcome %q", outcome)
	}
	var msg strings.Builder
	fmt.Fprintf(&msg, "From: %s\r\nTo: %s\r\nSubject: [cbfs] %s: %s\r\nDate: %s\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n",
		from, strings.Join(addrs, ", "), status, operation, time.Now().Format(time.RFC1123Z))
	msg.WriteString(strings.ReplaceAll(strings.ReplaceAll(body, "\r\n", "\n"), "\n", "\r\n"))
	if err := smtp.SendMail(smtpAddr, login.auth(smtpAddr), from, addrs, []byte(msg.String())); err != nil {
		return fmt.Errorf("notify %s through %s: %w", strings.Join(addrs, ","), smtpAddr, err)
	}
	return nil
}

// CheckAs connects to the SMTP server at smtpAddr, reads its greeting,
// says EHLO, logs in unless login is the zero Login (STARTTLS first when
// offered) and says QUIT: whether notifications could be sent (cbfs serve's
// --check-at-start), and a wrong SMTP password is found at start, not with
// the first report.
func CheckAs(login Login, smtpAddr string, timeout time.Duration) error {
	host, _, err := net.SplitHostPort(smtpAddr)
	if err != nil {
		return fmt.Errorf("SMTP server %q: %w", smtpAddr, err)
	}
	conn, err := net.DialTimeout("tcp", smtpAddr, timeout)
	if err != nil {
		return fmt.Errorf("SMTP server %s: %w", smtpAddr, err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(timeout))
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return fmt.Errorf("SMTP server %s: %w", smtpAddr, err)
	}
	defer c.Close()
	if err := c.Hello("localhost"); err != nil {
		return fmt.Errorf("SMTP server %s: %w", smtpAddr, err)
	}
	if a := login.auth(smtpAddr); a != nil {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(&tls.Config{ServerName: host}); err != nil {
				return fmt.Errorf("SMTP server %s: STARTTLS: %w", smtpAddr, err)
			}
		}
		if err := c.Auth(a); err != nil {
			return fmt.Errorf("SMTP server %s: login as %s: %w", smtpAddr, login.User, err)
		}
	}
	return c.Quit()
}
