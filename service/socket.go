package service

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// maxSocketPath is the longest path a Unix socket address can hold
// (sun_path is 108 bytes, NUL included).
const maxSocketPath = 107

// ErrServiceRunning: a live service already answers on the socket path.
var ErrServiceRunning = errors.New("another cbfs service is listening")

func checkSocketPath(path string) error {
	if path == "" {
		return errors.New("no socket path given")
	}
	if len(path) > maxSocketPath {
		return fmt.Errorf("socket path %s is %d bytes, longer than the %d a Unix socket allows: choose a shorter --socket", path, len(path), maxSocketPath)
	}
	return nil
}

// listenUnix listens on path with mode 0600. A socket file left by a dead
// process is replaced; one a live process answers on is refused
// (ErrServiceRunning); anything else at path is refused. The socket is
// created in a private (0700) temporary folder next to path, chmodded, and
// hard-linked into place, so it is never reachable with a wider mode, and
// two services racing for one path cannot both win.
func listenUnix(path string) (*net.UnixListener, os.FileInfo, error) {
	if err := checkSocketPath(path); err != nil {
		return nil, nil, err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, fmt.Errorf("create socket folder: %w", err)
	}
	if err := clearStaleSocket(path); err != nil {
		return nil, nil, err
	}
	tmpDir, err := os.MkdirTemp(dir, ".s")
	if err != nil {
		return nil, nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	defer os.RemoveAll(tmpDir)
	tmp := filepath.Join(tmpDir, "s")
	if len(tmp) > maxSocketPath {
		// Not enough room for the private folder: bind in place; the
		// socket exists with the umask's mode until the chmod below.
		tmp = ""
	}
	bindAt := path
	if tmp != "" {
		bindAt = tmp
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: bindAt, Net: "unix"})
	if err != nil {
		return nil, nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	ln.SetUnlinkOnClose(false)
	fail := func(err error) (*net.UnixListener, os.FileInfo, error) {
		ln.Close()
		if tmp == "" {
			os.Remove(path)
		}
		return nil, nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	if err := os.Chmod(bindAt, 0o600); err != nil {
		return fail(err)
	}
	if tmp != "" {
		if err := os.Link(tmp, path); err != nil {
			if errors.Is(err, os.ErrExist) {
				return fail(fmt.Errorf("%w: %s appeared while starting", ErrServiceRunning, path))
			}
			return fail(err)
		}
	}
	fi, err := os.Lstat(path)
	if err != nil {
		return fail(err)
	}
	return ln, fi, nil
}

// clearStaleSocket removes a socket file at path that nobody listens on.
func clearStaleSocket(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("check socket %s: %w", path, err)
	}
	if fi.Mode().Type() != os.ModeSocket {
		return fmt.Errorf("%s exists and is not a socket: refusing to replace it", path)
	}
	conn, err := net.DialTimeout("unix", path, 2*time.Second)
	if err == nil {
		conn.Close()
		return fmt.Errorf("%w on %s", ErrServiceRunning, path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("check socket %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove stale socket %s: %w", path, err)
	}
	return nil
}

// removeSocket removes path if it is still the socket described by fi
// (not one another process has put there since).
func removeSocket(path string, fi os.FileInfo) error {
	cur, err := os.Lstat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("remove socket %s: %w", path, err)
	}
	if !os.SameFile(cur, fi) {
		return nil
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove socket %s: %w", path, err)
	}
	return nil
}
