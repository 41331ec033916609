package confined

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// # Acting as a folder's owner
//
// cbfs runs as root, but a user's Maildir belongs to that user (or to the
// mail system's user): what root reads there or writes there must be what
// the owner could read or write, no more, as Dovecot's own delivery does.
// Owner.Do switches the calling thread's file-system identity (fsuid,
// fsgid, and the supplementary groups reduced to the owner's group) to the
// owner for the duration of one function: the kernel then checks every
// open, mkdir, rename and unlink against the owner's rights, drops root's
// CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH and CAP_FOWNER for it, and gives
// what is created the owner's uid and gid.
//
// Linux keeps credentials per thread: Do locks its goroutine to its OS
// thread, switches, runs fn, and switches back before unlocking, so no
// other goroutine ever runs with the owner's identity and fn's own
// identity cannot leak into another goroutine. fn must therefore do its
// system calls itself, in the calling goroutine: a goroutine fn starts
// runs as the process.
//
// A descriptor opened inside Do keeps the rights it was opened with:
// reading or writing it afterwards, from any goroutine, is fine, and is how
// callers keep the switched section short.

// Owner is a user and group files are read and written as.
type Owner struct {
	UID, GID uint32
}

// ErrIdentity is wrapped when the thread could not take the owner's
// identity (the process lacks CAP_SETUID or CAP_SETGID): the work is not
// done rather than done with root's rights.
var ErrIdentity = errors.New("cannot act as the owner")

func (o Owner) String() string { return fmt.Sprintf("uid %d gid %d", o.UID, o.GID) }

// OwnerOf is the owner of the file fi describes.
func OwnerOf(fi fs.FileInfo) Owner {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return Owner{UID: st.Uid, GID: st.Gid}
	}
	return Process()
}

// Owner is the owner of the folder d.
func (d *Dir) Owner() (Owner, error) {
	defer runtime.KeepAlive(d)
	var st unix.Stat_t
	if err := fstat(d.fd, &st); err != nil {
		return Owner{}, &fs.PathError{Op: "stat", Path: d.path, Err: err}
	}
	return Owner{UID: st.Uid, GID: st.Gid}, nil
}

var (
	procUID    = uint32(os.Geteuid())
	procGID    = uint32(os.Getegid())
	procGroups = func() []uint32 {
		gs, _ := unix.Getgroups()
		out := make([]uint32, len(gs))
		for i, g := range gs {
			out[i] = uint32(g)
		}
		return out
	}()
)

// Process is the identity the process acts with.
func Process() Owner { return Owner{UID: procUID, GID: procGID} }

// Switches reports whether Do changes identity for o: only a root process
// acting for another user does. (A process that is not root already has no
// more than its own rights; the owner root needs no switch.)
func (o Owner) Switches() bool { return procUID == 0 && o.UID != 0 }

// Do runs fn with the file-system identity of o (see the package comment)
// and returns its error. When no switch is needed (Switches) fn runs as it
// is. If the identity cannot be taken, fn does not run and the error wraps
// ErrIdentity.
func (o Owner) Do(fn func() error) error {
	if !o.Switches() {
		return fn()
	}
	runtime.LockOSThread()
	if err := become(o); err != nil {
		mustRevert()
		runtime.UnlockOSThread()
		return fmt.Errorf("%w %s: %w", ErrIdentity, o, err)
	}
	defer func() {
		mustRevert()
		runtime.UnlockOSThread()
	}()
	return fn()
}

// become sets the thread's supplementary groups to o's group, then its
// fsgid and fsuid, and checks that each took. (Raw system calls: the
// syscall package's Setgroups changes every thread of the process.)
func become(o Owner) error {
	g := o.GID
	if _, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, 1, uintptr(unsafe.Pointer(&g)), 0); e != 0 {
		return fmt.Errorf("setgroups: %w", e)
	}
	unix.RawSyscall(unix.SYS_SETFSGID, uintptr(o.GID), 0, 0)
	unix.RawSyscall(unix.SYS_SETFSUID, uintptr(o.UID), 0, 0)
	if got := currentFsgid(); got != o.GID {
		return fmt.Errorf("setfsgid %d: still %d", o.GID, got)
	}
	if got := currentFsuid(); got != o.UID {
		return fmt.Errorf("setfsuid %d: still %d", o.UID, got)
	}
	return nil
}

// mustRevert gives the thread back the process's identity. It cannot fail
// for a process that could switch (fsuid 0 keeps CAP_SETUID); if it did,
// the thread would go on with another user's identity, so the process
// stops instead.
func mustRevert() {
	unix.RawSyscall(unix.SYS_SETFSUID, uintptr(procUID), 0, 0)
	unix.RawSyscall(unix.SYS_SETFSGID, uintptr(procGID), 0, 0)
	var p unsafe.Pointer
	if len(procGroups) > 0 {
		p = unsafe.Pointer(&procGroups[0])
	}
	_, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(procGroups)), uintptr(p), 0)
	if e != 0 || currentFsuid() != procUID || currentFsgid() != procGID {
		panic(fmt.Sprintf("confined: cannot return to the process's identity (setgroups: %v)", e))
	}
}

// currentFsuid asks for the thread's fsuid: setfsuid with an invalid id
// changes nothing and returns the current one.
func currentFsuid() uint32 {
	r, _, _ := unix.RawSyscall(unix.SYS_SETFSUID, uintptr(^uint32(0)), 0, 0)
	return uint32(r)
}

func currentFsgid() uint32 {
	r, _, _ := unix.RawSyscall(unix.SYS_SETFSGID, uintptr(^uint32(0)), 0, 0)
	return uint32(r)
}
