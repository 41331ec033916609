package tests

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/sample"
)

// TestNotApplicableVerbs: Carbonio's lines for what cbfs does not have
// (LDAP, volumes, the mailstore's services) fail with the reason on one
// line and exit status 2, whatever their arguments.
func TestNotApplicableVerbs(t *testing.T) {
	for _, line := range [][]string{
		{"check-ldap-dump"},
		{"doBackupLDAP"},
		{"doBackupCluster"},
		{"doRestoreBlobs", "3", "dryrun", "false", "compress", "false"},
		{"doStartService"}, {"doStopService", "backup"}, {"doRestartService"},
		{"migrateBackupVolume", "Local", "/path/to/directory"},
		{"setBackupVolume", "S3", "123e4567-e89b-12d3-a456-556642440000"},
		{"updateBackupVolume", "S3", "use-intelligent-tiering", "true"},
	} {
		r := fails(t, 2, "does not apply to cbfs: ", append([]string{"backup"}, line...)...)
		assert.Regexp(t, `^cbctl: error: backup `+line[0]+` does not apply to cbfs: \S.*\n$`, r.stderr, "one line naming the verb and why")
	}
}

// TestGetServices: "backup getServices" says whether cbfs serve runs.
func TestGetServices(t *testing.T) {
	dir := t.TempDir()
	st := filepath.Join(dir, "st")
	r := ok(t, "backup", "getServices", "--state-dir", st)
	assert.Regexp(t, `(?m)^backup\s+stopped\s+no cbfs serve answers`, r.stdout)

	bin := mountBinary(t, dir)
	serveStart(t, bin, st, "--backup-path", filepath.Join(dir, "bp"))
	r = ok(t, "backup", "getServices", "--state-dir", st)
	assert.Regexp(t, `(?m)^backup\s+running\s+\S+.* on `+filepath.Join(st, "cbfs.sock")+`$`, r.stdout)
	var out []struct {
		Name    string `json:"name"`
		Running bool   `json:"running"`
	}
	decode(t, ok(t, "--json", "backup", "getServices", "--state-dir", st).stdout, &out)
	assert.Equal(t, []struct {
		Name    string `json:"name"`
		Running bool   `json:"running"`
	}{{"backup", true}}, out)
}

// TestSiteConfig: cbctl and cbfs serve read /etc/cbfs/cbfs.json, or the
// file $CBFS_CONFIG names; --config wins over it, the command line over
// both; a bad one is one line and exit status 2.
func TestSiteConfig(t *testing.T) {
	dir := t.TempDir()
	bp := filepath.Join(dir, "bp")
	_, err := sample.Generate(context.Background(), bp, sample.Options{Accounts: 3, Messages: 3, Seed: 5})
	require.NoError(t, err)
	site := filepath.Join(dir, "cbfs.json")
	writeJSONFile(t, site, map[string]string{"backup-path": bp, "state-dir": filepath.Join(dir, "st")})
	run := func(env string, args ...string) result {
		cmd := exec.Command(cbctlBin, args...)
		cmd.Env = append(os.Environ(), "CBFS_CONFIG="+env)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		r := result{stdout: out.String(), stderr: errb.String()}
		if ee, ok := err.(*exec.ExitError); ok {
			r.code = ee.ExitCode()
		}
		return r
	}
	r := run(site, "--json", "backup", "getAvailableAccounts")
	require.Equal(t, 0, r.code, r.stderr)
	var accts []map[string]any
	decode(t, r.stdout, &accts)
	assert.Len(t, accts, 3, "the site file's backup-path is read")

	// The command line wins.
	r = run(site, "backup", "getAvailableAccounts", "backup_path", filepath.Join(dir, "nope"))
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, filepath.Join(dir, "nope"))

	// The service's settings too: the state directory of the file.
	r = run(site, "backup", "scheduler", "purge", "set", "global", "enabled", "false")
	require.Equal(t, 0, r.code, r.stderr)
	assert.FileExists(t, filepath.Join(dir, "st", "schedules.json"))

	// Bad ones.
	r = run(filepath.Join(dir, "missing.json"), "backup", "getAvailableAccounts")
	assert.Equal(t, 2, r.code)
	assert.Regexp(t, `^cbctl: error: \$CBFS_CONFIG: .*missing.json.*\n$`, r.stderr)
	bad := filepath.Join(dir, "bad.json")
	writeFile(t, bad, []byte("{not json"))
	r = run(bad, "backup", "getAvailableAccounts")
	assert.Equal(t, 2, r.code)
	assert.Regexp(t, `^cbctl: error: .*bad.json: configuration file: .*\n$`, r.stderr)
}
