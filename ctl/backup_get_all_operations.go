package ctl

import (
	"context"
	"os"
	"strings"

	"github.com/cbfs/cbfs/operations"
	"github.com/cbfs/cbfs/opqueue"
)

// getAllOperationsCmd is "backup getAllOperations [verbose true]".
type getAllOperationsCmd struct {
	OpFlags
	Verbose bool `name:"verbose" help:"Also print each operation's times, error and report."`
}

// Help is the long help of getAllOperations.
func (c *getAllOperationsCmd) Help() string {
	return `Lists the operations of the queue, oldest first (FIFO order): queued, running and ended ones (ended ones are kept 30 days). With no service running, the queue database in the state directory is read under its lock.`
}

func (c *getAllOperationsCmd) Run(ctx context.Context, g *Globals) error {
	return openQueue(g, &c.OpFlags, func(qa queueAccess) error {
		ops, err := qa.list(ctx)
		if err != nil {
			return err
		}
		sortOps(ops)
		startProblems(g, &c.OpFlags)
		if ops == nil {
			ops = []opqueue.Op{}
		}
		if g.JSON {
			return printJSON(g.Stdout, ops)
		}
		printOps(g.Stdout, ops, c.Verbose)
		return nil
	})
}

// startProblems shows, as warnings on stderr, what cbfs serve
// --check-at-start=warn found wrong when it started.
func startProblems(g *Globals, f *OpFlags) {
	s, err := f.settings(g)
	if err != nil {
		return
	}
	b, err := os.ReadFile(operations.StartProblemsFile(s.StateDir))
	if err != nil {
		return
	}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			g.warnf("the service started with a problem: %s", l)
		}
	}
}
