package cli

// DefaultBackupPaths are Carbonio's default Backup Paths: its
// documentation names the first, its examples the second. With no
// --backup-path, cbctl reads the first that exists (the first if neither
// does, for a scan that creates it); cbfs serve writes the second
// (ServeBackupPath).
var DefaultBackupPaths = []string{DefaultBackupPath, ServeBackupPath}

// DefaultBackupPath is Carbonio's documented default Backup Path, the
// first of DefaultBackupPaths.
const DefaultBackupPath = "/opt/zextras/backup/zextras"

// ServeBackupPath is cbfs serve's default --backup-path: the path of
// Carbonio's examples, the second of DefaultBackupPaths.
const ServeBackupPath = "/opt/zextras/backup/ng"
