// Command cbfs mounts a Carbonio Backup Path read-only (cbfs mount) so it
// can be browsed with ls, cp, grep, a file manager or a mail client. See
// package fusefs for the tree and SPEC.md for the contract.
package main

import (
	"context"
	"errors"
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

// usageError is a bad command line: exit status 2, as cbctl's.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

func main() {
	// SIGHUP too: a mount started from a terminal that goes away (an SSH
	// session ending) unmounts cleanly instead of leaving a dead mount.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	// Backed-up mail is private: the mount's index too (serve applies its
	// own --umask).
	syscall.Umask(0o077)
	var cli CLI
	site, err := ctl.SiteConfigPaths()
	if err != nil {
		fmt.Fprintf(os.Stderr, "cbfs: error: %v\n", err)
		os.Exit(2)
	}
	parser, err := newParser(&cli, ctl.Configuration(site...),
		kong.BindTo(ctx, (*context.Context)(nil)),
		kong.Bind(&cli.Globals),
	)
	if err != nil {
		fmt.Fprintf(os.Stderr, "cbfs: %v\n", err)
		os.Exit(1)
	}
	args := os.Args[1:]
	if rewritten, ok, err := fstabArgs(args, []string{"mount", "serve", "version", "help"}); ok {
		if err != nil {
			exit(stop, &usageError{err.Error()})
		}
		args = rewritten
	}
	k, err := parser.Parse(args)
	if err != nil {
		exit(stop, &usageError{err.Error() + " (see cbfs --help)"})
	}
	exit(stop, k.Run())
}

// newParser is cbfs's kong parser of cli: main's, and the help goldens'
// (help_test.go), which must render what a user sees.
func newParser(cli *CLI, options ...kong.Option) (*kong.Kong, error) {
	return kong.New(cli, append([]kong.Option{
		kong.Name("cbfs"),
		kong.Description("Mount a Carbonio Backup Path read-only, or run the backup service that writes one. As a mount helper (/etc/fstab, mount -t fuse.cbfs): cbfs BACKUP_PATH MOUNTPOINT -o OPTIONS."),
	}, options...)...)
}

// exit ends the process: status 0, 2 for a usage error, 1 for any other
// error, which is said on one line (and to a --daemon parent waiting).
func exit(stop func(), err error) {
	stop()
	if err == nil {
		os.Exit(0)
	}
	daemonFailed(err)
	fmt.Fprintf(os.Stderr, "cbfs: error: %v\n", err)
	var ue *usageError
	if errors.As(err, &ue) {
		os.Exit(2)
	}
	os.Exit(1)
}
