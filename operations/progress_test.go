package operations

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/opqueue"
)

// progressSink records what an operation reports.
type progressSink struct {
	mu  sync.Mutex
	all []opqueue.Progress
}

func (s *progressSink) fn(p opqueue.Progress) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.all = append(s.all, p)
}

func (s *progressSink) last() opqueue.Progress {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.all[len(s.all)-1]
}

// A one-account restore of N items counts N items (not one account), its
// total known before it ends; a scan counts messages with no total.
func TestRestoreAndScanReportItems(t *testing.T) {
	const n = 37
	dir := t.TempDir()
	src := writeMaildirSource(t, []string{"ann@example.com"}, n)
	bp := filepath.Join(dir, "bp")
	r := newScanRunner(t, bp, filepath.Join(dir, "st"), src)

	var scanned progressSink
	_, err := r.Run(context.Background(), KindSmartScan, nil, scanned.fn)
	require.NoError(t, err)
	for _, p := range scanned.all[:len(scanned.all)-1] {
		require.Equal(t, "messages", p.Unit)
		require.Zero(t, p.Total, "a scan does not know its total: no percentage")
	}
	end := scanned.last()
	require.Equal(t, opqueue.Progress{Done: n, Total: n, Unit: "messages", Bytes: end.Bytes, Phase: "done"}, end)
	require.Positive(t, end.Bytes)

	var restored progressSink
	params := map[string]string{"sourcePath": bp, "target": "maildir:" + filepath.Join(dir, "out")}
	require.NoError(t, r.Validate(KindExternalRestore, params))
	_, err = r.Run(context.Background(), KindExternalRestore, params, restored.fn)
	require.NoError(t, err)
	end = restored.last()
	require.Equal(t, "items", end.Unit)
	require.Equal(t, int64(n), end.Done, "%+v", restored.all)
	require.Equal(t, int64(n), end.Total)
	require.Positive(t, end.Bytes)
	sawTotal := false
	for _, p := range restored.all {
		if p.Unit == "items" && p.Phase != "done" && p.Total == n {
			sawTotal = true
			require.LessOrEqual(t, p.Done, p.Total)
		}
	}
	require.True(t, sawTotal, "the item total is reported while restoring: %+v", restored.all)
}
