package ctl

import (
	"context"
	"fmt"
	"runtime"

	"github.com/cbfs/cbfs/internal/cli"
)

// versionCmd is "version".
type versionCmd struct{}

func (c *versionCmd) Run(ctx context.Context, g *Globals) error {
	if g.JSON {
		return printJSON(g.Stdout, map[string]string{"version": cli.VersionString(), "go": runtime.Version()})
	}
	_, err := fmt.Fprintf(g.Stdout, "cbctl %s (%s)\n", cli.VersionString(), runtime.Version())
	return err
}
