package cli

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/alecthomas/kong"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestJSONLoaderFlagNames(t *testing.T) {
	var cli struct {
		BackupPath string `name:"backup-path"`
		ServiceFlags
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "c.json")
	require.NoError(t, os.WriteFile(conf, []byte(`{"backup-path":"/b","source":"maildir:/m","accounts_file":"/a","retention-days":7,"notify":["x@y","z@y"]}`), 0o600))
	k, err := kong.New(&cli, kong.Configuration(JSONLoader), kong.Exit(func(int) {}))
	require.NoError(t, err)
	_, err = k.Parse([]string{"--config", conf, "--source", "maildir:/cli"})
	require.NoError(t, err)
	assert.Equal(t, "/b", cli.BackupPath)
	assert.Equal(t, "maildir:/cli", cli.Source, "the command line wins")
	assert.Equal(t, "/a", cli.AccountsFile)
	assert.Equal(t, 7, cli.RetentionDays)
	assert.Equal(t, []string{"x@y", "z@y"}, cli.Notify)
	require.NoError(t, os.WriteFile(conf, []byte(`[1]`), 0o600))
	_, err = k.Parse([]string{"--config", conf})
	require.Error(t, err)
}
