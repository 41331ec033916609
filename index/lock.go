package index

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/cbfs/cbfs/internal/pathlock"
)

// lockFile takes the index's lock, dbPath+lockSuffix (pathlock.Take: an
// exclusive flock naming its holder). flock locks belong to the open file,
// so a second Open of the same index in this very process is refused too.
func lockFile(dbPath string) (*pathlock.Lock, error) {
	path := dbPath + lockSuffix
	l, err := pathlock.Take(path, "index")
	var held *pathlock.HeldError
	if errors.As(err, &held) {
		who := "another cbfs process"
		if held.Holder.PID > 0 {
			who += " (pid " + strconv.Itoa(held.Holder.PID) + ")"
		}
		return nil, fmt.Errorf("%s: %w: %s is using it (lock %s held); stop it, or give this mount its own index with --index", dbPath, ErrLocked, who, path)
	}
	if err != nil {
		return nil, fmt.Errorf("lock index %s: %w", path, err)
	}
	return l, nil
}

// lockSuffix is appended to the index file's name for its lock file.
const lockSuffix = ".lock"

func unlockFile(l *pathlock.Lock) error { return l.Release() }
