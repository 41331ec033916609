package tests

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/sample"
)

// promSample is one sample line of a Prometheus text file.
var promSampleRE = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\} (\S+)$`)

// parseProm reads a Prometheus text exposition file: every sample line by
// "name{labels}", each series declared by # HELP and # TYPE lines first.
func parseProm(t *testing.T, text string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	typed := map[string]string{}
	for _, l := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		if rest, ok := strings.CutPrefix(l, "# TYPE "); ok {
			f := strings.Fields(rest)
			require.Len(t, f, 2, l)
			require.Contains(t, []string{"gauge", "counter"}, f[1], l)
			typed[f[0]] = f[1]
			continue
		}
		if strings.HasPrefix(l, "# HELP ") {
			continue
		}
		m := promSampleRE.FindStringSubmatch(l)
		require.NotNil(t, m, "not a sample line: %q", l)
		require.Contains(t, typed, m[1], "%s: no # TYPE before it", m[1])
		for _, lab := range strings.Split(m[2], ",") {
			require.Regexp(t, `^[a-z]+="[^"]*"$`, lab, l)
		}
		v, err := strconv.ParseFloat(m[3], 64)
		require.NoError(t, err, l)
		key := m[1] + "{" + m[2] + "}"
		require.NotContains(t, out, key, "a series twice")
		out[key] = v
	}
	return out
}

// TestServeMetricsFile: cbfs serve --metrics-file writes the operations'
// outcomes in Prometheus's text format after each operation, and keeps the
// last success across a restart.
func TestServeMetricsFile(t *testing.T) {
	s := restoreSample(t, sample.Options{Accounts: 3, Messages: 8, Seed: 3})
	dir := t.TempDir()
	bin := mountBinary(t, dir)
	st := filepath.Join(dir, "st")
	metrics := filepath.Join(dir, "prom", "cbfs.prom")
	require.NoError(t, os.Mkdir(filepath.Dir(metrics), 0o755))
	args := []string{"--backup-path", s.root, "--metrics-file", metrics, "--check-at-start", "warn"}
	srv := serveStart(t, bin, st, args...)

	read := func() map[string]float64 {
		b, err := os.ReadFile(metrics)
		require.NoError(t, err)
		return parseProm(t, string(b))
	}
	m := read()
	assert.Equal(t, 0.0, m[`cbfs_operations_total{kind="doItemRestore",outcome="done"}`], "written at start, nothing run yet")
	assert.NotContains(t, m, `cbfs_operation_last_success_timestamp_seconds{kind="doItemRestore"}`)
	fi, err := os.Stat(metrics)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), fi.Mode().Perm(), "node_exporter reads it as its own user")

	a := s.active[0]
	item := oldestLiveMail(t, s, a)
	before := time.Now()
	r := ok(t, "backup", "doItemRestore", a.Name, strconv.Itoa(item.ID), "target", "maildir:"+filepath.Join(dir, "tgt"), "--wait", "--state-dir", st)
	require.Equal(t, 1, statLine(t, r.stdout, "Restored Items"), r.stdout)
	after := time.Now()
	m = read()
	success := m[`cbfs_operation_last_success_timestamp_seconds{kind="doItemRestore"}`]
	assert.GreaterOrEqual(t, success, float64(before.Unix()))
	assert.LessOrEqual(t, success, float64(after.Unix()+1))
	assert.Equal(t, 1.0, m[`cbfs_operation_last_items{kind="doItemRestore"}`])
	assert.Equal(t, float64(item.Latest().Size), m[`cbfs_operation_last_bytes{kind="doItemRestore"}`])
	assert.Equal(t, 0.0, m[`cbfs_operation_last_errors{kind="doItemRestore"}`])
	assert.Equal(t, 1.0, m[`cbfs_operation_last_outcome{kind="doItemRestore",outcome="done"}`])
	assert.Equal(t, 0.0, m[`cbfs_operation_last_outcome{kind="doItemRestore",outcome="failed"}`])
	assert.Equal(t, 1.0, m[`cbfs_operations_total{kind="doItemRestore",outcome="done"}`])

	// A failure: the outcome says so, the last success stays.
	fails(t, 1, "not found", "backup", "doItemRestore", a.Name, "999999", "target", "maildir:"+filepath.Join(dir, "tgt"), "--wait", "--state-dir", st)
	m = read()
	assert.Equal(t, success, m[`cbfs_operation_last_success_timestamp_seconds{kind="doItemRestore"}`])
	assert.Equal(t, 1.0, m[`cbfs_operation_last_outcome{kind="doItemRestore",outcome="failed"}`])
	assert.Equal(t, 0.0, m[`cbfs_operation_last_outcome{kind="doItemRestore",outcome="done"}`])
	assert.Equal(t, 1.0, m[`cbfs_operations_total{kind="doItemRestore",outcome="failed"}`])

	// A restart keeps the last success (from the queue), counts from 0.
	srv.term(t)
	serveStart(t, bin, st, args...)
	m = read()
	// The queue's end time of the same operation: within a second.
	assert.InDelta(t, success, m[`cbfs_operation_last_success_timestamp_seconds{kind="doItemRestore"}`], 1)
	assert.Equal(t, 1.0, m[`cbfs_operation_last_outcome{kind="doItemRestore",outcome="failed"}`])
	assert.Equal(t, 0.0, m[`cbfs_operations_total{kind="doItemRestore",outcome="done"}`])
}
