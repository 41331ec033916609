package ctl

import (
	"context"
	"fmt"
)

// doStopAllOperationsCmd is "backup doStopAllOperations".
type doStopAllOperationsCmd struct {
	OpFlags
}

// Help is the long help of doStopAllOperations.
func (c *doStopAllOperationsCmd) Help() string {
	return `Stops the running operation and empties the queue.`
}

func (c *doStopAllOperationsCmd) Run(ctx context.Context, g *Globals) error {
	return openQueue(g, &c.OpFlags, func(qa queueAccess) error {
		var n int
		var err error
		if qa.c != nil {
			n, err = qa.c.StopAll(ctx)
		} else {
			n, err = qa.q.StopAll()
		}
		if err != nil {
			return err
		}
		if g.JSON {
			return printJSON(g.Stdout, map[string]int{"stopped": n})
		}
		fmt.Fprintf(g.Stdout, "stopped %d operations\n", n)
		return nil
	})
}
