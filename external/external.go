// Package external keeps a Backup Path on external storage (an objstore,
// S3 in practice), in Carbonio's split layout: the blobs as objects
// items/<d[0:2]>/<d> (the same names and bytes as on disk), and the
// metadata, which stays on the server, archived to the bucket as one
// archive per account (accounts/<id>.tar.gz) plus one of the server's files
// (server.tar.gz), so that a new server can fetch it back
// (retrieveMetadataFromArchive). docs/FORMAT.md § 17 describes the layout.
//
// UploadBlobs copies the blobs the bucket lacks (put if absent, after one
// listing of items/); UploadMetadata writes every archive; Retrieve
// rebuilds a local metadata tree from the archives, in parallel. Nothing
// here deletes an object: a blob stays in the bucket while any state may
// name it (a purge of the bucket is not implemented).
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

// Report counts what an upload or a retrieval did.
type Report struct {
	Blobs, BlobsSkipped int   // blobs uploaded, already there
	Unreadable          int   // blob names that are no readable file (not uploaded)
	Archives            int   // archives written or unpacked
	Unchanged           int   // archives not fetched again (Retrieve: the version the tree has)
	Files               int   // metadata files archived or unpacked
	Bytes               int64 // bytes sent or received
}

// UploadBlobs puts every blob of the Backup Path at root that the store
// lacks, with `threads` uploads at a time.
func UploadBlobs(ctx context.Context, root string, objs objstore.Store, threads int) (Report, error) {
	var rep Report
	have := map[string]bool{}
	if err := objs.List(ctx, backuppath.ItemsDir+"/", func(o objstore.Object) error {
		have[o.Name] = true
		return nil
	}); err != nil {
		return rep, err
	}
	var todo []blob.Digest
	st := blob.NewStore(root)
	if err := st.Walk(ctx, func(name string, d blob.Digest, ok bool) error {
		if !ok {
			return nil
		}
		if have[d.RelPath()] {
			rep.BlobsSkipped++
		} else {
			todo = append(todo, d)
		}
		return nil
	}); err != nil {
		return rep, err
	}
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
// one per account folder, and the server's.
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
		add(len(files), int64(len(buf)))
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
// into dest. `threads` archives are fetched at a time. The blobs are not
// fetched. Archives whose version is the one dest's manifest records are
// not fetched again; an account whose archive is gone is removed.
func Retrieve(ctx context.Context, objs objstore.Store, dest string, threads int, w atomicfile.Options) (Report, error) {
	var rep Report
	version := map[string]string{}
	var ids []string
	if err := objs.List(ctx, AccountsPrefix, func(o objstore.Object) error {
		id, ok := strings.CutSuffix(strings.TrimPrefix(o.Name, AccountsPrefix), ArchiveExt)
		if ok && validName(id) && !strings.Contains(id, "/") {
			ids = append(ids, id)
			version[o.Name] = o.Version
		}
		return nil
	}); err != nil {
		return rep, err
	}
	if err := objs.List(ctx, ServerArchive, func(o objstore.Object) error {
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
	var mu sync.Mutex
	add := func(name string, files int, n int64) {
		mu.Lock()
		rep.Archives++
		rep.Files += files
		rep.Bytes += n
		done[name] = version[name]
		mu.Unlock()
	}
	err := workers.Each(ctx, max(threads, 1), ids, func(id string) error {
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
		files, n, err := fetchUnpack(ctx, objs, name, tmp, nil, w)
		if err != nil {
			os.RemoveAll(tmp)
			return err
		}
		old := filepath.Join(accounts, atomicfile.TempPrefix+id+".old")
		os.RemoveAll(old)
		if err := os.Rename(final, old); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if err := os.Rename(tmp, final); err != nil {
			return err
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
			} else {
				files, n, ferr := fetchUnpack(ctx, objs, ServerArchive, dest, func(name string) bool {
					top, _, _ := strings.Cut(name, "/")
					return top != backuppath.AccountsDir && top != backuppath.ItemsDir && !strings.HasPrefix(top, ".")
				}, w)
				if ferr != nil {
					err = ferr
				} else {
					add(ServerArchive, files, n)
				}
			}
		}
	}
	// What was unpacked is recorded even after a failure, so a retry
	// fetches only the rest.
	if b, merr := json.Marshal(done); merr == nil {
		if werr := w.WriteFile(filepath.Join(dest, ManifestFile), b, 0o644); werr != nil && err == nil {
			err = werr
		}
	}
	return rep, err
}

// readManifest reads dest's manifest (none, or unreadable: empty).
func readManifest(dest string) map[string]string {
	m := map[string]string{}
	if b, err := confined.ReadFile(dest, ManifestFile, 64<<20); err == nil {
		json.Unmarshal(b, &m)
	}
	return m
}

// fetchUnpack GETs the archive name and unpacks its regular files under
// dir (names checked: relative, no "..", no empty component; each at most
// MaxEntry bytes; allow, if set, decides which names are taken).
func fetchUnpack(ctx context.Context, objs objstore.Store, name, dir string, allow func(string) bool, w atomicfile.Options) (int, int64, error) {
	rc, size, err := objs.Get(ctx, name)
	if err != nil {
		return 0, 0, err
	}
	defer rc.Close()
	zr, err := gzip.NewReader(rc)
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %w", name, err)
	}
	tr := tar.NewReader(zr)
	files := 0
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return files, size, fmt.Errorf("%s: %w", name, err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		clean := path.Clean(h.Name)
		if objstore.CheckName(h.Name) != nil || clean != h.Name || (allow != nil && !allow(clean)) {
			return files, size, fmt.Errorf("%s: refusing entry %q", name, h.Name)
		}
		if h.Size < 0 || h.Size > MaxEntry {
			return files, size, fmt.Errorf("%s: entry %q of %d bytes (at most %d)", name, h.Name, h.Size, MaxEntry)
		}
		dst := filepath.Join(dir, filepath.FromSlash(clean))
		if err := os.MkdirAll(filepath.Dir(dst), atomicfile.Mode(0o755)); err != nil {
			return files, size, err
		}
		if err := w.Write(dst, 0o644, func(out io.Writer) error {
			n, err := io.Copy(out, io.LimitReader(tr, h.Size))
			if err == nil && n != h.Size {
				err = io.ErrUnexpectedEOF
			}
			return err
		}); err != nil {
			return files, size, fmt.Errorf("%s: %s: %w", name, h.Name, err)
		}
		if !h.ModTime.IsZero() {
			os.Chtimes(dst, h.ModTime, h.ModTime)
		}
		files++
	}
	return files, size, nil
}

// validName: one folder name (no separator, not . or .., not hidden: cbfs's
// temporary names start with a dot).
func validName(s string) bool {
	return s != "" && !strings.HasPrefix(s, ".") && !strings.ContainsAny(s, "/\x00")
}
