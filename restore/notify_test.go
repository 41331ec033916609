package restore

import (
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// mailbox is what the in-test SMTP server (go-smtp) received.
type mailbox struct {
	mu   sync.Mutex
	from string
	rcpt []string
	data string
}

func (m *mailbox) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{m: m}, nil }

type session struct{ m *mailbox }

func (s *session) Reset()        {}
func (s *session) Logout() error { return nil }
func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	s.m.from = from
	return nil
}
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	s.m.rcpt = append(s.m.rcpt, to)
	return nil
}
func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	s.m.data = string(b)
	return err
}

func TestNotify(t *testing.T) {
	mb := &mailbox{}
	srv := smtp.NewServer(mb)
	srv.Domain = "localhost"
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })

	r := &Report{Operation: OpExternalRestore, Restored: 3, Unrestored: 1, Accounts: []AccountReport{
		{Account: "john@example.com", Unrestored: []UnrestoredItem{{ID: 1255, Class: ClassBroken}}}}}
	require.NoError(t, Notify(r, []string{"admin@example.com", "ops@example.com"}, l.Addr().String(), "cbfs@example.com"))
	mb.mu.Lock()
	defer mb.mu.Unlock()
	assert.Equal(t, "cbfs@example.com", mb.from)
	assert.Equal(t, []string{"admin@example.com", "ops@example.com"}, mb.rcpt)
	assert.Contains(t, mb.data, "Subject: [cbfs] Operation Completed: doExternalRestore\r\n")
	assert.Contains(t, mb.data, strings.ReplaceAll(r.String(), "\n", "\r\n"))

	for _, tc := range []struct {
		name  string
		addrs []string
		smtp  string
	}{
		{"bad address", []string{"admin@example.com\r\nBcc: x@y"}, l.Addr().String()},
		{"no server", []string{"admin@example.com"}, ""},
		{"server down", []string{"admin@example.com"}, "127.0.0.1:1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Error(t, Notify(r, tc.addrs, tc.smtp, ""))
		})
	}
	require.NoError(t, Notify(r, nil, "", ""), "no addresses: nothing to send")
}
