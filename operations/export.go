package operations

import (
	"context"
	"fmt"

	"github.com/cbfs/cbfs/export"
	"github.com/cbfs/cbfs/opqueue"
)

func (r *Runner) export(ctx context.Context, dest string, domains, cos []string, progress opqueue.ProgressFunc) (string, error) {
	bp, err := r.openPath()
	if err != nil {
		return "", err
	}
	pol, err := r.policy()
	if err != nil {
		return "", err
	}
	res, err := export.Run(ctx, bp, dest, export.Options{Domains: domains, COS: cos, Policy: pol, Progress: progressOf(progress)})
	text := ""
	if res != nil {
		text = res.Report()
	}
	if err != nil {
		return text, fmt.Errorf("export: %w", err)
	}
	return text, nil
}
