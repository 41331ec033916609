package tests

// The shipped systemd units, man pages and `make install`
// (packaging/), and the service's structured log of operations.

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/internal/dovecot"
)

// TestServeLogJSON: with --log-format json every line of the service's log
// is a JSON object, and an operation logs its start and its end with its
// id and kind, and no password.
func TestServeLogJSON(t *testing.T) {
	users := map[string]string{"alice@example.test": "pw"}
	dv := dovecot.Start(t, users)
	require.NoError(t, dv.Deliver("ann@example.com", []string{"alice@example.test"}, serveMsg("hello", "body")))

	dir := t.TempDir()
	bin := mountBinary(t, dir)
	root, st := filepath.Join(dir, "bp"), filepath.Join(dir, "st")
	accounts := filepath.Join(dir, "accounts")
	require.NoError(t, os.WriteFile(accounts, []byte("alice@example.test\n"), 0o644))
	srv := serveStart(t, bin, st, "--backup-path", root, "--source", dv.SourceURL(), "--accounts-file", accounts, "--log-format", "json")
	ok(t, "backup", "doSmartScan", "--wait", "--state-dir", st)
	srv.term(t)

	log := srv.stderr.String()
	require.NotEmpty(t, dv.AdminPass)
	assert.NotContains(t, log, dv.AdminPass, "the log shows no password")
	var msgs []string
	var started, ended map[string]any
	for _, line := range strings.Split(strings.TrimSpace(log), "\n") {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), "not JSON: %q\n%s", line, log)
		msg, _ := m["msg"].(string)
		msgs = append(msgs, msg)
		switch msg {
		case "operation started":
			started = m
		case "operation ended":
			ended = m
		}
	}
	require.NotNil(t, started, "no start line:\n%s", log)
	require.NotNil(t, ended, "no end line:\n%s", log)
	assert.Equal(t, "doSmartScan", started["kind"])
	assert.NotEmpty(t, started["id"])
	assert.Equal(t, started["id"], ended["id"])
	assert.Equal(t, "doSmartScan", ended["kind"])
	assert.Equal(t, "done", ended["state"])
	assert.NotEmpty(t, ended["duration"])
	assert.NotEmpty(t, ended["result"])
	assert.Subset(t, msgs, []string{"operation enqueued", "operation started", "operation ended"})
}

// unitsInstall runs `make install DESTDIR=dest` from the repository root,
// building into its own folder, and returns dest.
func unitsInstall(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	dest := filepath.Join(dir, "dest")
	cmd := exec.Command("make", "-C", "..", "install", "DESTDIR="+dest, "BIN="+filepath.Join(dir, "bin"))
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "make install:\n%s", out)
	return dest
}

// TestUnitsInstall: make install puts the binaries, the man pages and the
// units under DESTDIR, and the man pages render.
func TestUnitsInstall(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make")
	}
	dest := unitsInstall(t)
	want := map[string]os.FileMode{
		"usr/local/bin/cbfs":                               0o755,
		"usr/local/bin/cbctl":                              0o755,
		"usr/local/share/man/man1/cbfs.1":                  0o644,
		"usr/local/share/man/man1/cbctl.1":                 0o644,
		"usr/local/lib/systemd/system/cbfs-serve.service":  0o644,
		"usr/local/lib/systemd/system/mnt-backup.mount":    0o644,
		"usr/local/lib/systemd/system/cbfs-mount@.service": 0o644,
	}
	var got []string
	require.NoError(t, filepath.Walk(dest, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			rel, _ := filepath.Rel(dest, p)
			got = append(got, rel)
			if m, ok := want[rel]; ok {
				assert.Equal(t, m, fi.Mode().Perm(), rel)
			}
		}
		return err
	}))
	var names []string
	for n := range want {
		names = append(names, n)
	}
	assert.ElementsMatch(t, names, got, "installed files")

	out, err := exec.Command(filepath.Join(dest, "usr/local/bin/cbfs"), "serve", "--help").Output()
	require.NoError(t, err)
	assert.Contains(t, string(out), "--log-format", "the installed cbfs is this one")

	for _, page := range []string{"cbfs", "cbctl"} {
		path := filepath.Join(dest, "usr/local/share/man/man1", page+".1")
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		src := string(b)
		assert.Contains(t, src, "\n.TH "+strings.ToUpper(page)+" 1 ")
		assert.Contains(t, src, "\n.SH NAME\n"+page+" \\- ")
		assert.Contains(t, src, "\n.SH SYNOPSIS\n")
		assert.Contains(t, src, "\n.SH DESCRIPTION\n")
		if _, err := exec.LookPath("man"); err != nil {
			continue
		}
		cmd := exec.Command("man", "-l", path)
		cmd.Env = append(os.Environ(), "MANWIDTH=100", "MANPAGER=cat", "PAGER=cat")
		var stderr strings.Builder
		cmd.Stderr = &stderr
		rendered, err := cmd.Output()
		require.NoError(t, err, "man -l %s: %s", path, stderr.String())
		assert.Empty(t, stderr.String(), "man -l %s warns", path)
		assert.Contains(t, string(rendered), "NAME")
		assert.Contains(t, string(rendered), "SYNOPSIS")
	}
	cbfsPage, _ := os.ReadFile(filepath.Join(dest, "usr/local/share/man/man1/cbfs.1"))
	assert.Contains(t, string(cbfsPage), `.SS "cbfs serve"`)
	assert.Contains(t, string(cbfsPage), "--log-format", "every command's help is in the page")
	cbctlPage, _ := os.ReadFile(filepath.Join(dest, "usr/local/share/man/man1/cbctl.1"))
	assert.Contains(t, string(cbctlPage), `.SS "cbctl backup doSmartScan"`)
}

// TestUnitsVerify: the shipped units pass systemd-analyze verify (with
// ExecStart pointing at a built cbfs, as make install with another PREFIX
// does).
func TestUnitsVerify(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("no systemd-analyze")
	}
	dir := t.TempDir()
	bin := mountBinary(t, dir)
	units := filepath.Join(dir, "units")
	require.NoError(t, os.Mkdir(units, 0o755))
	for _, name := range []string{"cbfs-serve.service", "mnt-backup.mount", "cbfs-mount@.service"} {
		b, err := os.ReadFile(filepath.Join("..", "packaging", "systemd", name))
		require.NoError(t, err)
		src := strings.ReplaceAll(string(b), "/usr/local/bin/cbfs", bin)
		if name == "cbfs-mount@.service" {
			name = "cbfs-mount@backup.service" // a template verifies as an instance
		}
		require.NoError(t, os.WriteFile(filepath.Join(units, name), []byte(src), 0o644))
	}
	serve, _ := os.ReadFile(filepath.Join(units, "cbfs-serve.service"))
	for _, want := range []string{"Type=simple", "StateDirectory=cbfs", "--state-dir /var/lib/cbfs", "LoadCredential=imap-password:/etc/cbfs/imap-password",
		"Restart=on-failure", "ProtectSystem=strict", "ReadWritePaths=/srv/backup", "CacheDirectory=cbfs", "NoNewPrivileges=yes", "--log-format json"} {
		if strings.HasPrefix(want, "--") {
			want = "    " + want // an ExecStart continuation line
		}
		assert.Contains(t, string(serve), "\n"+want, "cbfs-serve.service")
	}
	// The mount unit uses the index the service keeps current (the
	// default one: no index=).
	mnt, _ := os.ReadFile(filepath.Join(units, "mnt-backup.mount"))
	assert.NotContains(t, string(mnt), "\nOptions=ro,allow_other,umask=027,nofail,index=")
	assert.Contains(t, string(mnt), "\nOptions=ro,allow_other,umask=027,nofail,refresh=1m,")
	cmd := exec.Command("systemd-analyze", "verify", "--man=no", "cbfs-serve.service", "mnt-backup.mount", "cbfs-mount@backup.service")
	cmd.Dir = units
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "systemd-analyze verify:\n%s", out)
	assert.Empty(t, strings.TrimSpace(string(out)), "systemd-analyze verify warns")
}
