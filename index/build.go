package index

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/internal/atomicfile"
	"github.com/cbfs/cbfs/internal/confined"
	"github.com/cbfs/cbfs/mailbox"
	"github.com/tidwall/buntdb"
)

// acctWork is one account during a refresh: its record, and what its
// shard's refresh found changed (scanItems fills it before the first job is
// sent; from then on only the writer touches it).
type acctWork struct {
	rec      acctRec
	written  string // the record as stored ("" if not stored yet)
	oldName  string // the name its acctname key holds ("" if none)
	jobs     int    // item files sent to the parsers
	remove   []int
	dirs     map[string]int64 // bucket folder (relative) -> mtime to record
	dropDirs []string
}

// job is one item file to (re)read.
type job struct {
	w      *acctWork
	id     int
	rel    string
	bucket string // "" for the usual bucket
	mtime  int64  // 0 when too recent to trust
	size   int64
	stat   bool      // mtime and size are to be taken when the file is read
	now    time.Time // the refresh's start, for fileTime
}

// msg goes to the writer: a parsed item.
type msg struct {
	w   *acctWork
	job *job
	rec itemRec
	val string
}

// refreshAccounts brings the account records up to date with the Backup
// Path's account folders: new accounts get a Seq, vanished ones are
// dropped with their shards, account_info is re-read where it changed. No
// item file is read. It bumps the generation, so each shard is refreshed
// when next used.
func (ix *Index) refreshAccounts(ctx context.Context) (RefreshStats, error) {
	began := time.Now()
	var st RefreshStats
	ids, err := ix.bp.AccountIDs()
	if err != nil {
		return st, fmt.Errorf("refresh index: %w", err)
	}
	known, nextSeq, err := ix.loadAccounts()
	if err != nil {
		return st, fmt.Errorf("refresh index: %w", err)
	}
	onDisk := make(map[string]bool, len(ids))
	for _, id := range ids {
		onDisk[id] = true
	}
	gone := make([]string, 0)
	for id := range known {
		if !onDisk[id] {
			gone = append(gone, id)
		}
	}
	sort.Strings(gone)
	for _, id := range gone {
		n, err := ix.removeAccount(known[id])
		if err != nil {
			return st, fmt.Errorf("refresh index: remove account %s: %w", id, err)
		}
		st.ItemsRemoved += n
	}

	now := time.Now()
	var changed []*acctWork
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return st, fmt.Errorf("refresh index: %w", err)
		}
		if w := ix.scanAccountInfo(id, known[id], &nextSeq, now); w != nil {
			changed = append(changed, w)
		}
	}
	const chunk = 512
	for len(changed) > 0 {
		n := min(chunk, len(changed))
		err := ix.db.Update(func(tx *buntdb.Tx) error {
			for _, w := range changed[:n] {
				if err := putAccount(tx, w); err != nil {
					return err
				}
			}
			_, _, err := tx.Set(keyNextSeq, strconv.FormatUint(uint64(nextSeq), 10), nil)
			return err
		})
		if err != nil {
			return st, fmt.Errorf("refresh index: %w", err)
		}
		changed = changed[n:]
	}
	ix.gen.Add(1)
	if err := ix.totals(&st); err != nil {
		return st, fmt.Errorf("refresh index: %w", err)
	}
	st.Duration = time.Since(began)
	return st, nil
}

// sync is Refresh: the account list, then (unless lazy) every account's
// items, one account at a time, each with the index's parsers.
func (ix *Index) sync(ctx context.Context, progress func(Progress), lazy bool) (RefreshStats, error) {
	began := time.Now()
	st, err := ix.refreshAccounts(ctx)
	if err != nil || lazy {
		return st, err
	}
	accts, err := ix.accountRecs()
	if err != nil {
		return st, fmt.Errorf("refresh index: %w", err)
	}
	prog := Progress{Accounts: len(accts)}
	for _, a := range accts {
		if err := ctx.Err(); err != nil {
			return st, fmt.Errorf("refresh index: %w", err)
		}
		sh := ix.shardFor(a)
		ix.shardsMu.Lock()
		sh.refs++
		ix.shardsMu.Unlock()
		sh.mu.Lock()
		var ss RefreshStats
		if sh.db == nil {
			err = ix.openShard(sh)
		}
		if err == nil && ix.prepare != nil {
			err = ix.prepare(ctx, sh.id)
		}
		if err == nil {
			ss, err = ix.refreshShard(ctx, sh, eager, func(n int) {
				if progress != nil {
					p := prog
					p.ItemsDone += n
					progress(p)
				}
			})
		}
		if err == nil {
			sh.gen.Store(ix.gen.Load())
		}
		sh.mu.Unlock()
		ix.release(sh)
		if err != nil {
			return st, fmt.Errorf("refresh index: %w", err)
		}
		st.ItemsRead += ss.ItemsRead
		st.ItemsRemoved += ss.ItemsRemoved
		prog.AccountsDone++
		prog.ItemsDone += ss.ItemsRead
		if progress != nil {
			progress(prog)
		}
	}
	if err := ix.totals(&st); err != nil {
		return st, fmt.Errorf("refresh index: %w", err)
	}
	st.Duration = time.Since(began)
	return st, nil
}

// accountRecs lists the account records in Seq order.
func (ix *Index) accountRecs() ([]*acctRec, error) {
	known, _, err := ix.loadAccounts()
	if err != nil {
		return nil, err
	}
	out := make([]*acctRec, 0, len(known))
	for _, a := range known {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return out, nil
}

// loadAccounts reads the account records (by id) and the next Seq.
func (ix *Index) loadAccounts() (map[string]*acctRec, uint32, error) {
	known := map[string]*acctRec{}
	next := uint32(1)
	err := ix.view(func(tx *buntdb.Tx) error {
		if s, err := tx.Get(keyNextSeq); err == nil {
			if n, err := strconv.ParseUint(s, 10, 32); err == nil {
				next = max(next, uint32(n))
			}
		}
		var derr error
		err := scanPrefix(tx, tmplAcct, func(_, v string) bool {
			a, err := decodeAcct(v)
			if err != nil {
				derr = err
				return false
			}
			known[a.ID] = a
			next = max(next, a.Seq+1)
			return true
		})
		if err == nil {
			err = derr
		}
		return err
	})
	return known, next, err
}

// totals fills the index-wide counts of st (items as last indexed).
func (ix *Index) totals(st *RefreshStats) error {
	known, _, err := ix.loadAccounts()
	if err != nil {
		return err
	}
	st.Accounts, st.Items, st.Unreadable = len(known), 0, 0
	for _, a := range known {
		st.Items += a.Items
		st.Unreadable += a.BadItems
		if a.Err != "" {
			st.Unreadable++
		}
	}
	return nil
}

// removeAccount drops an account's keys and its shard; it returns its item
// count.
func (ix *Index) removeAccount(a *acctRec) (int, error) {
	if err := ix.dropShard(a.Seq); err != nil {
		return 0, err
	}
	err := ix.db.Update(func(tx *buntdb.Tx) error {
		for _, k := range []string{acctNameKey(a.Name, a.Seq), acctIDKey(a.ID), acctKey(a.Seq)} {
			if _, err := tx.Delete(k); err != nil && !errors.Is(err, buntdb.ErrNotFound) {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return a.Items, nil
}

// fileTime is a modification time as recorded: Unix ns, or 0 when it is
// so recent (or in the future) that a change within the file system's
// timestamp granularity could still go unnoticed.
func (ix *Index) fileTime(t time.Time, now time.Time) int64 {
	if t.IsZero() || t.After(now.Add(-ix.racy)) {
		return 0
	}
	return t.UnixNano()
}

// scanAccountInfo compares an account's account_info with its record; it
// returns the work to store (a new account, or account_info changed), or
// nil when the record is current.
func (ix *Index) scanAccountInfo(id string, old *acctRec, nextSeq *uint32, now time.Time) *acctWork {
	w := &acctWork{}
	if old != nil {
		w.rec = *old
		w.written = old.encode()
		w.oldName = old.Name
	} else {
		w.rec = acctRec{Seq: *nextSeq, ID: id}
		*nextSeq++
	}
	var infoTime, infoSize int64
	if fi, err := os.Lstat(filepath.Join(ix.bp.Root, backuppath.AccountsDir, id, backuppath.AccountInfoFile)); err == nil {
		infoTime, infoSize = ix.fileTime(fi.ModTime(), now), fi.Size()
	}
	if old == nil || infoTime == 0 || old.InfoMTime == 0 || infoTime != old.InfoMTime || infoSize != old.InfoSize {
		ix.readAccount(&w.rec)
		w.rec.InfoMTime, w.rec.InfoSize = infoTime, infoSize
	}
	if w.rec.encode() == w.written {
		return nil
	}
	return w
}

// scanItems compares an account's item folders with its shard and returns
// the item files to read; the rest of what changed is in w.
func (ix *Index) scanItems(db *buntdb.DB, w *acctWork, now time.Time) []*job {
	w.dirs = map[string]int64{}
	id, root := w.rec.ID, ix.bp.Root
	itemsRel := filepath.Join(backuppath.AccountsDir, id, backuppath.ItemsDir)
	ents, err := os.ReadDir(filepath.Join(root, itemsRel))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		slog.Warn("index: cannot list item folders; keeping what the index has", "account", id, "err", err)
		return nil
	}
	recorded := map[string]int64{}
	_ = db.View(func(tx *buntdb.Tx) error {
		prefix := dirKey(itemsRel + "/")
		return scanPrefix(tx, prefix, func(k, v string) bool {
			n, _ := strconv.ParseInt(v, 10, 64)
			recorded[k[len(prefix):]] = n
			return true
		})
	})
	current := map[string]int64{}
	var changed []string
	for _, e := range ents {
		if !e.IsDir() || strings.HasPrefix(e.Name(), atomicfile.TempPrefix) {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		m := ix.fileTime(info.ModTime(), now)
		current[e.Name()] = m
		if r, ok := recorded[e.Name()]; !ok || r == 0 || r != m {
			changed = append(changed, e.Name())
		}
	}
	vanished := map[string]bool{}
	for b := range recorded {
		if _, ok := current[b]; !ok {
			vanished[b] = true
			w.dropDirs = append(w.dropDirs, dirKey(filepath.Join(itemsRel, b)))
		}
	}
	sort.Strings(w.dropDirs)
	if len(changed) == 0 && len(vanished) == 0 {
		return nil
	}

	// What the shard holds for this account's item files.
	indexed := map[int]itemRec{}
	_ = db.View(func(tx *buntdb.Tx) error {
		return scanPrefix(tx, seqPrefix(tmplItem, w.rec.Seq), func(k, v string) bool {
			n, ok := idOfKey(k)
			if r, err := decodeFileInfo(v); ok && err == nil {
				if r.Bucket == "" {
					r.Bucket = mailbox.Bucket(n)
				}
				indexed[n] = r
			}
			return true
		})
	})

	type cand struct {
		bucket string
		rel    string
		e      fs.DirEntry
	}
	chosen := map[int]cand{}
	listed := map[string]bool{}
	for _, b := range changed {
		rel := filepath.Join(itemsRel, b)
		ents, err := os.ReadDir(filepath.Join(root, rel))
		if err != nil {
			slog.Warn("index: cannot list item folder; keeping what the index has", "account", id, "folder", b, "err", err)
			continue
		}
		listed[b] = true
		w.dirs[rel] = current[b]
		for _, e := range ents {
			n, ok := mailbox.ParseItemID(e.Name())
			if !ok {
				continue // not an item file (temporary files included)
			}
			if c, ok := chosen[n]; ok && !mailbox.PreferFile(n, b, c.bucket) {
				continue
			}
			chosen[n] = cand{b, filepath.Join(rel, e.Name()), e}
		}
	}
	var js []*job
	for n, c := range chosen {
		j := &job{w: w, id: n, rel: c.rel, stat: true, now: now}
		if o, ok := indexed[n]; ok {
			if o.Bucket != c.bucket && !listed[o.Bucket] && !vanished[o.Bucket] && mailbox.PreferFile(n, o.Bucket, c.bucket) {
				continue // the indexed file, in a bucket not re-listed, wins
			}
			// Only files the index knows need a stat here; the others
			// are read anyway, and the reader stats them.
			if info, err := c.e.Info(); err == nil {
				if o.Bucket == c.bucket && o.MTime != 0 && o.MTime == info.ModTime().UnixNano() && o.Size == info.Size() {
					continue // unchanged
				}
				j.mtime, j.size, j.stat = ix.fileTime(info.ModTime(), now), info.Size(), false
			}
		}
		if c.bucket != mailbox.Bucket(n) {
			j.bucket = c.bucket
		}
		js = append(js, j)
	}
	sort.Slice(js, func(a, b int) bool { return js[a].id < js[b].id })
	for n, o := range indexed {
		if _, ok := chosen[n]; !ok && (listed[o.Bucket] || vanished[o.Bucket]) {
			w.remove = append(w.remove, n)
		}
	}
	sort.Ints(w.remove)
	return js
}

// refreshShard brings one account's shard up to date (sh.mu held, sh.db
// loaded): only bucket folders whose time changed are listed, only changed
// item files read, by the index's parsers. progress, if not nil, is
// called with the item files read so far. The account record's counts are
// updated at the end.
func (ix *Index) refreshShard(ctx context.Context, sh *shard, p priority, progress func(int)) (RefreshStats, error) {
	began := time.Now()
	var st RefreshStats
	var a *acctRec
	err := ix.view(func(tx *buntdb.Tx) error {
		v, err := tx.Get(acctKey(sh.seq))
		if err != nil {
			return fmt.Errorf("account %s: %w", sh.id, ErrNotFound)
		}
		a, err = decodeAcct(v)
		return err
	})
	if err != nil {
		return st, err
	}
	w := &acctWork{rec: *a}
	_ = sh.db.View(func(tx *buntdb.Tx) error {
		w.rec.Items, w.rec.BadItems = getInt(tx, keyShardItems), getInt(tx, keyShardBad)
		return nil
	})
	before := w.rec.Items
	js := ix.scanItems(sh.db, w, time.Now())
	w.jobs = len(js)
	sh.done.Store(0)
	sh.total.Store(int64(len(js)))
	sh.indexing.Store(true)
	defer sh.indexing.Store(false)

	var root *confined.Root
	if len(js) > 0 {
		if root, err = confined.OpenRoot(ix.bp.Root); err != nil {
			return st, fmt.Errorf("refresh index: %w", err)
		}
		defer root.Close()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan *job, 256)
	msgs := make(chan msg, 256)
	var wg sync.WaitGroup
	workers := min(max(ix.workers, 1), max(len(js), 1))
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ix.parseLoop(ctx, root, jobs, msgs, func() bool {
				// A background refresh pauses for readers of other
				// accounts, never for one waiting for this one.
				return p == background && sh.wanted.Load() == 0 && ix.busy()
			})
		}()
	}
	wr := &writer{db: sh.db, w: w, batch: max(ix.batch, 1), cancel: cancel, progress: func(n int) {
		sh.done.Store(int64(n))
		if progress != nil {
			progress(n)
		}
	}}
	werr := make(chan error, 1)
	go func() { werr <- wr.run(msgs) }()
	for _, j := range js {
		select {
		case jobs <- j:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(jobs)
	wg.Wait()
	close(msgs)
	if err := <-werr; err != nil {
		return st, fmt.Errorf("refresh index: account %s: %w", w.rec.ID, err)
	}
	if err := ctx.Err(); err != nil {
		return st, fmt.Errorf("refresh index: %w", err)
	}
	if err := wr.finish(); err != nil {
		return st, fmt.Errorf("refresh index: account %s: %w", w.rec.ID, err)
	}
	// The record's counts, read-modify-write in one transaction: the
	// account list's refresh may have rewritten its other fields.
	err = ix.db.Update(func(tx *buntdb.Tx) error {
		v, err := tx.Get(acctKey(sh.seq))
		if err != nil {
			return nil // removed meanwhile
		}
		cur, err := decodeAcct(v)
		if err != nil || cur.ID != sh.id {
			return err
		}
		if cur.Items == w.rec.Items && cur.BadItems == w.rec.BadItems && cur.Indexed {
			return nil
		}
		cur.Items, cur.BadItems, cur.Indexed = w.rec.Items, w.rec.BadItems, true
		_, _, err = tx.Set(acctKey(sh.seq), cur.encode(), nil)
		return err
	})
	if err != nil {
		return st, fmt.Errorf("refresh index: %w", err)
	}
	if before == 0 && wr.read > 1000 {
		// A first build appends every folder list once per batch: compact.
		if err := sh.db.Shrink(); err != nil && !errors.Is(err, buntdb.ErrShrinkInProcess) {
			return st, fmt.Errorf("refresh index: compact shard of %s: %w", w.rec.ID, err)
		}
	}
	ix.setItems(sh, w.rec.Items)
	st.Accounts, st.Items, st.ItemsRead, st.ItemsRemoved, st.Unreadable = 1, w.rec.Items, wr.read, wr.removed, w.rec.BadItems
	st.Duration = time.Since(began)
	sh.lastTook.Store(int64(st.Duration))
	sh.lastRead.Store(int64(wr.read))
	return st, nil
}

// readAccount fills r from account_info; an unreadable or broken file
// leaves the account named by its id, with the error.
func (ix *Index) readAccount(r *acctRec) {
	a, err := ix.bp.ReadAccount(r.ID)
	if err != nil {
		*r = acctRec{Seq: r.Seq, ID: r.ID, Name: r.ID, Status: mailbox.StatusActive,
			Items: r.Items, BadItems: r.BadItems, Err: err.Error(), ErrClass: blob.Class(err)}
		return
	}
	r.Name, r.Status, r.DisplayName = a.Name, a.Status, a.DisplayName
	r.COSID, r.COSName = a.COSID, a.COSName
	r.Created, r.Deleted = int64(a.Created), int64(a.DeletedDate)
	r.Err, r.ErrClass = "", ""
}

// yieldPause is how long a background parser sleeps before looking again
// whether on-demand work is still under way; yieldQuiet how long after a
// reader's last use of the index it waits (a listing is several calls).
const (
	yieldPause = 20 * time.Millisecond
	yieldQuiet = 500 * time.Millisecond
)

// bigItemFile is the size above which parseLoop parses an item file in
// its read buffer and lets the buffer go (a 60 MB item file otherwise cost
// its bytes twice, and the worker kept the buffer for the rest of the
// build).
const bigItemFile = 1 << 20

// parseLoop reads and encodes item files. A background refresh (yield)
// waits while an on-demand one is under way, so that a listing never waits
// for another account's indexing.
func (ix *Index) parseLoop(ctx context.Context, root *confined.Root, jobs <-chan *job, out chan<- msg, yield func() bool) {
	var buf, data []byte
	for j := range jobs {
		for yield() && ctx.Err() == nil {
			time.Sleep(yieldPause)
		}
		var it *mailbox.Item
		var err error
		data, err = ix.readItemFile(root, j, data)
		r := itemRec{Bucket: j.bucket, MTime: j.mtime, Size: j.size}
		if err == nil && cap(data) > bigItemFile {
			// Parse a big file in place: the states' strings point into
			// it, so the buffer is handed over (never reused) instead of
			// copied, and the worker does not keep a huge buffer.
			s := unsafe.String(unsafe.SliceData(data), len(data))
			data = nil
			it, err = ix.bp.Decoder.ParseItemString(j.id, s)
			if err != nil {
				err = fmt.Errorf("%s: %w: %w", j.rel, blob.ErrBroken, err)
			}
		} else if err == nil {
			it, err = ix.bp.Decoder.ParseItem(j.id, data)
			if err != nil {
				err = fmt.Errorf("%s: %w: %w", j.rel, blob.ErrBroken, err)
			}
		}
		if err != nil {
			r.Err, r.ErrClass = err.Error(), blob.Class(err)
		} else {
			r.States = it.States
		}
		buf = encodeItem(buf, &r)
		out <- msg{w: j.w, job: j, rec: r, val: string(buf)}
	}
}

// readItemFile reads an item file into buf and records the file's own
// mtime and size in j when the listing had none. Confined: a symlinked item
// file (or folder above it) is not followed, and a FIFO is refused without
// blocking; either is this item's failure only. Failures wrap
// blob.ErrUnreadable (blob.ErrMissing if it is gone).
func (ix *Index) readItemFile(root *confined.Root, j *job, buf []byte) ([]byte, error) {
	data, facts, err := root.ReadInto(j.rel, buf, 0)
	if err != nil {
		kind := blob.ErrUnreadable
		if errors.Is(err, fs.ErrNotExist) {
			kind = blob.ErrMissing
		}
		return data, fmt.Errorf("%s: %w: %w", j.rel, kind, err)
	}
	if j.stat {
		j.mtime, j.size, j.stat = ix.fileTime(facts.MTime, j.now), facts.Size, false
	}
	return data, nil
}

// writer applies one account's parsed items to its shard in batches, one
// transaction per batch; finish applies the removals and bucket times.
type writer struct {
	db       *buntdb.DB
	w        *acctWork
	batch    int
	progress func(int)
	cancel   func()

	items   []msg
	days    map[string]int
	folders map[string]map[int]bool // folder list key -> item id -> added (false: removed)
	read    int
	removed int
	err     error
}

func (wr *writer) run(msgs <-chan msg) error {
	for m := range msgs {
		if wr.err != nil {
			continue // drain
		}
		wr.items = append(wr.items, m)
		if len(wr.items) >= wr.batch {
			wr.flush(false)
		}
	}
	if wr.err == nil && len(wr.items) > 0 {
		wr.flush(false)
	}
	return wr.err
}

// finish writes what remains: removed items, bucket folder times, counts.
func (wr *writer) finish() error {
	w := wr.w
	if len(w.remove) > 0 || len(w.dirs) > 0 || len(w.dropDirs) > 0 {
		wr.flush(true)
	}
	return wr.err
}

func (wr *writer) flush(final bool) {
	wr.days = map[string]int{}
	wr.folders = map[string]map[int]bool{}
	w := wr.w
	removed := 0
	err := wr.db.Update(func(tx *buntdb.Tx) error {
		for i := range wr.items {
			if err := wr.putItem(tx, &wr.items[i]); err != nil {
				return err
			}
		}
		if final {
			for _, id := range w.remove {
				if err := wr.removeItem(tx, w, id); err != nil {
					return err
				}
				removed++
			}
			for rel, m := range w.dirs {
				if _, _, err := tx.Set(dirKey(rel), strconv.FormatInt(m, 10), nil); err != nil {
					return err
				}
			}
			for _, k := range w.dropDirs {
				if _, err := tx.Delete(k); err != nil && !errors.Is(err, buntdb.ErrNotFound) {
					return err
				}
			}
		}
		if err := wr.putFolders(tx); err != nil {
			return err
		}
		if err := wr.putDays(tx); err != nil {
			return err
		}
		if _, _, err := tx.Set(keyShardItems, strconv.Itoa(w.rec.Items), nil); err != nil {
			return err
		}
		_, _, err := tx.Set(keyShardBad, strconv.Itoa(w.rec.BadItems), nil)
		return err
	})
	if err != nil {
		wr.err = err
		wr.cancel()
		return
	}
	wr.read += len(wr.items)
	wr.removed += removed
	wr.items = wr.items[:0]
	if wr.progress != nil {
		wr.progress(wr.read)
	}
}

// derived is the set of keys, folder listing and days an item record
// implies.
type derived struct {
	keys     [2]string // del: and tree: keys
	folder   int       // the folder whose list holds the item, if inFolder
	inFolder bool
	days     []string
}

func deriveKeys(seq uint32, id int, r *itemRec) derived {
	var d derived
	if r == nil {
		return d
	}
	if n := len(r.States); n > 0 {
		last := &r.States[n-1]
		switch {
		case last.Deleted:
			d.keys[0] = delKey(seq, id)
		case last.Type != mailbox.TypeFolder && last.Type != mailbox.TypeSearchFolder:
			d.folder, d.inFolder = last.FolderID, true
		}
	}
	for i := range r.States {
		s := &r.States[i]
		if s.Type == mailbox.TypeFolder || s.Type == mailbox.TypeSearchFolder {
			d.keys[1] = treeKey(seq, id)
		}
		day := s.Start.Time().Format(dayLayout)
		if len(d.days) == 0 || d.days[len(d.days)-1] != day {
			d.days = append(d.days, day)
		}
	}
	return d
}

// oldItem reads and decodes the stored record of an item (nil if none or
// unreadable).
func oldItem(tx *buntdb.Tx, k string) (*itemRec, bool) {
	v, err := tx.Get(k)
	if err != nil {
		return nil, false
	}
	r, err := decodeItem(v)
	if err != nil {
		return nil, true
	}
	return &r, true
}

func (wr *writer) putItem(tx *buntdb.Tx, m *msg) error {
	w, seq, id := m.w, m.w.rec.Seq, m.job.id
	k := itemKey(seq, id)
	old, existed := oldItem(tx, k)
	if err := wr.swapDerived(tx, seq, id, deriveKeys(seq, id, old), deriveKeys(seq, id, &m.rec)); err != nil {
		return err
	}
	if _, _, err := tx.Set(k, m.val, nil); err != nil {
		return err
	}
	if !existed {
		w.rec.Items++
	}
	if old != nil && old.Err != "" {
		w.rec.BadItems--
	}
	if m.rec.Err != "" {
		w.rec.BadItems++
	}
	return nil
}

func (wr *writer) removeItem(tx *buntdb.Tx, w *acctWork, id int) error {
	seq := w.rec.Seq
	k := itemKey(seq, id)
	old, existed := oldItem(tx, k)
	if !existed {
		return nil
	}
	if err := wr.swapDerived(tx, seq, id, deriveKeys(seq, id, old), derived{}); err != nil {
		return err
	}
	if _, err := tx.Delete(k); err != nil {
		return err
	}
	w.rec.Items--
	if old != nil && old.Err != "" {
		w.rec.BadItems--
	}
	return nil
}

// swapDerived replaces the derived keys of an old record by a new one's.
func (wr *writer) swapDerived(tx *buntdb.Tx, seq uint32, id int, old, new derived) error {
	for _, k := range old.keys {
		if k != "" && k != new.keys[0] && k != new.keys[1] {
			if _, err := tx.Delete(k); err != nil && !errors.Is(err, buntdb.ErrNotFound) {
				return err
			}
		}
	}
	for _, k := range new.keys {
		if k != "" && k != old.keys[0] && k != old.keys[1] {
			if _, _, err := tx.Set(k, "", nil); err != nil {
				return err
			}
		}
	}
	if old.inFolder != new.inFolder || old.folder != new.folder {
		if old.inFolder {
			wr.folderChange(folderKey(seq, old.folder), id, false)
		}
		if new.inFolder {
			wr.folderChange(folderKey(seq, new.folder), id, true)
		}
	}
	for _, d := range old.days {
		wr.days[dayKey(seq, d)]--
	}
	for _, d := range new.days {
		wr.days[dayKey(seq, d)]++
	}
	return nil
}

// folderChange records that item id joins (add) or leaves a folder's list;
// putFolders applies a batch's changes once per folder.
func (wr *writer) folderChange(key string, id int, add bool) {
	m := wr.folders[key]
	if m == nil {
		m = map[int]bool{}
		wr.folders[key] = m
	}
	m[id] = add
}

// putFolders rewrites each folder list the batch changed (one read and one
// write per folder, however many items moved).
func (wr *writer) putFolders(tx *buntdb.Tx) error {
	for k, changes := range wr.folders {
		var ids []int
		if v, err := tx.Get(k); err == nil {
			ids, _ = decodeIDList(v) // a damaged list is rebuilt from the changes
		}
		ids = applyIDChanges(ids, changes)
		var err error
		if len(ids) == 0 {
			_, err = tx.Delete(k)
			if errors.Is(err, buntdb.ErrNotFound) {
				err = nil
			}
		} else {
			_, _, err = tx.Set(k, encodeIDList(ids), nil)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (wr *writer) putDays(tx *buntdb.Tx) error {
	for k, delta := range wr.days {
		if delta == 0 {
			continue
		}
		n := 0
		if v, err := tx.Get(k); err == nil {
			n, _ = strconv.Atoi(v)
		}
		n += delta
		var err error
		if n <= 0 {
			_, err = tx.Delete(k)
			if errors.Is(err, buntdb.ErrNotFound) {
				err = nil
			}
		} else {
			_, _, err = tx.Set(k, strconv.Itoa(n), nil)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// putAccount stores an account's record and its id and name keys. The
// item counts are the shard's business: the stored ones are kept.
func putAccount(tx *buntdb.Tx, w *acctWork) error {
	seq := w.rec.Seq
	if v, err := tx.Get(acctKey(seq)); err == nil {
		if cur, err := decodeAcct(v); err == nil && cur.ID == w.rec.ID {
			w.rec.Items, w.rec.BadItems, w.rec.Indexed = cur.Items, cur.BadItems, cur.Indexed
		}
	}
	enc := w.rec.encode()
	if w.written == "" {
		if _, _, err := tx.Set(acctIDKey(w.rec.ID), strconv.FormatUint(uint64(seq), 10), nil); err != nil {
			return err
		}
	}
	if w.oldName != w.rec.Name || w.written == "" {
		if w.oldName != "" {
			if _, err := tx.Delete(acctNameKey(w.oldName, seq)); err != nil && !errors.Is(err, buntdb.ErrNotFound) {
				return err
			}
		}
		if _, _, err := tx.Set(acctNameKey(w.rec.Name, seq), "", nil); err != nil {
			return err
		}
	}
	_, _, err := tx.Set(acctKey(seq), enc, nil)
	return err
}
