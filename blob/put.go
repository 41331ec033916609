package blob

import (
	"fmt"
	"io"
	"runtime"
	"sync"
	"time"

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
