// Command cbfs mounts a Carbonio Backup Path read-only (cbfs mount) so it
// can be browsed with ls, cp, grep, a file manager or a mail client. See
// package fusefs for the tree and SPEC.md for the contract.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/alecthomas/kong"

	"github.com/cbfs/cbfs/ctl"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = ""

// Globals are the flags every command takes.
type Globals struct {
	Debug bool `help:"Log every FUSE request and reply on stderr."`
}

// CLI is the command line.
type CLI struct {
	Globals
	Mount   MountCmd   `cmd:"" help:"Mount a Backup Path read-only and stay in the foreground until unmounted (SIGINT/SIGTERM unmount)."`
	Serve   ServeCmd   `cmd:"" help:"Run the backup service of one mail server: operation queue, scheduled scans and purges, cbctl's socket."`
	Version VersionCmd `cmd:"" help:"Print the version."`
}

// VersionCmd prints the version.
type VersionCmd struct{}

// Run prints the version.
func (VersionCmd) Run(ctx context.Context) error {
	fmt.Println("cbfs", versionString())
	return nil
}

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		rev, dirty := "", ""
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					dirty = "-dirty"
				}
			}
		}
		if rev != "" {
			if len(rev) > 12 {
				rev = rev[:12]
			}
			return rev + dirty
		}
		if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			return bi.Main.Version
		}
	}
	return "dev"
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Backed-up mail is private: the mount's index too (serve applies its
	// own --umask).
	syscall.Umask(0o077)
	var cli CLI
	k := kong.Parse(&cli,
		kong.Name("cbfs"),
		kong.Description("Mount a Carbonio Backup Path read-only, or run the backup service that writes one."),
		kong.Configuration(ctl.JSONLoader),
		kong.UsageOnError(),
		kong.BindTo(ctx, (*context.Context)(nil)),
		kong.Bind(&cli.Globals),
	)
	if err := k.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "cbfs: %v\n", err)
		stop()
		os.Exit(1)
	}
}
