package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/cbfs/cbfs/internal/atomicfile"
	"github.com/cbfs/cbfs/internal/confined"
)

// Dir is a Store on a local folder: reads are confined beneath it (no
// symbolic link followed, regular files only), writes atomic.
type Dir struct {
	Root  string
	Write atomicfile.Options
}

var _ Store = (*Dir)(nil)

func (d *Dir) String() string { return d.Root }

func (d *Dir) Get(ctx context.Context, name string) (io.ReadCloser, int64, error) {
	if err := CheckName(name); err != nil {
		return nil, 0, err
	}
	f, err := confined.Open(d.Root, name)
	if err != nil {
		return nil, 0, d.err(name, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, fi.Size(), nil
}

func (d *Dir) GetRange(ctx context.Context, name string, off, n int64) (io.ReadCloser, error) {
	rc, _, err := d.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	f := rc.(*os.File)
	return struct {
		io.Reader
		io.Closer
	}{io.NewSectionReader(f, off, n), f}, nil
}

func (d *Dir) Stat(ctx context.Context, name string) (int64, error) {
	if err := CheckName(name); err != nil {
		return 0, err
	}
	fi, err := confined.Stat(d.Root, name)
	if err != nil {
		return 0, d.err(name, err)
	}
	if !fi.Mode().IsRegular() {
		return 0, fmt.Errorf("%s/%s: not a regular file", d.Root, name)
	}
	return fi.Size(), nil
}

func (d *Dir) PutIfAbsent(ctx context.Context, name string, r io.Reader, size int64) (bool, error) {
	if _, err := d.Stat(ctx, name); err == nil {
		return false, nil
	} else if !errors.Is(err, ErrNotExist) {
		return false, err
	}
	return true, d.Put(ctx, name, r, size)
}

func (d *Dir) Put(ctx context.Context, name string, r io.Reader, size int64) error {
	if err := CheckName(name); err != nil {
		return err
	}
	path := filepath.Join(d.Root, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(path), atomicfile.Mode(0o755)); err != nil {
		return err
	}
	return d.Write.Write(path, 0o644, func(w io.Writer) error {
		n, err := io.Copy(w, r)
		if err == nil && size >= 0 && n != size {
			err = fmt.Errorf("%s: %d bytes, want %d", name, n, size)
		}
		return err
	})
}

func (d *Dir) List(ctx context.Context, prefix string, fn func(Object) error) error {
	var names []string
	objs := map[string]Object{}
	err := filepath.WalkDir(d.Root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if p == d.Root && errors.Is(err, fs.ErrNotExist) {
				return fs.SkipAll
			}
			return err
		}
		if e.Type().IsRegular() {
			rel := filepath.ToSlash(strings.TrimPrefix(p, d.Root+string(filepath.Separator)))
			if strings.HasPrefix(rel, prefix) {
				if fi, err := e.Info(); err == nil {
					names = append(names, rel)
					objs[rel] = Object{Name: rel, Size: fi.Size(),
						Version: fmt.Sprintf("%d:%d", fi.Size(), fi.ModTime().UnixNano())}
				}
			}
		}
		return ctx.Err()
	})
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, n := range names {
		if err := fn(objs[n]); err != nil {
			return err
		}
	}
	return nil
}

func (d *Dir) err(name string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s/%s: %w", d.Root, name, ErrNotExist)
	}
	return err
}
