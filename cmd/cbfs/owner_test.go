package main

import (
	"os/user"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/internal/cli"
)

func TestLookupID(t *testing.T) {
	groups := func(name string) (string, error) {
		if name == "adm" {
			return "4", nil
		}
		return "", user.UnknownGroupError(name)
	}
	for _, tt := range []struct {
		in   string
		want int
	}{{"", -1}, {"0", 0}, {"1000", 1000}, {"adm", 4}} {
		got, err := lookupID("gid", tt.in, groups)
		require.NoError(t, err, tt.in)
		assert.Equal(t, tt.want, got, tt.in)
	}
	_, err := lookupID("gid", "nosuchgroup", groups)
	require.Error(t, err)
	assert.True(t, cli.IsUsage(err), "an unknown name is a usage error")
	assert.Equal(t, `--gid "nosuchgroup": no such group (want a name or a number)`, err.Error())
	_, err = lookupID("uid", "-5", groups)
	assert.True(t, cli.IsUsage(err), "a negative id is no name either")

	// The real lookups: root is user 0 and group 0 everywhere.
	uid, err := lookupID("uid", "root", lookupUser)
	require.NoError(t, err)
	assert.Equal(t, 0, uid)
	gid, err := lookupID("gid", "root", lookupGroup)
	require.NoError(t, err)
	assert.Equal(t, 0, gid)
	_, err = lookupID("uid", "no-such-user-cbfs", lookupUser)
	assert.ErrorContains(t, err, "no such user")
}
