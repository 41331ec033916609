package operations

import (
	"context"
	"fmt"

	"github.com/cbfs/cbfs/opqueue"
	"github.com/cbfs/cbfs/search"
)

// KindIndexMessages is doIndexMessages, cbfs's own operation (issue #23):
// build or refresh the full-text index of the Backup Path's messages.
const KindIndexMessages = "doIndexMessages"

// IndexMessagesParams: doIndexMessages [rebuild true] [index_file FILE], search.Build.
type IndexMessagesParams struct {
	Rebuild   bool   `pair:"rebuild" name:"rebuild" help:"Read every message again instead of only those the index does not hold yet."`
	IndexFile string `pair:"index_file" name:"index-file" placeholder:"FILE" help:"The index file (default: beside the mount's index, outside the Backup Path: /var/cache/cbfs/<name>-<hash>.search for root, else ~/.cache/cbfs/...)."`
	Notify
}

func (*IndexMessagesParams) Kind() string { return KindIndexMessages }
func (*IndexMessagesParams) Check() error { return nil }

// Localize makes index_file absolute.
func (p *IndexMessagesParams) Localize() {
	if p.IndexFile != "" {
		p.IndexFile = absPath(p.IndexFile)
	}
}

func (p *IndexMessagesParams) run(ctx context.Context, r *Runner, progress opqueue.ProgressFunc) (string, error) {
	bp, err := r.openPath()
	if err != nil {
		return "", err
	}
	file := p.IndexFile
	if file == "" {
		if file, err = search.DefaultFile(bp.Root); err != nil {
			return "", err
		}
	}
	rep, err := search.Build(ctx, bp, file, search.Options{Rebuild: p.Rebuild, Progress: func(s search.Progress) {
		if s.Phase == "items" {
			progress(opqueue.Progress{Done: int64(s.AccountsDone), Total: int64(s.Accounts), Unit: "accounts", Phase: "items"})
		} else {
			progress(opqueue.Progress{Done: int64(s.MessagesDone), Total: int64(s.Messages), Unit: "messages", Bytes: s.Bytes, Phase: s.Phase})
		}
	}})
	if err != nil {
		return "", fmt.Errorf("search index: %w", err)
	}
	return rep.Summary(file), nil
}
