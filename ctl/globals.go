package ctl

import (
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/cbfs/cbfs/backuppath"
)

// DefaultBackupPath is Carbonio's default Backup Path.
const DefaultBackupPath = "/opt/zextras/backup/ng"

// Globals are the flags every command accepts, and the lazily opened things
// the commands share. Nothing is opened until a command asks for it, so
// --help and version touch nothing.
type Globals struct {
	JSON       bool   `name:"json" help:"Print machine-readable JSON instead of text."`
	BackupPath string `name:"backup-path" default:"${default_backup_path}" placeholder:"PATH" help:"The Backup Path to read; pair form: backup_path PATH (default: ${default})."`
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
		g.path, g.err = backuppath.OpenWithKeyMap(g.BackupPath, g.KeyMap)
		if g.err == nil && g.Log != nil {
			g.Log.Debug("opened backup path", "root", g.path.Root)
		}
	})
	return g.path, g.err
}

// warnf writes one warning line to stderr.
func (g *Globals) warnf(format string, args ...any) {
	fmt.Fprintf(g.Stderr, "cbctl: warning: "+format+"\n", args...)
}
