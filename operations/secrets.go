package operations

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"strings"
)

// Secrets never reach the disk or the listings: the queue stores an
// operation's parameters through Redact (a URL's password removed, any
// parameter named like a password or secret replaced by Redacted), and the
// running operation gets the password back from memory (what this process
// was given when the operation was enqueued) or, after a restart, from the
// service's own settings (--restore-target, --source) when they name the
// same login on the same server.

// Redacted replaces a secret parameter's value.
const Redacted = "<redacted>"

// secretName reports whether a parameter's name says it holds a secret.
func secretName(name string) bool {
	n := strings.ToLower(name)
	return strings.Contains(n, "password") || strings.Contains(n, "secret") || strings.Contains(n, "passwd")
}

// StripPassword returns a URL without its password ("imap://admin@host:port"),
// the password, and whether there was one. Anything else is returned as is.
func StripPassword(v string) (stripped, password string, ok bool) {
	if !strings.Contains(v, "://") || !strings.Contains(v, "@") {
		return v, "", false
	}
	u, err := url.Parse(v)
	if err != nil || u.User == nil {
		return v, "", false
	}
	pw, has := u.User.Password()
	if !has {
		return v, "", false
	}
	u.User = url.User(u.User.Username())
	return u.String(), pw, true
}

// RedactParams returns params with every secret removed (see Redact),
// without remembering them: for what is printed.
func RedactParams(params map[string]string) map[string]string {
	out := maps.Clone(params)
	for k, v := range out {
		if secretName(k) {
			out[k] = Redacted
			continue
		}
		if s, _, ok := StripPassword(v); ok {
			out[k] = s
		}
	}
	return out
}

// Redact returns the parameters to store for an operation (the service's
// Options.Redact): RedactParams's, the passwords being kept in this
// process's memory so the operation can still log in when it runs.
func (r *Runner) Redact(kind string, params map[string]string) map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, v := range params {
		if s, pw, ok := StripPassword(v); ok {
			if r.secrets == nil {
				r.secrets = map[string]string{}
			}
			r.secrets[s] = pw
		}
	}
	return RedactParams(params)
}

// withPassword gives a target URL whose password was redacted its password
// back: from memory (Redact), else from --restore-target or --source when
// they name the same login on the same server. A URL that has its password,
// or needs none (maildir:), is returned as is.
func (r *Runner) withPassword(target string) (string, error) {
	u, err := url.Parse(target)
	if err != nil || u.User == nil || !strings.HasPrefix(strings.ToLower(u.Scheme), "imap") {
		return target, nil
	}
	if _, has := u.User.Password(); has {
		return target, nil
	}
	r.mu.Lock()
	pw, ok := r.secrets[target]
	r.mu.Unlock()
	if ok {
		u.User = url.UserPassword(u.User.Username(), pw)
		return u.String(), nil
	}
	for _, conf := range []string{r.s.RestoreTarget, r.s.Source} {
		c, err := url.Parse(conf)
		if err != nil || c.User == nil {
			continue
		}
		pw, has := c.User.Password()
		if has && strings.EqualFold(c.Scheme, u.Scheme) && c.User.Username() == u.User.Username() && strings.EqualFold(c.Host, u.Host) {
			u.User = url.UserPassword(u.User.Username(), pw)
			return u.String(), nil
		}
	}
	return "", fmt.Errorf("%w: target %s: its password is not kept on disk and this service was not given it "+
		"(enqueue the restore again with the password, or set --restore-target to this login)", errNoPassword, target)
}

var errNoPassword = errors.New("no password")
