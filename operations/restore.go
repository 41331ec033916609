package operations

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/opqueue"
	"github.com/cbfs/cbfs/restore"
	"github.com/cbfs/cbfs/statedir"
)

// The restore kinds (package restore does the work):
//
//	doExternalRestore      sourcePath [target URL] [accounts a,b] [input_file F] [domains d,e]
//	                       [filter_deleted true] [skip_system_accounts B] [skip_distribution_lists B]
//	                       [skip_coses B] [provisioning_only B] [concurrent_accounts N] [max_file_size SIZE]
//	doRestoreOnNewAccount  sourceAccount destAccount date(last|D) [undelete B] [target URL]
//	doUndelete             account start(first|D) end(last|D) [target_original_folder true] [target URL]
//	doItemRestore          account itemId [date D] [target URL]
//
// doExternalRestore reads the Backup Path at sourcePath (nothing is written
// into it); the others read the service's own Backup Path. Every restore
// goes to the target URL, or --restore-target, or the --source when it is
// an IMAP server (the mail server this service backs up). The restore
// ledger is <state-dir>/restore-ledger.db (statedir.Dir.Ledger): a second run restores nothing
// twice, and a stopped run resumes.
const (
	KindExternalRestore     = restore.OpExternalRestore
	KindRestoreOnNewAccount = restore.OpRestoreOnNewAccount
	KindUndelete            = restore.OpUndelete
	KindItemRestore         = restore.OpItemRestore
)

// RestoreKinds are the restore kinds.
var RestoreKinds = []string{KindExternalRestore, KindRestoreOnNewAccount, KindUndelete, KindItemRestore}

// IsRestoreKind reports whether kind is a restore.
func IsRestoreKind(kind string) bool { return slices.Contains(RestoreKinds, kind) }

// The restores' parameter names: Carbonio's for its documented
// parameters, camelCase for the positional arguments (as destPath).
const (
	ParamSourcePath            = "sourcePath"
	ParamTarget                = "target"
	ParamAccounts              = "accounts"
	ParamInputFile             = "input_file"
	ParamFilterDeleted         = "filter_deleted"
	ParamSkipSystemAccounts    = "skip_system_accounts"
	ParamSkipDistributionLists = "skip_distribution_lists"
	ParamSkipCOSes             = "skip_coses"
	ParamProvisioningOnly      = "provisioning_only"
	ParamConcurrentAccounts    = "concurrent_accounts"
	ParamMaxFileSize           = "max_file_size"
	ParamSourceAccount         = "sourceAccount"
	ParamDestAccount           = "destAccount"
	ParamDate                  = "date"
	ParamUndelete              = "undelete"
	ParamStart                 = "start"
	ParamEnd                   = "end"
	ParamTargetOriginalFolder  = "target_original_folder"
	ParamItemID                = "itemId"
)

// restoreAllowed are the restore kinds' parameters.
var restoreAllowed = map[string][]string{
	KindExternalRestore: {ParamSourcePath, ParamTarget, ParamAccounts, ParamInputFile, ParamDomains, ParamFilterDeleted,
		ParamSkipSystemAccounts, ParamSkipDistributionLists, ParamSkipCOSes, ParamProvisioningOnly,
		ParamConcurrentAccounts, ParamMaxFileSize, ParamNotifications},
	KindRestoreOnNewAccount: {ParamSourceAccount, ParamDestAccount, ParamDate, ParamUndelete, ParamTarget, ParamNotifications},
	KindUndelete:            {ParamAccount, ParamStart, ParamEnd, ParamTargetOriginalFolder, ParamTarget, ParamNotifications},
	KindItemRestore:         {ParamAccount, ParamItemID, ParamDate, ParamTarget, ParamNotifications},
}

// restoreParams are a restore's parsed parameters.
type restoreParams struct {
	source   string // doExternalRestore's Backup Path
	target   string // "" : the settings' default
	opt      restore.Options
	account  string // doUndelete, doItemRestore; doRestoreOnNewAccount's source
	dest     string // doRestoreOnNewAccount
	at       time.Time
	start    time.Time
	end      time.Time
	undelete bool
	item     int
}

// parseRestore parses a restore's parameters. It reads input_file and
// parses the target URL, and opens nothing else.
func parseRestore(kind string, in map[string]string) (*restoreParams, error) {
	p := &restoreParams{opt: restore.DefaultOptions(), target: strings.TrimSpace(in[ParamTarget])}
	if p.target != "" {
		if _, err := restore.ParseTarget(p.target); err != nil {
			return nil, err
		}
	}
	boolParam := func(name string, dst *bool) error {
		v := strings.TrimSpace(in[name])
		if v == "" {
			return nil
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%s must be true or false, not %q", name, v)
		}
		*dst = b
		return nil
	}
	var err error
	switch kind {
	case KindExternalRestore:
		p.source = strings.TrimSpace(in[ParamSourcePath])
		if p.source == "" {
			return nil, errors.New("no source path given")
		}
		if !filepath.IsAbs(p.source) {
			return nil, fmt.Errorf("source path %q must be absolute", p.source)
		}
		p.opt.Accounts = splitList(in[ParamAccounts])
		if f := strings.TrimSpace(in[ParamInputFile]); f != "" {
			names, err := ReadAccountNames(f)
			if err != nil {
				return nil, err
			}
			p.opt.Accounts = append(p.opt.Accounts, names...)
		}
		p.opt.Domains = splitList(in[ParamDomains])
		for _, b := range []struct {
			name string
			dst  *bool
		}{
			{ParamFilterDeleted, &p.opt.FilterDeleted},
			{ParamSkipSystemAccounts, &p.opt.SkipSystemAccounts},
			{ParamSkipDistributionLists, &p.opt.SkipDistributionLists},
			{ParamSkipCOSes, &p.opt.SkipCOSes},
			{ParamProvisioningOnly, &p.opt.ProvisioningOnly},
		} {
			if err := boolParam(b.name, b.dst); err != nil {
				return nil, err
			}
		}
		if v := strings.TrimSpace(in[ParamConcurrentAccounts]); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 64 {
				return nil, fmt.Errorf("concurrent_accounts must be a number from 1 to 64, not %q", v)
			}
			p.opt.ConcurrentAccounts = n
		}
		if p.opt.MaxFileSize, err = ParseMaxFileSize(in[ParamMaxFileSize]); err != nil {
			return nil, fmt.Errorf("max_file_size: %w", err)
		}
	case KindRestoreOnNewAccount:
		p.account = strings.TrimSpace(in[ParamSourceAccount])
		p.dest = strings.TrimSpace(in[ParamDestAccount])
		if p.account == "" || p.dest == "" {
			return nil, errors.New("want the source account, the destination account and a date (or last)")
		}
		if strings.EqualFold(p.account, p.dest) {
			return nil, fmt.Errorf("the destination account must be a new account, not %s itself", p.account)
		}
		if p.at, err = ParseRestoreDate(ParamDate, in[ParamDate], "last"); err != nil {
			return nil, err
		}
		if err := boolParam(ParamUndelete, &p.undelete); err != nil {
			return nil, err
		}
	case KindUndelete:
		p.account = strings.TrimSpace(in[ParamAccount])
		if p.account == "" {
			return nil, errors.New("no account given")
		}
		if p.start, err = ParseRestoreDate(ParamStart, in[ParamStart], "first"); err != nil {
			return nil, err
		}
		if p.end, err = ParseRestoreDate(ParamEnd, in[ParamEnd], "last"); err != nil {
			return nil, err
		}
		if !p.start.IsZero() && !p.end.IsZero() && p.end.Before(p.start) {
			return nil, fmt.Errorf("end %s is before start %s", p.end.Format(time.RFC3339), p.start.Format(time.RFC3339))
		}
		original := true
		if err := boolParam(ParamTargetOriginalFolder, &original); err != nil {
			return nil, err
		}
		p.opt.DedicatedFolder = !original
	case KindItemRestore:
		p.account = strings.TrimSpace(in[ParamAccount])
		if p.account == "" {
			return nil, errors.New("no account given")
		}
		v := strings.TrimSpace(in[ParamItemID])
		if p.item, err = strconv.Atoi(v); err != nil || p.item <= 0 {
			return nil, fmt.Errorf("item id must be a positive number, not %q", v)
		}
		if p.at, err = ParseRestoreDate(ParamDate, in[ParamDate], "last"); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// ReadAccountNames reads input_file: one account (name or id) a line;
// blank lines and lines starting with # are skipped.
func ReadAccountNames(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("input_file: %w", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.ContainsFunc(line, unicode.IsSpace) {
			return nil, fmt.Errorf("input_file %s line %d: want one account a line, got %q", path, n, line)
		}
		out = append(out, line)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("input_file %s: %w", path, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("input_file %s lists no account", path)
	}
	return out, nil
}

// ParseMaxFileSize reads doExternalRestore's max_file_size: a size as
// ParseSize reads it; empty is restore.DefaultMaxFileSize (25 MiB), and 0
// is no limit.
func ParseMaxFileSize(s string) (int64, error) {
	if strings.TrimSpace(s) == "" {
		return restore.DefaultMaxFileSize, nil
	}
	return ParseSize(s)
}

// ParseSize reads a size: a number of bytes, or a number with the unit K,
// M or G (powers of 1024; "KB", "MiB" and lower case read the same). ""
// and "0" are 0.
func ParseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	num := strings.TrimRightFunc(s, unicode.IsLetter)
	unit := strings.ToUpper(strings.TrimSpace(s[len(num):]))
	mult := int64(1)
	switch strings.TrimSuffix(strings.TrimSuffix(unit, "B"), "I") {
	case "":
		if unit != "" && unit != "B" {
			return 0, fmt.Errorf("bad size %q: want bytes, or a number with K, M or G", s)
		}
	case "K":
		mult = 1 << 10
	case "M":
		mult = 1 << 20
	case "G":
		mult = 1 << 30
	default:
		return 0, fmt.Errorf("bad size %q: want bytes, or a number with K, M or G", s)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("bad size %q: want bytes, or a number with K, M or G", s)
	}
	return n * mult, nil
}

// Date forms the restores accept (those of cbctl): Carbonio's dd/MM/yyyy
// HH:mm:ss and ISO 8601; UTC unless a zone is given.
var (
	restoreZonedLayouts    = []string{time.RFC3339Nano, "2006-01-02T15:04Z07:00", "2006-01-02 15:04:05Z07:00"}
	restoreZonelessLayouts = []string{"02/01/2006 15:04:05", "02/01/2006 15:04", "02/01/2006",
		"2006-01-02T15:04:05.999999999", "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04:05",
		"2006-01-02 15:04", "2006-01-02"}
)

// ParseRestoreDate reads a date parameter; open ("first" or "last", any
// case) and "" are the zero time (no bound, or the latest state).
func ParseRestoreDate(name, s, open string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.EqualFold(s, open) {
		return time.Time{}, nil
	}
	for _, l := range restoreZonedLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	for _, l := range restoreZonelessLayouts {
		if t, err := time.ParseInLocation(l, s, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%s: bad date %q: want %s, dd/MM/yyyy HH:mm:ss, dd/MM/yyyy or ISO 8601", name, s, open)
}

// restoreTarget is the target URL of a restore: its own, --restore-target,
// or an IMAP --source.
func (r *Runner) restoreTarget(p *restoreParams) (string, error) {
	switch {
	case p.target != "":
		return r.withPassword(p.target)
	case r.s.RestoreTarget != "":
		return r.s.RestoreTarget, nil
	case strings.HasPrefix(strings.ToLower(r.s.Source), "imap"):
		return r.s.Source, nil
	}
	return "", errors.New("no restore target: give target maildir:/path or imap://admin:password@host:port (or set --restore-target)")
}

// checkRestore is Validate's check of what a restore will open: the
// target URL and the source Backup Path.
func (r *Runner) checkRestore(kind string, p *restoreParams) error {
	u, err := r.restoreTarget(p)
	if err != nil {
		return err
	}
	if _, err := restore.ParseTarget(u); err != nil {
		return err
	}
	src := r.s.BackupPath
	if kind == KindExternalRestore {
		src = p.source
	}
	if _, err := r.s.OpenPath(src); err != nil {
		return fmt.Errorf("source: %w", err)
	}
	return nil
}

// restore runs a restore kind.
func (r *Runner) restore(ctx context.Context, kind string, p *params, progress opqueue.ProgressFunc) (string, error) {
	rp := p.restore
	u, err := r.restoreTarget(rp)
	if err != nil {
		return "", err
	}
	tgt, err := restore.ParseTarget(u)
	if err != nil {
		return "", err
	}
	defer tgt.Close()
	srcPath := r.s.BackupPath
	if kind == KindExternalRestore {
		srcPath = rp.source
	}
	src, err := r.s.OpenPath(srcPath)
	if err != nil {
		return "", fmt.Errorf("source: %w", err)
	}
	ledger, err := restore.OpenLedger(r.s.Dir().Ledger())
	if err != nil {
		return "", err
	}
	defer ledger.Close()

	opt := rp.opt
	var last opqueue.Progress
	opt.Progress = func(rp restore.Progress) {
		var b strings.Builder
		b.WriteString(rp.Phase)
		if rp.Account != "" {
			fmt.Fprintf(&b, " (last: %s)", rp.Account)
		}
		if rp.Items > 0 {
			fmt.Fprintf(&b, ": %d items, %d restored, %d skipped, %d unrestored", rp.Items, rp.Restored, rp.Skipped, rp.Unrestored)
			if s := rp.Elapsed.Seconds(); s > 0 {
				fmt.Fprintf(&b, ", %.0f items/s", float64(rp.Items)/s)
			}
		}
		last = opqueue.Progress{Done: int64(rp.AccountsDone), Total: int64(rp.Accounts), Phase: b.String()}
		progress(last)
	}
	opt.PhaseReport = func(text string) {
		var parts []string
		for _, l := range strings.Split(strings.TrimSpace(text), "\n") {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "- ") {
				parts = append(parts, l)
			}
		}
		line := "provisioning done: " + strings.Join(parts, ", ")
		r.log.Info(kind+": phase 1 done", "report", line)
		last.Phase = line
		progress(last)
	}

	var rep *restore.Report
	switch kind {
	case KindExternalRestore:
		rep, err = restore.ExternalRestore(ctx, src, tgt, ledger, opt)
	case KindRestoreOnNewAccount:
		if rp.at.IsZero() && !rp.undelete && !activeAccount(src, rp.account) {
			// "last" of a deleted account: as it was just before its
			// deletion.
			rep, err = restore.RestoreDeletedAccount(ctx, src, rp.account, rp.dest, tgt, ledger, opt)
		} else {
			rep, err = restore.RestoreOnNewAccount(ctx, src, rp.account, rp.dest, rp.at, rp.undelete, tgt, ledger, opt)
		}
	case KindUndelete:
		rep, err = restore.Undelete(ctx, src, rp.account, rp.start, rp.end, tgt, ledger, opt)
	case KindItemRestore:
		rep, err = restore.ItemRestore(ctx, src, rp.account, rp.item, rp.at, tgt, ledger, opt)
	}
	if rep == nil {
		if err == nil {
			err = errors.New("no report")
		}
		return "", err
	}
	text := rep.String()
	text += r.notify(kind, text, rep.Stopped != "", append(slices.Clone(r.s.Notify), p.notifications...))
	if err == nil {
		n := int64(len(rep.Accounts) + len(rep.FailedAccounts))
		progress(opqueue.Progress{Done: n, Total: n, Phase: "done"})
	}
	return text, err
}

// activeAccount reports whether the account nameOrID means (the model's
// one rule) is active.
func activeAccount(src *backuppath.Path, nameOrID string) bool {
	a, err := src.FindAccount(nameOrID)
	return err == nil && a.Active()
}

// LedgerMap lists the restore ledger of the state directory stateDir
// (backup getMap). It reads a copy of the ledger file, so it neither
// needs the state lock nor disturbs a restore writing it; a missing
// ledger (no restore yet) is an empty map.
func LedgerMap(stateDir statedir.Dir) ([]restore.Entry, error) {
	path := stateDir.Ledger()
	in, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("restore ledger: %w", err)
	}
	defer in.Close()
	tmp, err := os.MkdirTemp("", "cbfs-ledger-")
	if err != nil {
		return nil, fmt.Errorf("restore ledger: %w", err)
	}
	defer os.RemoveAll(tmp)
	cp := filepath.Join(tmp, filepath.Base(path))
	out, err := os.OpenFile(cp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		_, err = io.Copy(out, in)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return nil, fmt.Errorf("restore ledger: copy %s: %w", path, err)
	}
	l, err := restore.OpenLedger(cp)
	if err != nil {
		return nil, fmt.Errorf("%w (file %s)", err, path)
	}
	defer l.Close()
	return l.Map()
}
