package fusefs

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/index"
)

// TestConfinedServerFiles: a configuration backup or customizations archive
// in server/ that is a symbolic link to a file outside, or a FIFO, is not
// served (error.txt, EIO) and is not waited for.
func TestConfinedServerFiles(t *testing.T) {
	bp, err := backuppath.Create(filepath.Join(t.TempDir(), "bp"), backuppath.BackupStat{ServerID: "s"})
	require.NoError(t, err)
	outside := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(outside, "config.json"), []byte(`{"date":1714521600000,"serverConfig":{"SECRET":"1"}}`), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(outside, "c.tar.gz"), []byte("SECRET"), 0o600))
	config := "server/config_01_05_24#00_00_00.json"
	custom := "server/customizations_01_05_24#00_00_00.tar.gz"
	fifo := "server/customizations_02_05_24#00_00_00.tar.gz"
	require.NoError(t, os.Symlink(filepath.Join(outside, "config.json"), filepath.Join(bp.Root, config)))
	require.NoError(t, os.Symlink(filepath.Join(outside, "c.tar.gz"), filepath.Join(bp.Root, custom)))
	require.NoError(t, syscall.Mkfifo(filepath.Join(bp.Root, fifo), 0o644))

	ix, err := index.Open(bp, ":memory:")
	require.NoError(t, err)
	t.Cleanup(func() { ix.Close() })
	f := New(ix, Options{})

	out := f.configFiles(backuppath.ServerFile{Kind: backuppath.KindConfig, RelPath: config})
	require.Len(t, out, 1)
	assert.Equal(t, "error.txt", out[0].name)
	assert.Contains(t, string(out[0].data), "symbolic link")
	assert.NotContains(t, string(out[0].data), "SECRET")

	for _, rel := range []string{custom, fifo} {
		df := &diskFile{path: bp.Root + "/" + rel}
		df.init(f, 99, false, 0, time.Time{})
		done := make(chan syscall.Errno)
		go func() {
			fh, _, errno := df.Open(context.Background(), syscall.O_RDONLY)
			if h, ok := fh.(*osHandle); ok {
				h.f.Close()
			}
			done <- errno
		}()
		select {
		case errno := <-done:
			assert.Equal(t, syscall.EIO, errno, strings.TrimPrefix(rel, "server/"))
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: open blocked", rel)
		}
	}
}
