package ctl

import (
	"context"
	"errors"
	"path/filepath"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/internal/cli"
)

// getBackupInfoCmd is "backup getBackupInfo".
type getBackupInfoCmd struct {
	Path string `arg:"" optional:"" name:"backup_path" help:"The Backup Path, as backup_path PATH (Carbonio's reference example glues it to the verb: getBackupInfo/opt/zextras/backup/zextras/, which works too)."`
}

// Help is the long help of getBackupInfo.
func (c *getBackupInfoCmd) Help() string {
	return `Prints backupstat (server id, hostname, first run, last scan; dates in the zone of TZ, UTC when unset) and counts: accounts, item files, blob files, configuration backups, customizations archives and map files. Nothing is decompressed.`
}

// backupInfoOut is getBackupInfo's JSON output.
type backupInfoOut struct {
	Root           string                 `json:"backupPath"`
	RootFrom       string                 `json:"backupPathFrom"` // "given" (backup_path / --backup-path), or which default (Globals.RootFrom)
	BackupStat     *backuppath.BackupStat `json:"backupstat,omitempty"`
	BackupStatErr  string                 `json:"backupstatError,omitempty"`
	Accounts       int                    `json:"accounts"`
	Items          int                    `json:"items"`
	Blobs          int                    `json:"blobs"`
	OtherBlobFiles int                    `json:"otherBlobFiles"`     // files under items/ not named by a digest
	Blobless       bool                   `json:"blobless,omitempty"` // no items/: metadata only (blobless mode, or blobs on external storage)
	Configs        int                    `json:"configBackups"`
	Customizations int                    `json:"customizations"`
	MapFiles       int                    `json:"mapFiles"`
}

func (c *getBackupInfoCmd) Run(ctx context.Context, g *Globals) error {
	if c.Path != "" {
		if g.BackupPath != "" && filepath.Clean(g.BackupPath) != filepath.Clean(c.Path) {
			return cli.Usagef("two Backup Paths given: %s and backup_path %s", c.Path, g.BackupPath)
		}
		g.BackupPath = c.Path
	}
	p, err := g.Path()
	if err != nil {
		return err
	}
	out := backupInfoOut{Root: p.Root, RootFrom: g.RootFrom(), Blobless: p.Blobless()}
	if st, err := p.ReadBackupStat(); err == nil {
		out.BackupStat = st
	} else if errors.Is(err, blob.ErrMissing) {
		out.BackupStatErr = "missing"
	} else {
		out.BackupStatErr = errReason(err)
	}
	ids, err := p.AccountIDs()
	if err != nil {
		return err
	}
	out.Accounts = len(ids)
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return err
		}
		files, _, err := p.ItemFiles(id)
		if err != nil {
			g.warnf("account %s: %v", id, err)
		}
		out.Items += len(files)
	}
	err = p.Blobs.Walk(ctx, func(name string, d blob.Digest, ok bool) error {
		if ok {
			out.Blobs++
		} else {
			out.OtherBlobFiles++
		}
		return nil
	})
	if err != nil {
		return err
	}
	sf, err := p.ServerFiles()
	if err != nil {
		return err
	}
	for _, f := range sf {
		switch f.Kind {
		case backuppath.KindConfig:
			out.Configs++
		case backuppath.KindCustomizations:
			out.Customizations++
		}
	}
	maps, err := p.MapFiles()
	if err != nil {
		return err
	}
	out.MapFiles = len(maps)
	if g.JSON {
		return printJSON(g.Stdout, out)
	}
	w := g.Stdout
	root := out.Root
	if out.RootFrom != "given" {
		root += " (" + out.RootFrom + ")"
	}
	kv(w, configIndent, "backup path", root)
	if st := out.BackupStat; st != nil {
		kv(w, configIndent, "server id", st.ServerID)
		kv(w, configIndent, "hostname", orDash(st.Hostname))
		kv(w, configIndent, "first run date", formatDate(st.FirstRun.Time()))
		kv(w, configIndent, "last scan date", formatDate(st.LastScan.Time()))
		if st.LastPurge != 0 {
			kv(w, configIndent, "last purge date", formatDate(st.LastPurge.Time()))
		}
		if st.FormatVersion != 0 {
			kv(w, configIndent, "format version", st.FormatVersion)
		}
	} else {
		kv(w, configIndent, "backupstat", out.BackupStatErr)
	}
	kv(w, configIndent, "accounts", out.Accounts)
	kv(w, configIndent, "items", out.Items)
	if out.Blobless {
		kv(w, configIndent, "blobs", "none: no items/ folder (blobless, or blobs on external storage); metadata only")
	} else {
		kv(w, configIndent, "blobs", out.Blobs)
	}
	if out.OtherBlobFiles > 0 {
		kv(w, configIndent, "other files under items/", out.OtherBlobFiles)
	}
	kv(w, configIndent, "config backups", out.Configs)
	kv(w, configIndent, "customizations", out.Customizations)
	kv(w, configIndent, "map files", out.MapFiles)
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
