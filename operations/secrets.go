package operations

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/term"

	"github.com/cbfs/cbfs/internal/confined"
)

// Secrets never reach the disk or the listings: the queue stores an
// operation's parameters through Redact (a URL's password removed, any
// parameter named like a password or secret replaced by Redacted), and the
// running operation gets the password back from memory (what this process
// was given when that very operation was enqueued, kept under its id and
// dropped when it ends) or, after a restart, from the
// service's own settings (--restore-target, --source) when they name the
// same login on the same server.

// Redacted replaces a secret parameter's value.
const Redacted = "<redacted>"

// secretName reports whether a parameter's name says it holds a secret.
func secretName(name string) bool {
	n := strings.ToLower(name)
	if strings.HasSuffix(n, "file") { // password_file: where the secret is, not the secret
		return false
	}
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

// Redact returns the parameters to store for the operation id (the
// service's Options.Redact): RedactParams's, the passwords being kept in
// this process's memory for that operation alone, so it can still log in
// when it runs. Another operation never gets them: one enqueued later
// without a password is answered as a fresh service would answer it
// (withPassword), not with a password an earlier one brought, right or
// wrong.
func (r *Runner) Redact(id, kind string, params map[string]string) map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, v := range params {
		if s, pw, ok := StripPassword(v); ok {
			if r.secrets[id] == nil {
				if r.secrets == nil {
					r.secrets = map[string]map[string]string{}
				}
				r.secrets[id] = map[string]string{}
			}
			r.secrets[id][s] = pw
		}
	}
	return RedactParams(params)
}

// Forget drops the passwords kept for operation id: it has ended, or
// will never run (the service's Options.Forget).
func (r *Runner) Forget(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.secrets, id)
}

// opIDKey is the context key of the id of the operation being run.
type opIDKey struct{}

// withOpID is ctx carrying the id of the operation it runs.
func withOpID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, opIDKey{}, id)
}

// withPassword gives a target URL whose password was redacted its password
// back: from what the operation run by ctx was enqueued with (Redact),
// else from --restore-target or --source when they name the same login on
// the same server. A URL that has its password, or needs none (maildir:),
// is returned as is.
func (r *Runner) withPassword(ctx context.Context, target string) (string, error) {
	u, err := url.Parse(target)
	if err != nil || u.User == nil || !strings.HasPrefix(strings.ToLower(u.Scheme), "imap") {
		return target, nil
	}
	if _, has := u.User.Password(); has {
		return target, nil
	}
	id, _ := ctx.Value(opIDKey{}).(string)
	r.mu.Lock()
	pw, ok := r.secrets[id][target]
	r.mu.Unlock()
	if ok && id != "" {
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

// Where the password of an imap:// URL given without one
// ("imap://admin@host:143") comes from, in this order: a password file
// (--imap-password-file, or a restore's password_file), the environment
// variable EnvIMAPPassword, the systemd credential
// $CREDENTIALS_DIRECTORY/CredentialIMAPPassword (LoadCredential=), and a
// prompt without echo when stdin is a terminal (cbctl, or cbfs serve
// started by hand).
const (
	EnvIMAPPassword        = "CBFS_IMAP_PASSWORD"
	CredentialIMAPPassword = "imap-password"
)

// The SMTP password of --smtp-user: --smtp-password-file, else
// $CBFS_SMTP_PASSWORD, else $CREDENTIALS_DIRECTORY/smtp-password.
const (
	EnvSMTPPassword        = "CBFS_SMTP_PASSWORD"
	CredentialSMTPPassword = "smtp-password"
)

// MaxPasswordFile is the most a password file (--imap-password-file, a
// restore's password_file, --smtp-password-file, a systemd credential) may
// hold: 64 KiB, far above any password (only its first line is used) and
// small enough that a file named by mistake (/dev/zero, a log) fails at
// once instead of being read whole.
const MaxPasswordFile = 64 << 10

// lookupSecret finds a password: from file when given, else the
// environment variable env, else the systemd credential named cred. It is
// an error when none has one.
func lookupSecret(file, env, cred string) (string, error) {
	if file != "" {
		return ReadPasswordFile(file)
	}
	if v := os.Getenv(env); v != "" {
		return v, nil
	}
	if d := os.Getenv("CREDENTIALS_DIRECTORY"); d != "" {
		if _, err := os.Stat(filepath.Join(d, cred)); err == nil {
			return ReadPasswordFile(filepath.Join(d, cred))
		}
	}
	return "", errNoPassword
}

// ReadPasswordFile reads a password file: its first line, without the
// line end. An empty password is an error. The path is the
// administrator's (symbolic links followed), but only a regular file of at
// most MaxPasswordFile bytes is read (confined.ReadNamed): a FIFO or a
// device fails at once.
func ReadPasswordFile(path string) (string, error) {
	b, err := confined.ReadNamed(path, MaxPasswordFile)
	if err != nil {
		return "", fmt.Errorf("password file: %w", err)
	}
	pw, _, _ := strings.Cut(string(b), "\n")
	pw = strings.TrimSuffix(pw, "\r")
	if pw == "" {
		return "", fmt.Errorf("password file %s is empty", path)
	}
	return pw, nil
}

// needsPassword reports whether u is an imap:// or imaps:// URL with a
// login and no password.
func needsPassword(u string) bool {
	p, err := url.Parse(u)
	if err != nil || p.User == nil || p.User.Username() == "" || !strings.HasPrefix(strings.ToLower(p.Scheme), "imap") {
		return false
	}
	_, has := p.User.Password()
	return !has
}

// withUserPassword is u with pw as its password.
func withUserPassword(u, pw string) string {
	p, err := url.Parse(u)
	if err != nil || p.User == nil {
		return u
	}
	p.User = url.UserPassword(p.User.Username(), pw)
	return p.String()
}

// promptPassword asks for the password of u on the terminal, without
// echo; ok is false when stdin is not a terminal.
var promptPassword = func(u string) (string, bool, error) {
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		return "", false, nil
	}
	fmt.Fprintf(os.Stderr, "Password for %s: ", u)
	b, err := term.ReadPassword(fd)
	fmt.Fprintln(os.Stderr)
	if err != nil {
		return "", false, fmt.Errorf("read password: %w", err)
	}
	if len(b) == 0 {
		return "", false, nil
	}
	return string(b), true, nil
}

// LookupIMAPPassword finds the password of the passwordless URL u: from
// file when given, else $CBFS_IMAP_PASSWORD, else
// $CREDENTIALS_DIRECTORY/imap-password, else (prompt) the terminal. ok is
// false when none of them has one.
func LookupIMAPPassword(u, file string, prompt bool) (pw string, ok bool, err error) {
	pw, err = lookupSecret(file, EnvIMAPPassword, CredentialIMAPPassword)
	switch {
	case err == nil:
		return pw, true, nil
	case !errors.Is(err, errNoPassword):
		return "", false, err
	case prompt:
		return promptPassword(u)
	}
	return "", false, nil
}

// FillIMAPPassword gives the passwordless imap:// URL u its password
// (LookupIMAPPassword); any other URL is returned as is. No password found
// is an error naming every way to give one. what names the URL ("source").
func FillIMAPPassword(what, u, file string, prompt bool) (string, error) {
	if !needsPassword(u) {
		return u, nil
	}
	pw, ok, err := LookupIMAPPassword(u, file, prompt)
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", what, u, err)
	}
	if !ok {
		return "", fmt.Errorf("%w for %s %s: give it in a file (--imap-password-file FILE, or password_file FILE on a restore), "+
			"in $%s, or as the systemd credential %s (LoadCredential=)", errNoPassword, what, u, EnvIMAPPassword, CredentialIMAPPassword)
	}
	return withUserPassword(u, pw), nil
}

// FillPassword gives a passwordless imap:// target given without
// password_file its password from cbctl's environment or terminal
// (LookupIMAPPassword without a file), so it travels to the service in
// memory only; with none found the target is sent as is (the service may
// know the password: its own --imap-password-file, environment or
// --restore-target).
func (t *Target) FillPassword(prompt bool) error {
	if t.PasswordFile != "" || !needsPassword(t.Target) {
		return nil
	}
	pw, ok, err := LookupIMAPPassword(t.Target, "", prompt)
	if err != nil {
		return fmt.Errorf("target %s: %w", t.Target, err)
	}
	if ok {
		t.Target = withUserPassword(t.Target, pw)
	}
	return nil
}

func (t *Target) passwordFile() string { return t.PasswordFile }

// ResolveSecrets gives the passwordless imap:// URLs of the settings
// (--source, --restore-target) their passwords, once: cbfs serve calls it
// at start, the operations that need them before they start. prompt lets
// it ask on the terminal.
func (r *Runner) ResolveSecrets(prompt bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range []struct {
		what string
		v    *string
	}{{"source", &r.s.Source}, {"restore-target", &r.s.RestoreTarget}} {
		u, err := FillIMAPPassword(s.what, *s.v, r.s.IMAPPasswordFile, prompt)
		if err != nil {
			return err
		}
		if u != *s.v {
			*s.v = u
		}
	}
	return nil
}
