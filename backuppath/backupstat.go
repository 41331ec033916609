package backuppath

import (
	"path/filepath"
)

// ReadBackupStat reads backupstat.
func (p *Path) ReadBackupStat() (*BackupStat, error) {
	var s BackupStat
	if err := p.decodeFile(BackupStatFile, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// WriteBackupStat replaces backupstat.
func (p *Path) WriteBackupStat(s *BackupStat) error {
	return p.writeJSON(filepath.Join(p.Root, BackupStatFile), s)
}
