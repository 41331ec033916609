package ctl

import (
	"context"
	"errors"
	"fmt"

	"github.com/cbfs/cbfs/opqueue"
)

// doStopOperationCmd is "backup doStopOperation ID".
type doStopOperationCmd struct {
	ID string `arg:"" name:"ID" help:"The operation's id (from getAllOperations)."`
	OpFlags
}

// Help is the long help of doStopOperation.
func (c *doStopOperationCmd) Help() string {
	return `A queued operation is removed from the queue (recorded stopped); a running one is stopped at its next safe point and stays resumable (run it again).`
}

func (c *doStopOperationCmd) Run(ctx context.Context, g *Globals) error {
	return openQueue(g, &c.OpFlags, func(qa queueAccess) error {
		var op opqueue.Op
		var err error
		if qa.c != nil {
			op, err = qa.c.Stop(ctx, c.ID)
		} else {
			op, err = qa.q.Stop(c.ID)
		}
		if err != nil {
			return stopErr(c.ID, err)
		}
		if g.JSON {
			return printJSON(g.Stdout, op)
		}
		fmt.Fprintf(g.Stdout, "operation %s (%s): %s\n", op.ID, op.Kind, stopState(op))
		return nil
	})
}

func stopState(op opqueue.Op) string {
	if op.State == opqueue.Running {
		return "stopping"
	}
	return string(op.State)
}

func stopErr(id string, err error) error {
	switch {
	case errors.Is(err, opqueue.ErrNotFound):
		return fmt.Errorf("no operation %s", id)
	case errors.Is(err, opqueue.ErrFinished):
		return fmt.Errorf("operation %s has already ended", id)
	}
	return err
}
