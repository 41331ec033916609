package ctl

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/cbfs/cbfs/service"
)

// getServicesCmd is Carbonio's "backup getServices": whether the backup
// service (cbfs serve) runs.
type getServicesCmd struct {
	OpFlags
}

// Help is the long help of getServices.
func (c *getServicesCmd) Help() string {
	return "cbfs has one service, cbfs serve (the backup service: the operation queue and the schedules). It runs when it answers on the state directory's socket. Exit status 0 whether it runs or not."
}

// serviceStatus is one line of getServices.
type serviceStatus struct {
	Name    string `json:"name"`
	Running bool   `json:"running"`
	Version string `json:"version,omitempty"`
	Socket  string `json:"socket"`
	Detail  string `json:"detail,omitempty"`
}

func (c *getServicesCmd) Run(ctx context.Context, g *Globals) error {
	s, err := c.settings(g)
	if err != nil {
		return err
	}
	st := serviceStatus{Name: "backup", Socket: s.Socket}
	cl, err := service.Dial(s.Socket)
	switch {
	case err == nil:
		v, verr := cl.Version(ctx)
		if verr != nil {
			return fmt.Errorf("cbfs serve on %s: %w", s.Socket, verr)
		}
		st.Running, st.Version = true, v
	case errors.Is(err, service.ErrNoService):
		st.Detail = "no cbfs serve answers (systemctl start cbfs-serve)"
	default:
		return err
	}
	if g.JSON {
		return printJSON(g.Stdout, []serviceStatus{st})
	}
	tw := tabwriter.NewWriter(g.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tSTATUS\tDETAIL")
	status, detail := "stopped", st.Detail
	if st.Running {
		status, detail = "running", fmt.Sprintf("%s on %s", st.Version, st.Socket)
	}
	fmt.Fprintf(tw, "%s\t%s\t%s\n", st.Name, status, detail)
	return tw.Flush()
}
