package pathlock

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMain lets the test binary act as a second process holding the lock
// (PATHLOCK_HOLD=<root>): it takes it, says "locked" and holds it until
// its stdin closes.
func TestMain(m *testing.M) {
	if root := os.Getenv("PATHLOCK_HOLD"); root != "" {
		os.MkdirAll(root, 0o700)
		l, err := Acquire(root, "doSmartScan")
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("locked")
		io.Copy(io.Discard, os.Stdin)
		l.Release()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestSecondWriterInProcessFails(t *testing.T) {
	root := t.TempDir()
	l, err := Acquire(root, "doPurge")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Acquire(root, "doSmartScan")
	var be *BusyError
	if !errors.As(err, &be) || !errors.Is(err, ErrBusy) {
		t.Fatalf("second Acquire: %v, want a *BusyError", err)
	}
	want := fmt.Sprintf("backup path %s is being written by pid %d (doPurge); wait for it or stop it", root, os.Getpid())
	if err.Error() != want {
		t.Errorf("message\n got %q\nwant %q", err.Error(), want)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	l2, err := Acquire(root, "doSmartScan")
	if err != nil {
		t.Fatalf("after Release: %v", err)
	}
	l2.Release()
	l2.Release() // twice is fine
}

func TestSecondWriterOtherProcessFails(t *testing.T) {
	root := filepath.Join(t.TempDir(), "bp")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "PATHLOCK_HOLD="+root)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer stdin.Close()
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if strings.TrimSpace(line) != "locked" {
		t.Fatalf("helper said %q", line)
	}
	_, err = Acquire(root, "doPurge")
	want := fmt.Sprintf("backup path %s is being written by pid %d (doSmartScan); wait for it or stop it", root, cmd.Process.Pid)
	if err == nil || err.Error() != want {
		t.Fatalf("Acquire while another process holds it: %v\nwant %s", err, want)
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	l, err := Acquire(root, "doPurge")
	if err != nil {
		t.Fatalf("after the holder exited: %v", err)
	}
	l.Release()
}
