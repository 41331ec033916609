package ctl

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/cbfs/cbfs/internal/cli"
	"github.com/cbfs/cbfs/opqueue"
)

// monitorCmd is "backup monitor ID".
type monitorCmd struct {
	ID            string `arg:"" optional:"" name:"ID" help:"The operation's id; default: the running operation."`
	OperationHost string `name:"operation-host" placeholder:"HOST" help:"The host the operation runs on. Accepted for Carbonio's command lines: only this host's service exists, so it must be this host (its name, localhost, or an address of it)."`
	OpFlags
}

// Help is the long help of monitor.
func (c *monitorCmd) Help() string {
	return `Follows an operation (without ID, the one running now) until it ends (progress bar on a terminal), then prints its state and report. Exit status 1 if it failed or was stopped (or, without ID, if none runs), 3 if it partly succeeded.`
}

func (c *monitorCmd) Run(ctx context.Context, g *Globals) error {
	if err := checkLocalHost(c.OperationHost); err != nil {
		return err
	}
	return openQueue(g, &c.OpFlags, func(qa queueAccess) error {
		var op opqueue.Op
		if c.ID == "" {
			ops, err := qa.list(ctx)
			if err != nil {
				return err
			}
			for _, o := range ops {
				if o.State == opqueue.Running {
					c.ID, op = o.ID, o
				}
			}
			if c.ID == "" {
				return errors.New("no operation is running: give the id of one (backup getAllOperations lists them)")
			}
			// Which one, since it was not named (stderr: stdout is the
			// report).
			fmt.Fprintf(g.Stderr, "cbctl: following operation %s (%s)\n", op.ID, op.Kind)
		}
		if qa.c != nil {
			bar := newBar(g)
			var err error
			op, err = qa.c.Monitor(ctx, c.ID, func(o opqueue.Op) { bar.update(o.Progress) })
			bar.finish()
			if err != nil {
				return stopErr(c.ID, remoteErr(err))
			}
		} else {
			var err error
			if op, err = qa.q.Get(c.ID); err != nil {
				return stopErr(c.ID, err)
			}
		}
		if g.JSON {
			if err := printJSON(g.Stdout, op); err != nil {
				return err
			}
		} else {
			printOps(g.Stdout, []opqueue.Op{op}, true)
		}
		return opErr(op)
	})
}

// checkLocalHost accepts monitor's operation_host when it names this host:
// "", localhost, the host name (or its first label) or an address of one
// of its interfaces. Another host is a usage error: cbfs has no cluster.
func checkLocalHost(h string) error {
	h = strings.TrimSpace(h)
	if h == "" || strings.EqualFold(h, "localhost") {
		return nil
	}
	if name, err := os.Hostname(); err == nil {
		short, _, _ := strings.Cut(name, ".")
		if strings.EqualFold(h, name) || strings.EqualFold(h, short) {
			return nil
		}
	}
	if ip := net.ParseIP(h); ip != nil {
		if ip.IsLoopback() {
			return nil
		}
		if addrs, err := net.InterfaceAddrs(); err == nil {
			for _, a := range addrs {
				if n, ok := a.(*net.IPNet); ok && n.IP.Equal(ip) {
					return nil
				}
			}
		}
	}
	return cli.Usagef("operation_host %q is not this host: cbfs runs its operations here only", h)
}
