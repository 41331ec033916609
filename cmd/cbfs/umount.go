package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
)

// umountCmd is `cbfs umount MOUNTPOINT`.
type umountCmd struct {
	Mountpoint string `arg:"" name:"MOUNTPOINT" help:"A cbfs mount (see cbfs mounts)."`
	Lazy       bool   `short:"z" help:"Detach it now even if it is busy; it goes once the last process using it lets go (fusermount3 -u -z)."`
}

// Help is the long help of umount.
func (umountCmd) Help() string {
	return `Unmounts a cbfs mount (fusermount3 -u, or umount(2) as root when fusermount3 is missing); the mount's process then exits. Refuses a folder that is not a cbfs mount. A mount in use (a process has a file open in it, or its working folder) is refused with how to find the process; --lazy detaches it anyway. A stale mount (its process died) is cleared.`
}

// Run unmounts.
func (c *umountCmd) Run(ctx context.Context) error {
	m, err := findCbfsMount(c.Mountpoint)
	if err != nil {
		return err
	}
	mp := m.Mountpoint
	args := []string{"-u"}
	if c.Lazy {
		args = append(args, "-z")
	}
	args = append(args, mp)
	var said bytes.Buffer
	var runErr error
	if _, lerr := exec.LookPath("fusermount3"); lerr == nil {
		cmd := exec.CommandContext(ctx, "fusermount3", args...)
		cmd.Stderr, cmd.Stdout = &said, &said
		runErr = cmd.Run()
	} else if os.Geteuid() == 0 {
		flags := 0
		if c.Lazy {
			flags = syscall.MNT_DETACH
		}
		runErr = syscall.Unmount(mp, flags)
		if runErr != nil {
			said.WriteString(runErr.Error())
		}
	} else {
		return fmt.Errorf("umount %s: fusermount3 not found (install fuse3)", mp)
	}
	if runErr == nil {
		fmt.Printf("unmounted %s\n", mp)
		return nil
	}
	msg := strings.TrimSpace(said.String())
	if strings.Contains(msg, "busy") || errors.Is(runErr, syscall.EBUSY) {
		return fmt.Errorf("umount %s: in use (a process has a file open or its working folder inside: see fuser -vm %s); cbfs umount --lazy %s detaches it now", mp, mp, mp)
	}
	if msg == "" {
		msg = runErr.Error()
	}
	return fmt.Errorf("umount %s: %s", mp, msg)
}
