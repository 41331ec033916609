package external

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/internal/atomicfile"
	"github.com/cbfs/cbfs/internal/confined"
	"github.com/cbfs/cbfs/internal/workers"
	"github.com/cbfs/cbfs/objstore"
)

// InfoExt ends the name of an account's summary object,
// accounts/<id>.info: a copy of its account_info, written by
// UploadMetadata next to the archive, so that a reader can name every
// account without fetching any archive (OpenLazy).
const InfoExt = ".info"

// AccountInfo is the object name of account id's summary.
func AccountInfo(id string) string { return AccountsPrefix + id + InfoExt }

// MaxInfo bounds a summary object, written and read: an account_info is a
// few KiB; one larger has no summary, and a reader fetches that account's
// archive to name it.
const MaxInfo = 1 << 20

// infoTime bounds the fetch of one summary (lim.Time, if shorter, wins).
const infoTime = time.Minute

// LazyDir, in a tree OpenLazy keeps, holds one small file per archive
// unpacked or summary written there, named as the object
// (LazyDir/accounts/<id>.tar.gz, LazyDir/accounts/<id>.info,
// LazyDir/server.tar.gz), holding the object's version (Object.Version)
// as it was listed. An account whose archive marker matches the listing
// is whole; one whose summary marker matches is a stub (account_info
// only). A marker is removed before its folder changes and written after,
// so a crash in between leaves an account that is fetched again.
const LazyDir = ".cbfs-lazy"

// putInfo writes account id's summary from root's account_info. An
// account without a readable account_info of at most MaxInfo bytes gets
// none (a reader then fetches its archive); it returns the bytes sent.
func putInfo(ctx context.Context, root string, objs objstore.Store, id string) (int64, error) {
	b, err := confined.ReadFile(root, backuppath.AccountsDir+"/"+id+"/"+backuppath.AccountInfoFile, MaxInfo)
	if err != nil {
		return 0, nil
	}
	return int64(len(b)), objs.Put(ctx, AccountInfo(id), bytes.NewReader(b), int64(len(b)))
}

// listAccounts lists accounts/ once: the archives and the summaries, by
// account id. Names that are no valid account id are left out; more
// than lim.Archives archives, or than lim.Archives other objects, end the
// listing (a listing that does not end cannot go on for longer).
func listAccounts(ctx context.Context, objs objstore.Store, lim Limits) (archives, infos map[string]objstore.Object, err error) {
	archives, infos = map[string]objstore.Object{}, map[string]objstore.Object{}
	nArch, nOther := 0, 0
	err = objs.List(ctx, AccountsPrefix, func(o objstore.Object) error {
		rest := strings.TrimPrefix(o.Name, AccountsPrefix)
		if id, ok := strings.CutSuffix(rest, ArchiveExt); ok {
			if nArch++; nArch > lim.Archives {
				return fmt.Errorf("%s: more than %d objects under %s (at most one archive per account)", objs, lim.Archives, AccountsPrefix)
			}
			if validName(id) {
				archives[id] = o
			}
			return nil
		}
		if nOther++; nOther > lim.Archives {
			return fmt.Errorf("%s: more than %d objects under %s besides archives (at most one summary per account)", objs, lim.Archives, AccountsPrefix)
		}
		if id, ok := strings.CutSuffix(rest, InfoExt); ok && validName(id) {
			infos[id] = o
		}
		return nil
	})
	return archives, infos, err
}

// ErrNoAccount is returned (wrapped) by Lazy.Account for an id the bucket
// held no archive of when the Lazy was opened.
var ErrNoAccount = errors.New("no archive of that account in the store")

// State is where one account of a Lazy stands.
type State int

const (
	// Waiting: only its account_info is here; its archive is not fetched.
	Waiting State = iota
	// Fetching: its archive is being fetched and unpacked.
	Fetching
	// Fetched: its folder is its archive's, whole.
	Fetched
	// Failed: the last fetch failed (Status says why); the folder is as
	// it was before (a stub, or nothing).
	Failed
)

func (s State) String() string {
	switch s {
	case Waiting:
		return "waiting"
	case Fetching:
		return "fetching"
	case Fetched:
		return "fetched"
	case Failed:
		return "failed"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Lazy is a tree OpenLazy made: every account named (its account_info),
// and its items unpacked from its archive only when Account asks. Its
// methods are safe for concurrent use.
type Lazy struct {
	objs objstore.Store
	root string
	lim  Limits
	w    atomicfile.Options

	// RetryAfter: an account whose fetch failed is not fetched again
	// before this long; Account returns the remembered error meanwhile
	// (a hostile archive is not fetched for every lookup). Set it before
	// the first use; OpenLazy sets DefaultRetryAfter.
	RetryAfter time.Duration

	ctx    context.Context // the Lazy's life: fetches run under it
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	closed bool
	ids    []string // sorted
	accts  map[string]*lazyAccount
}

// DefaultRetryAfter is Lazy.RetryAfter as OpenLazy sets it.
const DefaultRetryAfter = time.Minute

type lazyAccount struct {
	version  string        // its archive's version, as listed at open
	fetched  string        // the version unpacked here ("": none)
	busy     *flight       // the fetch under way (nil: none)
	err      *ArchiveError // the last fetch's failure
	failedAt time.Time
}

// OpenLazy makes the Backup Path kept in objs readable here without
// fetching the account archives: it fetches the server archive (unless
// root has that version), lists accounts/ once, and gives each account
// a folder root/accounts/<id>/ holding only its account_info, from its
// summary object (accounts/<id>.info, fetched `threads` at a time, not
// again when root has that version). The tree is then a Backup Path whose
// accounts have no items yet; Lazy.Account fetches one account's archive,
// Lazy.All or Lazy.Background the rest. An account whose archive root
// already holds, at the version listed, is left whole (a remount fetches
// nothing that did not change); a folder whose archive changed becomes a
// stub again; an account whose archive is gone is removed.
//
// An account without a summary (archived by an older cbfs, or an
// account_info past MaxInfo), or whose summary cannot be fetched, has its
// archive fetched now, as Open does.
//
// The blob store gets objs as its remote tier, as Open's. ctx bounds the
// Lazy's life (its fetches run under it): cancel it, or call Close. The
// error is a *PartialError, with the Path and the Lazy, when some
// archives fetched here failed (the server's, or an account's fetched at
// open); the others are in place.
func OpenLazy(ctx context.Context, objs objstore.Store, root string, cacheBytes int64, keyMap string, threads int, lim Limits) (*backuppath.Path, *blob.Remote, *Lazy, error) {
	lim = lim.orDefault()
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, nil, nil, fmt.Errorf("cache folder: %w", err)
	}
	archives, infos, err := listAccounts(ctx, objs, lim)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("metadata archives of %s: %w", objs, err)
	}
	serverVersion, hasServer := "", false
	n := 0
	if err := objs.List(ctx, ServerArchive, func(o objstore.Object) error {
		if n++; n > maxServerKeys {
			return fmt.Errorf("%s%s: more than %d objects of that name", objs, ServerArchive, maxServerKeys)
		}
		if o.Name == ServerArchive {
			serverVersion, hasServer = o.Version, true
		}
		return nil
	}); err != nil {
		return nil, nil, nil, fmt.Errorf("metadata archives of %s: %w", objs, err)
	}
	if len(archives) == 0 && !hasServer {
		return nil, nil, nil, fmt.Errorf("%s holds no metadata archive (%s<id>%s, %s): not a Backup Path kept by cbfs serve --external, or a wrong prefix", objs, AccountsPrefix, ArchiveExt, ServerArchive)
	}
	accounts := filepath.Join(root, backuppath.AccountsDir)
	if err := os.MkdirAll(accounts, atomicfile.Mode(0o755)); err != nil {
		return nil, nil, nil, err
	}
	lctx, cancel := context.WithCancel(ctx)
	l := &Lazy{objs: objs, root: root, lim: lim, w: atomicfile.Options{NoSync: true},
		RetryAfter: DefaultRetryAfter, ctx: lctx, cancel: cancel, accts: map[string]*lazyAccount{}}
	had := readManifest(root) // an eager Retrieve's record, if any

	// Accounts this tree got from an archive that is gone.
	l.removeGone(archives, had)

	var stubs, eager []string
	for id, o := range archives {
		l.ids = append(l.ids, id)
		a := &lazyAccount{version: o.Version}
		l.accts[id] = a
		name := AccountArchive(id)
		v := l.marker(name)
		if v == "" && had[name] == o.Version && isDir(filepath.Join(accounts, id)) {
			// Retrieved whole by Open: recorded here from now on.
			v = o.Version
			l.setMarker(name, v)
		}
		if v == o.Version && isDir(filepath.Join(accounts, id)) {
			a.fetched = v
			continue
		}
		info, ok := infos[id]
		switch {
		case !ok:
			eager = append(eager, id)
		case v == "" && l.marker(AccountInfo(id)) == info.Version && isDir(filepath.Join(accounts, id)):
			// The stub of an earlier open, still current.
		default:
			stubs = append(stubs, id)
		}
	}
	sort.Strings(l.ids)
	sort.Strings(stubs)
	sort.Strings(eager)

	var failed []*ArchiveError
	if hasServer && l.marker(ServerArchive) != serverVersion && had[ServerArchive] != serverVersion {
		l.removeMarker(ServerArchive)
		if _, _, err := retrieveServer(ctx, objs, root, l.w, lim); err != nil {
			if ctx.Err() != nil {
				cancel()
				return nil, nil, nil, ctx.Err()
			}
			failed = append(failed, &ArchiveError{Archive: ServerArchive, Err: err})
		} else {
			l.setMarker(ServerArchive, serverVersion)
		}
	}
	var mu sync.Mutex
	err = workers.Each(ctx, max(threads, 1), stubs, func(id string) error {
		if err := l.stub(ctx, id, infos[id].Version); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			// Named from its archive instead.
			mu.Lock()
			eager = append(eager, id)
			mu.Unlock()
		}
		return nil
	}, nil)
	if err == nil {
		var more []*ArchiveError
		more, err = l.fetchEach(ctx, threads, eager)
		failed = append(failed, more...)
	}
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		l.Close()
		return nil, nil, nil, err
	}
	remote, err := blob.NewRemote(objs, root, cacheBytes)
	if err != nil {
		l.Close()
		return nil, nil, nil, err
	}
	bp, err := backuppath.OpenWithKeyMap(root, keyMap)
	if err != nil {
		l.Close()
		return nil, nil, nil, err
	}
	bp.Blobs.SetRemote(remote)
	if len(failed) > 0 {
		sort.Slice(failed, func(i, j int) bool { return failed[i].Error() < failed[j].Error() })
		return bp, remote, l, &PartialError{Failed: failed}
	}
	return bp, remote, l, nil
}

// removeGone removes the folders (and markers) of accounts this tree got
// from the bucket whose archive the listing no longer holds. Folders the
// tree did not get from the bucket are left alone.
func (l *Lazy) removeGone(archives map[string]objstore.Object, had map[string]string) {
	gone := map[string]bool{}
	for name := range had {
		if id, ok := strings.CutSuffix(strings.TrimPrefix(name, AccountsPrefix), ArchiveExt); ok && name != ServerArchive && validName(id) {
			gone[id] = true
		}
	}
	ents, _ := os.ReadDir(filepath.Join(l.root, LazyDir, backuppath.AccountsDir))
	for _, e := range ents {
		id, ok := strings.CutSuffix(e.Name(), ArchiveExt)
		if !ok {
			id, ok = strings.CutSuffix(e.Name(), InfoExt)
		}
		if ok && validName(id) {
			gone[id] = true
		}
	}
	for id := range gone {
		if _, still := archives[id]; still {
			continue
		}
		l.removeMarker(AccountArchive(id))
		l.removeMarker(AccountInfo(id))
		os.RemoveAll(filepath.Join(l.root, backuppath.AccountsDir, id))
	}
}

// stub makes account id's folder hold only account_info, from its
// summary (version v as listed).
func (l *Lazy) stub(ctx context.Context, id, v string) error {
	b, err := l.getInfo(ctx, id)
	if err != nil {
		return err
	}
	accounts := filepath.Join(l.root, backuppath.AccountsDir)
	tmp := filepath.Join(accounts, atomicfile.TempPrefix+id)
	os.RemoveAll(tmp)
	if err := os.Mkdir(tmp, atomicfile.Mode(0o755)); err != nil {
		return err
	}
	if err := l.w.WriteFile(filepath.Join(tmp, backuppath.AccountInfoFile), b, 0o644); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	l.removeMarker(AccountArchive(id))
	l.removeMarker(AccountInfo(id))
	if err := swapIn(accounts, id, tmp); err != nil {
		return err
	}
	l.setMarker(AccountInfo(id), v)
	return nil
}

// getInfo fetches account id's summary: at most MaxInfo bytes, announced
// and read, within infoTime.
func (l *Lazy) getInfo(ctx context.Context, id string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, min(infoTime, l.lim.Time))
	defer cancel()
	name := AccountInfo(id)
	rc, size, err := l.objs.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	if size > MaxInfo {
		return nil, fmt.Errorf("%s: the store announces %d bytes (a summary takes at most %d)", name, size, MaxInfo)
	}
	b, err := io.ReadAll(io.LimitReader(rc, MaxInfo+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(b) > MaxInfo {
		return nil, fmt.Errorf("%s: more than %d bytes (a summary takes at most that)", name, MaxInfo)
	}
	return b, nil
}

// swapIn replaces accounts/<id> by the folder tmp (beside it): the old
// folder is renamed aside first and removed after, or put back if tmp
// cannot take its place. tmp is gone either way.
func swapIn(accounts, id, tmp string) error {
	final := filepath.Join(accounts, id)
	old := filepath.Join(accounts, atomicfile.TempPrefix+id+".old")
	os.RemoveAll(old)
	if err := os.Rename(final, old); err != nil && !errors.Is(err, fs.ErrNotExist) {
		os.RemoveAll(tmp)
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		os.Rename(old, final)
		os.RemoveAll(tmp)
		return err
	}
	os.RemoveAll(old)
	return nil
}

// Account makes sure account id's folder is its archive's, whole: the
// archive is fetched and unpacked now unless it already is (at the
// version listed when the Lazy was opened). One fetch at a time per
// account: concurrent callers wait for the same fetch (each as long as
// its own ctx lasts; the fetch itself runs under the Lazy's life, so a
// caller that gives up does not end it for the others). A failure is an
// *ArchiveError (within DefaultLimits or the Limits given, as Retrieve);
// it is remembered, and returned without a new fetch for RetryAfter. The
// folder stays as it was (a stub naming the account).
func (l *Lazy) Account(ctx context.Context, id string) error {
	l.mu.Lock()
	a := l.accts[id]
	if a == nil {
		l.mu.Unlock()
		return fmt.Errorf("account %s: %w", objstore.Printable(id), ErrNoAccount)
	}
	if a.fetched != "" && a.fetched == a.version {
		l.mu.Unlock()
		return nil
	}
	f := a.busy
	if f == nil {
		if a.err != nil && time.Since(a.failedAt) < l.RetryAfter {
			err := a.err
			l.mu.Unlock()
			return err
		}
		if l.closed {
			l.mu.Unlock()
			return fmt.Errorf("account %s: %w", objstore.Printable(id), context.Canceled)
		}
		f = &flight{done: make(chan struct{})}
		a.busy = f
		l.wg.Add(1)
		go l.fetch(id, a, f)
	}
	l.mu.Unlock()
	select {
	case <-f.done:
		if f.err != nil {
			return f.err
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// flight is one fetch of an account's archive, which every caller of
// Account for that account waits for.
type flight struct {
	done chan struct{} // closed when it ends
	err  *ArchiveError // set before done is closed
}

// fetch fetches and unpacks account id's archive into its folder, then
// records the outcome in a and f.
func (l *Lazy) fetch(id string, a *lazyAccount, f *flight) {
	defer l.wg.Done()
	name := AccountArchive(id)
	l.mu.Lock()
	version := a.version
	l.mu.Unlock()
	err := l.unpackAccount(id, name, version)
	l.mu.Lock()
	if err == nil {
		a.fetched, a.err = version, nil
	} else {
		f.err = &ArchiveError{Archive: name, Account: id, Err: err}
		a.err, a.failedAt = f.err, time.Now()
	}
	a.busy = nil
	close(f.done)
	l.mu.Unlock()
}

func (l *Lazy) unpackAccount(id, name, version string) error {
	accounts := filepath.Join(l.root, backuppath.AccountsDir)
	tmp := filepath.Join(accounts, atomicfile.TempPrefix+id)
	os.RemoveAll(tmp)
	if _, _, err := fetchUnpack(l.ctx, l.objs, name, tmp, nil, l.w, l.lim); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	l.removeMarker(name)
	l.removeMarker(AccountInfo(id))
	if err := swapIn(accounts, id, tmp); err != nil {
		return err
	}
	l.setMarker(name, version)
	return nil
}

// All fetches every account not fetched yet, threads at a time (the
// foreground's Account calls are not held up by it: they start their own
// fetch at once), and returns a *PartialError naming each that failed,
// or ctx's error.
func (l *Lazy) All(ctx context.Context, threads int) error {
	failed, err := l.fetchEach(ctx, threads, l.IDs())
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return err
	}
	if len(failed) > 0 {
		sort.Slice(failed, func(i, j int) bool { return failed[i].Error() < failed[j].Error() })
		return &PartialError{Failed: failed}
	}
	return nil
}

// Background runs All(threads) under the Lazy's life, in a goroutine;
// done, if not nil, is called with its outcome. Close stops it.
func (l *Lazy) Background(threads int, done func(error)) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.wg.Add(1)
	l.mu.Unlock()
	go func() {
		defer l.wg.Done()
		err := l.All(l.ctx, threads)
		if done != nil {
			done(err)
		}
	}()
}

// Close stops the fetches under way (their accounts keep the folder they
// had) and waits for them. Account fails after it.
func (l *Lazy) Close() {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	l.cancel()
	l.wg.Wait()
}

// IDs lists the accounts, sorted.
func (l *Lazy) IDs() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.ids...)
}

// Status says where account id stands and, when Failed, why (also while
// a new fetch is under way after a failure: the last error). An unknown
// id is Failed with ErrNoAccount.
func (l *Lazy) Status(id string) (State, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	a := l.accts[id]
	switch {
	case a == nil:
		return Failed, fmt.Errorf("account %s: %w", objstore.Printable(id), ErrNoAccount)
	case a.busy != nil:
		if a.err != nil {
			return Fetching, a.err
		}
		return Fetching, nil
	case a.fetched != "" && a.fetched == a.version:
		return Fetched, nil
	case a.err != nil:
		return Failed, a.err
	}
	return Waiting, nil
}

// Failed lists the accounts whose last fetch failed, sorted.
func (l *Lazy) Failed() []*ArchiveError {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []*ArchiveError
	for _, id := range l.ids {
		if a := l.accts[id]; a.err != nil && a.busy == nil && !(a.fetched != "" && a.fetched == a.version) {
			out = append(out, a.err)
		}
	}
	return out
}

// marker is the version LazyDir records for object name ("": none).
func (l *Lazy) marker(name string) string {
	b, err := confined.ReadFile(l.root, LazyDir+"/"+name, 4096)
	if err != nil {
		return ""
	}
	return string(b)
}

func (l *Lazy) setMarker(name, version string) {
	p := filepath.Join(l.root, LazyDir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err == nil {
		// Not written: the object is fetched again next time, no worse.
		l.w.WriteFile(p, []byte(version), 0o600)
	}
}

func (l *Lazy) removeMarker(name string) {
	os.Remove(filepath.Join(l.root, LazyDir, filepath.FromSlash(name)))
}

func isDir(p string) bool {
	fi, err := os.Lstat(p)
	return err == nil && fi.IsDir()
}

// fetchEach fetches the archives of ids, threads at a time, and returns
// each failure as an *ArchiveError (ctx ending is no failure of theirs).
func (l *Lazy) fetchEach(ctx context.Context, threads int, ids []string) ([]*ArchiveError, error) {
	var (
		mu     sync.Mutex
		failed []*ArchiveError
	)
	err := workers.Each(ctx, max(threads, 1), ids, func(id string) error {
		if err := l.Account(ctx, id); err != nil && ctx.Err() == nil {
			var ae *ArchiveError
			if !errors.As(err, &ae) {
				ae = &ArchiveError{Archive: AccountArchive(id), Account: id, Err: err}
			}
			mu.Lock()
			failed = append(failed, ae)
			mu.Unlock()
		}
		return nil
	}, nil)
	return failed, err
}
