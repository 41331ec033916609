// Package testuser makes real, unprivileged local users for tests of what
// cbfs does, as root, in folders such a user controls: the user plants
// symbolic links, FIFOs and swaps in their own Maildir or export folder,
// and the test checks that cbfs did no harm.
//
// New runs useradd (a user of its own group, no home folder made, no
// login shell) and removes the user with userdel when the test ends. The
// tests of a package run in one process, but packages run in parallel:
// useradd and userdel take /etc/passwd's lock themselves, and New retries
// while another holds it.
package testuser

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// User is a local user made for one test.
type User struct {
	Name     string
	UID, GID uint32
}

// New makes a user for t (skipping t when not root or without useradd).
func New(t testing.TB) User {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to make a user")
	}
	if _, err := exec.LookPath("useradd"); err != nil {
		t.Skip("no useradd")
	}
	var b [4]byte
	rand.Read(b[:])
	name := "cbfs-t-" + hex.EncodeToString(b[:])
	if out, err := retry(exec.Command("useradd", "--no-create-home", "--user-group", "--shell", "/usr/sbin/nologin", name)); err != nil {
		t.Fatalf("useradd %s: %v\n%s", name, err, out)
	}
	t.Cleanup(func() {
		if out, err := retry(exec.Command("userdel", name)); err != nil {
			t.Errorf("userdel %s: %v\n%s", name, err, out)
		}
	})
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	return User{Name: name, UID: uint32(uid), GID: uint32(gid)}
}

// retry runs cmd again while /etc/passwd is locked by another (exit 10 of
// useradd and userdel: "cannot lock /etc/passwd").
func retry(cmd *exec.Cmd) ([]byte, error) {
	for i := 0; ; i++ {
		c := exec.Command(cmd.Path, cmd.Args[1:]...)
		out, err := c.CombinedOutput()
		if err == nil || i == 50 || !bytes.Contains(out, []byte("lock")) {
			return out, err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Command is a command that runs as u (its uid, its group only).
func (u User) Command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: u.UID, Gid: u.GID, Groups: []uint32{}}}
	return cmd
}

// Sh runs a shell script as u in dir and fails t if it fails.
func (u User) Sh(t testing.TB, dir, script string) {
	t.Helper()
	cmd := u.Command("/bin/sh", "-ec", script)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("as %s in %s: %s: %v\n%s", u.Name, dir, script, err, out)
	}
}

// Own gives u every file and folder beneath (and including) path, links
// themselves (not their targets), as if u had made them.
func (u User) Own(t testing.TB, path string) {
	t.Helper()
	err := filepath.Walk(path, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, int(u.UID), int(u.GID))
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Home makes a folder u owns (mode 0755) under a temporary folder every
// user may traverse (t.TempDir's parents are 0700), removed when t ends.
func (u User) Home(t testing.TB) string {
	t.Helper()
	base, err := os.MkdirTemp("", "cbfs-user-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(base, u.Name)
	if err := os.Mkdir(home, 0o755); err != nil {
		t.Fatal(err)
	}
	u.Own(t, home)
	return home
}

// TempDir makes a folder every user may traverse (t.TempDir's parents are
// 0700, so a test user could not reach what it plants), removed when t
// ends.
func TempDir(t testing.TB, pattern string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", pattern)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Marker is prefix and random hex: text no other file holds, to look for
// where it must not show up.
func Marker(prefix string) string {
	var b [12]byte
	rand.Read(b[:])
	return prefix + "-" + hex.EncodeToString(b[:])
}
