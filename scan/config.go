package scan

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/google/uuid"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/internal/confined"
	"github.com/cbfs/cbfs/mailbox"
)

// recordNS makes stable ids for domain and COS records from their names.
var recordNS = uuid.MustParse("6f1c0f5e-3c2a-4d8e-9b7a-cbf5cbf5cbf5")

// serverConfig writes the day's server configuration backup and, with
// ConfigPaths, the day's customizations archive: once per (UTC) day; a
// second scan the same day writes neither.
func (r *runner) serverConfig(accounts []string, cos map[string]string) error {
	now := r.now().UTC()
	files, err := r.bp.ServerFiles()
	if err != nil {
		return &writeError{err}
	}
	have := map[string]bool{}
	y, m, d := now.Date()
	for _, f := range files {
		fy, fm, fd := f.Date.Date()
		if fy == y && fm == m && fd == d {
			have[f.Kind] = true
		}
	}
	st, _ := r.bp.ReadBackupStat()
	if !have[backuppath.KindConfig] {
		c := r.configRecord(now, st, accounts, cos)
		rel, err := r.bp.WriteServerConfig(c)
		if err != nil {
			return &writeError{err}
		}
		r.rep.ServerConfig = rel
		r.rep.Written++
	}
	if len(r.opt.ConfigPaths) > 0 && !have[backuppath.KindCustomizations] {
		tgz, errs := tarGz(r.opt.ConfigPaths)
		r.rep.Errors = append(r.rep.Errors, errs...)
		rel, err := r.bp.WriteCustomizations(now, tgz)
		if err != nil {
			return &writeError{err}
		}
		r.rep.Customizations = rel
		r.rep.Written++
	}
	return nil
}

func rawJSON(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

// configRecord describes what cbfs knows of the server: the source, the
// configured paths, the domains and classes of service of its accounts.
func (r *runner) configRecord(now time.Time, st *backuppath.BackupStat, accounts []string, cos map[string]string) *backuppath.ServerConfig {
	c := &backuppath.ServerConfig{
		Date:     mailbox.MillisOf(now.Truncate(time.Second)),
		ServerID: r.serverID(st),
		Hostname: r.hostname(st),
		ServerConfig: map[string]json.RawMessage{
			"cbfsSource":      rawJSON(r.src.String()),
			"cbfsConfigPaths": rawJSON(r.opt.ConfigPaths),
		},
		GlobalConfig: map[string]json.RawMessage{
			"cbfsAccountCount": rawJSON(len(accounts)),
		},
	}
	domains := map[string]bool{}
	for _, a := range accounts {
		if _, d, ok := strings.Cut(a, "@"); ok {
			domains[d] = true
		}
	}
	coses := map[string]bool{}
	for _, c := range cos {
		if c != "" {
			coses[c] = true
		}
	}
	for _, n := range sortedTags(domains) {
		c.Domains = append(c.Domains, backuppath.Record{ID: uuid.NewSHA1(recordNS, []byte("domain:"+n)).String(), Name: n})
	}
	for _, n := range sortedTags(coses) {
		c.COS = append(c.COS, backuppath.Record{ID: uuid.NewSHA1(recordNS, []byte("cos:"+n)).String(), Name: n})
	}
	return c
}

// Bounds of a customizations archive (--config-path). The archive is built
// in memory before it is written, so it is bounded: configuration files are
// small (Carbonio's /opt/zextras/conf is a few MB), and a folder someone
// else can write into must not make a scan hold gigabytes.
const (
	// MaxConfigFile is the largest file archived (16 MiB); a larger one is
	// left out and reported.
	MaxConfigFile = 16 << 20
	// MaxConfigArchive is the most the archive holds (128 MiB: entries'
	// contents plus 512 bytes a header, before compression); the file
	// that would pass it and everything after it are left out, reported in
	// one line.
	MaxConfigArchive = 128 << 20
	// maxConfigDepth is how deep a folder is followed (one descriptor
	// open a level); deeper folders are left out and reported.
	maxConfigDepth = 64
)

// tarGz archives the paths (files or folders, recursively, sorted; names
// as tar writes them: absolute path without the leading "/"). Each path is
// the administrator's and is followed as given, symbolic links included;
// beneath it nothing is followed (internal/confined): a symbolic link is
// archived as a link, a folder swapped for one is refused, only regular
// files are read, never a FIFO or a device (which are left out and
// reported), and each read is bounded (MaxConfigFile, MaxConfigArchive).
// A file that cannot be read is left out and reported; the rest is
// archived.
func tarGz(paths []string) ([]byte, []string) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	a := &archiver{tw: tar.NewWriter(zw)}
	sorted := append([]string(nil), paths...)
	sort.Strings(sorted)
	for _, root := range sorted {
		if a.full {
			break
		}
		abs, err := filepath.Abs(root)
		if err != nil {
			a.fail(root, err)
			continue
		}
		a.root(abs)
	}
	a.tw.Close()
	zw.Close()
	return buf.Bytes(), a.errs
}

// archiver writes one customizations archive.
type archiver struct {
	tw    *tar.Writer
	errs  []string
	total int64 // bytes archived: contents plus a header each
	full  bool  // MaxConfigArchive reached: nothing more is archived
}

func (a *archiver) fail(p string, err error) {
	a.errs = append(a.errs, fmt.Sprintf("config path %s: %v", p, reason(err)))
}

// reason is err without the *fs.PathError's own path (the messages name
// the full path themselves).
func reason(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// root archives one configured path: a folder (walked beneath, see
// tarGz) or a file.
func (a *archiver) root(abs string) {
	d, err := confined.OpenDir(abs, ".")
	if errors.Is(err, syscall.ENOTDIR) {
		f, err := confined.OpenNamed(abs)
		if err != nil {
			a.fail(abs, err)
			return
		}
		defer f.Close()
		a.file(abs, f)
		return
	}
	if err != nil {
		a.fail(abs, err)
		return
	}
	defer d.Close()
	a.dir(d, abs, 0)
}

// name is p as an archive entry name.
func entryName(p string) string { return strings.TrimPrefix(filepath.ToSlash(p), "/") }

// add writes one entry (body nil for anything but a file), within
// MaxConfigArchive.
func (a *archiver) add(p string, h *tar.Header, body []byte) bool {
	if a.full {
		return false
	}
	if a.total+512+int64(len(body)) > MaxConfigArchive {
		a.full = true
		a.errs = append(a.errs, fmt.Sprintf("config path %s: the archive would pass %d bytes: it and everything after it are left out", p, MaxConfigArchive))
		return false
	}
	if err := a.tw.WriteHeader(h); err != nil {
		a.fail(p, err)
		return false
	}
	if len(body) > 0 {
		if _, err := a.tw.Write(body); err != nil {
			a.fail(p, err)
			return false
		}
	}
	a.total += 512 + int64(len(body))
	return true
}

// file archives the open regular file f at p: what its fstat says, and at
// most MaxConfigFile bytes of it.
func (a *archiver) file(p string, f *os.File) {
	info, err := f.Stat()
	if err != nil {
		a.fail(p, err)
		return
	}
	if info.Size() > MaxConfigFile {
		a.fail(p, fmt.Errorf("%w: %d bytes, more than %d", confined.ErrTooLarge, info.Size(), MaxConfigFile))
		return
	}
	body, err := io.ReadAll(io.LimitReader(f, MaxConfigFile+1))
	if err != nil {
		a.fail(p, err)
		return
	}
	if len(body) > MaxConfigFile {
		a.fail(p, fmt.Errorf("%w: grew past %d bytes while read", confined.ErrTooLarge, MaxConfigFile))
		return
	}
	h, err := tar.FileInfoHeader(info, "")
	if err != nil {
		a.fail(p, err)
		return
	}
	h.Name = entryName(p)
	h.Size = int64(len(body)) // what was read, whatever the file did meanwhile
	a.add(p, h, body)
}

// dir archives the folder d at p and what it holds, depth levels below
// the configured path.
func (a *archiver) dir(d *confined.Dir, p string, depth int) {
	info, err := d.Stat(".")
	if err != nil {
		a.fail(p, err)
		return
	}
	h, err := tar.FileInfoHeader(info, "")
	if err != nil {
		a.fail(p, err)
		return
	}
	h.Name = entryName(p) + "/"
	if !a.add(p, h, nil) {
		return
	}
	ents, err := d.ReadDir(".")
	if err != nil {
		a.fail(p, err)
		return
	}
	if testHookListed != nil {
		testHookListed(p)
	}
	for _, e := range ents {
		if a.full {
			return
		}
		name := e.Name()
		cp := filepath.Join(p, name)
		switch t := e.Type(); {
		case t.IsDir():
			if depth+1 >= maxConfigDepth {
				a.fail(cp, fmt.Errorf("more than %d folders deep: left out", maxConfigDepth))
				continue
			}
			sub, err := d.OpenDir(name)
			if err != nil {
				a.fail(cp, err)
				continue
			}
			a.dir(sub, cp, depth+1)
			sub.Close()
		case t&fs.ModeSymlink != 0:
			a.symlink(d, name, cp)
		case t.IsRegular():
			f, err := d.Open(name)
			if err != nil {
				a.fail(cp, err)
				continue
			}
			a.file(cp, f)
			f.Close()
		default:
			a.fail(cp, &confined.NotRegularError{Mode: t})
		}
	}
}

// testHookListed, when set (tests), runs after a folder is listed and
// before its entries are archived: a test swaps entries there, as a user
// racing the archiver would.
var testHookListed func(dir string)

// symlink archives the symbolic link name in d as a link (never followed).
func (a *archiver) symlink(d *confined.Dir, name, p string) {
	info, err := d.Stat(name)
	if err != nil {
		a.fail(p, err)
		return
	}
	if info.Mode()&fs.ModeSymlink == 0 { // replaced meanwhile: leave it out
		a.fail(p, fmt.Errorf("changed while archived"))
		return
	}
	target, err := d.Readlink(name)
	if err != nil {
		a.fail(p, err)
		return
	}
	h, err := tar.FileInfoHeader(info, target)
	if err != nil {
		a.fail(p, err)
		return
	}
	h.Name = entryName(p)
	a.add(p, h, nil)
}
