package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"text/tabwriter"

	"golang.org/x/sys/unix"

	"github.com/cbfs/cbfs/fusefs"
)

// mountsCmd is `cbfs mounts`: the cbfs mounts of this system.
type mountsCmd struct{}

// Help is the long help of mounts.
func (mountsCmd) Help() string {
	return `Lists the cbfs mounts (type fuse.cbfs in /proc/self/mountinfo): the mountpoint, the Backup Path, the index file, since when it is mounted (UTC), the process serving it and how often it looks for new backups, as each mount says in the user.cbfs.* extended attributes of its root (getfattr -d MOUNTPOINT). A mount whose process died shows as stale: clear it with cbfs umount.`
}

// Run prints the table.
func (mountsCmd) Run(ctx context.Context) error {
	ms, err := cbfsMounts()
	if err != nil {
		return err
	}
	if len(ms) == 0 {
		fmt.Println("no cbfs mounts")
		return nil
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "MOUNTPOINT\tBACKUP PATH\tINDEX\tSINCE\tPID\tREFRESH")
	for _, m := range ms {
		a := m.attrs()
		if a.err != nil {
			fmt.Fprintf(w, "%s\t%s\t-\t-\t-\t%s\n", m.Mountpoint, m.Source, a.err)
			continue
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", m.Mountpoint, or(a.source, m.Source), or(a.index, "-"), or(a.since, "-"), or(a.pid, "-"), or(a.refreshEvery, "-"))
	}
	return w.Flush()
}

func or(s, dflt string) string {
	if s == "" {
		return dflt
	}
	return s
}

// cbfsMount is one fuse.cbfs line of /proc/self/mountinfo.
type cbfsMount struct {
	Mountpoint string
	Source     string // the mount's FsName, cbfs:<Backup Path root>
}

// cbfsMounts lists the fuse.cbfs mounts of this mount namespace.
func cbfsMounts() ([]cbfsMount, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("list mounts: %w", err)
	}
	defer f.Close()
	var out []cbfsMount
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// id parent major:minor root mountpoint options [optional...] - fstype source superoptions
		fields := strings.Fields(sc.Text())
		sep := -1
		for i, x := range fields {
			if x == "-" {
				sep = i
				break
			}
		}
		if sep < 5 || sep+2 >= len(fields) || fields[sep+1] != "fuse.cbfs" {
			continue
		}
		out = append(out, cbfsMount{Mountpoint: unescapeMountinfo(fields[4]), Source: unescapeMountinfo(fields[sep+2])})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("list mounts: %w", err)
	}
	return out, nil
}

// findCbfsMount returns the cbfs mount at mp (made absolute), or an error
// saying it is none.
func findCbfsMount(mp string) (cbfsMount, error) {
	abs := absPath(mp)
	ms, err := cbfsMounts()
	if err != nil {
		return cbfsMount{}, err
	}
	for _, m := range ms {
		if m.Mountpoint == abs {
			return m, nil
		}
	}
	if isMountpoint(abs) {
		return cbfsMount{}, fmt.Errorf("%s is mounted, but not by cbfs (see cbfs mounts)", mp)
	}
	return cbfsMount{}, fmt.Errorf("%s is not mounted (see cbfs mounts)", mp)
}

// mountAttrs are what a mount says of itself.
type mountAttrs struct {
	source, index, since, pid, refreshEvery string
	err                                     error // the mount does not answer
}

func (m cbfsMount) attrs() mountAttrs {
	var a mountAttrs
	get := func(name string) string {
		v, err := getxattr(m.Mountpoint, name)
		if err != nil && a.err == nil && !errors.Is(err, unix.ENODATA) {
			a.err = err
		}
		return v
	}
	a.source = get(fusefs.XattrSource)
	a.index = get(fusefs.XattrIndex)
	a.since = get(fusefs.XattrSince)
	a.pid = get(fusefs.XattrPID)
	a.refreshEvery = get(fusefs.XattrRefreshEvery)
	if errors.Is(a.err, syscall.ENOTCONN) || errors.Is(a.err, syscall.ECONNABORTED) {
		a.err = errors.New("stale (its process died): cbfs umount " + m.Mountpoint)
	}
	return a
}

// getxattr reads one extended attribute of path (no size query first: a
// value is at most 4 KiB).
func getxattr(path, name string) (string, error) {
	buf := make([]byte, 4096)
	n, err := unix.Getxattr(path, name, buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}
