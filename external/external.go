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
	Files               int   // metadata files archived or unpacked
	Bytes               int64 // bytes sent or received
}

// UploadBlobs puts every blob of the Backup Path at root that the store
// lacks, with `threads` uploads at a time.
func UploadBlobs(ctx context.Context, root string, objs objstore.Store, threads int) (Report, error) {
	var rep Report
	have := map[string]bool{}
	if err := objs.List(ctx, backuppath.ItemsDir+"/", func(name string, _ int64) error {
		have[name] = true
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

// Retrieve rebuilds the metadata tree of the Backup Path kept in objs
// under dest (created if needed): every account archive is unpacked into
// dest/accounts/<id>/ (replacing that folder whole), the server archive
// into dest. `threads` archives are fetched at a time. The blobs are not
// fetched.
func Retrieve(ctx context.Context, objs objstore.Store, dest string, threads int, w atomicfile.Options) (Report, error) {
	var rep Report
	var ids []string
	if err := objs.List(ctx, AccountsPrefix, func(name string, _ int64) error {
		id, ok := strings.CutSuffix(strings.TrimPrefix(name, AccountsPrefix), ArchiveExt)
		if ok && validName(id) {
			ids = append(ids, id)
		}
		return nil
	}); err != nil {
		return rep, err
	}
	accounts := filepath.Join(dest, backuppath.AccountsDir)
	if err := os.MkdirAll(accounts, atomicfile.Mode(0o755)); err != nil {
		return rep, err
	}
	var mu sync.Mutex
	add := func(files int, n int64) {
		mu.Lock()
		rep.Archives++
		rep.Files += files
		rep.Bytes += n
		mu.Unlock()
	}
	err := workers.Each(ctx, max(threads, 1), ids, func(id string) error {
		tmp := filepath.Join(accounts, atomicfile.TempPrefix+id)
		os.RemoveAll(tmp)
		files, n, err := fetchUnpack(ctx, objs, AccountArchive(id), tmp, nil, w)
		if err != nil {
			os.RemoveAll(tmp)
			return err
		}
		final := filepath.Join(accounts, id)
		old := filepath.Join(accounts, atomicfile.TempPrefix+id+".old")
		os.RemoveAll(old)
		if err := os.Rename(final, old); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if err := os.Rename(tmp, final); err != nil {
			return err
		}
		os.RemoveAll(old)
		add(files, n)
		return nil
	}, nil)
	if err != nil {
		return rep, err
	}
	files, n, err := fetchUnpack(ctx, objs, ServerArchive, dest, func(name string) bool {
		top, _, _ := strings.Cut(name, "/")
		return top != backuppath.AccountsDir && top != backuppath.ItemsDir
	}, w)
	if errors.Is(err, objstore.ErrNotExist) {
		err = nil // no server archive: a path of accounts only
		if len(ids) == 0 {
			err = fmt.Errorf("%s holds no metadata archive (%s<id>%s, %s): not a Backup Path kept by cbfs serve --external, or a wrong prefix", objs, AccountsPrefix, ArchiveExt, ServerArchive)
		}
	} else if err == nil {
		add(files, n)
	}
	return rep, err
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
