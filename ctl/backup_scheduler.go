package ctl

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cbfs/cbfs/internal/cli"
	"github.com/cbfs/cbfs/internal/cron"
	"github.com/cbfs/cbfs/operations"
	"github.com/cbfs/cbfs/service"
)

// schedulerCmd is Carbonio's "backup scheduler SmartScan|coherencyCheck|purge
// get|set global|server [enabled true|false] [pattern CRON] [target_server
// NAME]".
type schedulerCmd struct {
	Name         string `arg:"" placeholder:"SmartScan|coherencyCheck|purge" help:"The scheduler: SmartScan (doSmartScan), purge (doPurge) or coherencyCheck (doCoherencyCheck)."`
	Action       string `arg:"" enum:"get,set" placeholder:"get|set" help:"get shows the schedule; set changes it."`
	Level        string `arg:"" enum:"global,server" placeholder:"global|server" help:"global or server: the same here, cbfs serve is the one server."`
	Enabled      string `name:"enabled" enum:"true,false," default:"" placeholder:"true|false" help:"set: run it on its pattern (true) or never (false)."`
	Pattern      string `name:"pattern" placeholder:"CRON" help:"set: when it runs, a cron pattern: minute hour day-of-month month day-of-week (\"0 4 * * *\": daily at 04:00), or @daily, @weekly ..."`
	TargetServer string `name:"target-server" placeholder:"NAME" help:"server: the server (default: local). cbfs serve is the only one, so any name means it."`
	OpFlags
}

// Help is the long help of scheduler.
func (c *schedulerCmd) Help() string {
	return `Defaults: SmartScan daily at 04:00 and purge on Saturdays at 04:00 (Carbonio's), coherencyCheck off (Sundays at 05:00 once enabled). cbfs serve's --scan-schedule and --purge-schedule set its own defaults; a schedule set here wins over them, is kept in <state-dir>/schedules.json and is applied at once by the running cbfs serve (or at its next start). Patterns are evaluated in the service's local time zone (TZ).`
}

// schedulerView is a scheduler's setting as shown.
type schedulerView struct {
	operations.ScheduleSetting
	Next *time.Time `json:"next,omitempty"` // when it runs next (enabled only)
}

func (c *schedulerCmd) Run(ctx context.Context, g *Globals) error {
	req := service.ConfigRequest{Action: c.Action, Scope: operations.ScheduleScope, Name: c.Name, Key: c.Level}
	if c.Action == "get" && (c.Enabled != "" || c.Pattern != "") {
		return cli.Usagef("scheduler %s get takes no enabled or pattern (did you mean set?)", c.Name)
	}
	if c.Action == "set" {
		var ch operations.ScheduleChange
		if c.Enabled != "" {
			b := c.Enabled == "true"
			ch.Enabled = &b
		}
		if c.Pattern != "" {
			if _, err := cron.Parse(c.Pattern); err != nil {
				return cli.Usagef("pattern: %w", err)
			}
			ch.Pattern = &c.Pattern
		}
		if ch.Enabled == nil && ch.Pattern == nil {
			return cli.Usagef("scheduler %s set: give enabled true|false, pattern \"CRON\" or both", c.Name)
		}
		b, err := json.Marshal(ch)
		if err != nil {
			return err
		}
		req.Value = string(b)
	}
	if t := c.TargetServer; c.Level == "server" && t != "" && !strings.EqualFold(t, "local") {
		if h, _ := os.Hostname(); !strings.EqualFold(t, h) {
			fmt.Fprintf(g.Stderr, "cbctl: note: cbfs has one server, the cbfs serve of this state directory; target_server %s is taken to mean it\n", t)
		}
	}
	v, err := configValue(ctx, g, &c.OpFlags, req)
	if err != nil {
		return err
	}
	var view schedulerView
	if err := json.Unmarshal([]byte(v), &view.ScheduleSetting); err != nil {
		return fmt.Errorf("scheduler answer: %w", err)
	}
	if view.Enabled {
		if sp, err := cron.Parse(view.Pattern); err == nil {
			if n := sp.Next(time.Now()); !n.IsZero() {
				view.Next = &n
			}
		}
	}
	if g.JSON {
		if view.Next != nil {
			u := view.Next.UTC()
			view.Next = &u
		}
		return printJSON(g.Stdout, view)
	}
	tw := tabwriter.NewWriter(g.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "scheduler\t%s\t(%s)\n", view.Name, view.Kind)
	fmt.Fprintf(tw, "enabled\t%t\n", view.Enabled)
	fmt.Fprintf(tw, "pattern\t%s\n", view.Pattern)
	if view.Next != nil {
		fmt.Fprintf(tw, "next\t%s\n", view.Next.Format("02/01/2006 15:04:05 MST"))
	}
	src := map[string]string{
		"set":     "set with cbctl backup scheduler (schedules.json)",
		"serve":   "cbfs serve's --scan-schedule / --purge-schedule",
		"default": "default",
	}[view.Source]
	fmt.Fprintf(tw, "from\t%s\n", src)
	return tw.Flush()
}
