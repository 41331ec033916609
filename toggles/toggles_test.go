package toggles

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/mailbox"
	"github.com/cbfs/cbfs/statedir"
)

func TestPrecedence(t *testing.T) {
	tests := []struct {
		name       string
		cos, acct  *bool // nil: not set
		acctCOS    string
		wantEnable bool
	}{
		{"nothing set", nil, nil, "staff", true},
		{"cos false", ptr(false), nil, "staff", false},
		{"cos true", ptr(true), nil, "staff", true},
		{"account false wins over cos true", ptr(true), ptr(false), "staff", false},
		{"account true wins over cos false", ptr(false), ptr(true), "staff", true},
		{"account false, cos unset", nil, ptr(false), "staff", false},
		{"cos false, account in another cos", ptr(false), nil, "other", true},
		{"cos false, account without cos", ptr(false), nil, "", true},
		{"cos name case-insensitive", ptr(false), nil, "STAFF", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(statedir.Dir(t.TempDir()))
			require.NoError(t, err)
			if tc.cos != nil {
				require.NoError(t, s.Set(ScopeCOS, "staff", "backupEnabled", boolStr(*tc.cos)))
			}
			if tc.acct != nil {
				require.NoError(t, s.Set(ScopeAccount, "John@Example.com", "BACKUPENABLED", boolStr(*tc.acct)))
			}
			p, err := s.Policy()
			require.NoError(t, err)
			assert.Equal(t, tc.wantEnable, p.Enabled("john@example.com", tc.acctCOS))
		})
	}
}

func TestConfigCommands(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(statedir.Dir(dir))
	require.NoError(t, err)
	steps := []struct {
		action, scope, name, attr, value string
		want                             string
		wantErr                          string
	}{
		{"get", "cos", "EXTERNAL", "backupEnabled", "", "true (not set: default)", ""},
		{"set", "cos", "EXTERNAL", "backupEnabled", "false", "false", ""},
		{"get", "COS", "external", "backupenabled", "", "false", ""},
		{"set", "cos", "EXTERNAL", "backupEnabled", "TRUE", "true", ""},
		{"set", "cos", "EXTERNAL", "backupEnabled", "false", "false", ""},
		{"unset", "cos", "EXTERNAL", "backupEnabled", "", "true (not set: default)", ""},
		{"set", "account", "a@b.c", "backupEnabled", "false", "false", ""},
		{"get", "account", "a@b.c", "backupEnabled", "", "false", ""},
		{"set", "cos", "X", "zimbraMailQuota", "1", "", `unknown attribute "zimbraMailQuota"`},
		{"set", "cos", "X", "backupEnabled", "maybe", "", `must be true or false, not "maybe"`},
		{"set", "cos", "X", "backupEnabled", "", "", "must be true or false"},
		{"set", "server", "X", "backupEnabled", "true", "", `unknown scope "server"`},
		{"set", "cos", "", "backupEnabled", "true", "", "no cos name"},
		{"toggle", "cos", "X", "backupEnabled", "", "", `unknown config action "toggle"`},
		{"get", "cos", "X", "backupEnabled", "true", "", "takes no value"},
	}
	for _, st := range steps {
		got, err := s.Config(st.action, st.scope, st.name, st.attr, st.value)
		if st.wantErr != "" {
			require.ErrorContains(t, err, st.wantErr, "%+v", st)
			continue
		}
		require.NoError(t, err, "%+v", st)
		assert.Equal(t, st.want, got, "%+v", st)
	}
	// Persisted: a fresh store sees the same.
	s2, err := Open(statedir.Dir(dir))
	require.NoError(t, err)
	v, set, err := s2.Get(ScopeAccount, "A@B.C", "backupEnabled")
	require.NoError(t, err)
	assert.True(t, set)
	assert.False(t, v)
	_, set, err = s2.Get(ScopeCOS, "EXTERNAL", "backupEnabled")
	require.NoError(t, err)
	assert.False(t, set)

	// A malformed file is an error, not a silent reset.
	require.NoError(t, os.WriteFile(statedir.Dir(dir).Toggles(), []byte("{not json"), 0o600))
	_, err = Open(statedir.Dir(dir))
	require.ErrorContains(t, err, "malformed JSON")
	_, err = s2.Config("set", "cos", "X", "backupEnabled", "false")
	require.Error(t, err)
}

func TestApply(t *testing.T) {
	root := t.TempDir()
	bp, err := backuppath.Create(root, backuppath.BackupStat{ServerID: "srv"})
	require.NoError(t, err)
	t0 := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	realDel := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	accts := []mailbox.Account{
		{ID: "a1", Name: "ann@example.com", Status: "active", COSName: "staff"},
		{ID: "a2", Name: "bob@example.com", Status: "active", COSName: "external"},
		{ID: "a3", Name: "cid@example.com", Status: "deleted", COSName: "external", DeletedDate: mailbox.MillisOf(realDel)},
		{ID: "a4", Name: "dan@example.com", Status: "active", COSName: "external",
			Extra: mailbox.Extra{"zimbraFoo": []byte(`"kept"`)}},
	}
	for i := range accts {
		require.NoError(t, bp.WriteAccount(&accts[i]))
	}
	s, err := Open(statedir.Dir(t.TempDir()))
	require.NoError(t, err)
	require.NoError(t, s.Set(ScopeCOS, "external", Attribute, "false"))
	require.NoError(t, s.Set(ScopeAccount, "dan@example.com", Attribute, "true"))

	apply := func(at time.Time) *ApplyResult {
		p, err := s.Policy()
		require.NoError(t, err)
		r, err := p.Apply(context.Background(), bp, at)
		require.NoError(t, err)
		return r
	}
	read := func(id string) *mailbox.Account {
		a, err := bp.ReadAccount(id)
		require.NoError(t, err)
		return a
	}

	r := apply(t0)
	assert.Equal(t, []string{"bob@example.com"}, r.Disabled)
	assert.Empty(t, r.Reactivated)
	assert.Contains(t, r.Report(), "Marked Deleted (backup disabled): 1")

	b := read("a2")
	assert.Equal(t, mailbox.StatusDeleted, b.Status)
	assert.Equal(t, t0, b.DeletedDate.Time())
	require.NotNil(t, b.BackupEnabled)
	assert.False(t, *b.BackupEnabled)
	assert.True(t, IsDeletedByToggle(b))
	assert.Equal(t, mailbox.StatusActive, read("a1").Status)
	assert.Equal(t, mailbox.StatusActive, read("a4").Status, "account setting wins over its COS")
	c := read("a3")
	assert.Equal(t, realDel, c.DeletedDate.Time(), "a really deleted account is not touched")
	assert.False(t, IsDeletedByToggle(c))

	// Applying again later changes nothing: the retention clock keeps its start.
	r = apply(t0.Add(48 * time.Hour))
	assert.Empty(t, r.Disabled)
	assert.Equal(t, t0, read("a2").DeletedDate.Time())

	// Re-enable the COS: bob comes back, cid (deleted for real) stays deleted.
	require.NoError(t, s.Unset(ScopeCOS, "EXTERNAL", Attribute))
	r = apply(t0.Add(72 * time.Hour))
	assert.Equal(t, []string{"bob@example.com"}, r.Reactivated)
	b = read("a2")
	assert.Equal(t, mailbox.StatusActive, b.Status)
	assert.Zero(t, b.DeletedDate)
	assert.Nil(t, b.BackupEnabled)
	assert.NotContains(t, b.Extra, DeletedByKey)
	assert.Equal(t, mailbox.StatusDeleted, read("a3").Status)
	assert.Equal(t, realDel, read("a3").DeletedDate.Time())

	// Account-level disable of dan keeps its unknown keys.
	require.NoError(t, s.Set(ScopeAccount, "dan@example.com", Attribute, "false"))
	apply(t0)
	d := read("a4")
	assert.Equal(t, mailbox.StatusDeleted, d.Status)
	assert.Equal(t, `"kept"`, string(d.Extra["zimbraFoo"]))

	// An unreadable account_info is reported, not fatal.
	require.NoError(t, os.MkdirAll(filepath.Join(root, "accounts", "a5", "account_info"), 0o755))
	r = apply(t0)
	assert.Equal(t, []string{"a5"}, r.Unreadable)
}

func TestNilPolicyEnablesAll(t *testing.T) {
	var p *Policy
	assert.True(t, p.Enabled("x@y", "cos"))
}

func ptr(b bool) *bool { return &b }

func boolStr(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
