package ctl

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/internal/grammar"
	"github.com/cbfs/cbfs/mailbox"
)

// getFormatInfoCmd is "backup getFormatInfo": what cbfs understood of a
// Backup Path written by anyone.
type getFormatInfoCmd struct {
	MaxItems int `name:"max-items" default:"0" help:"Read at most this many item files (0: all); pair form: max_items N."`
}

// Help is the long help of getFormatInfo.
func (c *getFormatInfoCmd) Help() string {
	return `Reads every account_info and item file (or the first --max-items) the way the mount, cbctl and the restores do, and prints what cbfs understood: every state key met (keys of objects in a state and of Zimbra metadata as paths, item.tp, meta.s), how often, and which concept it was read as, that Zimbra writes it but cbfs does not need it, or NOT READ when it held data cbfs ignored; the share of state keys understood; the keymap keys that matched nothing; where account names came from; what could not be read, with one example each; and how blobs are named (SHA-256, SHA-1, 384-bit, other names), or that the path has no blobs (blobless). An administrator with a Backup Path written by Carbonio or another tool knows in one command whether cbfs reads it right; --keymap FILE corrects what it infers wrongly.`
}

// formatInfoOut is getFormatInfo's JSON output.
type formatInfoOut struct {
	Root        string             `json:"backupPath"`
	KeyMap      string             `json:"keymap,omitempty"`
	Dialect     string             `json:"dialect"` // "cbfs" when every key is cbfs's own, else "foreign"
	Accounts    int                `json:"accounts"`
	NameSources map[string]int     `json:"accountNameSources"`
	Items       int                `json:"itemFiles"`
	ItemsRead   int                `json:"itemsRead"`
	States      int                `json:"states"`
	Keys        []mailbox.KeyCount `json:"stateKeys"`
	Summary     string             `json:"summary"`                   // "read 98 % of state keys; ..."
	NotRead     []string           `json:"keysNotUnderstood"`         // key paths that held data cbfs did not read
	Unmatched   []string           `json:"keymapUnmatched,omitempty"` // keymap keys no state had
	Problems    []mailbox.Problem  `json:"notUnderstood"`
	Blobless    bool               `json:"blobless"`
	Blobs       map[string]int     `json:"blobNames"` // sha256, sha1, sha384, other
	Layout      layoutOut          `json:"layout"`    // server/ or servers/, drive_items/ (format_layout.go)
}

func (c *getFormatInfoCmd) Run(ctx context.Context, g *Globals) error {
	p, err := g.Path()
	if err != nil {
		return err
	}
	census := mailbox.NewCensus()
	dec := *p.Decoder
	dec.Census = census
	p.Decoder = &dec
	defer func() { p.Decoder.Census = nil }()

	out := formatInfoOut{Root: p.Root, KeyMap: g.KeyMap, Blobs: map[string]int{}, Blobless: p.Blobless()}
	entries, err := p.Accounts()
	if err != nil {
		return err
	}
	out.Accounts = len(entries)
	for _, e := range entries {
		if e.Err != nil {
			census.Problem("account_info: "+blob.Class(e.Err), grammar.OneLine(errReason(e.Err)))
		} else {
			for _, n := range e.Account.Notes {
				if strings.HasSuffix(n, "(kept)") {
					census.Problem("account_info value not interpreted", e.ID+": "+n)
				}
			}
		}
	}
	budget := c.MaxItems
accounts:
	for _, e := range entries {
		files, others, err := p.ItemFiles(e.ID)
		if err != nil {
			census.Problem("item folder unreadable", grammar.OneLine(errReason(err)))
			continue
		}
		for _, o := range others {
			why := mailbox.NotItemIDReason(filepath.Base(o))
			if why == "" {
				why = "not in a bucket folder"
			}
			census.Problem("not an item file ("+why+")", o)
		}
		out.Items += len(files)
		for i, f := range files {
			if err := ctx.Err(); err != nil {
				return err
			}
			if i > 0 && files[i-1].ItemID == f.ItemID {
				census.Problem("item id in two buckets (the usual bucket's copy counts)", f.RelPath)
				continue
			}
			if c.MaxItems > 0 && budget == 0 {
				break accounts
			}
			budget--
			it, err := p.ReadItemFile(f.RelPath, f.ItemID)
			if err != nil {
				census.Problem("item file: "+blob.Class(err), grammar.OneLine(errReason(err)))
				continue
			}
			out.ItemsRead++
			out.States += len(it.States)
			for _, s := range it.States {
				for _, n := range s.Notes {
					if strings.HasSuffix(n, "(kept)") {
						k, _, _ := strings.Cut(n, ":")
						census.Problem("state value not interpreted: "+k, f.RelPath+": "+n)
					}
				}
				if s.Type.HasContent() && s.Digest == "" {
					census.Problem("content state without a digest", f.RelPath)
				}
			}
		}
	}
	out.NameSources = census.NameSources()
	out.Keys = census.Keys()
	_, out.NotRead = census.Understood()
	if out.NotRead == nil {
		out.NotRead = []string{}
	}
	out.Summary = census.Summary()
	out.Unmatched = p.Decoder.UnmatchedKeymap(census)
	out.Problems = census.Problems()
	out.Dialect = "cbfs"
	for _, k := range out.Keys {
		if _, own := mailbox.ParseConcept(k.Key); !own || k.Concept != k.Key {
			out.Dialect = "foreign"
		}
	}
	if !out.Blobless {
		err := p.Blobs.Walk(ctx, func(name string, d blob.Digest, ok bool) error {
			switch {
			case !ok:
				out.Blobs["other"]++
			default:
				out.Blobs[d.Algorithm()]++
			}
			return nil
		})
		if err != nil {
			census.Problem("blob area unreadable", grammar.OneLine(errReason(err)))
			out.Problems = census.Problems()
		}
	}

	if out.Layout, err = formatLayout(ctx, p); err != nil {
		return err
	}

	if g.JSON {
		return printJSON(g.Stdout, out)
	}
	w := g.Stdout
	kv(w, configIndent, "backup path", out.Root)
	if out.KeyMap != "" {
		kv(w, configIndent, "keymap", out.KeyMap)
	}
	kv(w, configIndent, "dialect", out.Dialect)
	kv(w, configIndent, "accounts", out.Accounts)
	var src []string
	for k, n := range out.NameSources {
		src = append(src, fmt.Sprintf("%s %d", k, n))
	}
	sort.Strings(src)
	kv(w, configIndent, "account names from", orDash(strings.Join(src, ", ")))
	kv(w, configIndent, "item files", fmt.Sprintf("%d (%d read, %d states)", out.Items, out.ItemsRead, out.States))
	if out.Blobless {
		kv(w, configIndent, "blobs", "none: no items/ folder (blobless, or blobs on external storage); metadata only")
	} else {
		kv(w, configIndent, "blobs", fmt.Sprintf("sha256 %d, sha1 %d, sha384 %d, other names %d",
			out.Blobs["sha256"], out.Blobs["sha1"], out.Blobs["sha384"], out.Blobs["other"]))
	}
	out.Layout.print(w)
	kv(w, configIndent, "state keys", out.Summary)
	for _, u := range out.Unmatched {
		kv(w, configIndent, "keymap", u)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STATE KEY\tCOUNT\tREAD AS\tNOTES")
	for _, k := range out.Keys {
		as := k.Concept
		switch {
		case as != "":
		case k.NotRead > 0:
			as = "NOT READ (kept as it is)"
		default:
			as = "-"
		}
		var notes []string
		for n, c := range k.Notes {
			notes = append(notes, fmt.Sprintf("%s %d", n, c))
		}
		sort.Strings(notes)
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", k.Key, k.Count, as, orDash(strings.Join(notes, "; ")))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	if len(out.Problems) == 0 && len(out.NotRead) == 0 && len(out.Unmatched) == 0 {
		fmt.Fprintln(w, "everything was understood")
		return nil
	}
	if len(out.Problems) == 0 {
		fmt.Fprintln(w, "keys not understood: "+strings.Join(out.NotRead, ", "))
		return nil
	}
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NOT UNDERSTOOD\tCOUNT\tEXAMPLE")
	for _, pr := range out.Problems {
		fmt.Fprintf(tw, "%s\t%d\t%s\n", pr.What, pr.Count, pr.Example)
	}
	return tw.Flush()
}
