package operations

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/mailbox"
	"github.com/cbfs/cbfs/scan"
	"github.com/cbfs/cbfs/statedir"
)

func TestParseAccounts(t *testing.T) {
	tests := []struct {
		name, in string
		want     []scan.AccountSpec
		err      string
	}{
		{"empty", "", nil, ""},
		{"names and cos", "# c\nalice@example.test default\n\n  bob@example.test  \n", []scan.AccountSpec{{Name: "alice@example.test", COS: "default"}, {Name: "bob@example.test"}}, ""},
		{"too many fields", "a@b c d\n", nil, "line 1"},
		{"not an address", "alice\n", nil, "not an address"},
		{"duplicate", "a@b\nA@B x\n", nil, "already listed on line 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseAccounts(strings.NewReader(tt.in), "f")
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestValidate(t *testing.T) {
	r := newRunner(t)
	tests := []struct {
		kind   string
		params map[string]string
		err    string
	}{
		{KindSmartScan, nil, ""},
		{KindSmartScan, map[string]string{"bogus": "1"}, "unknown parameter"},
		{KindAccountScan, nil, "no account"},
		{KindAccountScan, map[string]string{"account": "a@b"}, ""},
		{KindPurge, map[string]string{"purgeDays": "0"}, ""},
		{KindPurge, map[string]string{"purgeDays": "-1"}, "purgeDays"},
		{KindExport, nil, "no destination"},
		{KindExport, map[string]string{"destPath": "/x", "domains": "a.com,b.com"}, ""},
		{KindCoherencyCheck, map[string]string{"fixBackup": "yes please"}, "fixBackup"},
		{KindCoherencyCheck, map[string]string{"fixDoubleGzip": "fix"}, ""},
		{KindCoherencyCheck, map[string]string{"fixDoubleGzip": "x"}, "fixDoubleGzip"},
		{"doNothing", nil, "unknown operation kind"},
	}
	for _, tt := range tests {
		t.Run(tt.kind+"/"+tt.err, func(t *testing.T) {
			err := r.Validate(tt.kind, tt.params)
			if tt.err == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.err)
			assert.True(t, errors.Is(err, ErrInvalid))
		})
	}
}

func newRunner(t *testing.T) *Runner {
	t.Helper()
	dir := t.TempDir()
	r, err := New(Settings{BackupPath: filepath.Join(dir, "bp"), Flags: Flags{StateDir: filepath.Join(dir, "st")}}, nil)
	require.NoError(t, err)
	return r
}

func TestNormalizeDefaults(t *testing.T) {
	s := Settings{BackupPath: "bp", Flags: Flags{StateDir: "st"}}
	require.NoError(t, s.Normalize())
	assert.True(t, filepath.IsAbs(s.StateDir))
	assert.Equal(t, filepath.Join(s.StateDir, "cbfs.sock"), s.Socket)
	s = Settings{Flags: Flags{RetentionDays: -1, StateDir: "x"}}
	require.ErrorContains(t, s.Normalize(), "retention-days")
	d, err := statedir.Default()
	require.NoError(t, err)
	if os.Geteuid() == 0 {
		assert.Equal(t, statedir.Dir("/var/lib/cbfs"), d)
	} else {
		assert.Equal(t, "cbfs", filepath.Base(d.Path()))
	}
}

func TestConfigAppliesToggles(t *testing.T) {
	r := newRunner(t)
	ctx := context.Background()
	bp, err := backuppath.Create(r.s.BackupPath, backuppath.BackupStat{ServerID: "s"})
	require.NoError(t, err)
	a := &mailbox.Account{ID: "0b6e2c8e-1111-4c5e-9a8e-000000000001", Name: "x@y.z", Status: mailbox.StatusActive, COSName: "ext"}
	require.NoError(t, bp.WriteAccount(a))
	status := func() string {
		got, err := bp.ReadAccount(a.ID)
		require.NoError(t, err)
		return got.Status
	}
	steps := []struct {
		req        ConfigRequest
		want, stat string
	}{
		{ConfigRequest{Action: "get", Scope: "cos", Name: "ext", Key: "backupEnabled"}, "true (not set: default)", mailbox.StatusActive},
		{ConfigRequest{Action: "set", Scope: "cos", Name: "ext", Key: "backupEnabled", Value: "false"}, "false", mailbox.StatusDeleted},
		{ConfigRequest{Action: "set", Scope: "account", Name: "x@y.z", Key: "backupEnabled", Value: "true"}, "true", mailbox.StatusActive},
		{ConfigRequest{Action: "unset", Scope: "account", Name: "x@y.z", Key: "backupEnabled"}, "true (not set: default)", mailbox.StatusDeleted},
		{ConfigRequest{Action: "unset", Scope: "cos", Name: "ext", Key: "backupEnabled"}, "true (not set: default)", mailbox.StatusActive},
	}
	for _, s := range steps {
		v, err := r.Config(ctx, s.req)
		require.NoError(t, err, "%+v", s.req)
		assert.Equal(t, s.want, v, "%+v", s.req)
		assert.Equal(t, s.stat, status(), "%+v", s.req)
	}
	_, err = r.Config(ctx, ConfigRequest{Action: "set", Scope: "cos", Name: "ext", Key: "backupEnabled", Value: "maybe"})
	assert.ErrorIs(t, err, ErrInvalid)
}

// A listing shows only the parameters given other than their defaults.
func TestNonDefault(t *testing.T) {
	p, err := Decode(KindExternalRestore, map[string]string{"sourcePath": "/srv/bp", "accounts": "a@x", "concurrent_accounts": "4"})
	require.NoError(t, err)
	all := Encode(p)
	require.Contains(t, all, "filter_deleted", "the queue stores every bool")
	assert.Equal(t, map[string]string{"sourcePath": "/srv/bp", "accounts": "a@x", "concurrent_accounts": "4"}, NonDefault(KindExternalRestore, all))
	all["filter_deleted"] = "false"
	assert.Equal(t, "false", NonDefault(KindExternalRestore, all)["filter_deleted"], "a default turned off is shown")
	assert.Equal(t, map[string]string{"x": "1"}, NonDefault("noSuchKind", map[string]string{"x": "1"}))
}
