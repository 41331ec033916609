package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
)

// --daemon: the process re-executes itself, detached (a new session, no
// terminal, stdin from /dev/null, stdout and stderr to --log-file or
// nowhere), and waits until the child says, on a pipe of its own (fd 3),
// either the "mounted ..." line or why it failed. So the parent's exit
// status tells whether the mount is up, which is what mount(8) (through
// mount.fuse3 for /etc/fstab) and systemd's Type=forking need; the child
// then serves until it is unmounted or signalled.

// daemonEnv marks the child; its value is the ready pipe's fd.
const daemonEnv = "CBFS_DAEMON_READY_FD"

func isDaemonChild() bool { return os.Getenv(daemonEnv) != "" }

// readyPipe is the child's end of the ready pipe (nil outside a child).
var readyPipe = func() *os.File {
	if !isDaemonChild() {
		return nil
	}
	return os.NewFile(3, "ready")
}()

// daemonReady tells the waiting parent that the mount is up.
func daemonReady(line string) {
	if readyPipe != nil {
		fmt.Fprintln(readyPipe, "ok "+line)
		readyPipe.Close()
		readyPipe = nil
	}
}

// daemonFailed tells the waiting parent why the child gives up.
func daemonFailed(err error) {
	if readyPipe != nil {
		fmt.Fprintln(readyPipe, "error "+strings.ReplaceAll(err.Error(), "\n", " "))
		readyPipe.Close()
		readyPipe = nil
	}
}

// daemonize starts the detached child with this process's arguments and
// returns once it is mounted (nil, after printing its "mounted" line) or
// has failed (its error).
func daemonize(logFile string) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("--daemon: %w", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("--daemon: %w", err)
	}
	defer r.Close()
	out, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if logFile != "" {
		out, err = os.OpenFile(logFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	}
	if err != nil {
		w.Close()
		return fmt.Errorf("--log-file: %w", err)
	}
	defer out.Close()
	cmd := exec.Command(exe, os.Args[1:]...)
	cmd.Env = append(os.Environ(), daemonEnv+"=3")
	cmd.Stdout, cmd.Stderr = out, out
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		return fmt.Errorf("--daemon: %w", err)
	}
	w.Close() // the child holds the write end now
	line, _ := bufio.NewReader(r).ReadString('\n')
	line = strings.TrimSuffix(line, "\n")
	switch {
	case strings.HasPrefix(line, "ok "):
		fmt.Println(strings.TrimPrefix(line, "ok "))
		return cmd.Process.Release()
	case strings.HasPrefix(line, "error "):
		cmd.Wait()
		return errors.New(strings.TrimPrefix(line, "error "))
	}
	err = cmd.Wait()
	return fmt.Errorf("--daemon: the mount process ended before mounting (%v)", err)
}
