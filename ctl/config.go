package ctl

import (
	"context"
	"fmt"
	"strings"

	"github.com/cbfs/cbfs/operations"
	"github.com/cbfs/cbfs/service"
)

// configCmd is Carbonio's "config set|get|unset cos|account NAME backupEnabled [VALUE]".
type configCmd struct {
	Set   configSetCmd   `cmd:"" help:"Set backupEnabled of a COS or an account (true or false)."`
	Get   configGetCmd   `cmd:"" help:"Show backupEnabled of a COS or an account."`
	Unset configUnsetCmd `cmd:"" help:"Remove a COS's or account's backupEnabled setting (it inherits again: enabled)."`
}

// configArgs are the positional words of a config command.
type configArgs struct {
	Scope string `arg:"" enum:"cos,account" placeholder:"cos|account" help:"cos or account."`
	Name  string `arg:"" help:"The COS name or the account (name@domain)."`
	Key   string `arg:"" placeholder:"backupEnabled" help:"The attribute: backupEnabled."`
}

// configSetCmd is "config set cos|account NAME backupEnabled true|false".
type configSetCmd struct {
	configArgs
	Value string `arg:"" placeholder:"true|false" help:"true or false."`
	Force bool   `name:"force" help:"Set it even for a name that is neither an account nor a COS of the Backup Path or the accounts file."`
	OpFlags
}

// Help is the long help of config set.
func (c *configSetCmd) Help() string { return configHelp }

const configHelp = `Configuration changes are applied at once, never queued: by the running cbfs serve, or here under the state directory's lock. The toggles live in <state-dir>/backup_config.json. An account's own setting wins over its COS's. With backup disabled, scans skip the account, exports leave it out, and it is marked deleted in the Backup Path (so doPurge drops its data once the retention has passed); enabling it again marks it active.`

func (c *configSetCmd) Run(ctx context.Context, g *Globals) error {
	scope := c.Scope
	if c.Force {
		scope = operations.ForceScope + scope
	}
	return runConfig(ctx, g, &c.OpFlags, service.ConfigRequest{Action: "set", Scope: scope, Name: c.Name, Key: c.Key, Value: c.Value})
}

// configGetCmd is "config get cos|account NAME backupEnabled".
type configGetCmd struct {
	configArgs
	OpFlags
}

// Help is the long help of config get.
func (c *configGetCmd) Help() string { return configHelp }

func (c *configGetCmd) Run(ctx context.Context, g *Globals) error {
	return runConfig(ctx, g, &c.OpFlags, service.ConfigRequest{Action: "get", Scope: c.Scope, Name: c.Name, Key: c.Key})
}

// configUnsetCmd is "config unset cos|account NAME backupEnabled".
type configUnsetCmd struct {
	configArgs
	OpFlags
}

// Help is the long help of config unset.
func (c *configUnsetCmd) Help() string { return configHelp }

func (c *configUnsetCmd) Run(ctx context.Context, g *Globals) error {
	return runConfig(ctx, g, &c.OpFlags, service.ConfigRequest{Action: "unset", Scope: c.Scope, Name: c.Name, Key: c.Key})
}

// runConfig applies or reads a toggle through the running service, or
// here under the state lock.
func runConfig(ctx context.Context, g *Globals, f *OpFlags, req service.ConfigRequest) error {
	v, err := configValue(ctx, g, f, req)
	if err != nil {
		return err
	}
	if g.JSON {
		return printJSON(g.Stdout, map[string]string{"scope": strings.TrimPrefix(req.Scope, operations.ForceScope), "name": req.Name, "key": req.Key, "value": v})
	}
	fmt.Fprintln(g.Stdout, v)
	return nil
}

// configValue answers a configuration request through the running
// service, or here under the state lock when none runs.
func configValue(ctx context.Context, g *Globals, f *OpFlags, req service.ConfigRequest) (string, error) {
	var v string
	err := viaService(g, f, func(c *service.Client) (err error) {
		v, err = c.Config(ctx, req)
		return err
	}, func(s operations.Settings) error {
		r, err := runner(g, s)
		if err != nil {
			return err
		}
		v, err = r.Config(ctx, operations.ConfigRequest(req))
		return err
	})
	if err != nil {
		return "", remoteErr(err)
	}
	return v, nil
}
