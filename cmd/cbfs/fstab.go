package main

import (
	"fmt"
	"strings"
)

// mount(8) runs a FUSE file system of type fuse.cbfs (an /etc/fstab line,
// `mount -t fuse.cbfs BACKUP_PATH MNT -o ro,allow_other`, a systemd mount
// unit) through mount.fuse3 as `cbfs BACKUP_PATH MNT -o OPTIONS`. That form
// becomes `cbfs mount BACKUP_PATH MNT --daemon` with the options mapped onto
// flags (mount(8) waits for the command to exit, so it must detach).

// fstabOptions maps a mount option onto cbfs mount flags: "" for an
// option cbfs takes as it is (read-only always; the others are the mount
// command's or the kernel's own business).
var fstabIgnored = map[string]bool{
	"ro": true, "rw": true, "defaults": true, "auto": true, "noauto": true, "user": true,
	"nouser": true, "users": true, "dev": true, "nodev": true, "suid": true, "nosuid": true,
	"exec": true, "noexec": true, "_netdev": true, "nofail": true, "default_permissions": true,
	"async": true, "atime": true, "noatime": true, "relatime": true,
}

// fstabArgs rewrites mount.fuse3's form of the command line; ok is false
// when args is not that form.
func fstabArgs(args []string, commands []string) (out []string, ok bool, err error) {
	if len(args) < 2 || strings.HasPrefix(args[0], "-") {
		return nil, false, nil
	}
	for _, c := range commands {
		if args[0] == c {
			return nil, false, nil
		}
	}
	out = []string{"mount", args[0], args[1], "--daemon"}
	rest := args[2:]
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		var opts string
		switch {
		case a == "-o" && i+1 < len(rest):
			opts = rest[i+1]
			i++
		case strings.HasPrefix(a, "-o"):
			opts = strings.TrimPrefix(a, "-o")
		case a == "-n" || a == "-v" || a == "-f" || a == "-s": // mount(8)'s own flags
			continue
		default:
			return nil, true, fmt.Errorf("unexpected argument %q (mount.fuse3 form: cbfs BACKUP_PATH MOUNTPOINT -o OPTIONS)", a)
		}
		for _, o := range strings.Split(opts, ",") {
			key, val, hasVal := strings.Cut(strings.TrimSpace(o), "=")
			switch {
			case key == "":
			case fstabIgnored[key], strings.HasPrefix(key, "x-"), key == "comment", key == "fsname", key == "subtype":
			case key == "allow_other" && !hasVal:
				out = append(out, "--allow-other")
			case key == "rebuild" && !hasVal:
				out = append(out, "--rebuild")
			case hasVal && (key == "uid" || key == "gid" || key == "umask" || key == "index" || key == "keymap"):
				out = append(out, "--"+key, val)
			case hasVal && key == "refresh":
				out = append(out, "--refresh-every", val)
			case hasVal && key == "log":
				out = append(out, "--log-file", val)
			default:
				return nil, true, fmt.Errorf("mount option %q: cbfs takes allow_other, uid=, gid=, umask=, index=, keymap=, log=, refresh=, rebuild (and ignores ro, rw, defaults, nosuid, nodev, _netdev, x-*...)", o)
			}
		}
	}
	return out, true, nil
}
