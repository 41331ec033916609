package cli

import "os"

// DefaultBackupPaths are Carbonio's default Backup Paths: its
// documentation names the first, its examples the second. With no
// --backup-path, cbctl and cbfs serve use the same one, ResolveBackupPath:
// the first that exists, the first if neither does (which a first scan
// creates).
var DefaultBackupPaths = []string{DefaultBackupPath, ServeBackupPath}

// DefaultBackupPath is Carbonio's documented default Backup Path, the
// first of DefaultBackupPaths.
const DefaultBackupPath = "/opt/zextras/backup/zextras"

// ServeBackupPath is the path of Carbonio's examples, the second of
// DefaultBackupPaths (cbfs serve's own default before both commands
// shared ResolveBackupPath).
const ServeBackupPath = "/opt/zextras/backup/ng"

// DefaultBackupPathHelp says ResolveBackupPath's rule in help texts.
const DefaultBackupPathHelp = DefaultBackupPath + ", else " + ServeBackupPath + ", whichever exists"

// ResolveBackupPath is the default Backup Path of cbctl and cbfs serve,
// one rule for both: the first of DefaultBackupPaths that is a folder,
// else the first.
func ResolveBackupPath() string {
	for _, p := range DefaultBackupPaths {
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			return p
		}
	}
	return DefaultBackupPaths[0]
}
