package ctl

import (
	"context"
	"fmt"
	"runtime"

	"github.com/cbfs/cbfs/internal/cli"
)

// VersionCmd is "version".
type VersionCmd struct{}

func (c *VersionCmd) Run(ctx context.Context, g *Globals) error {
	if g.JSON {
		return printJSON(g.Stdout, map[string]string{"version": cli.VersionString(), "go": runtime.Version()})
	}
	_, err := fmt.Fprintf(g.Stdout, "cbctl %s (%s)\n", cli.VersionString(), runtime.Version())
	return err
}
