package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cbfs/cbfs/fusefs"
)

// refreshCmd is `cbfs refresh MOUNTPOINT`.
type refreshCmd struct {
	Mountpoint string `arg:"" name:"MOUNTPOINT" help:"A running cbfs mount."`
}

// Help is the long help of refresh.
func (refreshCmd) Help() string {
	return `Tells a running mount to refresh its index from the Backup Path and show new accounts, items and states (and no longer show vanished ones) without unmounting, and waits until it has. Root or the user who mounted may do it. It reads the extended attribute user.cbfs.refresh of the mount's root (the mount is read-only, so nothing can be written to it), which the mount answers with what the refresh found. A mount also looks on its own (--refresh-every), a --daemon mount refreshes on SIGHUP, and cbfs serve tells the mount holding its index after each operation that wrote the Backup Path.`
}

// Run refreshes the mount and prints what it found.
func (c *refreshCmd) Run(ctx context.Context) error {
	m, err := findCbfsMount(c.Mountpoint)
	if err != nil {
		return err
	}
	line, err := refreshMount(m.Mountpoint)
	if err != nil {
		return err
	}
	fmt.Printf("%s: %s\n", m.Mountpoint, line)
	return nil
}

// refreshMount has the cbfs mount at mp refresh, and returns the line it
// answers.
func refreshMount(mp string) (string, error) {
	line, err := getxattr(mp, fusefs.XattrRefresh)
	switch {
	case errors.Is(err, unix.ENODATA), errors.Is(err, unix.ENOTSUP):
		return "", fmt.Errorf("refresh %s: this mount's cbfs cannot refresh (an older version): unmount and mount it again", mp)
	case errors.Is(err, syscall.EPERM), errors.Is(err, syscall.EACCES):
		return "", fmt.Errorf("refresh %s: only root or the user who mounted it may refresh it", mp)
	case errors.Is(err, syscall.ENOTCONN), errors.Is(err, syscall.ECONNABORTED):
		return "", fmt.Errorf("refresh %s: stale mount (its process died): cbfs umount %s, then mount again", mp, mp)
	case err != nil:
		return "", fmt.Errorf("refresh %s: %w", mp, err)
	}
	if msg, bad := strings.CutPrefix(line, "error: "); bad {
		return "", fmt.Errorf("refresh %s: %s (the mount shows what it showed)", mp, msg)
	}
	return line, nil
}

// tellWait is how long the service waits for a mount's refresh before it
// goes on (the refresh goes on too).
const tellWait = 2 * time.Minute

// tellMounts has every cbfs mount using the index dbPath refresh, and
// logs it: cbfs serve's way to keep a mount current when the mount holds
// the index it would refresh itself.
func tellMounts(dbPath string, log *slog.Logger) {
	ms, err := cbfsMounts()
	if err != nil {
		log.Warn("index in use by a mount: cannot find the mount to tell", "index", dbPath, "err", err)
		return
	}
	told := 0
	for _, m := range ms {
		if ix, err := getxattr(m.Mountpoint, fusefs.XattrIndex); err != nil || ix != dbPath {
			continue
		}
		told++
		log.Info("index in use by a mount: telling it to refresh", "index", dbPath, "mountpoint", m.Mountpoint)
		done := make(chan struct{})
		go func() {
			defer close(done)
			line, err := refreshMount(m.Mountpoint)
			if err != nil {
				log.Warn("mount not refreshed", "mountpoint", m.Mountpoint, "err", err)
				return
			}
			log.Info("mount refreshed", "mountpoint", m.Mountpoint, "result", line)
		}()
		select {
		case <-done:
		case <-time.After(tellWait):
			log.Warn("mount still refreshing; going on", "mountpoint", m.Mountpoint, "waited", tellWait)
		}
	}
	if told == 0 {
		log.Info("index in use by a mount not visible here: not refreshed now (the mount looks for changes itself with --refresh-every; cbfs refresh MOUNTPOINT does it at once)", "index", dbPath)
	}
}
