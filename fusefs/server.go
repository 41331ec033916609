package fusefs

import (
	"context"
	"fmt"
	"sync"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/cbfs/cbfs/backuppath"
)

// ---- server/ ----

// serverDir holds config/ and customizations/ (static).
type serverDir struct{ node }

var (
	_ = (fs.NodeOnAdder)((*serverDir)(nil))
	_ = (fs.NodeOpendirHandler)((*serverDir)(nil))
)

func (d *serverDir) OnAdd(ctx context.Context) {
	sf := &serverFiles{fsys: d.fsys}
	c := &configDir{files: sf}
	c.init(d.fsys, inoConfig, true, 0, d.mtime)
	addStatic(ctx, &d.Inode, "config", c)
	cu := &customizationsDir{files: sf}
	cu.init(d.fsys, inoCustomizations, true, 0, d.mtime)
	addStatic(ctx, &d.Inode, "customizations", cu)
}

func (d *serverDir) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	return openList(childEntries(&d.Inode), 0)
}

// serverFiles lists server/ once.
type serverFiles struct {
	fsys  *FS
	once  sync.Once
	files []backuppath.ServerFile
	err   error
}

func (s *serverFiles) list(kind string) ([]backuppath.ServerFile, error) {
	s.once.Do(func() { s.files, s.err = s.fsys.bp.ServerFiles() })
	var out []backuppath.ServerFile
	for _, f := range s.files {
		if f.Kind == kind {
			out = append(out, f)
		}
	}
	return out, s.err
}

// configDir lists the configuration backups by date.
type configDir struct {
	node
	files *serverFiles
}

var (
	_ = (fs.NodeLookuper)((*configDir)(nil))
	_ = (fs.NodeOpendirHandler)((*configDir)(nil))
)

func (d *configDir) ino(f backuppath.ServerFile, file int) uint64 {
	kind := uint64(kindConfigFile)
	if file == 0 {
		kind = kindConfigDir
	}
	n, ok := inoServerFile(kind, f.Date.Unix(), file)
	return d.fsys.ino(n, ok, fmt.Sprintf("config:%s:%d", f.Name, file))
}

func (d *configDir) entries(ctx context.Context) ([]fuse.DirEntry, syscall.Errno) {
	files, err := d.files.list(backuppath.KindConfig)
	if err != nil {
		return nil, errno(err)
	}
	out := make([]fuse.DirEntry, 0, len(files))
	for _, f := range files {
		out = append(out, dirEntry(f.Date.UTC().Format(stateTimeLayout), true, d.ino(f, 0)))
	}
	sortEntries(out)
	return out, 0
}

func (d *configDir) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	return openList(d.entries(ctx))
}

func (d *configDir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	files, err := d.files.list(backuppath.KindConfig)
	if err != nil {
		return nil, errno(err)
	}
	for _, f := range files {
		if f.Date.UTC().Format(stateTimeLayout) == name {
			c := &configDateDir{file: f, parent: d}
			c.init(d.fsys, d.ino(f, 0), true, 0, f.Date)
			return newChild(ctx, &d.Inode, c, out), 0
		}
	}
	return nil, syscall.ENOENT
}

// configDateDir is one configuration backup: config.json (the file as it
// is) and one file per section.
type configDateDir struct {
	node
	file   backuppath.ServerFile
	parent *configDir
}

var (
	_ = (fs.NodeOnAdder)((*configDateDir)(nil))
	_ = (fs.NodeOpendirHandler)((*configDateDir)(nil))
)

func (d *configDateDir) OnAdd(ctx context.Context) {
	files := d.fsys.configFiles(d.file)
	for i, cf := range files {
		df := &dataFile{data: cf.data}
		df.init(d.fsys, d.parent.ino(d.file, i+1), false, int64(len(cf.data)), d.file.Date)
		addStatic(ctx, &d.Inode, cf.name, df)
	}
}

func (d *configDateDir) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	return openList(childEntries(&d.Inode), 0)
}

// customizationsDir serves the customizations archives as they are.
type customizationsDir struct {
	node
	files *serverFiles
}

var (
	_ = (fs.NodeLookuper)((*customizationsDir)(nil))
	_ = (fs.NodeOpendirHandler)((*customizationsDir)(nil))
)

func (d *customizationsDir) ino(f backuppath.ServerFile) uint64 {
	n, ok := inoServerFile(kindCustom, f.Date.Unix(), 0)
	return d.fsys.ino(n, ok, "custom:"+f.Name)
}

func (d *customizationsDir) entries(ctx context.Context) ([]fuse.DirEntry, syscall.Errno) {
	files, err := d.files.list(backuppath.KindCustomizations)
	if err != nil {
		return nil, errno(err)
	}
	out := make([]fuse.DirEntry, 0, len(files))
	for _, f := range files {
		out = append(out, dirEntry(f.Name, false, d.ino(f)))
	}
	sortEntries(out)
	return out, 0
}

func (d *customizationsDir) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	return openList(d.entries(ctx))
}

func (d *customizationsDir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	files, err := d.files.list(backuppath.KindCustomizations)
	if err != nil {
		return nil, errno(err)
	}
	for _, f := range files {
		if f.Name == name {
			df := &diskFile{path: d.fsys.bp.Root + "/" + f.RelPath}
			df.init(d.fsys, d.ino(f), false, f.Size, f.Date)
			return newChild(ctx, &d.Inode, df, out), 0
		}
	}
	return nil, syscall.ENOENT
}
