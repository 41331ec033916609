package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/term"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/fusefs"
	"github.com/cbfs/cbfs/index"
	"github.com/cbfs/cbfs/internal/cli"
	"github.com/cbfs/cbfs/internal/grammar"
	"github.com/cbfs/cbfs/mailbox"
	"github.com/cbfs/cbfs/operations"
	"github.com/cbfs/cbfs/service"
)

// serveCmd is `cbfs serve`: the backup service of one mail server.
type serveCmd struct {
	BackupPath string `name:"backup-path" placeholder:"PATH" help:"The Backup Path the service owns and writes (default: ${default_backup_path}: the one cbctl reads by default)."`
	cli.ServiceFlags
	ScanSchedule  string `name:"scan-schedule" default:"0 4 * * *" placeholder:"CRON" help:"When doSmartScan runs: a cron pattern (minute hour day-of-month month day-of-week, or @daily ...), \"off\" for never (default: ${default}, daily 04:00); one set with cbctl backup scheduler SmartScan set wins."`
	PurgeSchedule string `name:"purge-schedule" default:"0 4 * * 6" placeholder:"CRON" help:"When doPurge runs, as --scan-schedule (default: ${default}, Saturdays 04:00); one set with cbctl backup scheduler purge set wins."`
	Mount         string `name:"mount" placeholder:"DIR" help:"Also mount the Backup Path read-only on DIR (as cbfs mount does, with the same index); refreshed in place after each operation that wrote it."`
	AllowOther    bool   `name:"allow-other" help:"With --mount: let other users see the mount."`
	KeyMap        string `name:"keymap" placeholder:"FILE" help:"How to read item and account files of another dialect (restore sources, the mount), when the inference is wrong (JSON; see docs/FORMAT.md § 12.2)."`
	LogFormat     string `name:"log-format" enum:"text,json" default:"text" placeholder:"text|json" help:"How the log on stderr is written: text (key=value) or json (one object a line, for journald or a log shipper) (default: ${default})."`
	ExternalFlags `embed:""`
	MetricsFile   string `name:"metrics-file" placeholder:"FILE" help:"Write the operations' outcomes to FILE in Prometheus's text format (for node_exporter's textfile collector), replaced atomically at start and after each operation: per kind, the last success's time, the last one's end, duration, items, bytes, errors and outcome, and counts by outcome."`
	CheckAtStart  string `name:"check-at-start" enum:"fail,warn" default:"fail" placeholder:"fail|warn" help:"At start, check the source (lists, or logs in), the Backup Path (a Backup Path, or missing or empty; writable) and the SMTP server: fail stops with the first problem; warn starts anyway, logs the problems and shows them in cbctl backup getAllOperations (default: ${default})."`
}

// Help is the long help of serve.
func (c *serveCmd) Help() string {
	return `Runs until SIGTERM or SIGINT. It takes the state directory's lock (one service per state directory), keeps the operation queue there (queue.db) with the backup toggles (backup_config.json), keeps the index that cbfs mount uses by default for the Backup Path current after each operation that wrote it (or, when a mount holds that index, tells the mount to refresh, as cbfs refresh does), answers cbctl on the Unix socket (mode 0600), and runs one operation at a time, in FIFO order: doSmartScan, doAccountScan, doPurge, doExport, doCoherencyCheck and the restores (doExternalRestore, doRestoreOnNewAccount, doUndelete, doItemRestore, with their ledger restore-ledger.db in the state directory), enqueued by cbctl or by the schedules. On SIGTERM the running operation stops at a safe point and is recorded stopped; running it again resumes it. Settings may come from --config FILE, a JSON object whose keys are the flag names ({"backup-path": "/srv/backup", "source": "imap://admin:pw@localhost:143", "accounts-file": "/etc/cbfs/accounts"}).`
}

// Run serves until ctx ends.
func (c *serveCmd) Run(ctx context.Context, g *Globals, hup *hangups) error {
	level := slog.LevelInfo
	if g.Debug {
		level = slog.LevelDebug
	}
	log := newLogger(c.LogFormat, level)
	if c.BackupPath == "" {
		c.BackupPath = cli.ResolveBackupPath()
	}
	settings := operations.Settings{BackupPath: c.BackupPath, KeyMap: c.KeyMap, Flags: c.Flags, S3: c.S3.Options()}
	runner, err := operations.New(settings, log)
	if err != nil {
		return err
	}
	// Passwords first (a file, the environment, systemd's credentials, or
	// the terminal), then what the operations will need: one error line
	// now rather than a failed scan at 04:00.
	if err := runner.ResolveSecrets(term.IsTerminal(int(os.Stdin.Fd()))); err != nil {
		return err
	}
	settings = runner.Settings()
	problems := runner.CheckStart(ctx)
	if len(problems) > 0 && c.CheckAtStart != "warn" {
		return fmt.Errorf("%w (--check-at-start=warn starts anyway)", problems[0])
	}
	var lines []string
	for _, p := range problems {
		log.Warn("start check", "problem", p.Error())
		lines = append(lines, grammar.OneLine(p.Error()))
	}
	if err := runner.SetScheduleFlag("SmartScan", c.ScanSchedule); err != nil {
		return fmt.Errorf("--scan-schedule: %w", err)
	}
	if err := runner.SetScheduleFlag("purge", c.PurgeSchedule); err != nil {
		return fmt.Errorf("--purge-schedule: %w", err)
	}
	settingsNow, err := runner.Schedules()
	if err != nil {
		return err
	}
	schedules := serviceSchedules(settingsNow)
	handlers := runner.Handlers()
	var metrics *metricsFile
	if c.MetricsFile != "" {
		metrics = newMetricsFile(c.MetricsFile, log)
		handlers = metrics.wrap(handlers)
	}
	svc, err := service.Open(service.Options{
		StateDir:   settings.StateDir,
		SocketPath: settings.Socket,
		Handlers:   handlers,
		Validate:   runner.Validate,
		Redact:     runner.Redact,
		Forget:     runner.Forget,
		Config: func(ctx context.Context, req service.ConfigRequest) (string, error) {
			return runner.Config(ctx, operations.ConfigRequest(req))
		},
		Schedules: schedules,
		Version:   cli.VersionString(),
		Logger:    log,
	})
	if err != nil {
		return err
	}
	if metrics != nil {
		ops, err := svc.Queue().List()
		if err == nil {
			err = metrics.seed(ops, slices.Sorted(maps.Keys(handlers)))
		}
		if err != nil {
			svc.Close()
			return fmt.Errorf("--metrics-file: %w", err)
		}
	}
	runner.OnSchedules = func(all []operations.ScheduleSetting) error {
		return svc.SetSchedules(serviceSchedules(all))
	}
	// The state lock is ours: record (or clear) the problems found.
	if pf := operations.StartProblemsFile(settings.StateDir); len(lines) > 0 {
		if err := os.WriteFile(pf, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			log.Warn("record start problems", "err", err)
		}
	} else {
		os.Remove(pf)
	}
	var ext *externalSync
	if c.External != "" {
		if ext, err = startExternal(ctx, c.ExternalFlags, settings.BackupPath, log); err != nil {
			svc.Close()
			return err
		}
	}
	var searchIdx searchRefresher // the search index, after each write (serve_search.go)
	// SIGHUP reloads: the account list, the index (and the mount).
	refresh := func() { refreshMountIndex(ctx, settings, log) }
	if c.Mount != "" {
		m, err := startServeMount(ctx, settings, c.Mount, g.Debug, c.AllowOther, log)
		if err != nil {
			svc.Close()
			return err
		}
		defer m.close()
		refresh = func() { m.remount(ctx) }
		runner.AfterWrite = func(kind string) {
			if ext != nil {
				ext.afterWrite(ctx, kind)
			}
			m.remount(ctx)
			searchIdx.kick(ctx, settings, log)
		}
	} else {
		// No mount of its own: keep the index that cbfs mount uses by
		// default current, so a mount of this Backup Path never builds it.
		runner.AfterWrite = func(kind string) {
			if ext != nil {
				ext.afterWrite(ctx, kind)
			}
			refreshMountIndex(ctx, settings, log)
			searchIdx.kick(ctx, settings, log)
		}
	}
	log.Info("cbfs serve", "version", cli.VersionString(), "backup-path", settings.BackupPath, "state-dir", settings.StateDir,
		"socket", svc.SocketPath(), "source", redactSource(settings.Source), "pid", os.Getpid())
	if hup != nil {
		go reloadOnHangup(ctx, hup, runner, refresh, log)
	}
	err = svc.Serve(ctx)
	if sig := signalCause(ctx); sig != "" {
		log.Info("cbfs serve stopped", "signal", sig)
	} else {
		log.Info("cbfs serve stopped")
	}
	return err
}

// reloadOnHangup reloads on each SIGHUP until ctx ends: the account list
// (--accounts-file) is read again (a bad one is logged and the old one
// kept) and the index refreshed (the --mount remounted). The log is
// stderr (journald): there is no file to reopen.
func reloadOnHangup(ctx context.Context, hup *hangups, runner *operations.Runner, refresh func(), log *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup.C:
		}
		log.Info("SIGHUP: reloading")
		if n, err := runner.ReloadAccounts(); err != nil {
			log.Warn("SIGHUP: account list not reloaded: the previous one is kept", "err", err)
		} else if n >= 0 {
			log.Info("SIGHUP: account list reloaded", "accounts", n)
		}
		refresh()
	}
}

// serviceSchedules are the enabled schedulers as the service's schedules,
// in Carbonio's order (on a Saturday at 04:00 the scan is enqueued before
// the purge).
func serviceSchedules(all []operations.ScheduleSetting) []service.Schedule {
	var out []service.Schedule
	for _, s := range all {
		if s.Enabled {
			out = append(out, service.Schedule{Name: s.Name, Spec: s.Pattern, Kind: s.Kind})
		}
	}
	return out
}

// refreshMountIndex brings the index cbfs mount uses by default for the
// service's Backup Path (defaultIndexPath) up to date after an operation
// wrote the path, and closes it again. When a mount holds it (the index is
// locked), the mount is told to refresh it (tellMounts), in the
// background.
func refreshMountIndex(ctx context.Context, s operations.Settings, log *slog.Logger) {
	bp, err := s.OpenPath(s.BackupPath)
	if err != nil {
		return // nothing backed up (yet): nothing to index
	}
	dbPath, err := defaultIndexPath(bp.Root)
	if err != nil {
		log.Warn("refresh index", "err", err)
		return
	}
	start := time.Now()
	ix, err := index.Open(bp, dbPath)
	if errors.Is(err, index.ErrLocked) {
		// A mount holds it: that mount refreshes it, told as cbfs
		// refresh tells it (and it polls on its own as well).
		tellMounts(dbPath, log)
		return
	}
	if err != nil {
		log.Warn("refresh index", "index", dbPath, "err", err)
		return
	}
	defer ix.Close()
	st, err := ix.Refresh(context.WithoutCancel(ctx), nil)
	if err != nil {
		log.Warn("refresh index", "index", dbPath, "err", err)
		return
	}
	log.Info("index refreshed", "index", dbPath, "accounts", st.Accounts, "items", st.Items, "took", time.Since(start).Round(time.Millisecond))
}

// newLogger is the service's log on stderr: text (key=value) or JSON lines.
func newLogger(format string, level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

// redactSource hides the password of an imap:// source in logs.
func redactSource(s string) string {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return s
	}
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return s
	}
	user, _, _ := strings.Cut(rest[:at], ":")
	return scheme + "://" + user + ":***@" + rest[at+1:]
}

// serveMount is the service's own read-only mount of its Backup Path,
// refreshed and remounted after operations that wrote it.
type serveMount struct {
	mu         sync.Mutex
	mp         string
	bp         *backuppath.Path
	ix         *index.Index
	server     *fuse.Server
	fsys       *fusefs.FS
	dbPath     string
	debug      bool
	allowOther bool
	log        *slog.Logger
	bg         *background // the one background indexer (the service's life), across remounts
}

func startServeMount(ctx context.Context, s operations.Settings, dir string, debug, allowOther bool, log *slog.Logger) (*serveMount, error) {
	bp, err := s.OpenPath(s.BackupPath)
	if err != nil {
		// Nothing backed up yet: mount an empty Backup Path.
		if bp, err = backuppath.Create(s.BackupPath, backuppath.BackupStat{ServerID: uuid.NewString(), FirstRun: mailbox.MillisOf(time.Now())}); err != nil {
			return nil, fmt.Errorf("--mount: %w", err)
		}
	}
	mp, err := checkMountpoint(bp.Root, dir)
	if err != nil {
		return nil, fmt.Errorf("--mount: %w", err)
	}
	dbPath, err := defaultIndexPath(bp.Root)
	if err != nil {
		return nil, fmt.Errorf("--mount: %w", err)
	}
	ix, err := index.Open(bp, dbPath)
	if err != nil {
		return nil, fmt.Errorf("--mount: %w", err)
	}
	m := &serveMount{mp: mp, bp: bp, ix: ix, dbPath: dbPath, debug: debug, allowOther: allowOther, log: log,
		bg: startBackground(ctx, ix, io.Discard, false)}
	if err := m.mount(ctx); err != nil {
		ix.Close()
		return nil, err
	}
	return m, nil
}

// mount refreshes the index and mounts it (mu held or not yet shared).
func (m *serveMount) mount(ctx context.Context) error {
	// The accounts now, their items on first use and in the background
	// (as cbfs mount does: a path of any size is mounted at once).
	st, err := m.ix.RefreshAccounts(ctx)
	if err != nil {
		return fmt.Errorf("--mount: index %s: %w", m.bp.Root, err)
	}
	// The service's mount is its own Backup Path: private, as the files are.
	server, fsys, err := mountIndex(m.ix, m.mp, mountOptions{debug: m.debug, allowOther: m.allowOther, uid: -1, gid: -1, umask: 0o077,
		info: fusefs.MountInfo{Source: m.bp.Root, Index: m.dbPath, Since: time.Now(), PID: os.Getpid()}})
	if err != nil {
		return fmt.Errorf("--mount: %w", err)
	}
	m.server, m.fsys = server, fsys
	fsys.OnRefreshed(m.bg.kick)
	m.bg.kick() // a remount's new accounts too; never a second indexer
	go server.Wait()
	m.log.Info("mounted", "backup-path", m.bp.Root, "mountpoint", m.mp, "accounts", st.Accounts, "items", st.Items)
	return nil
}

// remount shows what an operation wrote: the mount refreshes in place
// (fusefs.FS.Refresh); only a mount that is gone is mounted again.
func (m *serveMount) remount(ctx context.Context) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.server != nil && m.fsys != nil && isMountpoint(m.mp) {
		res, err := m.fsys.Refresh(context.WithoutCancel(ctx))
		if err != nil {
			m.log.Warn("mount not refreshed", "mountpoint", m.mp, "err", err)
			return
		}
		m.log.Info("mount refreshed", "mountpoint", m.mp, "accounts", res.Accounts, "new", len(res.Added), "gone", len(res.Removed),
			"changed", res.Changed, "items_indexed", res.Items, "took", res.Took.Round(time.Millisecond))
		return
	}
	if m.server != nil {
		unmount(m.server, m.mp)
		m.server = nil
	}
	if err := m.mount(context.WithoutCancel(ctx)); err != nil {
		m.log.Warn("remount failed", "mountpoint", m.mp, "err", err)
	}
}

func (m *serveMount) close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.server != nil {
		unmount(m.server, m.mp)
		m.server = nil
	}
	if err := m.ix.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
		m.log.Warn("close index", "err", err)
	}
}
