package scan

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"

	"github.com/google/uuid"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/internal/atomicfile"
	"github.com/cbfs/cbfs/mailbox"
)

type acctScan struct {
	r      *runner
	rep    *AccountReport
	id     string
	name   string
	st     *state
	mb     Mailbox
	nextID int
	sinceC int  // items written since the last checkpoint
	wrote  bool // any item written
	dirty  bool // scan state differs from the file
	curs   []*cur

	// Group commit: blobs and item files are written without fsync; a
	// barrier syncs the file system (syncfs) once for many files. New
	// items wait in pending until their blobs are durable, so an item
	// never reaches the disk before its blob, crash or power loss alike.
	durable bool
	store   *blob.Store
	wopt    atomicfile.Options
	pending []*mailbox.Item

	// Blobs of new messages are compressed and written by up to
	// writeWorkers goroutines (putAsync) while the next messages are
	// read; flush waits for them before the sync that makes them durable,
	// so the order blob, sync, item file is kept.
	putWG   *sync.WaitGroup // the puts of the current group
	putSem  chan struct{}
	putMu   sync.Mutex
	putErr  error
	putNew  int                  // blobs created by putAsync
	putting map[blob.Digest]bool // digests put in the current group

	// One group at a time is committed in the background (its blobs
	// awaited, synced, then its item files written) while the next one
	// is read and compressed; commits run in order.
	inflight chan commitResult
}

// cur is one folder of the source as seen in this scan.
type cur struct {
	f      *Folder
	id     int
	prior  *FolderEntry
	msgs   []*Message
	listed bool
	broken bool // a message of it could not be read: list again next time
}

func (r *runner) account(ctx context.Context, ar *AccountReport, name, cos string, info *mailbox.Account) error {
	now := r.now()
	if info == nil {
		info = &mailbox.Account{ID: uuid.NewString(), Name: name, Status: mailbox.StatusActive,
			COSName: cos, Created: mailbox.MillisOf(now)}
		r.rep.AccountsNew++
		ar.ID = info.ID
		if err := r.bp.WriteAccount(info); err != nil {
			return &writeError{err}
		}
		ar.Written++
	} else {
		ar.ID = info.ID
		changed := false
		if info.Status == mailbox.StatusDeleted {
			info.Status, info.DeletedDate, changed = mailbox.StatusActive, 0, true
		}
		if cos != "" && info.COSName != cos {
			info.COSName, changed = cos, true
		}
		if changed {
			if err := r.bp.WriteAccount(info); err != nil {
				return &writeError{err}
			}
			ar.Written++
		}
	}
	st, err := loadState(r.bp, info.ID)
	if err != nil {
		return err
	}
	mb, err := r.src.Open(ctx, name)
	if err != nil {
		return err
	}
	defer mb.Close()
	a := &acctScan{r: r, rep: ar, id: info.ID, name: name, st: st, mb: mb, nextID: st.maxItemID + 1,
		durable: !r.bp.Write.NoSync || !r.bp.Blobs.Write.NoSync, store: blob.NewStore(r.bp.Root),
		wopt: r.bp.Writer().WithNoSync(), putWG: &sync.WaitGroup{}, putSem: make(chan struct{}, writeWorkers), putting: map[blob.Digest]bool{}}
	a.store.Write.NoSync = true
	a.dirty = st.repaired > 0
	err = a.scan(ctx)
	// Whatever happened, keep what was done.
	if serr := a.save(err == nil && !ar.Stopped); serr != nil && err == nil {
		err = serr
	}
	return err
}

func (a *acctScan) when() mailbox.Millis {
	return mailbox.MillisOf(a.r.now())
}

// after returns a start date for a new state of an item whose latest
// state started at prev: now, or just after prev.
func (a *acctScan) after(prev mailbox.Millis) mailbox.Millis {
	t := a.when()
	if t <= prev {
		t = prev + 1
	}
	return t
}

func (a *acctScan) scan(ctx context.Context) error {
	all, err := a.mb.Folders(ctx)
	if err != nil {
		return err
	}
	folders := all[:0:0]
	for _, f := range all {
		if f.Err != nil {
			a.skipFolder(f, f.Err)
			continue
		}
		folders = append(folders, f)
	}
	folders = withParents(folders)
	curs, err := a.resolveFolders(ctx, folders)
	if err != nil {
		return err
	}
	a.curs = curs
	if err := a.writeFolders(curs); err != nil {
		return err
	}
	return a.messages(ctx, curs)
}

// resolveFolders gives every source folder its folder id: system folders
// by their special use; others by their stable key, then by path, then (a
// renamed folder on a source without keys) by the messages they hold.
func (a *acctScan) resolveFolders(ctx context.Context, folders []*Folder) ([]*cur, error) {
	used := map[int]bool{}
	byKey := map[string]*FolderEntry{}
	byPath := map[string]*FolderEntry{}
	for _, e := range a.st.folders {
		if e.Key != "" {
			byKey[e.Key] = e
		}
		byPath[e.Path] = e
	}
	var curs []*cur
	for _, f := range folders {
		c := &cur{f: f}
		switch {
		case f.Special != 0 && !used[f.Special]:
			c.id = f.Special
			c.prior = a.st.folders[f.Special]
		case f.Key != "" && byKey[f.Key] != nil && !used[byKey[f.Key].ID]:
			c.prior = byKey[f.Key]
		case byPath[f.PathString()] != nil && !used[byPath[f.PathString()].ID] &&
			(f.Key == "" || byPath[f.PathString()].Key == ""):
			c.prior = byPath[f.PathString()]
		}
		if c.prior != nil && c.id == 0 {
			c.id = c.prior.ID
		}
		if c.id != 0 {
			used[c.id] = true
		}
		curs = append(curs, c)
	}
	// List what changed (and every unmatched folder: needed below).
	for _, c := range curs {
		if !a.r.opt.Deep && c.prior != nil && c.prior.Token != "" && c.prior.Token == c.f.Token {
			continue
		}
		if c.f.NoSelect {
			c.listed = true // holds no messages
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		msgs, err := a.mb.Messages(ctx, c.f, c.prior)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			// This folder only: not listed, so none of its messages is
			// taken for deleted, and its token is not kept.
			a.skipFolder(c.f, fmt.Errorf("list: %w", err))
			c.broken = true
			continue
		}
		c.msgs, c.listed = msgs, true
	}
	// Renames on sources without folder keys: an unmatched folder holding
	// most of a vanished folder's messages is that folder.
	for _, c := range curs {
		if c.id != 0 || len(c.msgs) == 0 {
			continue
		}
		count := map[int]int{}
		for _, m := range c.msgs {
			if e := a.st.byKey[m.Key]; e != nil && !used[e.FolderID] {
				count[e.FolderID]++
			}
		}
		best, bestN := 0, 0
		for fid, n := range count {
			if n > bestN || (n == bestN && fid < best) {
				best, bestN = fid, n
			}
		}
		if best == 0 || a.st.folders[best] == nil || best < 256 {
			continue
		}
		total := 0
		for _, e := range a.st.byItem {
			if e.FolderID == best {
				total++
			}
		}
		if bestN*2 >= total {
			c.id, c.prior = best, a.st.folders[best]
			used[best] = true
		}
	}
	// New folders get new ids.
	for _, c := range curs {
		if c.id == 0 {
			c.id = a.alloc()
		}
	}
	return curs, nil
}

// skipFolder reports a folder that is not backed up this run. While any
// folder is skipped, nothing of the account is marked deleted: a message
// not seen may be in that folder.
func (a *acctScan) skipFolder(f *Folder, err error) {
	a.rep.FoldersSkipped++
	a.rep.Errors = append(a.rep.Errors, fmt.Sprintf("folder %q skipped: %v", f.PathString(), err))
	a.r.opt.Logger.Warn("folder skipped", "account", a.name, "folder", f.PathString(), "err", err)
}

func (a *acctScan) alloc() int {
	id := a.nextID
	a.nextID++
	return id
}

// writeFolders writes the states of new, renamed and moved folders (not
// of system folders, which readers name themselves).
func (a *acctScan) writeFolders(curs []*cur) error {
	byPath := map[string]int{}
	for _, c := range curs {
		byPath[c.f.PathString()] = c.id
	}
	for _, c := range curs {
		parent := mailbox.FolderRoot
		if len(c.f.Path) > 1 {
			if p, ok := byPath[strings.Join(c.f.Path[:len(c.f.Path)-1], "/")]; ok {
				parent = p
			}
		}
		name := c.f.Path[len(c.f.Path)-1]
		e := &FolderEntry{ID: c.id, Key: c.f.Key, Path: c.f.PathString(), Name: name, ParentID: parent}
		if c.prior != nil {
			e.Token = c.prior.Token
		}
		if c.f.Special != 0 && c.id == c.f.Special {
			if c.prior == nil || c.prior.Path != e.Path || c.prior.Key != e.Key {
				a.dirty = true
			}
			a.st.folders[c.id] = e
			continue
		}
		if c.prior != nil && c.prior.Name == name && c.prior.ParentID == parent {
			if c.prior.Path != e.Path || c.prior.Key != e.Key {
				a.dirty = true
			}
			a.st.folders[c.id] = e
			continue
		}
		s := mailbox.State{Type: mailbox.TypeFolder, FolderID: parent, ParentID: parent, Name: name}
		s.Extra = mailbox.Extra{}
		setExtra(s.Extra, extraSource, "folder:"+firstNonEmpty(c.f.Key, e.Path))
		setExtra(s.Extra, extraSourcePath, e.Path)
		if c.prior == nil {
			s.Start = a.when()
			if err := a.newItem(c.id, s); err != nil {
				return err
			}
			a.rep.Items.New++
		} else {
			if err := a.changeItem(c.id, func(ns *mailbox.State) {
				ns.FolderID, ns.ParentID, ns.Name = parent, parent, name
				ns.Deleted = false
				for k, v := range s.Extra {
					ns.Extra[k] = v
				}
			}); err != nil {
				return err
			}
			a.rep.Items.Changed++
		}
		a.st.folders[c.id] = e
		a.dirty = true
	}
	return nil
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func setExtra(e mailbox.Extra, k, v string) {
	b, _ := json.Marshal(v)
	e[k] = b
}

// newItem writes the first state of a new item. Items with a blob wait
// for the next flush (see acctScan.pending).
func (a *acctScan) newItem(id int, s mailbox.State) error {
	it := &mailbox.Item{ID: id, States: []mailbox.State{s}}
	rel := backuppath.ItemRelPath(a.id, id)
	a.st.itemPaths[id] = rel
	if s.Digest != "" {
		a.pending = append(a.pending, it)
		if len(a.pending) >= pendingMax {
			return a.flush()
		}
		return nil
	}
	return a.writeItem(rel, it)
}

// changeItem appends a new state: a copy of the latest, changed by fn.
// Earlier states are kept as they are.
func (a *acctScan) changeItem(id int, fn func(s *mailbox.State)) error {
	rel, ok := a.st.itemPaths[id]
	if !ok {
		return fmt.Errorf("item %d: no item file", id)
	}
	it, err := a.r.bp.ReadItemFile(rel, id)
	if err != nil {
		return err
	}
	l := *it.Latest()
	extra := mailbox.Extra{}
	for k, v := range l.Extra {
		extra[k] = v
	}
	l.Extra = extra
	l.Tags = append([]string(nil), l.Tags...)
	fn(&l)
	l.Start = a.after(it.Latest().Start)
	it.States = append(it.States, l)
	return a.writeItem(rel, it)
}

// checkpoint saves the scan state every CheckpointEvery written items.
func (a *acctScan) checkpoint() error {
	// The state file holds every message of the account: rewriting it
	// every CheckpointEvery items costs O(n²) on a big first scan (100,000
	// messages: ~1 GB of JSON). So the interval grows with the state, to
	// a quarter of it: the writes stay O(n), and a killed scan still
	// loses nothing (loadState takes the items written after the state
	// from their files), it only re-reads at most that quarter.
	if a.sinceC < max(a.r.opt.CheckpointEvery, len(a.st.byItem)/4) {
		return nil
	}
	return a.save(false)
}

// save writes the scan state and account_stat if anything changed. With
// final, folder tokens of completely listed folders are taken as the new
// ones; otherwise the old tokens stay, so a resumed scan lists them again.
func (a *acctScan) save(final bool) error {
	if err := a.drain(); err != nil {
		return err
	}
	a.sinceC = 0
	if final {
		for _, c := range a.curs {
			tok := c.f.Token
			if c.broken {
				tok = ""
			}
			if e := a.st.folders[c.id]; e != nil && e.Token != tok {
				e.Token = tok
				a.dirty = true
			}
		}
	}
	if !a.dirty && !a.wrote {
		return nil
	}
	if a.wrote {
		if err := a.sync(); err != nil { // items before the state that names them
			return err
		}
	}
	now := a.r.now()
	b, err := a.st.encode(a.r.src.String(), a.name, now, a.nextID-1)
	if err != nil {
		return err
	}
	if err := a.r.bp.Write.WriteFile(filepath.Join(a.r.bp.AccountDir(a.id), StateFile), b, 0o644); err != nil {
		return &writeError{fmt.Errorf("write scan state of %s: %w", a.name, err)}
	}
	a.rep.Written++
	a.dirty = false
	if a.wrote {
		var bytes int64
		for _, e := range a.st.byItem {
			bytes += e.Size
		}
		stat := &backuppath.AccountStat{LastItemID: a.nextID - 1, LastScan: mailbox.MillisOf(now),
			ItemCount: len(a.st.itemPaths), BlobBytes: bytes}
		if old, err := a.r.bp.ReadAccountStat(a.id); err == nil {
			stat.Extra = old.Extra
			if old.LastItemID > stat.LastItemID {
				stat.LastItemID = old.LastItemID
			}
		}
		if err := a.r.bp.WriteAccountStat(a.id, stat); err != nil {
			return &writeError{err}
		}
		a.rep.Written++
		a.wrote = false
	}
	return nil
}
