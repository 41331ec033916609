package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWithin(t *testing.T) {
	tests := []struct {
		dir, path string
		want      bool
	}{
		{"/a/b", "/a/b", true},
		{"/a/b", "/a/b/c", true},
		{"/a/b", "/a/bc", false},
		{"/a/b", "/a", false},
		{"/a/b", "/x/y", false},
		{"/a/b", "/a/b/../c", false},
		{"/a/b", "/a/b/..c", true},
	}
	for _, tt := range tests {
		t.Run(tt.dir+"|"+tt.path, func(t *testing.T) {
			assert.Equal(t, tt.want, within(tt.dir, filepath.Clean(tt.path)))
		})
	}
}

func TestCheckMountpoint(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "bp")
	require.NoError(t, os.MkdirAll(filepath.Join(root, "items"), 0o755))
	empty := filepath.Join(dir, "empty")
	require.NoError(t, os.Mkdir(empty, 0o755))
	full := filepath.Join(dir, "full")
	require.NoError(t, os.MkdirAll(filepath.Join(full, "x"), 0o755))
	file := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	link := filepath.Join(dir, "link")
	require.NoError(t, os.Symlink(filepath.Join(root, "items"), link))

	tests := []struct {
		name, mp, err string
	}{
		{"empty folder", empty, ""},
		{"inside", filepath.Join(root, "items"), "inside the Backup Path"},
		{"inside through a symlink", link, "inside the Backup Path"},
		{"holds the Backup Path", dir, "inside the mountpoint"},
		{"not empty", full, "not empty"},
		{"a file", file, "not a folder"},
		{"missing", filepath.Join(dir, "nope"), "no such folder"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := checkMountpoint(root, tt.mp)
			if tt.err == "" {
				require.NoError(t, err)
				assert.Equal(t, tt.mp, got)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.err)
			assert.NotContains(t, err.Error(), "\n")
		})
	}
}

func TestDefaultIndexPath(t *testing.T) {
	a, err := defaultIndexPath("/srv/backup")
	require.NoError(t, err)
	b, err := defaultIndexPath("/srv/other/backup")
	require.NoError(t, err)
	assert.NotEqual(t, a, b, "different Backup Paths, different index files")
	assert.True(t, strings.HasSuffix(a, ".db"))
	assert.False(t, within("/srv/backup", a), "outside the Backup Path")
	again, _ := defaultIndexPath("/srv/backup")
	assert.Equal(t, a, again)
	if os.Geteuid() == 0 && os.Getenv("XDG_CACHE_HOME") == "" {
		assert.True(t, strings.HasPrefix(a, "/var/cache/cbfs/"), a)
	}
	t.Setenv("XDG_CACHE_HOME", "/tmp/xdg")
	x, err := defaultIndexPath("/srv/backup")
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(x, "/tmp/xdg/cbfs/"), x)
	t.Setenv("XDG_CACHE_HOME", "relative")
	y, err := defaultIndexPath("/srv/backup")
	require.NoError(t, err)
	assert.False(t, strings.HasPrefix(y, "relative"), "a relative XDG_CACHE_HOME is ignored, as the spec says: %s", y)
}

func TestUnescapeMountinfo(t *testing.T) {
	assert.Equal(t, "/mnt/my backup", unescapeMountinfo(`/mnt/my\040backup`))
	assert.Equal(t, "/plain", unescapeMountinfo("/plain"))
	assert.Equal(t, `/odd\x`, unescapeMountinfo(`/odd\x`))
}
