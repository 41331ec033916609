package imapmaster

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		url, err string
		want     Server
	}{
		{url: "imap://admin:pw@127.0.0.1:1143", want: Server{Addr: "127.0.0.1:1143", User: "admin", Pass: "pw", Sep: "*", Timeout: 2 * time.Minute, MinRate: DefaultMinRate}},
		{url: "imaps://admin:pw@mail.example.com?separator=%25&insecure=true&timeout=5s",
			want: Server{Addr: "mail.example.com:993", TLS: true, Insecure: true, User: "admin", Pass: "pw", Sep: "%", Timeout: 5 * time.Second, MinRate: DefaultMinRate}},
		{url: "imap://mail.example.com", err: "needs the admin login"},
		{url: "imap://admin:pw@:143", err: "no host"},
		{url: "imap://admin:secret@h?bogus=1", err: `unknown parameter "bogus"`},
		{url: "imap://admin:secret@h?timeout=soon", err: "timeout"},
		{url: "imap://admin:secret@h?insecure=maybe", err: "insecure"},
	} {
		u, err := url.Parse(c.url)
		if err != nil {
			t.Fatal(err)
		}
		got, _, err := Parse(u, "source")
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("Parse(%s) error = %v, want %q", c.url, err, c.err)
			}
			if err != nil && strings.Contains(err.Error(), "secret") {
				t.Errorf("Parse(%s) error shows the password: %v", c.url, err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("Parse(%s) = %+v, %v; want %+v", c.url, got, err, c.want)
		}
	}
	u, _ := url.Parse("imap://admin:pw@h?window=4")
	if _, q, err := Parse(u, "target", "window"); err != nil || q.Get("window") != "4" {
		t.Errorf("extra parameter: %v, %v", q, err)
	}
}
