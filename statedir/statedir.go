// Package statedir is the layout of the service's state directory: every
// file cbfs keeps there is named here, and nowhere else.
//
//	<state-dir>/lock                the state lock (Lock): one service, or one
//	                                foreground cbctl, at a time
//	<state-dir>/cbfs.sock           the service's Unix socket (the default
//	                                of --socket)
//	<state-dir>/queue.db            the operation queue (service/queue)
//	<state-dir>/restore-ledger.db   what restores restored where (restore.Ledger)
//	<state-dir>/backup_config.json  the COS/account backupEnabled toggles (toggles)
//	<state-dir>/index.db            the index of cbfs serve --mount (index)
//	<state-dir>/schedules.json      schedules set with cbctl backup scheduler (operations)
//
// The directory itself is --state-dir, or Default: /var/lib/cbfs for root,
// $XDG_STATE_HOME/cbfs or ~/.local/state/cbfs otherwise.
package statedir

import (
	"fmt"
	"os"
	"path/filepath"
)

// Dir is a state directory.
type Dir string

// Default is /var/lib/cbfs for root, else $XDG_STATE_HOME/cbfs or
// ~/.local/state/cbfs.
func Default() (Dir, error) {
	if os.Geteuid() == 0 {
		return "/var/lib/cbfs", nil
	}
	if x := os.Getenv("XDG_STATE_HOME"); x != "" && filepath.IsAbs(x) {
		return Dir(filepath.Join(x, "cbfs")), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no state directory: give --state-dir (%w)", err)
	}
	return Dir(filepath.Join(home, ".local", "state", "cbfs")), nil
}

// Path is the directory's path.
func (d Dir) Path() string { return string(d) }

// Queue is the operation queue's database.
func (d Dir) Queue() string { return d.file("queue.db") }

// Ledger is the restore ledger.
func (d Dir) Ledger() string { return d.file("restore-ledger.db") }

// Toggles is the backupEnabled toggles file.
func (d Dir) Toggles() string { return d.file("backup_config.json") }

// Index is the index file of the service's own mount.
func (d Dir) Index() string { return d.file("index.db") }

// Schedules holds the schedules set with cbctl backup scheduler ... set.
func (d Dir) Schedules() string { return d.file("schedules.json") }

// LockFile is the state lock's file (see Lock).
func (d Dir) LockFile() string { return d.file("lock") }

// Socket is the service's default Unix socket.
func (d Dir) Socket() string { return d.file("cbfs.sock") }

func (d Dir) file(name string) string { return filepath.Join(string(d), name) }
