package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/term"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/external"
	"github.com/cbfs/cbfs/fusefs"
	"github.com/cbfs/cbfs/index"
	"github.com/cbfs/cbfs/internal/cli"
	"github.com/cbfs/cbfs/objstore/s3"
	"github.com/cbfs/cbfs/statedir"
)

// mountCmd is `cbfs mount BACKUP_PATH MOUNTPOINT`.
type mountCmd struct {
	BackupPath string        `arg:"" name:"BACKUP_PATH" help:"The Backup Path to mount (never written to): a folder, or s3://bucket/prefix for one kept on S3-compatible storage (metadata archives fetched into --cache-dir, blobs fetched on demand)."`
	Mountpoint string        `arg:"" name:"MOUNTPOINT" help:"An empty folder outside the Backup Path."`
	Index      string        `name:"index" placeholder:"PATH" help:"Index file (default: in $XDG_CACHE_HOME/cbfs, else /var/cache/cbfs for root, ~/.cache/cbfs for others; named from the Backup Path, and kept current by cbfs serve)."`
	AllowOther bool          `name:"allow-other" help:"Let other local users use the mount: each then reads what --umask allows (with the default 077, nothing; with 022, every mailbox). A user other than root needs user_allow_other in /etc/fuse.conf."`
	UID        string        `name:"uid" placeholder:"USER" help:"Owner of every file and folder: a user name or number (default: you)."`
	GID        string        `name:"gid" placeholder:"GROUP" help:"Group of every file and folder: a group name (adm) or number (default: yours)."`
	Umask      string        `name:"umask" default:"077" placeholder:"OCTAL" help:"Permission bits to clear from every file (r--r--r--) and folder (r-xr-xr-x); the kernel enforces them. 077: only the owner reads; 027: the owner and the group (--gid)."`
	Daemon     bool          `name:"daemon" help:"Go to the background once mounted; the exit status says whether the mount is up (what /etc/fstab and systemd need)."`
	LogFile    string        `name:"log-file" placeholder:"FILE" help:"With --daemon: append the mount's messages to FILE (default: discard them)."`
	Rebuild    bool          `help:"Rebuild the index from scratch instead of refreshing it."`
	FullIndex  bool          `name:"full-index" help:"Index every account's items before mounting (default: the mount is ready once the accounts are listed; an account's items are indexed when it is first entered, and the others in the background)."`
	Refresh    time.Duration `name:"refresh-every" default:"1m" placeholder:"DURATION" help:"Look this often whether the Backup Path changed (backupstat, accounts/ and each account's folder, account_info, account_stat and items/: a few stat calls per account) and, if so, refresh the index and show the new backups without unmounting; 0 turns it off (cbfs refresh MOUNTPOINT, and SIGHUP to a --daemon mount, refresh by hand) (default: ${default})."`
	KeyMap     string        `name:"keymap" placeholder:"FILE" help:"How to read item and account files of another dialect, when the inference is wrong (JSON; see docs/FORMAT.md § 12.2 and cbctl backup getFormatInfo)."`

	CacheDir  string   `name:"cache-dir" placeholder:"DIR" help:"With s3://: where the metadata tree and the fetched blobs are kept (default: a folder named from the URL next to the index)."`
	CacheSize string   `name:"cache-size" default:"2G" placeholder:"SIZE" help:"With s3://: at most this many bytes of fetched blobs are kept (least recently used go first; K, M, G, T suffixes)."`
	S3        s3.Flags `embed:""`

	// Tuning knobs for benchmarks (see fusefs/doc.go).
	NoReadDirPlus bool `name:"no-readdirplus" hidden:"" help:"Disable READDIRPLUS."`
	S3Prefetch    int  `name:"s3-prefetch" hidden:"" default:"0" help:"With s3://: background blob fetches at most (0: the default)."`
	// S3MaxArchiveFiles lowers external.DefaultLimits.Files (tests).
	S3MaxArchiveFiles int64 `name:"s3-max-archive-files" hidden:"" help:"With s3://: refuse a metadata archive of more entries than this (0: the default)."`
}

// The mount's first line samples at most sampleAccounts accounts and
// sampleItems item files of each (Path.SampleKeys).
const (
	sampleAccounts = 16
	sampleItems    = 16
)

// Run mounts and serves until unmounted or signalled.
func (c *mountCmd) Run(ctx context.Context, g *Globals, hup *hangups) error {
	umask, err := strconv.ParseUint(c.Umask, 8, 32)
	if err != nil || umask > 0o777 {
		return cli.Usagef("--umask %q: want an octal mask such as 077", c.Umask)
	}
	uid, err := lookupID("uid", c.UID, lookupUser)
	if err != nil {
		return err
	}
	gid, err := lookupID("gid", c.GID, lookupGroup)
	if err != nil {
		return err
	}
	if c.Daemon && !isDaemonChild() {
		return daemonize(c.LogFile)
	}
	if c.Refresh < 0 {
		return cli.Usagef("--refresh-every %s: want a duration such as 1m, or 0 for never", c.Refresh)
	}
	ctx, stopOnHangup := context.WithCancelCause(ctx)
	defer stopOnHangup(nil)
	var live liveMount
	go c.hangups(ctx, hup, stopOnHangup, &live)
	start := time.Now()
	var bp *backuppath.Path
	var remote *blob.Remote
	var lazy *external.Lazy
	if s3.IsURL(c.BackupPath) {
		bp, remote, lazy, err = openS3Path(ctx, c.BackupPath, c.S3, c.CacheDir, c.CacheSize, c.KeyMap, external.Limits{Files: c.S3MaxArchiveFiles})
		if lazy != nil {
			defer lazy.Close()
		}
	} else {
		bp, err = backuppath.OpenWithKeyMap(c.BackupPath, c.KeyMap)
	}
	if err != nil {
		return err
	}
	mp, err := checkMountpoint(bp.Root, c.Mountpoint)
	if err != nil {
		return err
	}
	// First, how much of the path cbfs understands, from a sample (a
	// few hundred small files: milliseconds).
	if census, n, err := bp.SampleKeys(ctx, sampleAccounts, sampleItems); err == nil && n > 0 {
		line := census.Summary()
		if _, bad := census.Understood(); len(bad) > 0 {
			line += ": see cbctl backup getFormatInfo"
		}
		fmt.Fprintf(os.Stderr, "cbfs: %s (%d sampled item files)\n", line, n)
	}
	dbPath := c.Index
	if dbPath == "" {
		if dbPath, err = defaultIndexPath(bp.Root); err != nil {
			return err
		}
	}
	// The mount's RAM is the index shards in use (index.Options) and the
	// blob cache: a soft limit makes the collector give memory back
	// instead of letting the heap double between collections.
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(mountMemoryLimit)
	}
	var opts index.Options
	if lazy != nil {
		// An account's metadata archive is fetched when its items are
		// first indexed (its first use, or the background indexer).
		opts.Prepare = lazy.Account
	}
	ix, err := index.OpenWith(bp, dbPath, opts)
	if err != nil {
		return err
	}
	defer ix.Close()

	var st index.RefreshStats
	if c.FullIndex {
		progress := progressPrinter()
		refresh := ix.Refresh
		if c.Rebuild {
			refresh = ix.Rebuild
		}
		st, err = refresh(ctx, progress)
		if progress != nil {
			fmt.Fprintln(os.Stderr)
		}
	} else if c.Rebuild {
		st, err = ix.RebuildAccounts(ctx)
	} else {
		st, err = ix.RefreshAccounts(ctx)
	}
	if ctx.Err() != nil {
		fmt.Fprintf(os.Stderr, "cbfs: %s: stopped before mounting\n", orSignal(signalCause(ctx)))
		return nil // interrupted before mounting: nothing to undo
	}
	if err != nil {
		return fmt.Errorf("index %s: %w", c.BackupPath, err)
	}

	server, fsys, err := mountIndex(ix, mp, mountOptions{debug: g.Debug, allowOther: c.AllowOther,
		noReadDirPlus: c.NoReadDirPlus, uid: uid, gid: gid, umask: uint32(umask),
		info: fusefs.MountInfo{Source: c.BackupPath, Index: absPath(dbPath), Since: time.Now(), PID: os.Getpid(), RefreshEvery: c.Refresh}})
	if err != nil {
		return err
	}
	live.fsys.Store(fsys)
	bg := startBackground(ctx, ix, os.Stderr, !c.FullIndex)
	fsys.OnRefreshed(bg.kick)
	go fsys.Poll(ctx, c.Refresh)
	if remote != nil && c.S3Prefetch > 0 {
		remote.Prefetch = c.S3Prefetch
	}
	if remote == nil && bp.Blobless() {
		fmt.Fprintf(os.Stderr, "cbfs: %s has no items/ folder (blobless, or blobs on external storage): metadata only, message files cannot be read\n", bp.Root)
	}
	shown := bp.Root
	if remote != nil {
		shown = remote.Objects.String()
	}
	items := fmt.Sprintf("%d items", st.Items)
	if !c.FullIndex {
		items = fmt.Sprintf("%d items indexed so far; an account's items are indexed when first entered, the rest in the background", st.Items)
	}
	ready := fmt.Sprintf("mounted %s on %s (%d accounts, %s; ready in %s); unmount with fusermount3 -u %s",
		shown, mp, st.Accounts, items, time.Since(start).Round(time.Millisecond), mp)
	fmt.Println(ready)
	daemonReady(ready)

	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			fmt.Fprintf(os.Stderr, "cbfs: %s: unmounting %s\n", orSignal(signalCause(ctx)), mp)
			unmount(server, mp)
		case <-done:
		}
	}()
	server.Wait()
	close(done)
	return nil
}

// hangups acts on SIGHUP until ctx ends. A --daemon mount has no
// terminal: SIGHUP is the daemon's "reload" (logrotate's kill -HUP), so it
// reopens --log-file and stays mounted. A foreground mount's terminal went
// away: it stops (cancel), unmounting.
func (c *mountCmd) hangups(ctx context.Context, hup *hangups, cancel context.CancelCauseFunc, live *liveMount) {
	if hup == nil {
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup.C:
		}
		if !isDaemonChild() {
			cancel(signalError{syscall.SIGHUP})
			return
		}
		if c.LogFile == "" {
			fmt.Fprintln(os.Stderr, "cbfs: SIGHUP: reload (no --log-file to reopen); still mounted")
		} else if err := reopenLog(c.LogFile); err != nil {
			fmt.Fprintf(os.Stderr, "cbfs: SIGHUP: reopen %s: %v (still writing the old file); still mounted\n", c.LogFile, err)
		} else {
			fmt.Fprintf(os.Stderr, "cbfs: SIGHUP: log file %s reopened; still mounted\n", c.LogFile)
		}
		if f := live.fsys.Load(); f != nil {
			res, err := f.Refresh(ctx)
			logRefresh("SIGHUP", res, err)
		}
	}
}

// liveMount is the mounted tree, once it is mounted.
type liveMount struct{ fsys atomic.Pointer[fusefs.FS] }

// logRefresh says on stderr (the --log-file of a --daemon mount) what a
// refresh of the mount found.
func logRefresh(why string, res fusefs.RefreshResult, err error) {
	now := time.Now().UTC().Format(time.RFC3339)
	if err != nil {
		fmt.Fprintf(os.Stderr, "cbfs: %s refresh (%s) failed: %v; the mount shows what it showed\n", now, why, err)
		return
	}
	fmt.Fprintf(os.Stderr, "cbfs: %s refreshed (%s): %s\n", now, why, res)
}

// absPath is p made absolute, or p.
func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// reopenLog makes stdout and stderr the file at path (appended, made if
// missing), as logrotate expects after it renamed the old one.
func reopenLog(path string) error {
	stderrMu.Lock() // not while withStderr holds fd 2
	defer stderrMu.Unlock()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := syscall.Dup2(int(f.Fd()), 1); err != nil {
		return err
	}
	return syscall.Dup2(int(f.Fd()), 2)
}

// orSignal is name, or "stop" when no signal is known.
func orSignal(name string) string {
	if name == "" {
		return "stop"
	}
	return name
}

// mountOptions say how a Backup Path is mounted.
type mountOptions struct {
	debug, allowOther, noReadDirPlus bool
	uid, gid                         int // -1: the mounting process's
	umask                            uint32
	info                             fusefs.MountInfo // what the root's user.cbfs.* attributes say
}

// mountIndex mounts the indexed Backup Path read-only on mp (an absolute,
// checked mountpoint: see checkMountpoint). cbfs mount and cbfs serve
// --mount share it.
func mountIndex(ix *index.Index, mp string, o mountOptions) (*fuse.Server, *fusefs.FS, error) {
	fo := fusefs.Options{DisableReadDirPlus: o.noReadDirPlus, Umask: o.umask,
		UID: uint32(os.Getuid()), GID: uint32(os.Getgid())}
	if o.uid >= 0 {
		fo.UID = uint32(o.uid)
	}
	if o.gid >= 0 {
		fo.GID = uint32(o.gid)
	}
	fsys := fusefs.New(ix, fo)
	fsys.SetMountInfo(o.info)
	fsys.SetRefreshLog(logRefresh)
	opts := fsys.MountOptions(o.debug, o.allowOther, os.Geteuid() == 0)
	var server *fuse.Server
	said, err := withStderr(func() (err error) {
		server, err = fs.Mount(mp, fsys.Root(), opts)
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("mount %s on %s: %w", ix.BackupPath().Root, mp, fusermountError(err, said))
	}
	os.Stderr.Write(said) // warnings of a mount that worked
	return server, fsys, nil
}

// unmounter is the part of *fuse.Server unmount needs.
type unmounter interface{ Unmount() error }

// unmount unmounts mp; if it is busy (a process has a file open or its cwd
// inside), it detaches it lazily so the process can still exit.
func unmount(s unmounter, mp string) {
	err := s.Unmount()
	if err == nil {
		return
	}
	fmt.Fprintf(os.Stderr, "cbfs: unmount %s: %v; detaching lazily\n", mp, err)
	if os.Geteuid() == 0 {
		err = syscall.Unmount(mp, syscall.MNT_DETACH)
	} else {
		err = exec.Command("fusermount3", "-u", "-z", mp).Run()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "cbfs: lazy unmount %s: %v\n", mp, err)
	}
}

// checkMountpoint returns mp made absolute, or why it cannot be used: it
// must be an existing, empty folder, not a (stale) mount, and neither
// inside the Backup Path nor holding it.
func checkMountpoint(root, mp string) (string, error) {
	abs, err := filepath.Abs(mp)
	if err != nil {
		return "", fmt.Errorf("mountpoint %s: %w", mp, err)
	}
	fi, err := os.Stat(abs)
	switch {
	case errors.Is(err, syscall.ENOTCONN), errors.Is(err, syscall.ECONNABORTED):
		return "", staleErr(mp, abs)
	case errors.Is(err, os.ErrNotExist):
		return "", fmt.Errorf("mountpoint %s: no such folder", mp)
	case err != nil:
		return "", fmt.Errorf("mountpoint %s: %w", mp, err)
	case !fi.IsDir():
		return "", fmt.Errorf("mountpoint %s is not a folder", mp)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", fmt.Errorf("mountpoint %s: %w", mp, err)
	}
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return "", fmt.Errorf("backup path %s: %w", root, err)
	}
	if within(realRoot, real) {
		return "", fmt.Errorf("mountpoint %s is inside the Backup Path %s: choose a folder outside it", mp, root)
	}
	if within(real, realRoot) {
		return "", fmt.Errorf("the Backup Path %s is inside the mountpoint %s: choose another mountpoint", root, mp)
	}
	if isMountpoint(real) {
		if isStale(real) {
			return "", staleErr(mp, abs)
		}
		return "", fmt.Errorf("mountpoint %s is already a mount point: unmount it first (`fusermount3 -u %s` or `umount -l %s`)", mp, abs, abs)
	}
	ents, err := os.ReadDir(real)
	if err != nil {
		return "", fmt.Errorf("mountpoint %s: %w", mp, err)
	}
	if len(ents) > 0 {
		return "", fmt.Errorf("mountpoint %s is not empty", mp)
	}
	return abs, nil
}

func staleErr(mp, abs string) error {
	return fmt.Errorf("mountpoint %s is a stale mount (transport endpoint is not connected: its cbfs process died): clear it with `fusermount3 -u %s` (or `umount -l %s`)", mp, abs, abs)
}

// isStale reports whether the mount at dir has lost its server (the kernel
// may still answer stat from its cache, so the folder is read).
func isStale(dir string) bool {
	f, err := os.Open(dir)
	if err == nil {
		_, err = f.Readdirnames(1)
		f.Close()
	}
	return errors.Is(err, syscall.ENOTCONN) || errors.Is(err, syscall.ECONNABORTED)
}

// within reports whether path is dir or below it.
func within(dir, path string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// isMountpoint reports whether dir is listed in /proc/self/mountinfo.
func isMountpoint(dir string) bool {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && unescapeMountinfo(fields[4]) == dir {
			return true
		}
	}
	return false
}

// unescapeMountinfo undoes the octal escapes (\040 for a space, ...) of
// /proc/self/mountinfo.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v int
			if _, err := fmt.Sscanf(s[i+1:i+4], "%03o", &v); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// defaultIndexPath is where the index of the Backup Path root lives unless
// --index says otherwise: a cache folder outside the Backup Path, file
// named from a hash of root (so two paths never share an index). cbfs
// serve keeps this index current after each operation that writes its
// Backup Path, so a mount of a served path finds it built.
func defaultIndexPath(root string) (string, error) {
	p, err := statedir.CacheFile(root, ".db")
	if err != nil {
		return "", fmt.Errorf("%w: use --index PATH", err)
	}
	return p, nil
}

// mountMemoryLimit is the mount's soft memory limit (debug.SetMemoryLimit)
// unless GOMEMLIMIT says otherwise.
const mountMemoryLimit = 192 << 20

// background runs the index's background indexer: once at start (unless
// told not to) and again after each refresh of the mount (every account is
// then to be looked at again), until ctx ends.
type background struct{ again chan struct{} }

// startBackground starts it; now says whether to run at once.
func startBackground(ctx context.Context, ix *index.Index, w io.Writer, now bool) *background {
	b := &background{again: make(chan struct{}, 1)}
	if now {
		b.kick()
	}
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-b.again:
			}
			indexInBackground(ctx, ix, w)
		}
	}()
	return b
}

// kick asks for one more run (at most one is pending).
func (b *background) kick() {
	select {
	case b.again <- struct{}{}:
	default:
	}
}

// indexInBackground indexes every account not yet current, yielding to
// the accounts users enter, and says how far it got on w every
// backgroundReportEvery and when done.
func indexInBackground(ctx context.Context, ix *index.Index, w io.Writer) {
	began, last := time.Now(), time.Now()
	items := 0
	err := ix.IndexAll(ctx, func(done, total int, st index.RefreshStats) {
		items += st.Items
		if time.Since(last) < backgroundReportEvery && done < total {
			return
		}
		last = time.Now()
		fmt.Fprintf(w, "cbfs: background indexing: %d/%d accounts, %d items (%s)\n", done, total, items, time.Since(began).Round(time.Second))
	})
	if err != nil && ctx.Err() == nil {
		fmt.Fprintf(w, "cbfs: background indexing stopped: %v\n", err)
	}
}

// backgroundReportEvery is how often the background indexer reports.
const backgroundReportEvery = 10 * time.Second

// progressPrinter reports index progress on stderr when it is a terminal
// (nil otherwise).
func progressPrinter() func(index.Progress) {
	if !term.IsTerminal(int(os.Stderr.Fd())) {
		return nil
	}
	return progressPrinterTo(os.Stderr, time.Now)
}

// progressPrinterTo writes index progress on w: accounts, item files read
// and their rate (the first build of a large Backup Path reads every item
// file, and that count is what moves).
func progressPrinterTo(w io.Writer, now func() time.Time) func(index.Progress) {
	start, last := now(), time.Time{}
	return func(p index.Progress) {
		t := now()
		if t.Sub(last) < 100*time.Millisecond && p.AccountsDone < p.Accounts {
			return
		}
		last = t
		rate := ""
		if s := t.Sub(start).Seconds(); s > 0 {
			rate = fmt.Sprintf(", %.0f items/s", float64(p.ItemsDone)/s)
		}
		fmt.Fprintf(w, "\rindexing: %d/%d accounts, %d item files read%s", p.AccountsDone, p.Accounts, p.ItemsDone, rate)
	}
}
