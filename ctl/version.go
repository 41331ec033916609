package ctl

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version is set at build time with -ldflags "-X github.com/cbfs/cbfs/ctl.Version=...".
var Version = ""

// VersionCmd is "version".
type VersionCmd struct{}

func versionString() string {
	v := Version
	if v == "" {
		v = "(devel)"
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
			v = bi.Main.Version
		}
	}
	return v
}

func (c *VersionCmd) Run(ctx context.Context, g *Globals) error {
	if g.JSON {
		return printJSON(g.Stdout, map[string]string{"version": versionString(), "go": runtime.Version()})
	}
	_, err := fmt.Fprintf(g.Stdout, "cbctl %s (%s)\n", versionString(), runtime.Version())
	return err
}
