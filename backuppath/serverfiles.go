package backuppath

import (
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

	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/internal/confined"
)

// Server file kinds.
const (
	KindConfig         = "config"
	KindCustomizations = "customizations"
)

// serverTimeLayout is the DD_MM_YY#HH_MM_SS stamp in server file names (UTC).
const serverTimeLayout = "02_01_06#15_04_05"

// ServerFileName is the name of a server file of kind taken at t.
func ServerFileName(kind string, t time.Time) string {
	ext := ".json"
	if kind == KindCustomizations {
		ext = ".tar.gz"
	}
	return kind + "_" + t.UTC().Format(serverTimeLayout) + ext
}

// ParseServerFileName reads kind and date from a server file name.
func ParseServerFileName(name string) (kind string, t time.Time, ok bool) {
	for _, k := range []struct{ kind, ext string }{{KindConfig, ".json"}, {KindCustomizations, ".tar.gz"}} {
		rest, found := strings.CutPrefix(name, k.kind+"_")
		if !found {
			continue
		}
		stamp, found := strings.CutSuffix(rest, k.ext)
		if !found {
			continue
		}
		t, err := time.Parse(serverTimeLayout, stamp)
		// time.Parse takes a one-digit hour too ("#4_01_14"): accept only
		// the canonical zero-padded name, so a name and a date map one to one.
		if err != nil || t.Format(serverTimeLayout) != stamp {
			return "", time.Time{}, false
		}
		return k.kind, t, true
	}
	return "", time.Time{}, false
}

// ServerFile is a configuration backup or customizations archive in server/.
type ServerFile struct {
	Kind    string    // KindConfig or KindCustomizations
	Name    string    // file name
	RelPath string    // relative to the root
	Date    time.Time // from the name (UTC)
	Size    int64
	ModTime time.Time
}

// ServerFiles lists server/ (or servers/: ServerDirs), oldest first (ties
// by name). Files whose names do not follow the layout are skipped.
func (p *Path) ServerFiles() ([]ServerFile, error) {
	dir := p.serverDir()
	ents, err := p.listDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list server backups: %w", err)
	}
	var out []ServerFile
	for _, e := range ents {
		kind, t, ok := ParseServerFileName(e.Name())
		if !ok || e.IsDir() {
			continue
		}
		f := ServerFile{Kind: kind, Name: e.Name(), RelPath: filepath.Join(dir, e.Name()), Date: t}
		if info, err := e.Info(); err == nil {
			f.Size, f.ModTime = info.Size(), info.ModTime()
		}
		out = append(out, f)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Date.Equal(out[j].Date) {
			return out[i].Date.Before(out[j].Date)
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

// ReadServerConfig reads a configuration backup (path relative to the root,
// read the confined way like every Backup Path file; or absolute, read as
// ReadServerConfigFile reads it).
func (p *Path) ReadServerConfig(path string) (*ServerConfig, error) {
	if filepath.IsAbs(path) {
		return ReadServerConfigFile(path)
	}
	var c ServerConfig
	if err := p.decodeFile(path, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// ReadServerConfigFile reads a configuration backup file anywhere: a file
// the user names, so symbolic links are followed. It must be a regular
// file: a FIFO or device is refused (blob.ErrUnreadable) without blocking.
func ReadServerConfigFile(path string) (*ServerConfig, error) {
	b, err := readRegularFile(path)
	if err != nil {
		kind := blob.ErrUnreadable
		if errors.Is(err, fs.ErrNotExist) {
			kind = blob.ErrMissing
		}
		return nil, fmt.Errorf("%s: %w: %w", path, kind, err)
	}
	var c ServerConfig
	if err := decodeJSON(path, b, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// readRegularFile is os.ReadFile for a regular file only: the open does not
// block (a FIFO without a writer) and anything else is refused before it is
// read.
func readRegularFile(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, &fs.PathError{Op: "open", Path: path, Err: &confined.NotRegularError{Mode: fi.Mode().Type()}}
	}
	return io.ReadAll(f)
}

// WriteServerConfig writes c as server/config_<c.Date>.json and returns its
// relative path.
func (p *Path) WriteServerConfig(c *ServerConfig) (string, error) {
	if c.Date == 0 {
		return "", fmt.Errorf("write server config: no date")
	}
	rel := filepath.Join(p.serverDir(), ServerFileName(KindConfig, c.Date.Time()))
	return rel, p.writeJSON(filepath.Join(p.Root, rel), c)
}

// WriteCustomizations stores a customizations archive (a tar.gz of the
// configuration folders) taken at t and returns its relative path.
func (p *Path) WriteCustomizations(t time.Time, tgz []byte) (string, error) {
	rel := filepath.Join(p.serverDir(), ServerFileName(KindCustomizations, t))
	return rel, p.Writer().WriteFile(filepath.Join(p.Root, rel), tgz, 0o644)
}
