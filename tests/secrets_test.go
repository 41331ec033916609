package tests

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/internal/dovecot"
)

// cbctlEnv runs cbctl with extra environment variables, checking that its
// argv (/proc/<pid>/cmdline, read while it runs) never holds secret.
func cbctlEnv(t *testing.T, env []string, secret string, args ...string) result {
	t.Helper()
	cmd := exec.Command(cbctlBin, args...)
	cmd.Env = append(append(os.Environ(), "COLUMNS=100"), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	require.NoError(t, cmd.Start())
	if b, err := os.ReadFile("/proc/" + itoa(cmd.Process.Pid) + "/cmdline"); err == nil {
		assert.NotContains(t, string(b), secret, "argv of cbctl")
	}
	err := cmd.Wait()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	}
	return r
}

// noSecretIn fails if any file under root holds secret.
func noSecretIn(t *testing.T, root, secret string) {
	t.Helper()
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err == nil {
			assert.NotContains(t, string(b), secret, "file %s", p)
		}
		return nil
	})
}

// TestSecrets: the IMAP master password only in a file, or only in the
// environment, serves scans and restores against a real Dovecot, and
// shows up in no argv, log, --json output or state-dir file.
func TestSecrets(t *testing.T) {
	dv := dovecot.Start(t, map[string]string{"alice@example.test": "pw", "bob@example.test": "pw"})
	require.NoError(t, dv.Deliver("ann@example.com", []string{"alice@example.test"}, serveMsg("secret-0", "body")))
	secret := dv.AdminPass
	noPass := "imap://" + dovecot.Admin + "@" + dv.IMAPAddr
	dir := t.TempDir()
	bin := mountBinary(t, dir)
	accounts := filepath.Join(dir, "accounts")
	require.NoError(t, os.WriteFile(accounts, []byte("alice@example.test default\n"), 0o644))
	pwFile := filepath.Join(dir, "imap-password")
	require.NoError(t, os.WriteFile(pwFile, []byte(secret+"\n"), 0o600))

	t.Run("password file: cbfs serve scans, a restore takes password_file", func(t *testing.T) {
		root, st := filepath.Join(dir, "bp1"), filepath.Join(dir, "st1")
		srv := serveStart(t, bin, st, "--backup-path", root, "--source", noPass, "--imap-password-file", pwFile, "--accounts-file", accounts)
		b, err := os.ReadFile("/proc/" + itoa(srv.cmd.Process.Pid) + "/cmdline")
		require.NoError(t, err)
		assert.NotContains(t, string(b), secret, "argv of cbfs serve")
		r := cbctlEnv(t, nil, secret, "backup", "doSmartScan", "--wait", "--json", "--state-dir", st)
		require.Equal(t, 0, r.code, r.stderr)
		assert.Contains(t, r.stdout, `Accounts Scanned: 1`)
		assert.NotContains(t, r.stdout+r.stderr, secret)
		r = cbctlEnv(t, nil, secret, "backup", "doExternalRestore", root, "target", noPass, "password_file", pwFile, "--wait", "--json", "--state-dir", st)
		require.Equal(t, 0, r.code, r.stdout+r.stderr)
		assert.Contains(t, r.stdout, "password_file")
		assert.NotContains(t, r.stdout+r.stderr, secret)
		r = cbctlEnv(t, nil, secret, "backup", "getAllOperations", "--json", "verbose", "true", "--state-dir", st)
		require.Equal(t, 0, r.code, r.stderr)
		assert.NotContains(t, r.stdout, secret)
		srv.term(t)
		assert.NotContains(t, srv.stderr.String(), secret, "service log")
		noSecretIn(t, st, secret)
		noSecretIn(t, root, secret)
	})

	t.Run("environment: a foreground scan and restore", func(t *testing.T) {
		root, st := filepath.Join(dir, "bp2"), filepath.Join(dir, "st2")
		env := []string{"CBFS_IMAP_PASSWORD=" + secret}
		r := cbctlEnv(t, env, secret, "backup", "doSmartScan", "--json", "--backup-path", root, "--source", noPass, "--accounts-file", accounts, "--state-dir", st)
		require.Equal(t, 0, r.code, r.stdout+r.stderr)
		assert.Contains(t, r.stdout, `Accounts Scanned: 1`)
		assert.NotContains(t, r.stdout+r.stderr, secret)
		r = cbctlEnv(t, env, secret, "backup", "doExternalRestore", root, "target", noPass, "--json", "--state-dir", st)
		require.Equal(t, 0, r.code, r.stdout+r.stderr)
		assert.NotContains(t, r.stdout+r.stderr, secret)
		noSecretIn(t, st, secret)
		noSecretIn(t, root, secret)
	})

	t.Run("systemd credential directory", func(t *testing.T) {
		creds := filepath.Join(dir, "creds")
		require.NoError(t, os.MkdirAll(creds, 0o700))
		require.NoError(t, os.WriteFile(filepath.Join(creds, "imap-password"), []byte(secret), 0o600))
		r := cbctlEnv(t, []string{"CREDENTIALS_DIRECTORY=" + creds}, secret, "backup", "doSmartScan", "--backup-path", filepath.Join(dir, "bp3"),
			"--source", noPass, "--accounts-file", accounts, "--state-dir", filepath.Join(dir, "st3"))
		require.Equal(t, 0, r.code, r.stdout+r.stderr)
	})

	t.Run("no password: one error line before any work", func(t *testing.T) {
		root := filepath.Join(dir, "bp4")
		fails(t, 2, "no password for source", "backup", "doSmartScan", "--backup-path", root, "--source", noPass, "--accounts-file", accounts, "--state-dir", filepath.Join(dir, "st4"))
		_, err := os.Stat(root)
		assert.True(t, os.IsNotExist(err), "nothing written")
		out, err := exec.Command(bin, "serve", "--state-dir", filepath.Join(dir, "st5"), "--backup-path", root, "--source", noPass, "--accounts-file", accounts).CombinedOutput()
		require.Error(t, err)
		assert.Contains(t, string(out), "no password for source")
		assert.Equal(t, 1, strings.Count(strings.TrimSpace(string(out)), "\n")+1, "one line: %s", out)
	})

	t.Run("a wrong master password stops cbfs serve at start", func(t *testing.T) {
		bad := filepath.Join(dir, "bad-password")
		require.NoError(t, os.WriteFile(bad, []byte("wrong\n"), 0o600))
		out, err := exec.Command(bin, "serve", "--state-dir", filepath.Join(dir, "st6"), "--backup-path", filepath.Join(dir, "bp6"),
			"--source", noPass, "--imap-password-file", bad, "--accounts-file", accounts, "--scan-schedule", "off").CombinedOutput()
		require.Error(t, err, "%s", out)
		assert.Contains(t, string(out), "source:")
		assert.NotContains(t, string(out), secret)
	})
}

// TestServeCheckAtStart: a bad source fails cbfs serve at once, unless
// --check-at-start=warn (then getAllOperations shows the problem).
func TestServeCheckAtStart(t *testing.T) {
	dir := t.TempDir()
	bin := mountBinary(t, dir)
	st := filepath.Join(dir, "st")
	out, err := exec.Command(bin, "serve", "--state-dir", st, "--backup-path", filepath.Join(dir, "bp"), "--source", "maildir:/nonexistent").CombinedOutput()
	require.Error(t, err)
	assert.Contains(t, string(out), "nonexistent")
	assert.Contains(t, string(out), "--check-at-start=warn")

	foreign := filepath.Join(dir, "foreign")
	require.NoError(t, os.MkdirAll(foreign, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(foreign, "notes.txt"), []byte("x"), 0o644))
	out, err = exec.Command(bin, "serve", "--state-dir", st, "--backup-path", foreign, "--source", "maildir:"+dir).CombinedOutput()
	require.Error(t, err)
	assert.Contains(t, string(out), "is not empty and is not a Backup Path")

	out, err = exec.Command(bin, "serve", "--state-dir", st, "--backup-path", filepath.Join(dir, "bp"), "--source", "maildir:"+dir, "--smtp", "127.0.0.1:1").CombinedOutput()
	require.Error(t, err)
	assert.Contains(t, string(out), "smtp")

	serveStart(t, bin, st, "--backup-path", filepath.Join(dir, "bp"), "--source", "maildir:/nonexistent", "--check-at-start", "warn")
	r := ok(t, "backup", "getAllOperations", "--state-dir", st)
	assert.Contains(t, r.stderr, "cbctl: warning: the service started with a problem: source:")
}

// TestScanRefusesForeignFolder: a scan into a non-empty folder that is not
// a Backup Path writes nothing there.
func TestScanRefusesForeignFolder(t *testing.T) {
	dir := t.TempDir()
	mail := filepath.Join(dir, "mail")
	require.NoError(t, os.MkdirAll(mail, 0o755))
	foreign := filepath.Join(dir, "foreign")
	require.NoError(t, os.MkdirAll(foreign, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(foreign, "notes.txt"), []byte("x"), 0o644))
	fails(t, 2, "is not empty and is not a Backup Path", "backup", "doSmartScan", "--backup-path", foreign, "--source", "maildir:"+mail, "--state-dir", filepath.Join(dir, "st"))
	ents, err := os.ReadDir(foreign)
	require.NoError(t, err)
	assert.Len(t, ents, 1, "nothing written beside notes.txt")
	// A missing or empty folder becomes a Backup Path.
	empty := filepath.Join(dir, "empty")
	require.NoError(t, os.MkdirAll(empty, 0o755))
	ok(t, "backup", "doSmartScan", "--backup-path", empty, "--source", "maildir:"+mail, "--state-dir", filepath.Join(dir, "st"))
	ok(t, "backup", "doSmartScan", "--backup-path", filepath.Join(dir, "missing"), "--source", "maildir:"+mail, "--state-dir", filepath.Join(dir, "st"))
}

// TestConfigUnknownName: a toggle of a name that is neither an account nor
// a COS is refused unless --force.
func TestConfigUnknownName(t *testing.T) {
	dir := t.TempDir()
	st, root := filepath.Join(dir, "st"), filepath.Join(dir, "bp")
	accounts := filepath.Join(dir, "accounts")
	require.NoError(t, os.WriteFile(accounts, []byte("carol@example.test gold\n"), 0o644))
	args := func(a ...string) []string {
		return append(a, "--backup-path", root, "--state-dir", st, "--accounts-file", accounts)
	}
	fails(t, 2, `no cos named "NOSUCHCOS"`, args("config", "set", "cos", "NOSUCHCOS", "backupEnabled", "false")...)
	fails(t, 2, `no account named "nobody@example.test"`, args("config", "set", "account", "nobody@example.test", "backupEnabled", "false")...)
	assert.Equal(t, "false\n", ok(t, args("config", "set", "cos", "NOSUCHCOS", "backupEnabled", "false", "--force")...).stdout)
	assert.Equal(t, "false\n", ok(t, args("config", "set", "cos", "gold", "backupEnabled", "false")...).stdout)
	assert.Equal(t, "false\n", ok(t, args("config", "set", "account", "carol@example.test", "backupEnabled", "false")...).stdout)
	// The fixture's accounts and COS (account_info) are known too.
	r := cbctl(t, "config", "get", "cos", "NOSUCHCOS", "backupEnabled", "--state-dir", st)
	assert.Equal(t, 0, r.code)
}
