package main

import (
	"errors"
	"os/user"
	"strconv"

	"github.com/cbfs/cbfs/internal/cli"
)

// lookupID resolves --uid or --gid: "" is -1 (the mounting process's), a
// number is taken as it is (an id need not have a name), anything else is
// looked up as a user or group name (/etc/passwd, /etc/group, NSS).
func lookupID(flag, s string, lookup func(string) (string, error)) (int, error) {
	if s == "" {
		return -1, nil
	}
	if n, err := strconv.ParseUint(s, 10, 32); err == nil {
		return int(n), nil
	}
	id, err := lookup(s)
	if err != nil {
		var uerr user.UnknownUserError
		var gerr user.UnknownGroupError
		if errors.As(err, &uerr) || errors.As(err, &gerr) {
			return 0, cli.Usagef("--%s %q: no such %s (want a name or a number)", flag, s, map[string]string{"uid": "user", "gid": "group"}[flag])
		}
		return 0, cli.Usagef("--%s %q: %w", flag, s, err)
	}
	n, err := strconv.ParseUint(id, 10, 32)
	if err != nil {
		return 0, cli.Usagef("--%s %q: id %q is not a number", flag, s, id)
	}
	return int(n), nil
}

// lookupUser and lookupGroup are the lookups of --uid and --gid.
func lookupUser(name string) (string, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return "", err
	}
	return u.Uid, nil
}

func lookupGroup(name string) (string, error) {
	g, err := user.LookupGroup(name)
	if err != nil {
		return "", err
	}
	return g.Gid, nil
}
