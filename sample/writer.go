package sample

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/mailbox"
)

// writer writes blobs and item files straight into the new Backup Path.
//
// It produces exactly what blob.Store.Put and backuppath.Path.WriteItem
// produce (a gzip stream of the content at Digest.RelPath; Item.Encode at
// ItemRelPath) but without their per-file fsync and temporary-file rename:
// the destination is a fresh folder that nobody reads until Generate
// returns, so crash atomicity buys nothing, and skipping it makes a
// 100,000-message sample many times faster. It also fixes the gzip stream
// (level, empty header) so that the same seed gives the same bytes whatever
// the blob package chooses for its own writes.
//
// The generator decides every byte in its own goroutine; compressing and
// writing the files is handed to a few workers. The files are independent,
// so their order of completion changes nothing on disk.
type writer struct {
	root    string
	written map[blob.Digest]struct{} // blobs on disk (or deliberately absent); generator only
	blobs   int
	bytes   int64

	jobs chan job
	wg   sync.WaitGroup
	pool sync.Pool // *[]byte content buffers

	mu      sync.Mutex
	dirs    map[string]struct{} // folders created
	failure error

	zw   *gzip.Writer // the generator's own, for damaged blobs
	zbuf bytes.Buffer
}

// job is one file to write.
type job struct {
	rel      string
	data     []byte
	buf      *[]byte // data's pooled buffer, if any
	compress bool
	t        time.Time
}

const writeWorkers = 2

func newWriter(root string) *writer {
	w := &writer{
		root:    root,
		written: make(map[blob.Digest]struct{}),
		dirs:    make(map[string]struct{}),
		jobs:    make(chan job, 64),
		zw:      newGzip(),
	}
	for i := 0; i < writeWorkers; i++ {
		w.wg.Add(1)
		go w.work()
	}
	return w
}

func newGzip() *gzip.Writer {
	zw, _ := gzip.NewWriterLevel(nil, gzip.DefaultCompression) // constant level: never fails
	return zw
}

func (w *writer) work() {
	defer w.wg.Done()
	zw := newGzip()
	var zbuf bytes.Buffer
	for j := range w.jobs {
		if w.err() != nil {
			w.release(j)
			continue // drain
		}
		data := j.data
		var err error
		if j.compress {
			data, err = gzipTo(zw, &zbuf, data)
		}
		if err == nil {
			err = w.writeFile(j.rel, data, j.t)
		}
		w.release(j)
		if err != nil {
			w.fail(err)
		}
	}
}

func (w *writer) release(j job) {
	if j.buf != nil {
		w.pool.Put(j.buf)
	}
}

func (w *writer) fail(err error) {
	w.mu.Lock()
	if w.failure == nil {
		w.failure = err
	}
	w.mu.Unlock()
}

func (w *writer) err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.failure
}

// close waits for every submitted write and reports the first failure.
func (w *writer) close() error {
	if w.jobs != nil {
		close(w.jobs)
		w.wg.Wait()
		w.jobs = nil
	}
	return w.err()
}

// submit queues a write. data must not change afterwards.
func (w *writer) submit(j job) error {
	if err := w.err(); err != nil {
		w.release(j)
		return err
	}
	w.jobs <- j
	return nil
}

// copyBuf returns a pooled copy of b.
func (w *writer) copyBuf(b []byte) *[]byte {
	p, _ := w.pool.Get().(*[]byte)
	if p == nil {
		p = new([]byte)
	}
	*p = append((*p)[:0], b...)
	return p
}

func (w *writer) mkdir(dir string) error {
	w.mu.Lock()
	_, ok := w.dirs[dir]
	w.mu.Unlock()
	if ok {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create folder: %w", err)
	}
	w.mu.Lock()
	w.dirs[dir] = struct{}{}
	w.mu.Unlock()
	return nil
}

// gzipTo compresses data with zw into buf (reset first) and returns its
// bytes.
func gzipTo(zw *gzip.Writer, buf *bytes.Buffer, data []byte) ([]byte, error) {
	buf.Reset()
	zw.Reset(buf)
	if _, err := zw.Write(data); err != nil {
		return nil, fmt.Errorf("compress: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("compress: %w", err)
	}
	return buf.Bytes(), nil
}

// writeFile writes data at rel (relative to the root) with mtime t.
func (w *writer) writeFile(rel string, data []byte, t time.Time) error {
	path := filepath.Join(w.root, rel)
	if err := w.mkdir(filepath.Dir(path)); err != nil {
		return err
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", rel, err)
	}
	if err := os.Chtimes(path, t, t); err != nil {
		return fmt.Errorf("set time of %s: %w", rel, err)
	}
	return nil
}

// put stores content as a blob (once per digest) and returns its digest.
func (w *writer) put(content []byte, t time.Time) (blob.Digest, error) {
	d := blob.Sum(content)
	if _, ok := w.written[d]; ok {
		return d, nil
	}
	buf := w.copyBuf(content)
	if err := w.submit(job{rel: d.RelPath(), data: *buf, buf: buf, compress: true, t: t}); err != nil {
		return "", err
	}
	w.written[d] = struct{}{}
	w.blobs++
	w.bytes += int64(len(content))
	return d, nil
}

// putDamaged stores content's blob damaged the way kind says and returns
// the digest the item's state must point to. The content must be unique
// (no other item may reference the digest).
func (w *writer) putDamaged(kind string, content []byte, t time.Time) (blob.Digest, error) {
	d := blob.Sum(content)
	if _, ok := w.written[d]; ok {
		return "", fmt.Errorf("damaged blob %s (%s) is shared", d, kind)
	}
	w.written[d] = struct{}{}
	var data []byte
	switch kind {
	case DamageMissing:
		return d, nil
	case DamageUnreadable:
		// A folder where the file should be: unreadable for everyone, root
		// included.
		path := filepath.Join(w.root, d.RelPath())
		if err := w.mkdir(path); err != nil {
			return "", err
		}
		w.blobs++
		return d, os.Chtimes(path, t, t)
	case DamageTruncated:
		gz, err := gzipTo(w.zw, &w.zbuf, content)
		if err != nil {
			return "", err
		}
		data = bytes.Clone(gz[:len(gz)/2])
	case DamageMismatch:
		// A sound gzip stream of other bytes: the content as it would be
		// after bit rot in the body (one letter's case flipped).
		other := bytes.Clone(content)
		i := len(other) / 2
		for i < len(other) && (other[i] < 'a' || other[i] > 'z') {
			i++
		}
		if i == len(other) {
			i = len(other) / 2
		}
		other[i] ^= 0x20
		gz, err := gzipTo(w.zw, &w.zbuf, other)
		if err != nil {
			return "", err
		}
		data = bytes.Clone(gz)
	case DamageDoubleGzip:
		inner, err := gzipTo(w.zw, &w.zbuf, content)
		if err != nil {
			return "", err
		}
		outer, err := gzipTo(newGzip(), new(bytes.Buffer), inner)
		if err != nil {
			return "", err
		}
		data = outer
	default:
		return "", fmt.Errorf("unknown damage kind %q", kind)
	}
	if err := w.submit(job{rel: d.RelPath(), data: data, t: t}); err != nil {
		return "", err
	}
	w.blobs++
	return d, nil
}

// writeItem writes an item file (as Path.WriteItem would) with the mtime of
// its last state.
func (w *writer) writeItem(accountID string, it *mailbox.Item) error {
	b, err := it.Encode()
	if err != nil {
		return fmt.Errorf("encode item %d: %w", it.ID, err)
	}
	return w.writeRaw(backuppath.ItemRelPath(accountID, it.ID), b, it.Latest().Start.Time())
}

// writeRaw writes data (which must not change afterwards) at rel.
func (w *writer) writeRaw(rel string, data []byte, t time.Time) error {
	return w.submit(job{rel: rel, data: data, t: t})
}
