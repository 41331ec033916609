package operations

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/external"
	"github.com/cbfs/cbfs/internal/confined"
	"github.com/cbfs/cbfs/internal/grammar"
	"github.com/cbfs/cbfs/opqueue"
	"github.com/cbfs/cbfs/restore"
	"github.com/cbfs/cbfs/statedir"
)

// Size is a size parameter (max_file_size): a number of bytes, or a
// number with K, M, G or T (grammar.ParseSize), kept as given.
type Size string

// UnmarshalText checks the size.
func (s *Size) UnmarshalText(b []byte) error {
	if _, err := grammar.ParseSize(string(b)); err != nil {
		return err
	}
	*s = Size(strings.TrimSpace(string(b)))
	return nil
}

// MarshalText is the size as given.
func (s Size) MarshalText() ([]byte, error) { return []byte(s), nil }

// Bytes is max_file_size's value: "" is restore.DefaultMaxFileSize, 0 no
// limit.
func (s Size) Bytes() int64 {
	n, _ := ParseMaxFileSize(string(s)) // checked by UnmarshalText
	return n
}

// DateOrFirst is a date parameter that may be "first" (no lower bound),
// DateOrLast one that may be "last" (the latest state). Both keep the open
// word, or the date as RFC 3339 in UTC; "" is the open word too.
type (
	DateOrFirst string
	DateOrLast  string
)

func (d *DateOrFirst) UnmarshalText(b []byte) error {
	s, err := normalizeDate(string(b), "first")
	*d = DateOrFirst(s)
	return err
}

// UnmarshalText reads a moment (a bare date: the end of that day,
// grammar.ParseMoment) or last.
func (d *DateOrLast) UnmarshalText(b []byte) error {
	s, err := normalizeMoment(string(b), "last")
	*d = DateOrLast(s)
	return err
}
func (d DateOrFirst) MarshalText() ([]byte, error) { return []byte(d), nil }

// EndOrLast is the end of a window (doUndelete END): a date, or last; a
// bare date (dd/MM/yyyy, yyyy-MM-dd) is the end of that whole day.
type EndOrLast string

func (d *EndOrLast) UnmarshalText(b []byte) error {
	s, err := normalizeMoment(string(b), "last")
	*d = EndOrLast(s)
	return err
}
func (d EndOrLast) MarshalText() ([]byte, error) { return []byte(d), nil }

// Time is the moment, or the zero time for last and "".
func (d EndOrLast) Time() time.Time { t, _ := ParseRestoreDate("", string(d), "last"); return t }

func (d DateOrLast) MarshalText() ([]byte, error) { return []byte(d), nil }

// Time is the moment, or the zero time for first and "".
func (d DateOrFirst) Time() time.Time { t, _ := ParseRestoreDate("", string(d), "first"); return t }

// Time is the moment, or the zero time for last and "".
func (d DateOrLast) Time() time.Time { t, _ := ParseRestoreDate("", string(d), "last"); return t }

// normalizeDate is s as RFC 3339 in UTC, or open.
func normalizeDate(s, open string) (string, error) {
	t, err := ParseRestoreDate("", s, open)
	switch {
	case err != nil:
		return "", err
	case t.IsZero():
		return open, nil
	}
	return t.Format(time.RFC3339Nano), nil
}

// normalizeMoment is normalizeDate where a bare date is the end of that
// day (grammar.ParseMoment: the one meaning of a date that selects a
// state, or ends a window).
func normalizeMoment(in, open string) (string, error) {
	s, err := normalizeDate(in, open)
	if err == nil && s != open && grammar.IsBareDate(in) {
		t, _ := grammar.ParseMoment(in)
		s = t.Format(time.RFC3339Nano)
	}
	return s, err
}

// absPath makes a path given on cbctl's command line absolute: the service
// has another working directory.
func absPath(p string) string {
	if strings.Contains(p, "://") {
		return p // a URL (an s3:// source)
	}
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// ReadAccountNames reads input_file: one account (name or id) a line;
// blank lines and lines starting with # are skipped. Like an accounts
// file, only a regular file of at most MaxAccountsFile bytes is read.
func ReadAccountNames(path string) ([]string, error) {
	b, err := confined.ReadNamed(path, MaxAccountsFile)
	if err != nil {
		return nil, fmt.Errorf("input_file: %w", err)
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
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
	return grammar.ParseSize(s)
}

// ParseRestoreDate reads a date parameter in cbctl's grammar
// (grammar.ParseDate: Carbonio's dd/MM/yyyy HH:mm:ss and ISO 8601, in the
// local zone unless a zone is given; cbctl sends them as RFC 3339 in UTC,
// so the service's own zone never applies to a date typed on the command
// line); open ("first" or "last", any case) and "" are the zero time (no
// bound, or the latest state).
func ParseRestoreDate(name, s, open string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.EqualFold(s, open) {
		return time.Time{}, nil
	}
	if t, err := grammar.ParseDate(s); err == nil {
		return t, nil
	}
	if name != "" {
		name += ": "
	}
	return time.Time{}, fmt.Errorf("%sbad date %q: want %s, dd/MM/yyyy HH:mm:ss, dd/MM/yyyy or ISO 8601", name, s, open)
}

// restoreTarget is the target URL of a restore: its own, --restore-target,
// or an IMAP --source.
func (r *Runner) restoreTarget(ctx context.Context, p restorer) (string, error) {
	if pf, ok := p.(interface{ passwordFile() string }); ok && pf.passwordFile() != "" {
		u := p.target()
		if u == "" {
			u = r.s.RestoreTarget
			if u == "" && strings.HasPrefix(strings.ToLower(r.s.Source), "imap") {
				u = r.s.Source
			}
		}
		if u != "" {
			if s, _, ok := StripPassword(u); ok {
				u = s // password_file wins
			}
			return FillIMAPPassword("target", u, pf.passwordFile(), false)
		}
	}
	if p.target() != "" {
		u, err := r.withPassword(ctx, p.target())
		if errors.Is(err, errNoPassword) {
			// The environment of this process, its credentials, its terminal.
			return FillIMAPPassword("target", p.target(), "", r.Prompt)
		}
		return u, err
	}
	if err := r.ResolveSecrets(r.Prompt); err != nil {
		return "", err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.s.RestoreTarget != "":
		return r.s.RestoreTarget, nil
	case strings.HasPrefix(strings.ToLower(r.s.Source), "imap"):
		return r.s.Source, nil
	}
	return "", errors.New("no restore target: give target maildir:/path or imap://admin:password@host:port (or set --restore-target)")
}

// checkRestore is Validate's check of what a restore will open: the
// target URL and the source Backup Path.
func (r *Runner) checkRestore(p restorer) error {
	u, err := r.restoreTarget(context.Background(), p) // before enqueuing: its own password, or none
	if err != nil {
		return err
	}
	if _, err := restore.ParseTarget(u); err != nil {
		return err
	}
	var partial *external.PartialError
	if _, err := r.s.OpenPath(p.source(r)); err != nil && !errors.As(err, &partial) {
		return fmt.Errorf("source: %w", err)
	}
	return nil
}

// restore runs a restore kind.
func (r *Runner) restore(ctx context.Context, p restorer, progress opqueue.ProgressFunc) (string, error) {
	kind := p.Kind()
	u, err := r.restoreTarget(ctx, p)
	if err != nil {
		return "", err
	}
	tgt, err := restore.ParseTarget(u)
	if err != nil {
		return "", err
	}
	defer tgt.Close()
	src, err := r.s.OpenPath(p.source(r))
	var partial *external.PartialError // an s3:// source some of whose archives failed
	if err != nil && !errors.As(err, &partial) {
		return "", fmt.Errorf("source: %w", err)
	}
	var ledger *restore.Ledger
	if p.dryRun() {
		// A copy: the dry run reads what was restored, and writes nothing.
		var done func()
		ledger, done, err = openLedgerCopy(r.s.Dir().Ledger())
		if err != nil {
			return "", err
		}
		defer done()
	} else {
		ledger, err = restore.OpenLedger(r.s.Dir().Ledger())
		if err != nil {
			return "", err
		}
		defer ledger.Close()
	}

	opt := p.options()
	opt.DryRun = p.dryRun()
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
		last = restoreProgress(rp, b.String())
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

	rep, err := p.restore(ctx, src, tgt, ledger, opt)
	if rep == nil {
		if err == nil {
			err = errors.New("no report")
		}
		return "", err
	}
	if partial != nil {
		// Their metadata never arrived: those accounts are not restored.
		for _, f := range partial.Failed {
			who := f.Account
			if who == "" {
				who = "(server files)"
			}
			rep.FailedAccounts = append(rep.FailedAccounts, restore.FailedAccount{Account: who, Class: restore.ClassReadError,
				Reason: grammar.OneLine(f.Err.Error())})
		}
	}
	text := rep.String()
	if outcome := RestoreOutcome(rep); err == nil && outcome != nil {
		// Nothing restored: failed; some restored: partial (the queue
		// records it so, cbctl exits 3). The report says it too.
		err = outcome
		text += OutcomePrefix + grammar.OneLine(outcome.Error()) + "\n"
	}
	text += r.notify(kind, text, outcomeOf(ctx, err), append(slices.Clone(r.s.Notify), p.addresses()...))
	if err == nil || errors.Is(err, ErrPartial) {
		done := last
		if done.Unit == "items" || done.Unit == "" {
			done.Unit, done.Total = "items", done.Done
		} else {
			done.Done = done.Total
		}
		done.Phase = "done"
		progress(done)
	}
	return text, err
}

// ErrNothingRestored is wrapped by the error of a restore that finished
// but restored nothing because every item or account it had to restore
// failed: the operation fails (cbctl exits 1). A restore that restored
// some and failed some returns ErrPartialRestore: it is recorded partial
// (cbctl exits 3). Either way its report ends with the line
// OutcomePrefix + the error.
var ErrNothingRestored = errors.New("nothing restored")

// OutcomePrefix starts the last line of the report of an operation that
// partly succeeded.
const OutcomePrefix = "Outcome: "

// PartialOutcome is the outcome line's text (without OutcomePrefix) of a
// report that says its operation partly succeeded, or "": how cbctl tells
// a partial restore recorded "done" by a cbfs that had no partial state.
func PartialOutcome(report string) string {
	for _, l := range strings.Split(report, "\n") {
		if rest, ok := strings.CutPrefix(l, OutcomePrefix); ok && strings.HasPrefix(rest, ErrPartial.Error()) {
			return rest
		}
	}
	return ""
}

// RestoreOutcome is the error of a finished restore's report: nil when
// nothing failed (items already restored by an earlier run count as
// done), else one line with the counts and the first failure.
func RestoreOutcome(rep *restore.Report) error {
	failed := rep.Unrestored + len(rep.FailedAccounts)
	if failed == 0 && len(rep.LeftOut) == 0 {
		return nil
	}
	first := ""
	if len(rep.FailedAccounts) > 0 {
		fa := rep.FailedAccounts[0]
		first = "account " + quoteName(fa.Account) + ": " + fa.Class + ": " + quoteControl(grammar.OneLine(fa.Reason))
	} else {
		for _, a := range rep.Accounts {
			if len(a.Unrestored) > 0 {
				u := a.Unrestored[0]
				first = fmt.Sprintf("account %s item %d: %s: %s", quoteName(a.Account), u.ID, u.Class, quoteControl(grammar.OneLine(u.Reason)))
				break
			}
		}
	}
	if first == "" {
		l := rep.LeftOut[0]
		first = "account " + quoteName(l.Account) + ": " + quoteControl(grammar.OneLine(l.Reason))
	}
	counts := fmt.Sprintf("%d items unrestored, %d accounts failed", rep.Unrestored, len(rep.FailedAccounts))
	if len(rep.LeftOut) > 0 {
		counts += fmt.Sprintf(", %d accounts asked for left out", len(rep.LeftOut))
	}
	// An account asked for and left out by a filter is partial even
	// when nothing else was to be restored: the restore did what its
	// filters say, not what its accounts asked.
	if failed > 0 && rep.Restored+rep.Skipped == 0 {
		return fmt.Errorf("%w (%s); first: %s", ErrNothingRestored, counts, first)
	}
	restored := "restored"
	if rep.DryRun {
		restored = "would be restored (dry run)"
	}
	return fmt.Errorf("%w: %d items %s, %s; first: %s", ErrPartialRestore, rep.Restored+rep.Skipped, restored, counts, first)
}

// restoreProgress counts a restore in items (the unit that moves: a
// one-account restore of 900 items takes 900 steps, not one), with the
// bytes restored; the total is given once every account's items are
// listed (before that 0: unknown, not a wrong percentage). Provisioning
// has no items and counts accounts.
func restoreProgress(rp restore.Progress, phase string) opqueue.Progress {
	if rp.Phase == "provisioning" {
		return opqueue.Progress{Done: int64(rp.AccountsDone), Total: int64(rp.Accounts), Unit: "accounts", Phase: phase}
	}
	p := opqueue.Progress{Done: int64(rp.Items), Unit: "items", Bytes: rp.Bytes, Phase: phase}
	if rp.AccountsListed >= rp.Accounts {
		p.Total = int64(rp.ItemsTotal)
	}
	return p
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
	l, done, err := openLedgerCopy(stateDir.Ledger())
	if err != nil {
		return nil, err
	}
	defer done()
	return l.Map()
}

// openLedgerCopy opens a private copy of the ledger file at path (an
// empty ledger in memory when there is none yet), so that reading it
// neither writes the file nor needs the state lock; done closes and
// removes the copy.
func openLedgerCopy(path string) (*restore.Ledger, func(), error) {
	in, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		l, err := restore.OpenLedger(":memory:")
		if err != nil {
			return nil, nil, err
		}
		return l, func() { l.Close() }, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("restore ledger: %w", err)
	}
	defer in.Close()
	tmp, err := os.MkdirTemp("", "cbfs-ledger-")
	if err != nil {
		return nil, nil, fmt.Errorf("restore ledger: %w", err)
	}
	cp := filepath.Join(tmp, filepath.Base(path))
	out, err := os.OpenFile(cp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		_, err = io.Copy(out, in)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		os.RemoveAll(tmp)
		return nil, nil, fmt.Errorf("restore ledger: copy %s: %w", path, err)
	}
	l, err := restore.OpenLedger(cp)
	if err != nil {
		os.RemoveAll(tmp)
		return nil, nil, fmt.Errorf("%w (file %s)", err, path)
	}
	return l, func() { l.Close(); os.RemoveAll(tmp) }, nil
}
