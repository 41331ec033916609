package ctl

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/internal/cli"
	"github.com/cbfs/cbfs/internal/confined"
	"github.com/cbfs/cbfs/mailbox"
	"github.com/klauspost/compress/gzip"
)

// getServerConfigCmd is "backup getServerConfig standard|customizations".
type getServerConfigCmd struct {
	Kind    string `arg:"" enum:"standard,customizations" placeholder:"standard|customizations" help:"standard: server and global configuration backups; customizations: archives of the configuration folders."`
	Date    string `name:"date" default:"last" placeholder:"last|first|all|DATE" help:"Which backup: last (default), first, all, or the last one taken at or before a date (${date_help}; ${moment_help})."`
	File    string `name:"file" placeholder:"FILE" help:"standard only: read this configuration backup file instead of the Backup Path's."`
	Query   string `name:"query" default:"/" placeholder:"TYPE/ID/KEY" help:"standard only: what to show: / (everything), serverConfig/KEY[/SERVER], globalConfig/KEY, cos/NAME|ID/KEY, domain/NAME|ID/KEY, distributionList/NAME|ID/KEY or zimlets/NAME/KEY; a shorter prefix shows the whole section. SERVER (Carbonio's per-server form) must be the backed-up server's hostname or id: a Backup Path holds one server. Trailing slash optional."`
	Verbose bool   `name:"verbose" help:"standard: also show each backup's file; customizations: show the restore warning and each archive's file list."`
	Colors  bool   `name:"colors" help:"Colour the keys (ANSI), as Carbonio's colors true."`
}

// Help is the long help of getServerConfig.
func (c *getServerConfigCmd) Help() string {
	return `Dates are printed in the zone of TZ (UTC when unset). Server configuration is backed up, never restored automatically: use this to read it back.

Examples:
  cbctl backup getServerConfig standard date last query serverConfig/zimbraMailMode/
  cbctl backup getServerConfig standard file /path/to/config_28_12_22#15_14_29.json
  cbctl backup getServerConfig customizations date last verbose true`
}

// configLine is the width of "config date____..." before the date (seed).
const configLine = 106

func (c *getServerConfigCmd) Run(ctx context.Context, g *Globals) error {
	sel, err := parseDateSel(c.Date, selLast, selFirst, selAll)
	if err != nil {
		return err
	}
	if c.Kind == "customizations" {
		if c.File != "" {
			return cli.Usagef("file applies to standard configuration backups only")
		}
		return c.customizations(g, sel)
	}
	query, err := backuppath.ParseConfigQuery(c.Query)
	if err != nil {
		return &cli.UsageError{Err: err}
	}
	query, server := query.SplitServer()
	type source struct {
		path string
		cfg  *backuppath.ServerConfig
	}
	var sources []source
	if c.File != "" {
		cfg, err := backuppath.ReadServerConfigFile(c.File)
		if err != nil {
			return fmt.Errorf("config file: %w", err)
		}
		abs, _ := filepath.Abs(c.File)
		sources = append(sources, source{abs, cfg})
	} else {
		p, err := g.Path()
		if err != nil {
			return err
		}
		files, err := selectServerFiles(p, backuppath.KindConfig, sel)
		if err != nil {
			return err
		}
		for _, f := range files {
			if err := ctx.Err(); err != nil {
				return err
			}
			cfg, err := p.ReadServerConfig(f.RelPath)
			if err != nil {
				return fmt.Errorf("config backup: %w", err)
			}
			if cfg.Date == 0 {
				cfg.Date = mailbox.MillisOf(f.Date)
			}
			sources = append(sources, source{filepath.Join(p.Root, f.RelPath), cfg})
		}
	}

	type jsonOut struct {
		Date   string `json:"date"`
		File   string `json:"file"`
		Query  string `json:"query"`
		Result any    `json:"result"`
	}
	var outs []jsonOut
	for _, s := range sources {
		if server != "" && !s.cfg.IsServer(server) {
			return fmt.Errorf("%s: query %s: this is the configuration backup of server %s, not %q (a Backup Path holds one server)",
				s.path, c.Query, orDash(s.cfg.Hostname), server)
		}
		tree, err := s.cfg.Tree()
		if err != nil {
			return fmt.Errorf("%s: %w", s.path, err)
		}
		res, err := query.Apply(tree)
		if err != nil {
			return fmt.Errorf("%s: %w", s.path, err)
		}
		date := s.cfg.Date.Time()
		if g.JSON {
			outs = append(outs, jsonOut{Date: date.Format(time.RFC3339), File: s.path, Query: query.String(), Result: res})
			continue
		}
		label := "config date"
		fmt.Fprintf(g.Stdout, "%s%s%s\n", label, strings.Repeat("_", configLine-len(label)), formatDateZ(date))
		if c.Verbose {
			kv(g.Stdout, configIndent, "file", s.path)
			if s.cfg.Hostname != "" {
				kv(g.Stdout, configIndent, "hostname", s.cfg.Hostname)
			}
		}
		w := g.Stdout
		if c.Colors {
			w = colorKeys{w}
		}
		flatten(w, query.Leaf(), res)
	}
	if g.JSON {
		if outs == nil {
			outs = []jsonOut{}
		}
		return printJSON(g.Stdout, outs)
	}
	return nil
}

// selectServerFiles picks files of kind by the date selector.
func selectServerFiles(p *backuppath.Path, kind string, sel dateSel) ([]backuppath.ServerFile, error) {
	all, err := p.ServerFiles()
	if err != nil {
		return nil, err
	}
	var files []backuppath.ServerFile
	for _, f := range all {
		if f.Kind == kind {
			files = append(files, f)
		}
	}
	what := "configuration backup"
	if kind == backuppath.KindCustomizations {
		what = "customizations archive"
	}
	if len(files) == 0 {
		dir, _ := p.ServerDirs()
		return nil, fmt.Errorf("no %s in %s", what, filepath.Join(p.Root, dir))
	}
	switch sel.Kind {
	case selAll:
		return files, nil
	case selFirst:
		return files[:1], nil
	case selLast:
		return files[len(files)-1:], nil
	}
	var pick []backuppath.ServerFile
	for _, f := range files {
		if !f.Date.After(sel.At) {
			pick = []backuppath.ServerFile{f}
		}
	}
	if pick == nil {
		return nil, fmt.Errorf("no %s taken at or before %s (the first is of %s)", what, formatDateZ(sel.At), formatDateZ(files[0].Date))
	}
	return pick, nil
}

// colorKeys colours the key of each "    key value" line (colors true).
type colorKeys struct{ w io.Writer }

func (c colorKeys) Write(p []byte) (int, error) {
	var b strings.Builder
	for _, l := range strings.SplitAfter(string(p), "\n") {
		body := strings.TrimLeft(l, " ")
		ind := l[:len(l)-len(body)]
		if k, rest, ok := strings.Cut(body, " "); ok && ind != "" {
			b.WriteString(ind + "\x1b[36m" + k + "\x1b[0m " + rest)
		} else {
			b.WriteString(l)
		}
	}
	if _, err := io.WriteString(c.w, b.String()); err != nil {
		return 0, err
	}
	return len(p), nil
}

// flatten prints v as aligned "path value" lines, sorted by key; the
// values of a list print one per line under the same key.
func flatten(w io.Writer, prefix string, v any) {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if len(keys) == 0 && prefix != "" {
			kv(w, configIndent, prefix, "(empty)")
		}
		for _, k := range keys {
			p := k
			if prefix != "" {
				p = prefix + "/" + k
			}
			flatten(w, p, x[k])
		}
	case []any:
		if len(x) == 0 {
			kv(w, configIndent, prefix, "(empty)")
		}
		for _, e := range x {
			flatten(w, prefix, e)
		}
	case string:
		kv(w, configIndent, prefix, x)
	case nil:
		kv(w, configIndent, prefix, "null")
	default:
		b, _ := json.Marshal(x)
		kv(w, configIndent, prefix, string(b))
	}
}

// customizationsWarning is the seed's warning about customizations
// archives.
const customizationsWarning = `ATTENTION: These files contain the directories /opt/zextras//conf/ and /opt/zextras/postfix/conf/ compressed into a single archive.
Restore can only be performed manually. Do it only if you know what you're doing.
`

// customizationOut is one archive in JSON output.
type customizationOut struct {
	Filename   string   `json:"filename"`
	Path       string   `json:"path"`
	ModifyDate string   `json:"modifyDate"` // RFC 3339, UTC: the archive's backup time
	Size       int64    `json:"size"`
	Files      []string `json:"files,omitempty"`
	Error      string   `json:"error,omitempty"`
}

func (c *getServerConfigCmd) customizations(g *Globals, sel dateSel) error {
	p, err := g.Path()
	if err != nil {
		return err
	}
	files, err := selectServerFiles(p, backuppath.KindCustomizations, sel)
	if err != nil {
		return err
	}
	outs := make([]customizationOut, 0, len(files))
	for _, f := range files {
		abs := filepath.Join(p.Root, f.RelPath)
		o := customizationOut{Filename: f.Name, Path: filepath.Dir(abs) + "/", ModifyDate: f.Date.Format(time.RFC3339), Size: f.Size}
		if c.Verbose {
			names, err := tarNames(p.Root, f.RelPath)
			o.Files = names
			if err != nil {
				o.Error = errReason(err)
			}
		}
		outs = append(outs, o)
	}
	if g.JSON {
		return printJSON(g.Stdout, outs)
	}
	if c.Verbose {
		fmt.Fprint(g.Stdout, customizationsWarning)
	}
	for i, o := range outs {
		fmt.Fprintln(g.Stdout)
		kv(g.Stdout, configIndent, "filename", o.Filename)
		kv(g.Stdout, configIndent, "path", o.Path)
		kv(g.Stdout, configIndent, "modify date", formatDateZ(files[i].Date))
		if c.Verbose {
			kv(g.Stdout, configIndent, "size", o.Size)
			for _, n := range o.Files {
				kv(g.Stdout, configIndent, "file", n)
			}
			if o.Error != "" {
				kv(g.Stdout, configIndent, "error", o.Error)
				g.warnf("%s: %s", o.Filename, o.Error)
			}
		}
	}
	return nil
}

// tarNames lists the entries of the tar.gz archive rel under root (as many
// as could be read), opened confined: no symlink out of the Backup Path, no
// FIFO waited on.
func tarNames(root, rel string) ([]string, error) {
	f, err := confined.Open(root, rel)
	if err != nil {
		return nil, fmt.Errorf("unreadable: %w", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("broken: %w", err)
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	var names []string
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return names, nil
		}
		if err != nil {
			return names, fmt.Errorf("broken: %w", err)
		}
		names = append(names, h.Name)
	}
}
