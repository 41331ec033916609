package scan

import (
	"fmt"
	"time"

	"github.com/cbfs/cbfs/backuppath"
)

// BackupCustomizations writes a customizations archive of paths (files or
// folders) into bp now (doBackupServerCustomizations), whether or not one
// was written today. It returns the archive's path relative to bp and the
// files that could not be read (left out of it).
func BackupCustomizations(bp *backuppath.Path, paths []string, now time.Time) (string, []string, error) {
	if len(paths) == 0 {
		return "", nil, fmt.Errorf("no configuration path to archive (--config-path)")
	}
	tgz, errs := tarGz(paths)
	rel, err := bp.WriteCustomizations(now.UTC(), tgz)
	if err != nil {
		return "", errs, err
	}
	return rel, errs, nil
}
