package fusefs

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/internal/confined"
)

// writeFlags are open flags that would modify a file.
func writeFlags(flags uint32) bool {
	return flags&syscall.O_ACCMODE != syscall.O_RDONLY || flags&syscall.O_TRUNC != 0
}

// ---- dataFile: a small file rendered in memory (JSON) ----

type dataFile struct {
	node
	data []byte
}

var (
	_ = (fs.NodeOpener)((*dataFile)(nil))
	_ = (fs.NodeReader)((*dataFile)(nil))
	_ = (fs.NodeGetxattrer)((*dataFile)(nil))
	_ = (fs.NodeSetattrer)((*dataFile)(nil))
)

func (f *dataFile) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if writeFlags(flags) {
		return nil, 0, syscall.EROFS
	}
	return nil, fuse.FOPEN_KEEP_CACHE, 0
}

func (f *dataFile) Read(ctx context.Context, fh fs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	return fuse.ReadResultData(slice(f.data, dest, off)), 0
}

func slice(data, dest []byte, off int64) []byte {
	if off >= int64(len(data)) || off < 0 {
		return nil
	}
	end := off + int64(len(dest))
	if end > int64(len(data)) {
		end = int64(len(data))
	}
	return data[off:end]
}

// ---- diskFile: a Backup Path file served as it is ----

type diskFile struct {
	node
	path string
}

var _ = (fs.NodeOpener)((*diskFile)(nil))

func (f *diskFile) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if writeFlags(flags) {
		return nil, 0, syscall.EROFS
	}
	// f.path is under the root; opened beneath it, confined (no symbolic
	// link followed, regular files only, no blocking on a FIFO).
	root := f.fsys.bp.Root
	fh, err := confined.Open(root, strings.TrimPrefix(f.path, root+"/"))
	if err != nil {
		return nil, 0, syscall.EIO
	}
	return &osHandle{f: fh}, fuse.FOPEN_KEEP_CACHE, 0
}

type osHandle struct{ f *os.File }

var (
	_ = (fs.FileReader)((*osHandle)(nil))
	_ = (fs.FileReleaser)((*osHandle)(nil))
)

func (h *osHandle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	n, err := h.f.ReadAt(dest, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, syscall.EIO
	}
	return fuse.ReadResultData(dest[:n]), 0
}

func (h *osHandle) Release(ctx context.Context) syscall.Errno {
	h.f.Close()
	return 0
}

// statusOf is the user.cbfs.status value: "ok", or the class and the error.
func statusOf(err error) string {
	if err == nil {
		return "ok"
	}
	return blob.Class(err) + ": " + err.Error()
}
