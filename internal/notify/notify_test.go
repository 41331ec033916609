package notify

import (
	"strings"
	"testing"

	"github.com/cbfs/cbfs/internal/notify/notifytest"
)

func TestSend(t *testing.T) {
	srv := notifytest.Start(t)
	body := "- stats -\nRestored Items: 3\n"
	if err := SendAs(Login{}, srv.Addr, "cbfs@example.com", []string{"admin@example.com", "ops@example.com"}, "doSmartScan", Completed, body); err != nil {
		t.Fatal(err)
	}
	m := srv.Last()
	if m.From != "cbfs@example.com" || strings.Join(m.To, ",") != "admin@example.com,ops@example.com" {
		t.Errorf("envelope %q -> %q", m.From, m.To)
	}
	for _, want := range []string{"Subject: [cbfs] Operation Completed: doSmartScan\r\n", "- stats -\r\nRestored Items: 3\r\n"} {
		if !strings.Contains(m.Data, want) {
			t.Errorf("mail lacks %q:\n%s", want, m.Data)
		}
	}
	if err := SendAs(Login{}, srv.Addr, "", []string{"a@example.com"}, "doPurge", Stopped, "x"); err != nil {
		t.Fatal(err)
	}
	if m := srv.Last(); m.From != "cbfs@localhost" || !strings.Contains(m.Data, "Subject: [cbfs] Operation Stopped: doPurge\r\n") {
		t.Errorf("stopped mail: from %q\n%s", m.From, m.Data)
	}
	for _, c := range []struct {
		o    Outcome
		want string
	}{{Partial, "Operation Partially Completed"}, {Failed, "Operation Failed"}} {
		if err := SendAs(Login{}, srv.Addr, "", []string{"a@example.com"}, "doExternalRestore", c.o, "x"); err != nil {
			t.Fatal(err)
		}
		if m := srv.Last(); !strings.Contains(m.Data, "Subject: [cbfs] "+c.want+": doExternalRestore\r\n") {
			t.Errorf("%s mail:\n%s", c.o, m.Data)
		}
	}
	for _, c := range []struct {
		name, smtp, op string
		addrs          []string
	}{
		{"header injection in an address", srv.Addr, "doPurge", []string{"a@example.com\r\nBcc: x@y"}},
		{"header injection in the operation", srv.Addr, "x\r\nBcc: x@y", []string{"a@example.com"}},
		{"not an address", srv.Addr, "doPurge", []string{"admin"}},
		{"no server", "", "doPurge", []string{"a@example.com"}},
		{"server down", "127.0.0.1:1", "doPurge", []string{"a@example.com"}},
	} {
		if err := SendAs(Login{}, c.smtp, "", c.addrs, c.op, Completed, "x"); err == nil {
			t.Errorf("%s: sent", c.name)
		}
	}
	if err := SendAs(Login{}, "", "", nil, "doPurge", Completed, "x"); err != nil {
		t.Errorf("no addresses: %v, want nothing to do", err)
	}
	if n := len(srv.Mails()); n != 4 {
		t.Errorf("%d mails received, want 4", n)
	}
}
