package index

import (
	"context"
	"errors"
	"fmt"
	"io"
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

// acctWork is one account during a refresh. The enumerator fills it before
// it sends the account's first job; from then on only the writer touches it.
type acctWork struct {
	rec      acctRec
	written  string // the record as stored ("" if not stored yet)
	oldName  string // the name its acctname key holds ("" if none)
	jobs     int    // item files sent to the parsers
	received int
	done     bool // all jobs sent
	final    bool // queued for finishing
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

// msg goes to the writer: a parsed item, or (job nil) "account enumerated".
type msg struct {
	w   *acctWork
	job *job
	rec itemRec
	val string
}

// sync is Refresh; on an empty index it is a full build.
func (ix *Index) sync(ctx context.Context, progress func(Progress)) (RefreshStats, error) {
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
	full := len(known) == 0

	if err := ix.db.SetConfig(buntdb.Config{SyncPolicy: buntdb.Never, AutoShrinkDisabled: true}); err != nil {
		return st, fmt.Errorf("refresh index: %w", err)
	}
	defer ix.db.SetConfig(buntdb.Config{SyncPolicy: buntdb.EverySecond, AutoShrinkPercentage: 100, AutoShrinkMinSize: 32 << 20})

	// Accounts whose folder is gone.
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

	// One open root for every item file of this refresh (confined opens
	// beneath it without reopening the root each time).
	root, err := confined.OpenRoot(ix.bp.Root)
	if err != nil {
		return st, fmt.Errorf("refresh index: %w", err)
	}
	defer root.Close()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan *job, 1024)
	msgs := make(chan msg, 1024)
	var wg sync.WaitGroup
	for range max(ix.workers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ix.parseLoop(root, jobs, msgs)
		}()
	}
	wr := &writer{ix: ix, nextSeq: nextSeq, batch: max(ix.batch, 1), progress: progress, cancel: cancel,
		prog: Progress{Accounts: len(ids)}}
	werr := make(chan error, 1)
	go func() { werr <- wr.run(msgs) }()

	now := time.Now()
	var enumErr error
	for _, id := range ids {
		if ctx.Err() != nil {
			break
		}
		w, js := ix.scanAccount(id, known[id], &nextSeq, now)
		w.jobs = len(js)
		for _, j := range js {
			select {
			case jobs <- j:
			case <-ctx.Done():
			}
		}
		if ctx.Err() != nil {
			break
		}
		msgs <- msg{w: w}
	}
	close(jobs)
	wg.Wait()
	close(msgs)
	if err := <-werr; err != nil {
		enumErr = err
	} else if err := ctx.Err(); err != nil {
		enumErr = err
	}
	st.ItemsRead = wr.read
	st.ItemsRemoved += wr.removed
	if err := ix.totals(&st); err != nil && enumErr == nil {
		enumErr = err
	}
	st.Duration = time.Since(began)
	if enumErr != nil {
		return st, fmt.Errorf("refresh index: %w", enumErr)
	}
	if full && st.ItemsRead > 0 {
		if err := ix.db.Shrink(); err != nil && !errors.Is(err, buntdb.ErrShrinkInProcess) {
			return st, fmt.Errorf("refresh index: compact %s: %w", ix.dbPath, err)
		}
	}
	st.Duration = time.Since(began)
	return st, nil
}

// loadAccounts reads the account records (by id) and the next Seq.
func (ix *Index) loadAccounts() (map[string]*acctRec, uint32, error) {
	known := map[string]*acctRec{}
	next := uint32(1)
	err := ix.db.View(func(tx *buntdb.Tx) error {
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

// totals fills the index-wide counts of st.
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

// removeAccount drops every key of an account; it returns its item count.
func (ix *Index) removeAccount(a *acctRec) (int, error) {
	var keys []string
	err := ix.db.View(func(tx *buntdb.Tx) error {
		for _, p := range []string{
			seqPrefix(tmplItem, a.Seq), seqPrefix(tmplFolder, a.Seq), seqPrefix(tmplDel, a.Seq),
			seqPrefix(tmplTree, a.Seq), seqPrefix(tmplDay, a.Seq),
			dirKey(filepath.Join(backuppath.AccountsDir, a.ID) + "/"),
		} {
			k, err := keysWithPrefix(tx, p)
			if err != nil {
				return err
			}
			keys = append(keys, k...)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	keys = append(keys, acctNameKey(a.Name, a.Seq), acctIDKey(a.ID), acctKey(a.Seq))
	const chunk = 16384
	for len(keys) > 0 {
		n := min(chunk, len(keys))
		err := ix.db.Update(func(tx *buntdb.Tx) error {
			for _, k := range keys[:n] {
				if _, err := tx.Delete(k); err != nil && !errors.Is(err, buntdb.ErrNotFound) {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
		keys = keys[n:]
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

// scanAccount compares one account folder with the index and returns the
// item files to read; the rest of what changed is in the acctWork.
func (ix *Index) scanAccount(id string, old *acctRec, nextSeq *uint32, now time.Time) (*acctWork, []*job) {
	w := &acctWork{dirs: map[string]int64{}}
	if old != nil {
		w.rec = *old
		w.written = old.encode()
		w.oldName = old.Name
	} else {
		w.rec = acctRec{Seq: *nextSeq, ID: id}
		*nextSeq++
	}
	root := ix.bp.Root

	// account_info
	var infoTime, infoSize int64
	if fi, err := os.Lstat(filepath.Join(root, backuppath.AccountsDir, id, backuppath.AccountInfoFile)); err == nil {
		infoTime, infoSize = ix.fileTime(fi.ModTime(), now), fi.Size()
	}
	if old == nil || infoTime == 0 || old.InfoMTime == 0 || infoTime != old.InfoMTime || infoSize != old.InfoSize {
		ix.readAccount(&w.rec)
		w.rec.InfoMTime, w.rec.InfoSize = infoTime, infoSize
	}

	// bucket folders
	itemsRel := filepath.Join(backuppath.AccountsDir, id, backuppath.ItemsDir)
	ents, err := os.ReadDir(filepath.Join(root, itemsRel))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		slog.Warn("index: cannot list item folders; keeping what the index has", "account", id, "err", err)
		return w, nil
	}
	recorded := map[string]int64{}
	if old != nil {
		_ = ix.db.View(func(tx *buntdb.Tx) error {
			prefix := dirKey(itemsRel + "/")
			return scanPrefix(tx, prefix, func(k, v string) bool {
				n, _ := strconv.ParseInt(v, 10, 64)
				recorded[k[len(prefix):]] = n
				return true
			})
		})
	}
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
		return w, nil
	}

	// What the index holds for this account's item files.
	indexed := map[int]itemRec{}
	if old != nil {
		_ = ix.db.View(func(tx *buntdb.Tx) error {
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
	}

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
	return w, js
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

// bigItemFile is the size above which parseLoop parses an item file in
// its read buffer and lets the buffer go (a 60 MB item file otherwise cost
// its bytes twice, and the worker kept the buffer for the rest of the
// build).
const bigItemFile = 1 << 20

// parseLoop reads and encodes item files.
func (ix *Index) parseLoop(root *confined.Root, jobs <-chan *job, out chan<- msg) {
	var buf, data []byte
	for j := range jobs {
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

// readItemFile reads an item file into buf (open, fstat, read, close) and
// records the file's own mtime and size in j when the listing had none.
// Failures wrap blob.ErrUnreadable (blob.ErrMissing if it is gone).
func (ix *Index) readItemFile(root *confined.Root, j *job, buf []byte) ([]byte, error) {
	fail := func(err error) ([]byte, error) {
		kind := blob.ErrUnreadable
		if errors.Is(err, fs.ErrNotExist) {
			kind = blob.ErrMissing
		}
		return buf[:0], fmt.Errorf("%s: %w: %w", j.rel, kind, err)
	}
	// Confined: a symlinked item file (or folder above it) is not followed,
	// and a FIFO is refused without blocking; either is this item's
	// failure only.
	f, err := root.Open(j.rel)
	if err != nil {
		return fail(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fail(err)
	}
	if j.stat {
		j.mtime, j.size, j.stat = ix.fileTime(fi.ModTime(), j.now), fi.Size(), false
	}
	if fi.IsDir() {
		return fail(errors.New("is a folder, not a file"))
	}
	n := int(fi.Size())
	if cap(buf) < n+1 {
		buf = make([]byte, 0, n+512)
	}
	buf = buf[:cap(buf)]
	got := 0
	for {
		k, err := f.Read(buf[got:])
		got += k
		if err == io.EOF || (err == nil && k == 0) {
			break
		}
		if err != nil {
			return fail(err)
		}
		if n > 0 && got == n { // an item file is replaced, never changed in place
			break
		}
		if got == len(buf) {
			buf = append(buf, 0)[:got]
			buf = buf[:cap(buf)]
		}
	}
	return buf[:got], nil
}

// writer applies parsed items in batches, one transaction per batch.
type writer struct {
	ix       *Index
	nextSeq  uint32
	batch    int
	progress func(Progress)
	cancel   func()
	prog     Progress

	items   []msg
	finals  []*acctWork
	touched map[*acctWork]bool
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
		w := m.w
		if m.job == nil {
			w.done = true
		} else {
			wr.items = append(wr.items, m)
			w.received++
		}
		if w.done && !w.final && w.received == w.jobs {
			w.final = true
			wr.finals = append(wr.finals, w)
		}
		if len(wr.items) >= wr.batch || len(wr.finals) >= 256 {
			wr.flush()
		}
	}
	if wr.err == nil {
		wr.flush()
	}
	return wr.err
}

func (wr *writer) flush() {
	if len(wr.items) == 0 && len(wr.finals) == 0 {
		return
	}
	wr.touched = map[*acctWork]bool{}
	wr.days = map[string]int{}
	wr.folders = map[string]map[int]bool{}
	removed := 0
	write := len(wr.items) > 0
	for _, w := range wr.finals {
		if len(w.remove) > 0 || len(w.dirs) > 0 || len(w.dropDirs) > 0 || w.rec.encode() != w.written {
			write = true
		}
	}
	if write {
		err := wr.ix.db.Update(func(tx *buntdb.Tx) error {
			for i := range wr.items {
				if err := wr.putItem(tx, &wr.items[i]); err != nil {
					return err
				}
			}
			for _, w := range wr.finals {
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
				wr.touched[w] = true
			}
			for w := range wr.touched {
				if err := wr.putAccount(tx, w); err != nil {
					return err
				}
			}
			if err := wr.putFolders(tx); err != nil {
				return err
			}
			return wr.putDays(tx)
		})
		if err != nil {
			wr.err = err
			wr.cancel()
			return
		}
		for w := range wr.touched {
			w.written = w.rec.encode()
			w.oldName = w.rec.Name
		}
	}
	wr.read += len(wr.items)
	wr.removed += removed
	wr.prog.ItemsDone = wr.read
	wr.prog.AccountsDone += len(wr.finals)
	wr.items, wr.finals = wr.items[:0], wr.finals[:0]
	if wr.progress != nil {
		wr.progress(wr.prog)
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
	wr.touched[w] = true
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

// putAccount stores an account's record and its id and name keys.
func (wr *writer) putAccount(tx *buntdb.Tx, w *acctWork) error {
	enc := w.rec.encode()
	if enc == w.written {
		return nil
	}
	seq := w.rec.Seq
	if w.written == "" {
		if _, _, err := tx.Set(acctIDKey(w.rec.ID), strconv.FormatUint(uint64(seq), 10), nil); err != nil {
			return err
		}
		if seq >= wr.nextSeq {
			wr.nextSeq = seq + 1
			if _, _, err := tx.Set(keyNextSeq, strconv.FormatUint(uint64(wr.nextSeq), 10), nil); err != nil {
				return err
			}
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
