package blob

import (
	"fmt"
	"io"
	"runtime"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/pgzip"
)

// Compression settings. They are fixed so that the same content always
// compresses to the same bytes (the sample generator relies on it): pgzip
// cuts its input into putBlockSize blocks, each compressed with the previous
// block's tail as dictionary, so the output depends on the data, the block
// size and the level only, never on timing or on how many blocks are in
// flight. The header carries no name and a zero mtime.
const (
	putLevel     = pgzip.DefaultCompression
	putBlockSize = 1 << 20
)

var pgzwPool = sync.Pool{New: func() any {
	zw, err := pgzip.NewWriterLevel(io.Discard, putLevel)
	if err != nil {
		panic(fmt.Sprintf("pgzip writer: %v", err)) // putLevel is a valid constant
	}
	return zw
}}

// smallPutMax is the largest content compressed by compressSmall: one
// pooled klauspost gzip writer in the caller's goroutine. pgzip costs ~1 ms
// a call whatever the size (goroutines, block buffers), which made storing a
// 20 KB message 17 MB/s; content up to one pgzip block gains nothing from
// its parallelism anyway. Larger content goes through compress (pgzip).
const smallPutMax = putBlockSize

var gzwPool = sync.Pool{New: func() any {
	zw, err := gzip.NewWriterLevel(io.Discard, putLevel)
	if err != nil {
		panic(fmt.Sprintf("gzip writer: %v", err)) // putLevel is a valid constant
	}
	return zw
}}

// compressSmall writes the gzip compression of data into w (no name, MTIME
// 0, putLevel: deterministic like compress).
func compressSmall(w io.Writer, data []byte) error {
	zw := gzwPool.Get().(*gzip.Writer)
	defer gzwPool.Put(zw)
	zw.Reset(w)
	zw.ModTime = time.Unix(0, 0)
	if _, err := zw.Write(data); err != nil {
		return fmt.Errorf("gzip: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("gzip: %w", err)
	}
	return nil
}

// compress writes the gzip compression of what fill writes into w.
func compress(w io.Writer, fill func(zw io.Writer) error) error {
	zw := pgzwPool.Get().(*pgzip.Writer)
	zw.Reset(w)
	if err := zw.SetConcurrency(putBlockSize, runtime.GOMAXPROCS(0)); err != nil {
		return fmt.Errorf("gzip: %w", err)
	}
	zw.ModTime = time.Unix(0, 0) // MTIME 0: "no time stamp" (RFC 1952)
	err := fill(zw)
	if err == nil {
		err = zw.Close()
		if err != nil {
			err = fmt.Errorf("gzip: %w", err)
		}
	}
	// Reset waits for the compressing goroutines (also after a failure, when
	// they may still be writing to w) and drops the reference to w.
	zw.Reset(io.Discard)
	pgzwPool.Put(zw)
	return err
}
