package operations

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/internal/pathlock"
	"github.com/cbfs/cbfs/opqueue"
)

// Two scans of one Backup Path from two state directories: the second
// fails at once naming the first, and no account is backed up twice.
func TestTwoWritersOnOneBackupPath(t *testing.T) {
	dir := t.TempDir()
	accounts := []string{"ann@example.com", "bob@example.com", "cid@example.com"}
	src := writeMaildirSource(t, accounts, 2)
	bpRoot := filepath.Join(dir, "bp")
	r1 := newScanRunner(t, bpRoot, filepath.Join(dir, "st1"), src)
	r2 := newScanRunner(t, bpRoot, filepath.Join(dir, "st2"), src)

	inScan, release := make(chan struct{}), make(chan struct{})
	var once bool
	done := make(chan error, 1)
	go func() {
		_, err := r1.Run(context.Background(), KindSmartScan, nil, func(opqueue.Progress) {
			if !once {
				once = true
				close(inScan)
				<-release
			}
		})
		done <- err
	}()
	select {
	case <-inScan:
	case err := <-done:
		t.Fatalf("first scan ended before reporting progress: %v", err)
	}
	start := time.Now()
	for _, kind := range []string{KindSmartScan, KindPurge} {
		_, err := r2.Run(context.Background(), kind, nil, nil)
		want := fmt.Sprintf("backup path %s is being written by pid %d (doSmartScan); wait for it or stop it", bpRoot, os.Getpid())
		require.Error(t, err, kind)
		assert.Equal(t, want, err.Error(), kind)
		assert.True(t, errors.Is(err, pathlock.ErrBusy), kind)
	}
	assert.Less(t, time.Since(start), 2*time.Second, "refused at once")
	close(release)
	require.NoError(t, <-done)

	// Now the second state directory may scan: incremental, no duplicate.
	_, err := r2.Run(context.Background(), KindSmartScan, nil, nil)
	require.NoError(t, err)
	bp, err := backuppath.Open(bpRoot)
	require.NoError(t, err)
	ids, err := bp.AccountIDs()
	require.NoError(t, err)
	assert.Len(t, ids, len(accounts), "each account backed up once")

	// The lock file is no part of the backup: a fixing coherency check
	// neither reports nor quarantines it, and an export ignores it.
	rep, err := r1.Run(context.Background(), KindCoherencyCheck, map[string]string{"fixBackup": "true"}, nil)
	require.NoError(t, err)
	assert.NotContains(t, rep, ".cbfs-")
	assert.FileExists(t, filepath.Join(bpRoot, pathlock.Name))
	q, _ := filepath.Glob(filepath.Join(bpRoot, "quarantine", "*", "*"))
	assert.Empty(t, q)
	rep, err = r1.Run(context.Background(), KindExport, map[string]string{"destPath": filepath.Join(dir, "exp")}, nil)
	require.NoError(t, err, rep)
	assert.False(t, strings.Contains(rep, ".cbfs-"), rep)
}

// Readers (a plain check, restores) take no writer lock.
func TestReadersTakeNoWriterLock(t *testing.T) {
	dir := t.TempDir()
	src := writeMaildirSource(t, []string{"ann@example.com"}, 1)
	bpRoot := filepath.Join(dir, "bp")
	r := newScanRunner(t, bpRoot, filepath.Join(dir, "st"), src)
	_, err := r.Run(context.Background(), KindSmartScan, nil, nil)
	require.NoError(t, err)
	l, err := pathlock.Acquire(bpRoot, "doPurge")
	require.NoError(t, err)
	defer l.Release()
	_, err = r.Run(context.Background(), KindCoherencyCheck, nil, nil)
	require.NoError(t, err)
	_, err = r.Run(context.Background(), KindExternalRestore, map[string]string{"sourcePath": bpRoot, "target": "maildir:" + filepath.Join(dir, "out")}, nil)
	require.NoError(t, err)
}
