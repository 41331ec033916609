package ctl

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/internal/cli"
)

// getAvailableDomainsCmd is "backup getAvailableDomains [last|DATE] [BACKUP_PATH]".
type getAvailableDomainsCmd struct {
	Date string `arg:"" optional:"" default:"last" name:"DATE" help:"last (default): every domain; DATE: the domains of the accounts that existed then. ${date_help}; ${moment_help}."`
	Path string `arg:"" optional:"" name:"BACKUP_PATH" help:"The Backup Path (Carbonio's second positional); the same as backup_path / --backup-path."`
}

// Help is the long help of getAvailableDomains.
func (c *getAvailableDomainsCmd) Help() string {
	return `One line per domain, sorted: the domain, its accounts in the Backup Path (system accounts left out) and whether the last configuration backup records it. Example: cbctl backup getAvailableDomains last /opt/zextras/backup/export`
}

// domainRow is one getAvailableDomains row.
type domainRow struct {
	Domain   string `json:"domain"`
	Accounts int    `json:"accounts"`
	InConfig bool   `json:"inConfigBackup"`
}

func (c *getAvailableDomainsCmd) Run(ctx context.Context, g *Globals) error {
	at, err := parseLastOrDate(c.Date)
	if err != nil {
		return err
	}
	if c.Path != "" {
		if g.BackupPath != "" && g.BackupPath != c.Path {
			return cli.Usagef("two Backup Paths: %s and backup_path %s", c.Path, g.BackupPath)
		}
		g.BackupPath = c.Path
	}
	p, err := g.Path()
	if err != nil {
		return err
	}
	rows, err := availableAccounts(ctx, g, p, accountFilter{at: at, hideSystem: true})
	if err != nil {
		return err
	}
	byName := map[string]*domainRow{}
	get := func(d string) *domainRow {
		k := strings.ToLower(d)
		if byName[k] == nil {
			byName[k] = &domainRow{Domain: k}
		}
		return byName[k]
	}
	for _, r := range rows {
		if _, d, ok := strings.Cut(r.Name, "@"); ok && d != "" {
			get(d).Accounts++
		}
	}
	if files, err := selectServerFiles(p, backuppath.KindConfig, dateSel{Kind: selLast}); err == nil {
		if cfg, err := p.ReadServerConfig(files[0].RelPath); err == nil {
			for _, d := range cfg.Domains {
				if d.Name != "" && (at.IsZero() || byName[strings.ToLower(d.Name)] != nil) {
					get(d.Name).InConfig = true
				}
			}
		} else {
			g.warnf("configuration backup %s: %v", files[0].RelPath, err)
		}
	}
	out := make([]domainRow, 0, len(byName))
	for _, r := range byName {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Domain < out[j].Domain })
	if g.JSON {
		return printJSON(g.Stdout, out)
	}
	tw := tabwriter.NewWriter(g.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DOMAIN\tACCOUNTS\tIN CONFIG BACKUP")
	for _, r := range out {
		fmt.Fprintf(tw, "%s\t%d\t%t\n", r.Domain, r.Accounts, r.InConfig)
	}
	return tw.Flush()
}
