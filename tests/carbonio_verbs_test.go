package tests

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
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
