package tests

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/opqueue"
	"github.com/cbfs/cbfs/sample"
)

// TestProgressServeRestoreItems: a restore followed on the service reports
// its progress in items (what moves), and once it has ended the JSON of
// monitor and getAllOperations says done == total items, with the bytes.
func TestProgressServeRestoreItems(t *testing.T) {
	s := restoreSample(t, sample.Options{Accounts: 3, Messages: 12, Seed: 11})
	dir := t.TempDir()
	bin := mountBinary(t, dir)
	st := filepath.Join(dir, "st")
	serveStart(t, bin, st, "--backup-path", s.root)

	var op opqueue.Op
	decode(t, partial(t, "backup", "doExternalRestore", s.root, "target", "maildir:"+filepath.Join(dir, "out"),
		"--wait", "--json", "--state-dir", st).stdout, &op)
	require.Equal(t, opqueue.Partial, op.State, "the sample has unrestorable items: %s", op.Error)
	restored := statLine(t, op.Result, "Restored Items")
	require.Positive(t, restored)

	check := func(name string, p opqueue.Progress) {
		assert.Equal(t, "items", p.Unit, name)
		assert.Equal(t, p.Total, p.Done, "%s: done == total: %+v", name, p)
		assert.GreaterOrEqual(t, p.Done, int64(restored), "%s: every restored item is counted", name)
		assert.Positive(t, p.Bytes, name)
	}
	check("--wait --json", op.Progress)

	var mon opqueue.Op
	decode(t, partial(t, "backup", "monitor", op.ID, "--json", "--state-dir", st).stdout, &mon)
	check("monitor --json", mon.Progress)

	var ops []opqueue.Op
	decode(t, ok(t, "backup", "getAllOperations", "--json", "--state-dir", st).stdout, &ops)
	require.Len(t, ops, 1)
	check("getAllOperations --json", ops[0].Progress)
	assert.Contains(t, ok(t, "backup", "getAllOperations", "--state-dir", st).stdout,
		fmt.Sprintf("%d/%d", ops[0].Progress.Done, ops[0].Progress.Total))
}
