package ctl

import (
	"context"
	"fmt"
	"path/filepath"
	"text/tabwriter"

	"github.com/cbfs/cbfs/internal/cli"
	"github.com/cbfs/cbfs/sample"
)

// sampleCmd is "sample DEST".
type sampleCmd struct {
	Dest           string `arg:"" placeholder:"DEST" help:"Folder to create the Backup Path in (must be missing or empty)."`
	Accounts       int    `name:"accounts" default:"5" help:"Number of accounts (at least 3)."`
	Messages       int    `name:"messages" default:"40" help:"Messages per account (approximate)."`
	Seed           int64  `name:"seed" default:"1" help:"Random seed: the same seed makes the same Backup Path, byte for byte."`
	BigAttachments bool   `name:"big-attachments" help:"Add MB-sized attachments to a few messages."`
	Dialect        string `name:"dialect" default:"cbfs" enum:"cbfs,zimbra,delta,zimbra-ud,zimbra-nested" placeholder:"NAME" help:"Dialect of the account and item files: cbfs (docs/FORMAT.md, the default), or zimbra, delta, zimbra-ud or zimbra-nested, foreign test dialects (docs/DIALECTS.md)."`
}

// Help is the long help of sample.
func (c *sampleCmd) Help() string {
	return `The sample has several domains and COS, a deleted account, nested folders, messages, contacts and appointments with several states, server configuration backups, customizations archives, and deliberately damaged items (truncated blob, digest mismatch, unreadable blob, missing blob, double-gzipped blob, malformed item file), which are listed at the end.`
}

func (c *sampleCmd) Run(ctx context.Context, g *Globals) error {
	if c.Accounts < 3 {
		return cli.Usagef("accounts: want at least 3, got %d", c.Accounts)
	}
	if c.Messages < 0 {
		return cli.Usagef("messages: want 0 or more, got %d", c.Messages)
	}
	rep, err := sample.Generate(ctx, c.Dest, sample.Options{
		Accounts: c.Accounts, Messages: c.Messages, Seed: c.Seed, BigAttachments: c.BigAttachments,
		Dialect: c.Dialect,
	})
	if err != nil {
		return fmt.Errorf("sample: %w", err)
	}
	abs, _ := filepath.Abs(c.Dest)
	if g.JSON {
		return printJSON(g.Stdout, struct {
			Path string `json:"backupPath"`
			*sample.Report
		}{abs, rep})
	}
	w := g.Stdout
	kv(w, configIndent, "backup path", abs)
	if rep.Dialect != "" {
		kv(w, configIndent, "dialect", rep.Dialect)
	}
	kv(w, configIndent, "accounts", len(rep.Accounts))
	for _, a := range rep.Accounts {
		kv(w, configIndent, "account", a)
	}
	kv(w, configIndent, "items", rep.Items)
	kv(w, configIndent, "blobs", rep.Blobs)
	kv(w, configIndent, "damaged items", len(rep.Damaged))
	if len(rep.Damaged) > 0 {
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "KIND\tACCOUNT\tITEM\tDIGEST")
		for _, d := range rep.Damaged {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", d.Kind, d.Account, d.ItemID, orDash(d.Digest))
		}
		return tw.Flush()
	}
	return nil
}
