package operations

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/cbfs/cbfs/export"
	"github.com/cbfs/cbfs/opqueue"
	"golang.org/x/sys/unix"
)

func (r *Runner) export(ctx context.Context, p *ExportParams, progress opqueue.ProgressFunc) (string, error) {
	dest, domains, cos := p.DestPath, p.Domains, p.COS
	bp, err := r.openPath()
	if err != nil {
		return "", err
	}
	if err := checkThreshold(dest, p.Threshold); err != nil {
		return "", err
	}
	pol, err := r.policy()
	if err != nil {
		return "", err
	}
	res, err := export.Run(ctx, bp, dest, export.Options{Domains: domains, COS: cos, Policy: pol, Progress: progressOf(progress),
		SkipItems: p.SkipItems})
	text := ""
	if res != nil {
		text = res.Report()
	}
	if err != nil {
		return text, fmt.Errorf("export: %w", err)
	}
	return text, nil
}

// checkThreshold refuses an export whose destination's file system has
// less than thresholdMB MB free (doExport threshold; 0: no check). The
// destination may not exist yet: its nearest existing parent is measured.
func checkThreshold(dest string, thresholdMB int) error {
	if thresholdMB <= 0 {
		return nil
	}
	dir := dest
	var st unix.Statfs_t
	for {
		err := unix.Statfs(dir, &st)
		if err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if !errors.Is(err, unix.ENOENT) || parent == dir {
			return fmt.Errorf("threshold: free space of %s: %w", dest, err)
		}
		dir = parent
	}
	free := st.Bavail * uint64(st.Bsize) >> 20
	if free < uint64(thresholdMB) {
		return fmt.Errorf("threshold: %s has %d MB free, below the threshold of %d MB: export not started", dir, free, thresholdMB)
	}
	return nil
}
