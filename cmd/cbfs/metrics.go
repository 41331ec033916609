package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cbfs/cbfs/internal/atomicfile"
	"github.com/cbfs/cbfs/opqueue"
)

// The --metrics-file of cbfs serve: the operations' outcomes in
// Prometheus's text exposition format, for node_exporter's textfile
// collector (--collector.textfile.directory), so a monitoring system can
// alert on "no successful doSmartScan for 26 hours" or "the last restore
// failed". The file is replaced atomically (atomicfile: temp name, fsync,
// rename of a temporary FILE.tmp, which the collector ignores) at start
// and after each operation ends, mode 0644 (node_exporter runs as its own
// user; it holds no secret). Per operation kind:
//
//	cbfs_operation_last_success_timestamp_seconds  when the last one that ended done ended
//	cbfs_operation_last_end_timestamp_seconds      when the last one ended, whatever its outcome
//	cbfs_operation_last_duration_seconds           how long the last one ran
//	cbfs_operation_last_items                      its progress count (items, or accounts where it counts those)
//	cbfs_operation_last_bytes                      the bytes it wrote or read, as its progress counts them
//	cbfs_operation_last_errors                     the failures its report counts (error, unrestored, failed lines)
//	cbfs_operation_last_outcome{outcome}           1 for its outcome (done, partial, failed, stopped), 0 for the others
//	cbfs_operations_total{outcome}                 operations ended since the service started
//
// At start the last values come from the operations the queue still keeps
// (cbctl backup getAllOperations), so a restart does not reset "last
// success".

// metricsOutcomes are the outcomes, as the queue names them.
var metricsOutcomes = []opqueue.State{opqueue.Done, opqueue.Partial, opqueue.Failed, opqueue.Stopped}

// kindMetrics is what the file says of one kind.
type kindMetrics struct {
	lastSuccess, lastEnd time.Time
	duration             time.Duration
	items, bytes, errors int64
	outcome              opqueue.State
	total                map[opqueue.State]int64
}

// metricsFile keeps the values and writes the file.
type metricsFile struct {
	path string
	log  *slog.Logger

	mu    sync.Mutex
	kinds map[string]*kindMetrics
}

func newMetricsFile(path string, log *slog.Logger) *metricsFile {
	return &metricsFile{path: path, log: log, kinds: map[string]*kindMetrics{}}
}

func (m *metricsFile) kind(k string) *kindMetrics {
	km, ok := m.kinds[k]
	if !ok {
		km = &kindMetrics{total: map[opqueue.State]int64{}}
		m.kinds[k] = km
	}
	return km
}

// seed takes the last values of each kind from the operations the queue
// keeps (oldest first), then writes the file.
func (m *metricsFile) seed(ops []opqueue.Op, kinds []string) error {
	m.mu.Lock()
	for _, k := range kinds {
		m.kind(k)
	}
	sort.SliceStable(ops, func(i, j int) bool { return ops[i].Ended.Before(ops[j].Ended) })
	for _, op := range ops {
		if !op.State.Finished() || op.Ended.IsZero() {
			continue
		}
		m.record(op.Kind, op.State, op.Started, op.Ended, op.Progress, op.Result, false)
	}
	m.mu.Unlock()
	return m.write()
}

// record sets kind's last values (m.mu held).
func (m *metricsFile) record(kind string, state opqueue.State, start, end time.Time, p opqueue.Progress, report string, count bool) {
	km := m.kind(kind)
	km.lastEnd, km.outcome = end, state
	km.duration = 0
	if !start.IsZero() && end.After(start) {
		km.duration = end.Sub(start)
	}
	km.items, km.bytes, km.errors = p.Done, p.Bytes, reportErrors(report)
	if state == opqueue.Done {
		km.lastSuccess = end
	}
	if count {
		km.total[state]++
	}
}

// wrap observes each handler's end: its outcome (as the queue will record
// it), last progress and report, then rewrites the file.
func (m *metricsFile) wrap(handlers map[string]opqueue.Handler) map[string]opqueue.Handler {
	out := make(map[string]opqueue.Handler, len(handlers))
	for kind, h := range handlers {
		out[kind] = func(ctx context.Context, op *opqueue.Op, progress opqueue.ProgressFunc) (report string, err error) {
			start := time.Now()
			var (
				pmu  sync.Mutex
				last opqueue.Progress
			)
			defer func() {
				r := recover()
				state := opqueue.OutcomeOf(err, ctx.Err() != nil)
				if r != nil {
					state = opqueue.Failed
				}
				pmu.Lock()
				p := last
				pmu.Unlock()
				m.mu.Lock()
				m.record(kind, state, start, time.Now(), p, report, true)
				m.mu.Unlock()
				if werr := m.write(); werr != nil {
					m.log.Warn("metrics file not written", "file", m.path, "err", werr)
				}
				if r != nil {
					panic(r)
				}
			}()
			return h(ctx, op, func(p opqueue.Progress) {
				pmu.Lock()
				last = p
				pmu.Unlock()
				progress(p)
			})
		}
	}
	return out
}

// errorLineRE is a count line of a report that counts failures: "Read
// Errors: 2", "Errors: 1", "Unrestored Items: 3", "Failed Accounts: 1".
var errorLineRE = regexp.MustCompile(`(?i)^\s*([A-Za-z ]*(error|unrestored|failed)[A-Za-z ]*):\s*([0-9]+)\s*$`)

// reportErrors sums the failure counts of a report's first section.
func reportErrors(report string) int64 {
	var n int64
	seen := false
	for _, line := range strings.Split(report, "\n") {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "- ") && strings.HasSuffix(t, " -") {
			if seen {
				break
			}
			continue
		}
		seen = true
		if m := errorLineRE.FindStringSubmatch(t); m != nil {
			v, _ := strconv.ParseInt(m[3], 10, 64)
			n += v
		}
	}
	return n
}

// write replaces the file.
func (m *metricsFile) write() error {
	m.mu.Lock()
	kinds := make([]string, 0, len(m.kinds))
	for k := range m.kinds {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	var b strings.Builder
	gauge := func(name, help string, val func(km *kindMetrics) (float64, bool)) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name)
		for _, k := range kinds {
			if v, ok := val(m.kinds[k]); ok {
				fmt.Fprintf(&b, "%s{kind=%q} %s\n", name, k, strconv.FormatFloat(v, 'g', -1, 64))
			}
		}
	}
	unix := func(t time.Time) (float64, bool) {
		return float64(t.UnixMilli()) / 1000, !t.IsZero()
	}
	gauge("cbfs_operation_last_success_timestamp_seconds", "Unix time the last operation of this kind that ended done ended.",
		func(km *kindMetrics) (float64, bool) { return unix(km.lastSuccess) })
	gauge("cbfs_operation_last_end_timestamp_seconds", "Unix time the last operation of this kind ended, whatever its outcome.",
		func(km *kindMetrics) (float64, bool) { return unix(km.lastEnd) })
	ended := func(f func(km *kindMetrics) float64) func(km *kindMetrics) (float64, bool) {
		return func(km *kindMetrics) (float64, bool) { return f(km), !km.lastEnd.IsZero() }
	}
	gauge("cbfs_operation_last_duration_seconds", "How long the last operation of this kind ran.",
		ended(func(km *kindMetrics) float64 { return km.duration.Seconds() }))
	gauge("cbfs_operation_last_items", "The progress count of the last operation of this kind (items; accounts where it counts those).",
		ended(func(km *kindMetrics) float64 { return float64(km.items) }))
	gauge("cbfs_operation_last_bytes", "The bytes the last operation of this kind counted in its progress.",
		ended(func(km *kindMetrics) float64 { return float64(km.bytes) }))
	gauge("cbfs_operation_last_errors", "The failures the last operation of this kind counted in its report (errors, unrestored items, failed accounts).",
		ended(func(km *kindMetrics) float64 { return float64(km.errors) }))
	b.WriteString("# HELP cbfs_operation_last_outcome 1 for the outcome of the last operation of this kind, 0 for the others.\n# TYPE cbfs_operation_last_outcome gauge\n")
	for _, k := range kinds {
		km := m.kinds[k]
		if km.lastEnd.IsZero() {
			continue
		}
		for _, o := range metricsOutcomes {
			v := 0
			if km.outcome == o {
				v = 1
			}
			fmt.Fprintf(&b, "cbfs_operation_last_outcome{kind=%q,outcome=%q} %d\n", k, o, v)
		}
	}
	b.WriteString("# HELP cbfs_operations_total Operations of this kind that ended with this outcome since the service started.\n# TYPE cbfs_operations_total counter\n")
	for _, k := range kinds {
		for _, o := range metricsOutcomes {
			fmt.Fprintf(&b, "cbfs_operations_total{kind=%q,outcome=%q} %d\n", k, o, m.kinds[k].total[o])
		}
	}
	m.mu.Unlock()
	// atomicfile gives its files the service's umask (077 by default),
	// but node_exporter reads the file as its own user: written durably
	// under a name it ignores (not *.prom), made 0644, then renamed over
	// the file, so a reader sees the old file or the new one, readable.
	tmp := m.path + ".tmp"
	if err := atomicfile.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, m.path); err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(filepath.Dir(m.path))
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
