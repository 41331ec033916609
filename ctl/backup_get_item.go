package ctl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/internal/atomicfile"
	"github.com/cbfs/cbfs/internal/cli"
	"github.com/cbfs/cbfs/internal/grammar"
	"github.com/cbfs/cbfs/mailbox"
)

// getItemCmd is "backup getItem ACCOUNT ITEM".
type getItemCmd struct {
	Account      string `arg:"" help:"Account name (case-insensitive) or id."`
	Item         int    `arg:"" help:"Item id."`
	Date         string `name:"date" default:"last" placeholder:"last|all|first|DATE" help:"Which states: last (default, as Carbonio), all, first, or the state in force at a date (${date_help}; ${moment_help})."`
	DumpBlob     bool   `name:"dump-blob" help:"Also print each state's decompressed blob. A damaged blob prints what could be salvaged, warns on stderr and makes the exit status 1."`
	BlobsArchive string `name:"blobs-archive" placeholder:"FOLDER" help:"Read the blobs from this folder (laid out as a Backup Path's items/<xx>/<digest>, e.g. a copy of the blobs kept apart) instead of the Backup Path's own."`
	Output       string `name:"output" placeholder:"FILE" help:"Write only the selected state's decompressed, verified blob to FILE (an .eml a mail client opens), nothing else; needs one state (date last, first or a date). A damaged blob writes nothing and exits 1."`
}

// Help is the long help of getItem.
func (c *getItemCmd) Help() string {
	return `Prints an itemStates line, then for each selected state: start date (dd/MM/yyyy HH:mm:ss, in the zone of TZ, UTC when unset), type, deleted, folder, flags, digest, blob path and status: ok, broken (readable but corrupt: bad gzip, truncated, digest mismatch, more content than the state records) or unreadable (missing file, permissions, I/O), with the reason. Blob statuses do not change the exit status; a damaged item file (malformed JSON) or a damaged blob under dump_blob exits 1.

Example: cbctl backup getItem john@example.com 49965 dump_blob true backup_path /mnt/import date all`
}

// stateOut is one state in getItem's JSON output.
type stateOut struct {
	State mailbox.State `json:"state"`
	// The content's health, the one report the mount's meta.json also
	// gives: status, error and reason, digest, blobPath, healthyState,
	// salvage.
	mailbox.ContentHealth
	Folder    string   `json:"folderPath,omitempty"`
	Inherited []string `json:"inherited,omitempty"` // concepts the state did not say, taken from the state before it
	Notes     []string `json:"notes,omitempty"`     // values cbfs could not interpret (kept in state), digests found by value
}

// itemOut is getItem's JSON output.
type itemOut struct {
	Account  string     `json:"account"`
	ID       string     `json:"accountId"`
	Item     int        `json:"item"`
	ItemFile string     `json:"itemFile,omitempty"`
	Status   string     `json:"status"` // of the item file: ok, broken, unreadable
	Reason   string     `json:"reason,omitempty"`
	States   []stateOut `json:"states"`
}

func (c *getItemCmd) Run(ctx context.Context, g *Globals) error {
	sel, err := parseDateSel(c.Date, selAll, selFirst, selLast)
	if err != nil {
		return err
	}
	p, err := g.Path()
	if err != nil {
		return err
	}
	if c.BlobsArchive != "" {
		fi, err := os.Stat(filepath.Join(c.BlobsArchive, "items"))
		if err != nil || !fi.IsDir() {
			return fmt.Errorf("blobs_archive %s: no items folder of blobs there", c.BlobsArchive)
		}
		pc := *p
		pc.Blobs = blob.NewStore(c.BlobsArchive)
		p = &pc
	}
	acct, err := findAccount(p, c.Account)
	if err != nil {
		return err
	}
	rel, err := p.FindItem(acct.ID, c.Item)
	if err != nil {
		return fmt.Errorf("account %s: no item %d", acct.Name, c.Item)
	}
	out := itemOut{Account: acct.Name, ID: acct.ID, Item: c.Item, ItemFile: filepath.Join(p.Root, rel), Status: "ok", States: []stateOut{}}
	it, err := p.ReadItemFile(rel, c.Item)
	if err != nil {
		out.Status, out.Reason = blob.Class(err), itemReason(err)
		if g.JSON {
			if err := printJSON(g.Stdout, out); err != nil {
				return err
			}
		} else {
			fmt.Fprintf(g.Stdout, "%sitem file %s\n", itemIndent, out.ItemFile)
			kv(g.Stdout, itemIndent, "status", out.Status+": "+out.Reason)
		}
		return fmt.Errorf("account %s item %d: item file is %s: %s", acct.Name, c.Item, out.Status, out.Reason)
	}

	if c.Output != "" {
		return c.writeOutput(g, p, acct.Name, it, sel)
	}

	var idx []int // the selected states
	switch sel.Kind {
	case selAll:
		for i := range it.States {
			idx = append(idx, i)
		}
	case selFirst:
		idx = []int{0}
	case selLast:
		idx = []int{len(it.States) - 1}
	case selAt:
		i := it.IndexAt(sel.At)
		if i < 0 {
			return fmt.Errorf("account %s item %d did not exist yet at %s (first state %s)", acct.Name, c.Item, formatDateZ(sel.At), formatDateZ(it.States[0].Start.Time()))
		}
		idx = []int{i}
	}

	chk := newChecker(p)
	fold := newFolderChain(p, acct.ID) // the folders of these states, not the whole account
	for _, i := range idx {
		if err := ctx.Err(); err != nil {
			return err
		}
		s := it.States[i]
		so := stateOut{State: s, ContentHealth: chk.Report(it, i), Folder: fold.Path(s.FolderID),
			Inherited: s.Inherited.List(), Notes: s.Notes}
		out.States = append(out.States, so)
	}
	if g.JSON {
		if c.DumpBlob {
			return cli.Usagef("dump_blob and --json cannot be combined: the blob is not JSON")
		}
		return printJSON(g.Stdout, out)
	}

	// Carbonio's getItem opens with an itemStates line (advancedbackup.rst,
	// "Items Not Restored Because Identified as Broken Items").
	fmt.Fprintf(g.Stdout, "%sitemStates\n", itemStatesIndent)
	damaged := 0
	for _, so := range out.States {
		c.printState(g.Stdout, so, fold)
		if c.DumpBlob && so.Status != "none" {
			if !c.dump(g, p, so) {
				damaged++
			}
		}
	}
	if damaged > 0 {
		g.warnf("account %s item %d: %d blob(s) damaged; printed what could be salvaged", acct.Name, c.Item, damaged)
		return &exitError{code: ExitError}
	}
	return nil
}

func (c *getItemCmd) printState(w io.Writer, so stateOut, fold *folders) {
	s := so.State
	kv(w, itemIndent, "start date", formatDate(s.Start.Time()))
	kv(w, itemIndent, "type", s.Type.String())
	kv(w, itemIndent, "deleted", s.Deleted)
	kv(w, itemIndent, "folder", fold.Label(s.FolderID))
	kv(w, itemIndent, "flags", orDash(s.Flags))
	if s.Subject != "" {
		kv(w, itemIndent, "subject", s.Subject)
	}
	if s.Name != "" {
		kv(w, itemIndent, "name", s.Name)
	}
	for _, k := range sortedKeys(s.Extra) {
		kv(w, itemIndent, k, rawString(s.Extra[k]))
	}
	if len(so.Inherited) > 0 {
		kv(w, itemIndent, "inherited", strings.Join(so.Inherited, ", "))
	}
	for _, n := range so.Notes {
		kv(w, itemIndent, "note", n)
	}
	if s.Digest == "" {
		kv(w, itemIndent, "digest", "-")
		kv(w, itemIndent, "status", "ok (no blob)")
		return
	}
	kv(w, itemIndent, "digest", string(s.Digest))
	fmt.Fprintf(w, "%sblob path %s\n", itemIndent, so.BlobPath)
	st := so.Status
	if so.Reason != "" {
		st += ": " + so.Reason
	}
	kv(w, itemIndent, "status", st)
	if so.HealthyState != "" {
		kv(w, itemIndent, "healthy state", so.HealthyState)
	}
	if so.Salvage != "" {
		kv(w, itemIndent, "salvage", so.Salvage)
	}
}

// writeOutput writes the blob of the one selected state to c.Output:
// streamed, verified within the state's recorded size, to a temporary name
// that is renamed only when the whole content verified (nothing
// half-written, nothing damaged).
func (c *getItemCmd) writeOutput(g *Globals, p *backuppath.Path, account string, it *mailbox.Item, sel dateSel) error {
	var s *mailbox.State
	switch sel.Kind {
	case selFirst:
		s = &it.States[0]
	case selLast:
		s = it.Latest()
	case selAt:
		s = it.StateAt(sel.At)
	case selAll:
		if len(it.States) != 1 {
			return cli.Usagef("output: item %d has %d states: choose one with date last, first or a date", it.ID, len(it.States))
		}
		s = &it.States[0]
	}
	if s == nil {
		return fmt.Errorf("account %s item %d did not exist yet at that date", account, it.ID)
	}
	if s.Digest == "" {
		return fmt.Errorf("account %s item %d: this state has no content", account, it.ID)
	}
	rc, err := p.Blobs.OpenLimit(s.Digest, blob.Limit{Size: max(s.Size, 0)})
	if err != nil {
		return fmt.Errorf("account %s item %d: blob %s is %s (%s): nothing written", account, it.ID, s.Digest, blob.Class(err), mailbox.BlobReason(err))
	}
	defer rc.Close()
	err = atomicfile.Write(c.Output, 0o600, func(w io.Writer) error {
		_, err := io.Copy(w, rc)
		return err
	})
	if err != nil {
		return fmt.Errorf("account %s item %d: %s: nothing written", account, it.ID, grammar.OneLine(mailbox.BlobReason(err)))
	}
	return nil
}

// dump writes the state's blob (or its salvage) and reports whether it was
// sound. It never holds more than the state's recorded size (blob.Limit):
// a blob inflating past it is broken, and its salvage is that many bytes at
// most. Blobs over blob.MaxUnsized (or of unknown size) are streamed.
func (c *getItemCmd) dump(g *Globals, p *backuppath.Path, so stateOut) bool {
	d := so.State.Digest
	lim := blob.Limit{Size: max(so.State.Size, 0)}
	if lim.Size > blob.MaxUnsized {
		return c.stream(g, p, d, lim)
	}
	data, err := p.Blobs.ReadLimit(d, lim) // no size recorded: up to MaxUnsized
	if errors.Is(err, blob.ErrTooLarge) {
		return c.stream(g, p, d, lim)
	}
	if err == nil {
		g.Stdout.Write(data)
		if len(data) > 0 && data[len(data)-1] != '\n' {
			fmt.Fprintln(g.Stdout)
		}
		return true
	}
	salvaged, serr := p.Blobs.SalvageLimit(d, lim)
	g.Stdout.Write(salvaged)
	if len(salvaged) > 0 && salvaged[len(salvaged)-1] != '\n' {
		fmt.Fprintln(g.Stdout)
	}
	if serr == nil || errors.Is(serr, blob.ErrTooLarge) {
		serr = err
	}
	g.warnf("blob %s is %s (%s): printed %d salvaged bytes", d, blob.Class(err), mailbox.BlobReason(serr), len(salvaged))
	return false
}

// stream writes a blob too large to hold whole as it decompresses; a fault
// ends it, after the bytes that came before (which are its salvage).
func (c *getItemCmd) stream(g *Globals, p *backuppath.Path, d blob.Digest, lim blob.Limit) bool {
	rc, err := p.Blobs.OpenLimit(d, lim)
	var n int64
	var last [1]byte
	if err == nil {
		w := &lastByte{w: g.Stdout, b: &last}
		n, err = io.Copy(w, rc)
		rc.Close()
	}
	if n > 0 && last[0] != '\n' {
		fmt.Fprintln(g.Stdout)
	}
	if err != nil {
		g.warnf("blob %s is %s (%s): printed %d salvaged bytes", d, blob.Class(err), mailbox.BlobReason(err), n)
		return false
	}
	return true
}

// lastByte remembers the last byte written through it.
type lastByte struct {
	w io.Writer
	b *[1]byte
}

func (l *lastByte) Write(p []byte) (int, error) {
	n, err := l.w.Write(p)
	if n > 0 {
		l.b[0] = p[n-1]
	}
	return n, err
}

// itemReason is the reason an item file could not be read, without the
// classification words the status already says.
func itemReason(err error) string {
	s := errReason(err)
	for _, k := range []error{blob.ErrMissing, blob.ErrUnreadable, blob.ErrBroken} {
		s = strings.Replace(s, ": "+k.Error()+": ", ": ", 1)
	}
	return s
}

func sortedKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
