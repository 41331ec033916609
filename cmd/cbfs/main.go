// Command cbfs mounts a Carbonio Backup Path read-only (cbfs mount) so it
// can be browsed with ls, cp, grep, a file manager or a mail client. See
// package fusefs for the tree and SPEC.md for the contract.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"

	"github.com/alecthomas/kong"

	"github.com/cbfs/cbfs/internal/cli"
)

// Globals are the flags every command takes.
type Globals struct {
	Debug bool `help:"Log every FUSE request and reply on stderr."`
}

// CLI is the command line.
type CLI struct {
	Globals
	Mount   mountCmd   `cmd:"" help:"Mount a Backup Path read-only and stay in the foreground until unmounted (SIGINT, SIGTERM and SIGHUP unmount; with --daemon, SIGHUP reopens the log file and refreshes instead)."`
	Serve   serveCmd   `cmd:"" help:"Run the backup service of one mail server: operation queue, scheduled scans and purges, cbctl's socket."`
	Refresh refreshCmd `cmd:"" help:"Make a running mount show new backups now, without unmounting."`
	Umount  umountCmd  `cmd:"" help:"Unmount a cbfs mount."`
	Mounts  mountsCmd  `cmd:"" help:"List the cbfs mounts: mountpoint, Backup Path, index, since when."`
	Cache   cacheCmd   `cmd:"" help:"Look after the index cache folder."`
	Version versionCmd `cmd:"" help:"Print the version."`
}

// versionCmd prints the version.
type versionCmd struct{}

// Run prints the version.
func (versionCmd) Run(ctx context.Context) error {
	fmt.Println("cbfs", cli.VersionString())
	return nil
}

func main() {
	// SIGINT and SIGTERM stop; SIGHUP is the command's (signals.go).
	ctx, hup, stop := signalContext()
	defer stop()
	// Backed-up mail is private: the mount's index too (serve applies its
	// own --umask).
	syscall.Umask(0o077)
	var root CLI
	site, err := cli.SiteConfigPaths()
	if err != nil {
		fmt.Fprintf(os.Stderr, "cbfs: error: %v\n", err)
		os.Exit(2)
	}
	parser, err := newParser(&root, cli.Configuration(site...),
		kong.BindTo(ctx, (*context.Context)(nil)),
		kong.Bind(&root.Globals, hup),
	)
	if err != nil {
		fmt.Fprintf(os.Stderr, "cbfs: %v\n", err)
		os.Exit(1)
	}
	args := os.Args[1:]
	if rewritten, ok, err := fstabArgs(args, []string{"mount", "serve", "refresh", "umount", "mounts", "cache", "version", "help"}); ok {
		if err != nil {
			exit(stop, &cli.UsageError{Err: err})
		}
		args = rewritten
	}
	k, err := parser.Parse(args)
	if err != nil {
		exit(stop, cli.Usagef("%w (see cbfs --help)", err))
	}
	err = k.Run()
	if err != nil && ctx.Err() != nil && errors.Is(err, context.Canceled) {
		// Ctrl-C or SIGTERM: what the user did, not "context canceled".
		daemonFailed(err)
		fmt.Fprintf(os.Stderr, "cbfs: %s: stopped\n", orSignal(signalCause(ctx)))
		stop()
		os.Exit(1)
	}
	exit(stop, err)
}

// newParser is cbfs's kong parser of cli: main's, and the help goldens'
// (help_test.go), which must render what a user sees.
func newParser(root *CLI, options ...kong.Option) (*kong.Kong, error) {
	return kong.New(root, append([]kong.Option{
		kong.Name("cbfs"),
		kong.Description("Mount a Carbonio Backup Path read-only, or run the backup service that writes one. As a mount helper (/etc/fstab, mount -t fuse.cbfs): cbfs BACKUP_PATH MOUNTPOINT -o OPTIONS."),
		kong.Vars{"default_backup_path": cli.DefaultBackupPathHelp},
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
	if cli.IsUsage(err) {
		os.Exit(2)
	}
	os.Exit(1)
}
