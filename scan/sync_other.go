//go:build !linux

package scan

import "syscall"

// syncFS commits everything written so far (sync(2)).
func syncFS(dir string) error {
	syscall.Sync()
	return nil
}
