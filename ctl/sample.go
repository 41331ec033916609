package ctl

import (
	"context"
	"fmt"
	"path/filepath"
	"text/tabwriter"
	"time"

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
	MetadataOnly   bool   `name:"metadata-only" help:"Instead: a large metadata-only Backup Path for scale tests, fast (a few shared blobs, item files written without fsync): --items in all over --accounts, the first account holding --big-account of them, all in its Inbox. Ignores --messages, --seed, --big-attachments and --dialect."`
	Items          int    `name:"items" default:"1000000" help:"With --metadata-only: items in all."`
	BigAccount     int    `name:"big-account" default:"100000" help:"With --metadata-only: items of the first account (at most half of --items)."`
}

// Help is the long help of sample.
func (c *sampleCmd) Help() string {
	return `The sample has several domains and COS, a deleted account, nested folders, messages, contacts and appointments with several states, server configuration backups, customizations archives, and deliberately damaged items (truncated blob, digest mismatch, unreadable blob, missing blob, double-gzipped blob, malformed item file), which are listed at the end.

With --metadata-only it writes a scale fixture instead (the one make bench measures): e.g. cbctl sample /srv/large --metadata-only --accounts 100 --items 2000000 writes 2 million items, one account of 100,000.`
}

func (c *sampleCmd) Run(ctx context.Context, g *Globals) error {
	if c.MetadataOnly {
		return c.runLarge(ctx, g)
	}
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

// runLarge is sample --metadata-only.
func (c *sampleCmd) runLarge(ctx context.Context, g *Globals) error {
	start := time.Now()
	rep, err := sample.GenerateLarge(ctx, c.Dest, sample.LargeOptions{Items: c.Items, Accounts: c.Accounts, BigAccount: min(c.BigAccount, c.Items/2)})
	if err != nil {
		return err
	}
	abs, _ := filepath.Abs(c.Dest)
	took := time.Since(start)
	if g.JSON {
		return printJSON(g.Stdout, struct {
			Path string `json:"backupPath"`
			*sample.LargeReport
			Seconds float64 `json:"seconds"`
		}{abs, rep, took.Seconds()})
	}
	w := g.Stdout
	kv(w, configIndent, "backup path", abs)
	kv(w, configIndent, "accounts", len(rep.Accounts))
	kv(w, configIndent, "items", rep.Items)
	kv(w, configIndent, "big account", fmt.Sprintf("%s (%s): %d items", rep.Accounts[0].Name, rep.Accounts[0].ID, rep.Accounts[0].Items))
	kv(w, configIndent, "blobs", rep.Blobs)
	kv(w, configIndent, "took", took.Round(time.Millisecond))
	return nil
}
