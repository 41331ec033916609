package ctl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/cbfs/cbfs/internal/cli"
	"github.com/cbfs/cbfs/internal/grammar"
	"github.com/cbfs/cbfs/objstore/s3"
	"github.com/cbfs/cbfs/operations"
	"github.com/cbfs/cbfs/opqueue"
	"github.com/cbfs/cbfs/service"
)

// OpFlags are the flags of every command that runs or manages operations:
// the service settings (used when cbctl runs the operation in the
// foreground because no service is running) and --wait.
type OpFlags struct {
	cli.ServiceFlags
	// S3 reaches an s3:// Backup Path given to the command (a restore's
	// source) when it runs here; a running service uses its own.
	S3 s3.Flags `embed:""`
}

// WaitFlag is --wait of the commands that enqueue.
type WaitFlag struct {
	Wait bool `name:"wait" help:"With a running service: follow the operation to its end and print its report (default: print its id and return)."`
}

// settings are the service settings of a command.
func (f *OpFlags) settings(g *Globals) (operations.Settings, error) {
	s := operations.Settings{BackupPath: g.Root(), KeyMap: g.KeyMap, Flags: f.Flags, S3: f.S3.Options()}
	if err := s.Normalize(); err != nil {
		return s, cli.Usagef("%w", err)
	}
	return s, nil
}

// viaService is the one place cbctl decides where a command runs: on the
// running service (remote gets its client) or, with none listening, here
// under the state directory's lock (local). Any other failure to reach
// the service (permission denied, ...) is reported.
func viaService(g *Globals, f *OpFlags, remote func(c *service.Client) error, local func(s operations.Settings) error) error {
	s, err := f.settings(g)
	if err != nil {
		return err
	}
	c, err := service.Dial(s.Socket)
	switch {
	case err == nil:
		return remote(c)
	case !errors.Is(err, service.ErrNoService):
		return err
	}
	lock, err := s.Dir().Lock()
	if err != nil {
		return err
	}
	defer lock.Release()
	return local(s)
}

// runner is the operations runner of a command run here (viaService's
// local).
func runner(g *Globals, s operations.Settings) (*operations.Runner, error) {
	log := g.Log
	if log != nil {
		// cbctl prints the operation's error itself, on one line.
		log = slog.New(dropMsg{log.Handler(), "operation ended with an error"})
	}
	r, err := operations.New(s, log)
	if r != nil {
		r.Prompt = true // asks only when stdin is a terminal
	}
	return r, err
}

// dropMsg is a slog handler that leaves out the records of one message.
type dropMsg struct {
	slog.Handler
	msg string
}

func (d dropMsg) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == d.msg {
		return nil
	}
	return d.Handler.Handle(ctx, r)
}
func (d dropMsg) WithAttrs(a []slog.Attr) slog.Handler { return dropMsg{d.Handler.WithAttrs(a), d.msg} }
func (d dropMsg) WithGroup(n string) slog.Handler      { return dropMsg{d.Handler.WithGroup(n), d.msg} }

// remoteErr turns the service's refusals of bad requests into usage errors.
func remoteErr(err error) error {
	if errors.Is(err, opqueue.ErrInvalid) || errors.Is(err, opqueue.ErrUnknownKind) {
		return &cli.UsageError{Err: err}
	}
	return err
}

// foregroundOut is the JSON of an operation cbctl ran itself.
type foregroundOut struct {
	opqueue.Op
	Foreground bool `json:"foreground"`
}

// runOp is every operation verb: it makes p's paths absolute (the service
// has another working directory) and enqueues p's pairs on the running
// service (printing its id, or following it with --wait), or, with no
// service, runs them in the foreground under the state directory's lock
// through the same Validate and Run.
func runOp(ctx context.Context, g *Globals, f *OpFlags, wait bool, p operations.Params) error {
	operations.Localize(p)
	// A passwordless imap:// target takes its password from cbctl's
	// environment or terminal (or, service side, from password_file).
	if t, ok := p.(interface{ FillPassword(prompt bool) error }); ok {
		if err := t.FillPassword(true); err != nil {
			return err
		}
	}
	kind, params := p.Kind(), operations.Encode(p)
	return viaService(g, f, func(c *service.Client) error {
		op, err := c.Enqueue(ctx, kind, params)
		if err != nil {
			return remoteErr(err)
		}
		if !wait {
			if g.JSON {
				return printJSON(g.Stdout, op)
			}
			fmt.Fprintln(g.Stdout, op.ID)
			return nil
		}
		return followOp(ctx, g, c, op.ID)
	}, func(s operations.Settings) error {
		r, err := runner(g, s)
		if err != nil {
			return err
		}
		return runHere(ctx, g, r, kind, params)
	})
}

// runHere runs one operation in the foreground and prints its report.
func runHere(ctx context.Context, g *Globals, r *operations.Runner, kind string, params map[string]string) error {
	if err := r.Validate(kind, params); err != nil {
		return &cli.UsageError{Err: err}
	}
	bar := newBar(g)
	op := opqueue.Op{Kind: kind, Params: operations.RedactParams(params), State: opqueue.Running, Created: time.Now()}
	op.Started = op.Created
	report, err := r.Run(ctx, kind, params, func(p opqueue.Progress) { bar.update(p) })
	bar.finish()
	op.Ended, op.Result = time.Now(), report
	switch {
	case err == nil:
		op.State = opqueue.Done
	case ctx.Err() != nil:
		op.State, op.Error = opqueue.Stopped, "interrupted"
	case errors.Is(err, operations.ErrPartial):
		op.State, op.Error = opqueue.Partial, grammar.OneLine(err.Error())
	default:
		op.State, op.Error = opqueue.Failed, grammar.OneLine(err.Error())
	}
	if g.JSON {
		if perr := printJSON(g.Stdout, foregroundOut{op, true}); perr != nil {
			return perr
		}
	} else {
		fmt.Fprint(g.Stdout, report)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", kind, err)
	}
	return nil
}

// followOp monitors an operation to its end and prints its report; a
// failed or stopped operation is an error (exit status 1).
func followOp(ctx context.Context, g *Globals, c *service.Client, id string) error {
	bar := newBar(g)
	op, err := c.Monitor(ctx, id, func(o opqueue.Op) { bar.update(o.Progress) })
	bar.finish()
	if err != nil {
		return remoteErr(err)
	}
	if g.JSON {
		if err := printJSON(g.Stdout, op); err != nil {
			return err
		}
	} else {
		fmt.Fprint(g.Stdout, op.Result)
	}
	return opErr(op)
}

// opErr is the error of an ended operation that did not succeed: partial
// ones are partialError (exit status 3), also as recorded by a cbfs that
// had no partial state (a partial scan recorded failed, a partial restore
// recorded done with an outcome line).
func opErr(op opqueue.Op) error {
	if line := operations.PartialOutcome(op.Result); op.State == opqueue.Done && line != "" {
		return partialError{fmt.Errorf("operation %s (%s): %s", op.ID, op.Kind, line)}
	}
	switch op.State {
	case opqueue.Partial:
		return partialError{fmt.Errorf("operation %s (%s) %s: %s", op.ID, op.Kind, op.State, op.Error)}
	case opqueue.Failed, opqueue.Stopped:
		msg := op.Error
		if msg == "" {
			msg = string(op.State)
		}
		err := fmt.Errorf("operation %s (%s) %s: %s", op.ID, op.Kind, op.State, msg)
		if op.State == opqueue.Failed && operations.IsPartial(nil, msg) {
			return partialError{err}
		}
		return err
	}
	return nil
}

// partialError is the error of a service's operation that partly
// succeeded (exit status 3); its message is the operation's own.
type partialError struct{ error }

func (e partialError) Is(target error) bool { return target == operations.ErrPartial }
func (e partialError) Unwrap() error        { return e.error }

// bar is a progress bar on stderr when it is a terminal, else nothing.
// It counts the progress's unit (items, messages, blobs, bytes, ...) with
// its rate and, when the total is known, the time left; with no total
// (a scan listing folders) it is a spinner with the count and the rate,
// never a wrong percentage. A change of unit or of known/unknown total
// (restore: accounts provisioned, then items) starts a new bar.
type bar struct {
	w     io.Writer // nil: draw nothing
	pb    *progressbar.ProgressBar
	unit  string
	total int64         // the bar's max; -1 for a spinner
	every time.Duration // redraw at most this often
}

func newBar(g *Globals) *bar {
	f, ok := g.Stderr.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return &bar{}
	}
	return &bar{w: f, every: 100 * time.Millisecond}
}

// newBarTo draws every update on w whatever it is (tests).
func newBarTo(w io.Writer) *bar { return &bar{w: w} }

func (b *bar) update(p opqueue.Progress) {
	if b.w == nil {
		return
	}
	unit := p.Unit
	if unit == "" {
		unit = "steps" // a record from before units
	}
	total := p.Total
	if total <= 0 {
		total = -1
	}
	if b.pb == nil || unit != b.unit || (total == -1) != (b.total == -1) {
		b.start(unit, total)
	} else if total != b.total {
		b.total = total
		b.pb.ChangeMax64(total)
	}
	desc := p.Phase
	if p.Bytes > 0 && unit != "bytes" {
		desc = strings.TrimSpace(desc + " " + humanBytes(p.Bytes))
	}
	_ = b.pb.Set64(p.Done)
	b.pb.Describe(desc)
}

// start replaces the bar by one counting unit up to total (-1: unknown).
func (b *bar) start(unit string, total int64) {
	if b.pb != nil {
		_ = b.pb.Finish()
	}
	b.unit, b.total = unit, total
	opts := []progressbar.Option{
		progressbar.OptionSetWriter(b.w),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionSetPredictTime(total > 0),
		progressbar.OptionThrottle(b.every),
		progressbar.OptionShowDescriptionAtLineEnd(),
		progressbar.OptionSetWidth(20),
		progressbar.OptionClearOnFinish(), // the report follows on stdout
	}
	if unit == "bytes" {
		opts = append(opts, progressbar.OptionShowBytes(true))
	} else {
		opts = append(opts, progressbar.OptionSetItsString(unit))
	}
	if total < 0 {
		opts = append(opts, progressbar.OptionSpinnerType(14))
	}
	b.pb = progressbar.NewOptions64(total, opts...)
}

func (b *bar) finish() {
	if b.pb != nil {
		_ = b.pb.Finish()
	}
}

// humanBytes is n in B, KiB, MiB, GiB.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 3; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGT"[exp])
}

// withQueue runs fn on the running service's queue (through the client) or,
// with none, on the queue database opened under the state lock.
type queueAccess struct {
	c *service.Client
	q *opqueue.Queue
}

func openQueue(g *Globals, f *OpFlags, fn func(qa queueAccess) error) error {
	return viaService(g, f, func(c *service.Client) error {
		return fn(queueAccess{c: c})
	}, func(s operations.Settings) error {
		q, err := opqueue.Open(s.Dir().Queue(), opqueue.Options{})
		if err != nil {
			return err
		}
		defer q.Close()
		return fn(queueAccess{q: q})
	})
}

func (qa queueAccess) list(ctx context.Context) ([]opqueue.Op, error) {
	if qa.c != nil {
		return qa.c.List(ctx)
	}
	return qa.q.List()
}

// printOps writes the operation table (and, verbose, each report).
func printOps(w io.Writer, ops []opqueue.Op, verbose bool) {
	fmt.Fprintf(w, "%-36s  %-17s  %-8s  %-10s  %-19s  %s\n", "ID", "KIND", "STATE", "PROGRESS", "CREATED", "PARAMS")
	for _, op := range ops {
		fmt.Fprintf(w, "%-36s  %-17s  %-8s  %-10s  %-19s  %s\n", op.ID, op.Kind, op.State, progressString(op.Progress),
			formatDate(op.Created), paramString(operations.NonDefault(op.Kind, op.Params)))
		if verbose {
			printOpDetails(w, op)
		}
	}
}

func progressString(p opqueue.Progress) string {
	if p.Total > 0 {
		return fmt.Sprintf("%d/%d", p.Done, p.Total)
	}
	if p.Done > 0 {
		return fmt.Sprint(p.Done)
	}
	return "-"
}

func paramString(m map[string]string) string {
	if len(m) == 0 {
		return "-"
	}
	keys := slices.Sorted(maps.Keys(m))
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+" "+redactParam(m[k]))
	}
	return strings.Join(parts, " ")
}

// printOpDetails writes an operation's times, phase, error and report.
func printOpDetails(w io.Writer, op opqueue.Op) {
	ts := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return formatDate(t)
	}
	kv(w, configIndent, "started", ts(op.Started))
	kv(w, configIndent, "ended", ts(op.Ended))
	if op.Progress.Phase != "" {
		kv(w, configIndent, "phase", op.Progress.Phase)
	}
	if op.Error != "" {
		kv(w, configIndent, "error", op.Error)
	}
	if op.Result != "" {
		for _, l := range strings.Split(strings.TrimRight(op.Result, "\n"), "\n") {
			fmt.Fprintf(w, "%s%s\n", configIndent, l)
		}
	}
	fmt.Fprintln(w)
}

// sortOps keeps FIFO order (the queue's own) for a list from anywhere.
func sortOps(ops []opqueue.Op) {
	sort.SliceStable(ops, func(i, j int) bool { return ops[i].Seq < ops[j].Seq })
}

// redactParam hides the password of a URL parameter (a restore's target)
// in operation listings.
func redactParam(v string) string {
	if !strings.Contains(v, "://") || !strings.Contains(v, "@") {
		return v
	}
	u, err := url.Parse(v)
	if err != nil || u.User == nil {
		return v
	}
	if _, has := u.User.Password(); !has {
		return v
	}
	return u.Redacted()
}
