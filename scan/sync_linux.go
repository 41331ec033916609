package scan

import (
	"os"

	"golang.org/x/sys/unix"
)

// syncFS commits the whole file system holding dir (syncfs(2)): one call
// instead of an fsync per blob and item file.
func syncFS(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.Syncfs(int(f.Fd()))
}
