package ctl

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/internal/cli"
)

// Globals are the flags every command accepts, and the lazily opened things
// the commands share. Nothing is opened until a command asks for it, so
// --help and version touch nothing.
type Globals struct {
	JSON       bool   `name:"json" help:"Print machine-readable JSON instead of text."`
	BackupPath string `name:"backup-path" placeholder:"PATH" help:"The Backup Path to read; pair form: backup_path PATH (default: /opt/zextras/backup/zextras, else /opt/zextras/backup/ng, whichever exists)."`
	KeyMap     string `name:"keymap" placeholder:"FILE" help:"How to read item and account files of another dialect when the inference is wrong (JSON; see backup getFormatInfo)."`
	Debug      bool   `name:"debug" help:"Log debugging details to stderr."`

	Stdout io.Writer    `kong:"-"`
	Stderr io.Writer    `kong:"-"`
	Log    *slog.Logger `kong:"-"`

	once sync.Once
	path *backuppath.Path
	err  error
}

// Path opens the Backup Path named by --backup-path, once. It only reads:
// nothing is created or written, so a read-only path works.
func (g *Globals) Path() (*backuppath.Path, error) {
	g.once.Do(func() {
		g.path, g.err = backuppath.OpenWithKeyMap(g.Root(), g.KeyMap)
		if g.err != nil && !strings.Contains(g.err.Error(), "keymap") {
			how := "give it with backup_path PATH or --backup-path PATH"
			if g.BackupPath != "" {
				how = "backup_path / --backup-path"
			}
			g.err = fmt.Errorf("%w (%s)", g.err, how)
		}
		if g.err == nil && g.Log != nil {
			g.Log.Debug("opened backup path", "root", g.path.Root)
		}
	})
	return g.path, g.err
}

// Root is the Backup Path to use: --backup-path, else
// cli.ResolveBackupPath (cbfs serve's default too).
func (g *Globals) Root() string {
	if g.BackupPath != "" {
		return g.BackupPath
	}
	return cli.ResolveBackupPath()
}

// RootFrom says where Root comes from: "given" (backup_path /
// --backup-path), "Carbonio's documented default"
// (/opt/zextras/backup/zextras) or "Carbonio's examples' default; ... does
// not exist" (/opt/zextras/backup/ng).
func (g *Globals) RootFrom() string {
	switch {
	case g.BackupPath != "":
		return "given"
	case g.Root() == cli.DefaultBackupPaths[1]:
		return "Carbonio's examples' default; " + cli.DefaultBackupPaths[0] + " does not exist"
	}
	return "Carbonio's documented default"
}

// warnf writes one warning line to stderr.
func (g *Globals) warnf(format string, args ...any) {
	fmt.Fprintf(g.Stderr, "cbctl: warning: "+format+"\n", args...)
}
