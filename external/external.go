// Package external keeps a Backup Path on external storage (an objstore,
// S3 in practice), in Carbonio's split layout: the blobs as objects
// items/<d[0:2]>/<d> (the same names and bytes as on disk), and the
// metadata, which stays on the server, archived to the bucket as one
// archive per account (accounts/<id>.tar.gz) plus one of the server's files
// (server.tar.gz), so that a new server can fetch it back
// (retrieveMetadataFromArchive). docs/FORMAT.md § 17 describes the layout.
//
// UploadBlobs copies the blobs the bucket lacks (put if absent, after one
// listing of items/); UploadMetadata writes every archive, and beside each
// account's a summary (accounts/<id>.info, its account_info); Retrieve
// rebuilds a local metadata tree from the archives, in parallel; OpenLazy
// builds one from the summaries alone and fetches an account's archive
// when Lazy.Account asks (lazy.go). Nothing
// here deletes an object: a blob stays in the bucket while any state may
// name it (a purge of the bucket is not implemented).
//
// The bucket is a peer: its listings and archives are claims. Retrieve
// holds each archive to Limits (entries, bytes inflated and fetched,
// time): one past them is refused with a one-line error naming the bound,
// what was unpacked of it is removed, and the other archives are still
// retrieved (a *PartialError says which failed). UploadBlobs keeps in
// memory only the local blobs, never the bucket's listing.
package external

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/internal/atomicfile"
	"github.com/cbfs/cbfs/internal/confined"
	"github.com/cbfs/cbfs/internal/workers"
	"github.com/cbfs/cbfs/objstore"
)

// Object names of the metadata archives.
const (
	AccountsPrefix = "accounts/"
	ArchiveExt     = ".tar.gz"
	ServerArchive  = "server.tar.gz"
)

// AccountArchive is the object name of account id's metadata archive.
func AccountArchive(id string) string { return AccountsPrefix + id + ArchiveExt }

// MaxEntry bounds one file of an archive when it is unpacked (a hostile
// archive cannot fill the disk with one entry).
const MaxEntry = 1 << 30

// Limits bound what Retrieve takes from the bucket. A zero field takes
// DefaultLimits' value.
type Limits struct {
	// Archives: account archives listed (accounts/<id>.tar.gz); as many
	// other objects (the summaries, accounts/<id>.info) are listed.
	Archives int
	// Files: entries of one archive; Bytes: its tar stream inflated;
	// Compressed: its object (announced or read); Time: its fetch and
	// unpacking.
	Files      int64
	Bytes      int64
	Compressed int64
	Time       time.Duration
}

// DefaultLimits: cbfs is built for Backup Paths of a million items (the
// largest Carbonio servers hold tens of thousands of accounts); an
// account's archive holds one file per item (1-3 KiB of JSON, 512 bytes of
// tar header each) and gzip shrinks it about tenfold. Each bound leaves
// twice that or more for one account. Time is the loosest: an archive of
// a million items unpacks in about 80 s into a mount's cache, but cbctl
// writes each file durably (an fsync each: a few hundred a second on this
// project's test machine, about an hour); the other bounds end an endless
// archive long before it, Time ends one sent a byte at a time.
var DefaultLimits = Limits{
	Archives:   1 << 20,       // a million accounts
	Files:      1 << 21,       // two million items in one account
	Bytes:      8 << 30,       // 2M files of 4 KiB
	Compressed: 4 << 30,       // half of it: JSON compresses far better
	Time:       2 * time.Hour, // twice a durable retrieval of a 1M-item account here
}

func (l Limits) orDefault() Limits {
	d := DefaultLimits
	if l.Archives > 0 {
		d.Archives = l.Archives
	}
	if l.Files > 0 {
		d.Files = l.Files
	}
	if l.Bytes > 0 {
		d.Bytes = l.Bytes
	}
	if l.Compressed > 0 {
		d.Compressed = l.Compressed
	}
	if l.Time > 0 {
		d.Time = l.Time
	}
	return d
}

// ArchiveError is one archive Retrieve could not retrieve.
type ArchiveError struct {
	Archive string // its object name
	Account string // the account id of an account archive ("": the server's)
	Err     error
}

func (e *ArchiveError) Error() string {
	if e.Account != "" {
		return fmt.Sprintf("account %s: %v", objstore.Printable(e.Account), e.Err)
	}
	return fmt.Sprintf("server files: %v", e.Err)
}

func (e *ArchiveError) Unwrap() error { return e.Err }

// PartialError is Retrieve's error when some archives could not be
// retrieved (the others were, or none was): Failed holds one error per
// archive, sorted. What was retrieved is in place and recorded.
type PartialError struct {
	Failed []*ArchiveError
}

func (e *PartialError) Error() string {
	if len(e.Failed) == 1 {
		return e.Failed[0].Error()
	}
	return fmt.Sprintf("%d archives not retrieved; first: %v", len(e.Failed), e.Failed[0])
}

// maxServerKeys bounds the listing of ServerArchive's name (one key
// expected).
const maxServerKeys = 1000

// Report counts what an upload or a retrieval did.
type Report struct {
	Blobs, BlobsSkipped int   // blobs uploaded, already there
	Unreadable          int   // blob names that are no readable file (not uploaded)
	Archives            int   // archives written or unpacked
	Unchanged           int   // archives not fetched again (Retrieve: the version the tree has)
	Files               int   // metadata files archived or unpacked
	Bytes               int64 // bytes sent or received
	Failed              int   // archives not retrieved (see PartialError)
}

// UploadBlobs puts every blob of the Backup Path at root that the store
// lacks, with `threads` uploads at a time. The local blobs are listed
// first; the bucket's listing only strikes them off (its length costs
// time, bounded by the store's listing bounds, never memory).
func UploadBlobs(ctx context.Context, root string, objs objstore.Store, threads int) (Report, error) {
	var rep Report
	local := map[string]blob.Digest{}
	st := blob.NewStore(root)
	if err := st.Walk(ctx, func(name string, d blob.Digest, ok bool) error {
		if ok {
			local[d.RelPath()] = d
		}
		return nil
	}); err != nil {
		return rep, err
	}
	if err := objs.List(ctx, backuppath.ItemsDir+"/", func(o objstore.Object) error {
		if _, ok := local[o.Name]; ok {
			delete(local, o.Name)
			rep.BlobsSkipped++
		}
		return nil
	}); err != nil {
		return rep, err
	}
	todo := make([]blob.Digest, 0, len(local))
	for _, d := range local {
		todo = append(todo, d)
	}
	sort.Slice(todo, func(i, j int) bool { return todo[i] < todo[j] })
	var mu sync.Mutex
	err := workers.Each(ctx, max(threads, 1), todo, func(d blob.Digest) error {
		f, err := confined.Open(root, d.RelPath())
		if err != nil {
			// Not a blob file (a folder, a symbolic link, gone since
			// listed): nothing to upload; doCoherencyCheck reports it.
			mu.Lock()
			rep.Unreadable++
			mu.Unlock()
			return nil
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		created, err := objs.PutIfAbsent(ctx, d.RelPath(), f, fi.Size())
		if err != nil {
			return err
		}
		mu.Lock()
		if created {
			rep.Blobs++
			rep.Bytes += fi.Size()
		} else {
			rep.BlobsSkipped++
		}
		mu.Unlock()
		return nil
	}, nil)
	return rep, err
}

// UploadMetadata writes the metadata archives of the Backup Path at root:
// one per account folder, each followed by its summary (AccountInfo, see
// putInfo), and the server's.
func UploadMetadata(ctx context.Context, root string, objs objstore.Store, threads int) (Report, error) {
	var rep Report
	ents, err := confined.ReadDir(root, backuppath.AccountsDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return rep, err
	}
	var ids []string
	for _, e := range ents {
		if e.IsDir() && validName(e.Name()) {
			ids = append(ids, e.Name())
		}
	}
	var mu sync.Mutex
	add := func(files int, n int64) {
		mu.Lock()
		rep.Archives++
		rep.Files += files
		rep.Bytes += n
		mu.Unlock()
	}
	err = workers.Each(ctx, max(threads, 1), ids, func(id string) error {
		rel := backuppath.AccountsDir + "/" + id
		var files []string
		if err := walkFiles(root, rel, &files); err != nil {
			return err
		}
		buf, err := archive(root, rel, files)
		if err != nil {
			return fmt.Errorf("account %s: %w", id, err)
		}
		if err := objs.Put(ctx, AccountArchive(id), bytes.NewReader(buf), int64(len(buf))); err != nil {
			return err
		}
		// The summary follows the archive, so it never names an account
		// whose archive is not there yet.
		n, err := putInfo(ctx, root, objs, id)
		if err != nil {
			return err
		}
		add(len(files), int64(len(buf))+n)
		return nil
	}, nil)
	if err != nil {
		return rep, err
	}
	// The server's files: everything at the root but the blobs, the
	// accounts and cbfs's own leftovers.
	top, err := confined.ReadDir(root, ".")
	if err != nil {
		return rep, err
	}
	var files []string
	for _, e := range top {
		n := e.Name()
		if n == backuppath.AccountsDir || n == backuppath.ItemsDir || strings.HasPrefix(n, ".") || n == backuppath.QuarantineDir {
			continue
		}
		if e.IsDir() {
			if err := walkFiles(root, n, &files); err != nil {
				return rep, err
			}
		} else if e.Type().IsRegular() {
			files = append(files, n)
		}
	}
	buf, err := archive(root, "", files)
	if err != nil {
		return rep, fmt.Errorf("server files: %w", err)
	}
	if err := objs.Put(ctx, ServerArchive, bytes.NewReader(buf), int64(len(buf))); err != nil {
		return rep, err
	}
	add(len(files), int64(len(buf)))
	return rep, nil
}

// walkFiles appends the regular files below root/rel (names relative to
// root; symbolic links and other non-files are left out).
func walkFiles(root, rel string, out *[]string) error {
	ents, err := confined.ReadDir(root, rel)
	if err != nil {
		return err
	}
	for _, e := range ents {
		n := rel + "/" + e.Name()
		if strings.HasPrefix(e.Name(), atomicfile.TempPrefix) {
			continue
		}
		switch {
		case e.IsDir():
			if err := walkFiles(root, n, out); err != nil {
				return err
			}
		case e.Type().IsRegular():
			*out = append(*out, n)
		}
	}
	return nil
}

// archive is the tar.gz of files (names relative to root), named in the
// archive relative to base.
func archive(root, base string, files []string) ([]byte, error) {
	sort.Strings(files)
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	tw := tar.NewWriter(zw)
	for _, rel := range files {
		f, err := confined.Open(root, rel)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // removed since listed
			}
			return nil, err
		}
		fi, err := f.Stat()
		if err == nil {
			name := rel
			if base != "" {
				name = strings.TrimPrefix(rel, base+"/")
			}
			err = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Size: fi.Size(),
				Mode: 0o644, ModTime: fi.ModTime().Truncate(time.Second), Format: tar.FormatPAX})
			if err == nil {
				_, err = io.CopyN(tw, f, fi.Size())
			}
		}
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", rel, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// ManifestFile, in a retrieved tree, records the version of each archive
// unpacked there, so that retrieving again fetches only what changed (and
// leaves the rest, modification times included, as it was: an index of
// the tree then refreshes only the changed accounts).
const ManifestFile = ".cbfs-archives.json"

// Retrieve rebuilds the metadata tree of the Backup Path kept in objs
// under dest (created if needed): every account archive is unpacked into
// dest/accounts/<id>/ (replacing that folder whole), the server archive
// into dest (beside it first, then moved in file by file). `threads`
// archives are fetched at a time, each within lim (zero fields: the
// defaults). The blobs are not fetched. Archives whose version is the one
// dest's manifest records are not fetched again; an account whose archive
// is gone is removed.
//
// An archive that cannot be fetched or unpacked, or passes lim, costs only
// itself: nothing of it is left (an account keeps the folder a previous
// retrieval gave it), the others are retrieved, and the error is a
// *PartialError naming each one that failed.
func Retrieve(ctx context.Context, objs objstore.Store, dest string, threads int, w atomicfile.Options, lim Limits) (Report, error) {
	var rep Report
	lim = lim.orDefault()
	version := map[string]string{}
	archives, _, err := listAccounts(ctx, objs, lim)
	if err != nil {
		return rep, err
	}
	var ids []string
	for id, o := range archives {
		ids = append(ids, id)
		version[o.Name] = o.Version
	}
	sort.Strings(ids)
	n := 0
	if err := objs.List(ctx, ServerArchive, func(o objstore.Object) error {
		if n++; n > maxServerKeys {
			return fmt.Errorf("%s%s: more than %d objects of that name", objs, ServerArchive, maxServerKeys)
		}
		if o.Name == ServerArchive {
			version[o.Name] = o.Version
		}
		return nil
	}); err != nil {
		return rep, err
	}
	if len(version) == 0 {
		return rep, fmt.Errorf("%s holds no metadata archive (%s<id>%s, %s): not a Backup Path kept by cbfs serve --external, or a wrong prefix", objs, AccountsPrefix, ArchiveExt, ServerArchive)
	}
	accounts := filepath.Join(dest, backuppath.AccountsDir)
	if err := os.MkdirAll(accounts, atomicfile.Mode(0o755)); err != nil {
		return rep, err
	}
	had := readManifest(dest)
	done := map[string]string{}
	var (
		mu     sync.Mutex
		failed []*ArchiveError
	)
	add := func(name string, files int, n int64) {
		mu.Lock()
		rep.Archives++
		rep.Files += files
		rep.Bytes += n
		done[name] = version[name]
		mu.Unlock()
	}
	fail := func(name, id string, err error) {
		mu.Lock()
		failed = append(failed, &ArchiveError{Archive: name, Account: id, Err: err})
		mu.Unlock()
	}
	err = workers.Each(ctx, max(threads, 1), ids, func(id string) error {
		name := AccountArchive(id)
		final := filepath.Join(accounts, id)
		if v, ok := had[name]; ok && v == version[name] {
			if fi, err := os.Lstat(final); err == nil && fi.IsDir() {
				mu.Lock()
				rep.Unchanged++
				done[name] = v
				mu.Unlock()
				return nil
			}
		}
		tmp := filepath.Join(accounts, atomicfile.TempPrefix+id)
		os.RemoveAll(tmp)
		files, n, err := fetchUnpack(ctx, objs, name, tmp, nil, w, lim)
		if err != nil {
			os.RemoveAll(tmp)
			if ctx.Err() == nil {
				fail(name, id, err)
			}
			return nil
		}
		old := filepath.Join(accounts, atomicfile.TempPrefix+id+".old")
		os.RemoveAll(old)
		if err := os.Rename(final, old); err != nil && !errors.Is(err, fs.ErrNotExist) {
			os.RemoveAll(tmp)
			fail(name, id, err)
			return nil
		}
		if err := os.Rename(tmp, final); err != nil {
			os.Rename(old, final)
			os.RemoveAll(tmp)
			fail(name, id, err)
			return nil
		}
		os.RemoveAll(old)
		add(name, files, n)
		return nil
	}, nil)
	if err == nil {
		// Accounts this tree got from an archive that is gone.
		for name := range had {
			id, ok := strings.CutSuffix(strings.TrimPrefix(name, AccountsPrefix), ArchiveExt)
			if _, still := version[name]; ok && !still && validName(id) && name != ServerArchive {
				os.RemoveAll(filepath.Join(accounts, id))
			}
		}
		if v, ok := version[ServerArchive]; ok {
			if had[ServerArchive] == v {
				rep.Unchanged++
				done[ServerArchive] = v
			} else if files, n, ferr := retrieveServer(ctx, objs, dest, w, lim); ferr != nil {
				if ctx.Err() == nil {
					fail(ServerArchive, "", ferr)
				}
			} else {
				add(ServerArchive, files, n)
			}
		}
		err = ctx.Err()
	}
	// What was unpacked is recorded even after a failure, so a retry
	// fetches only the rest.
	if b, merr := json.Marshal(done); merr == nil {
		if werr := w.WriteFile(filepath.Join(dest, ManifestFile), b, 0o644); werr != nil && err == nil {
			err = werr
		}
	}
	if err == nil && len(failed) > 0 {
		sort.Slice(failed, func(i, j int) bool { return failed[i].Error() < failed[j].Error() })
		rep.Failed = len(failed)
		err = &PartialError{Failed: failed}
	}
	return rep, err
}

// serverTemp is the folder beside dest's files where the server archive
// is unpacked before its files are moved into place.
const serverTemp = atomicfile.TempPrefix + "server"

// retrieveServer unpacks the server archive into a folder of its own under
// dest, then moves its files into place: an archive refused halfway
// leaves dest as it was.
func retrieveServer(ctx context.Context, objs objstore.Store, dest string, w atomicfile.Options, lim Limits) (int, int64, error) {
	tmp := filepath.Join(dest, serverTemp)
	os.RemoveAll(tmp)
	defer os.RemoveAll(tmp)
	var names []string
	files, n, err := fetchUnpack(ctx, objs, ServerArchive, tmp, func(name string) bool {
		top, _, _ := strings.Cut(name, "/")
		if top != backuppath.AccountsDir && top != backuppath.ItemsDir && !strings.HasPrefix(top, ".") {
			names = append(names, name)
			return true
		}
		return false
	}, w, lim)
	if err != nil {
		return files, n, err
	}
	dirs := map[string]bool{}
	for _, name := range names {
		dst := filepath.Join(dest, filepath.FromSlash(name))
		if dir := filepath.Dir(dst); !dirs[dir] {
			if err := os.MkdirAll(dir, atomicfile.Mode(0o755)); err != nil {
				return files, n, err
			}
			dirs[dir] = true
		}
		if err := os.Rename(filepath.Join(tmp, filepath.FromSlash(name)), dst); err != nil {
			return files, n, err
		}
	}
	if !w.NoSync {
		for dir := range dirs {
			if err := atomicfile.SyncDir(dir); err != nil {
				return files, n, err
			}
		}
	}
	return files, n, nil
}

// readManifest reads dest's manifest (none, or unreadable: empty).
func readManifest(dest string) map[string]string {
	m := map[string]string{}
	if b, err := confined.ReadFile(dest, ManifestFile, 64<<20); err == nil {
		json.Unmarshal(b, &m)
	}
	return m
}

// errArchiveTime is the cause of an archive's context when Limits.Time
// ends it.
var errArchiveTime = errors.New("archive time")

// fetchUnpack GETs the archive name and unpacks its regular files under
// dir (names checked: relative, no "..", no empty component; each at most
// MaxEntry bytes; allow, if set, decides which names are taken), within
// lim: more entries, inflated or fetched bytes than it allows, or more
// time, refuse the archive with an error naming the bound (the caller
// removes dir). It returns the files unpacked and the bytes fetched.
func fetchUnpack(ctx context.Context, objs objstore.Store, name, dir string, allow func(string) bool, w atomicfile.Options, lim Limits) (int, int64, error) {
	ctx, cancel := context.WithTimeoutCause(ctx, lim.Time, errArchiveTime)
	defer cancel()
	files, got, err := unpack(ctx, objs, name, dir, allow, w, lim)
	if err != nil && context.Cause(ctx) == errArchiveTime {
		err = fmt.Errorf("%s: not fetched and unpacked within %s", name, lim.Time)
	}
	return files, got, err
}

func unpack(ctx context.Context, objs objstore.Store, name, dir string, allow func(string) bool, w atomicfile.Options, lim Limits) (int, int64, error) {
	rc, size, err := objs.Get(ctx, name)
	if err != nil {
		return 0, 0, err
	}
	defer rc.Close()
	if size > lim.Compressed {
		return 0, 0, fmt.Errorf("%s: the store announces %d bytes (an archive takes at most %d)", name, size, lim.Compressed)
	}
	comp := &capped{r: rc, left: lim.Compressed, err: fmt.Errorf("more than %d bytes (an archive takes at most that)", lim.Compressed)}
	inflated := &capped{left: lim.Bytes, err: fmt.Errorf("more than %d bytes inflated (an archive takes at most that)", lim.Bytes)}
	// fail names the archive and, past a bound, the bound whatever error
	// the decoders made of it, else the entry.
	fail := func(entry string, err error) (int, int64, error) {
		switch {
		case comp.over:
			err = comp.err
		case inflated.over:
			err = inflated.err
		case entry != "":
			err = fmt.Errorf("%s: %w", entry, err)
		}
		return 0, comp.n, fmt.Errorf("%s: %w", name, err)
	}
	zr, err := gzip.NewReader(comp)
	if err != nil {
		return fail("", err)
	}
	inflated.r = zr
	tr := tar.NewReader(inflated)
	files := 0
	for entries := int64(1); ; entries++ {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fail("", err)
		}
		if entries > lim.Files {
			return fail("", fmt.Errorf("more than %d entries (an archive takes at most that)", lim.Files))
		}
		if err := ctx.Err(); err != nil {
			return fail("", err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		clean := path.Clean(h.Name)
		if objstore.CheckName(h.Name) != nil || clean != h.Name || (allow != nil && !allow(clean)) {
			return fail("", fmt.Errorf("refusing entry %q", h.Name))
		}
		if h.Size < 0 || h.Size > MaxEntry {
			return fail("", fmt.Errorf("entry %q of %d bytes (at most %d)", h.Name, h.Size, MaxEntry))
		}
		dst := filepath.Join(dir, filepath.FromSlash(clean))
		if err := os.MkdirAll(filepath.Dir(dst), atomicfile.Mode(0o755)); err != nil {
			return fail("", err)
		}
		if err := w.Write(dst, 0o644, func(out io.Writer) error {
			n, err := io.Copy(out, io.LimitReader(tr, h.Size))
			if err == nil && n != h.Size {
				err = io.ErrUnexpectedEOF
			}
			return err
		}); err != nil {
			return fail(fmt.Sprintf("%q", h.Name), err)
		}
		if !h.ModTime.IsZero() {
			os.Chtimes(dst, h.ModTime, h.ModTime)
		}
		files++
	}
	return files, comp.n, nil
}

// capped reads at most left bytes from r; reading past them fails with err
// (and keeps failing). n counts the bytes read.
type capped struct {
	r    io.Reader
	left int64
	n    int64
	err  error
	over bool
}

func (c *capped) Read(p []byte) (int, error) {
	if c.over {
		return 0, c.err
	}
	if int64(len(p)) > c.left+1 {
		p = p[:c.left+1] // one byte more tells "more" from "all"
	}
	k, err := c.r.Read(p)
	if int64(k) > c.left {
		c.over = true
		k = int(c.left)
		err = c.err
	}
	c.left -= int64(k)
	c.n += int64(k)
	return k, err
}

// validName: one folder name (no separator, not . or .., not hidden: cbfs's
// temporary names start with a dot).
func validName(s string) bool {
	return s != "" && !strings.HasPrefix(s, ".") && !strings.ContainsAny(s, "/\x00")
}
