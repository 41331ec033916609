package ctl

import (
	"context"
	"fmt"
	"io"

	"github.com/cbfs/cbfs/backuppath"
)

// layoutOut is what getFormatInfo says of the path's folders besides
// accounts and blobs: which server folder it reads, and drive_items/.
type layoutOut struct {
	ServerDir        string   `json:"serverDir"`                  // server or servers
	ServerDirIgnored string   `json:"serverDirIgnored,omitempty"` // the other one, when both exist
	DriveItemFiles   int      `json:"driveItemFiles"`
	DriveItemBytes   int64    `json:"driveItemBytes"`
	DriveItemFolders []string `json:"driveItemFolders,omitempty"`
	Notes            []string `json:"notes,omitempty"`
}

// formatLayout reads the layout part of getFormatInfo.
func formatLayout(ctx context.Context, p *backuppath.Path) (layoutOut, error) {
	var out layoutOut
	out.ServerDir, out.ServerDirIgnored = p.ServerDirs()
	if out.ServerDirIgnored != "" {
		out.Notes = append(out.Notes, fmt.Sprintf("%s/ and %s/ both exist: server files are read from %s/ only, %s/ is not read",
			out.ServerDir, out.ServerDirIgnored, out.ServerDir, out.ServerDirIgnored))
	}
	d, err := p.DriveItems(ctx)
	if err != nil {
		return out, err
	}
	out.DriveItemFiles, out.DriveItemBytes, out.DriveItemFolders = d.Files, d.Bytes, d.Folders
	if len(d.Folders) > 0 {
		out.Notes = append(out.Notes, fmt.Sprintf("drive_items: %d files (Carbonio Files), not shown: their format is not public", d.Files))
	}
	if d.Other > 0 {
		out.Notes = append(out.Notes, fmt.Sprintf("drive_items: %d entries that are neither files nor folders (links, special files, unreadable folders), not read", d.Other))
	}
	return out, nil
}

// print writes the layout lines of getFormatInfo's text output.
func (l layoutOut) print(w io.Writer) {
	kv(w, configIndent, "server folder", l.ServerDir+"/")
	if len(l.DriveItemFolders) > 0 {
		kv(w, configIndent, "drive_items", fmt.Sprintf("%d files, %d bytes (Carbonio Files; not shown)", l.DriveItemFiles, l.DriveItemBytes))
	}
	for _, n := range l.Notes {
		kv(w, configIndent, "note", n)
	}
}
