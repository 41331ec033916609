package backuppath

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
)

// ServerDirAlt is the other spelling of the server folder: Carbonio's
// architecture.rst and the Suite's backup.rst call it "servers", while
// getServerConfig's output and the external-storage tree say "server".
const ServerDirAlt = "servers"

// DriveItemsDir holds Carbonio Files (Zextras Drive) items, at the root
// and in account folders: drive_items/<2 hex>/<uuid> (Suite backup.rst).
// Their content format is not public: cbfs counts them, never reads them.
const DriveItemsDir = "drive_items"

// isDir reports whether rel is a folder itself (a symbolic link is not).
func (p *Path) isDir(rel string) bool {
	fi, err := os.Lstat(filepath.Join(p.Root, rel))
	return err == nil && fi.IsDir()
}

// hasServerFiles reports whether the folder rel holds a server file
// (a name ParseServerFileName reads).
func (p *Path) hasServerFiles(rel string) bool {
	ents, err := p.listDir(rel)
	if err != nil {
		return false
	}
	for _, e := range ents {
		if _, _, ok := ParseServerFileName(e.Name()); ok && !e.IsDir() {
			return true
		}
	}
	return false
}

// ServerDirs says which server folder the path's server files are read
// from (and written to): server/ or servers/, whichever exists; when both
// do, the one holding server files, and server/ if both or neither do.
// ignored is the other one when it exists too ("" otherwise): its files
// are not read, and getFormatInfo says so. The same folders always give
// the same answer.
func (p *Path) ServerDirs() (use, ignored string) {
	a, b := p.isDir(ServerDir), p.isDir(ServerDirAlt)
	switch {
	case a && b:
		if !p.hasServerFiles(ServerDir) && p.hasServerFiles(ServerDirAlt) {
			return ServerDirAlt, ServerDir
		}
		return ServerDir, ServerDirAlt
	case b:
		return ServerDirAlt, ""
	}
	return ServerDir, ""
}

// serverDir is the folder ServerDirs reads.
func (p *Path) serverDir() string {
	d, _ := p.ServerDirs()
	return d
}

// DriveItems counts what drive_items/ folders hold.
type DriveItems struct {
	Folders []string // the drive_items folders found, relative to the root (sorted)
	Files   int      // regular files below them
	Bytes   int64    // their sizes
	Other   int      // anything else below them (links, special files, unreadable folders)
}

// maxDriveDepth bounds the walk below a drive_items folder: the layout is
// drive_items/<2 hex>/<uuid>; a few more levels are tolerated.
const maxDriveDepth = 4

// DriveItems finds drive_items/ at the root and in every account folder
// and counts the regular files below them, without opening one and
// without following a symbolic link.
func (p *Path) DriveItems(ctx context.Context) (DriveItems, error) {
	var out DriveItems
	var dirs []string
	if p.isDir(DriveItemsDir) {
		dirs = append(dirs, DriveItemsDir)
	}
	ids, err := p.AccountIDs()
	if err != nil {
		return out, err
	}
	for _, id := range ids {
		if rel := filepath.Join(AccountsDir, id, DriveItemsDir); p.isDir(rel) {
			dirs = append(dirs, rel)
		}
	}
	for _, d := range dirs {
		out.Folders = append(out.Folders, filepath.ToSlash(d))
		if err := p.countDrive(ctx, d, 0, &out); err != nil {
			return out, err
		}
	}
	return out, nil
}

func (p *Path) countDrive(ctx context.Context, rel string, depth int, out *DriveItems) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ents, err := p.listDir(rel)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		out.Other++
		return nil
	}
	for _, e := range ents {
		child := path.Join(filepath.ToSlash(rel), e.Name())
		switch {
		case e.IsDir() && depth < maxDriveDepth:
			if err := p.countDrive(ctx, child, depth+1, out); err != nil {
				return err
			}
		case e.Type().IsRegular():
			out.Files++
			if fi, err := e.Info(); err == nil {
				out.Bytes += fi.Size()
			}
		default:
			out.Other++
		}
	}
	return nil
}
