package scan

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/cbfs/cbfs/backuppath"
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

// tarGz archives the paths (files or folders, recursively, sorted; names
// as tar writes them: absolute path without the leading "/"). Unreadable
// files are left out and reported.
func tarGz(paths []string) ([]byte, []string) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	var errs []string
	sorted := append([]string(nil), paths...)
	sort.Strings(sorted)
	for _, root := range sorted {
		abs, err := filepath.Abs(root)
		if err != nil {
			errs = append(errs, fmt.Sprintf("config path %s: %v", root, err))
			continue
		}
		err = filepath.WalkDir(abs, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				errs = append(errs, fmt.Sprintf("config path %s: %v", p, err))
				return nil
			}
			info, err := d.Info()
			if err != nil {
				errs = append(errs, fmt.Sprintf("config path %s: %v", p, err))
				return nil
			}
			link := ""
			if info.Mode()&fs.ModeSymlink != 0 {
				link, _ = os.Readlink(p)
			} else if !info.Mode().IsRegular() && !info.IsDir() {
				return nil
			}
			h, err := tar.FileInfoHeader(info, link)
			if err != nil {
				errs = append(errs, fmt.Sprintf("config path %s: %v", p, err))
				return nil
			}
			h.Name = strings.TrimPrefix(filepath.ToSlash(p), "/")
			if info.IsDir() {
				h.Name += "/"
			}
			if !info.Mode().IsRegular() {
				return tw.WriteHeader(h)
			}
			f, err := os.Open(p)
			if err != nil {
				errs = append(errs, fmt.Sprintf("config path %s: %v", p, err))
				return nil
			}
			defer f.Close()
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
			n, err := io.Copy(tw, f)
			if err != nil || n != h.Size {
				// The archive entry is now short or long: tar cannot
				// recover, so stop this path here.
				return fmt.Errorf("config path %s: read %d of %d bytes: %v", p, n, h.Size, err)
			}
			return nil
		})
		if err != nil {
			errs = append(errs, err.Error())
			break
		}
	}
	tw.Close()
	zw.Close()
	return buf.Bytes(), errs
}
