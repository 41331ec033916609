package blob

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"sync"

	kgzip "github.com/klauspost/compress/gzip"
	"github.com/klauspost/pgzip"
)

// smallMax is the largest compressed size (bytes) decoded by the "small"
// path: the whole file is read into a pooled buffer and inflated by a pooled
// klauspost/compress/gzip reader (Reset, never re-allocated). Larger blobs
// are streamed through klauspost/pgzip, whose read-ahead goroutine inflates
// on the other core while the caller hashes and copies. The value comes from
// BenchmarkDecoders (see bench_test.go and docs/PERFORMANCE.md): the pooled
// single-threaded reader wins clearly below ~128 KiB compressed, pooled pgzip
// wins above ~512 KiB, and the two are within noise in between. It is a
// variable so tests can force either path.
var smallMax int64 = 256 << 10

type (
	bufioReader = bufio.Reader
	pgzipReader = pgzip.Reader
)

// smallDec is a pooled klauspost gzip reader with the bytes.Reader it reads
// from, so that reusing it allocates nothing.
type smallDec struct {
	z       kgzip.Reader
	br      bytes.Reader
	scratch [512]byte
}

var (
	smallPool = sync.Pool{New: func() any { return new(smallDec) }}
	pgzPool   = sync.Pool{New: func() any { return newPgzip() }}
	bufrPool  = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 256<<10) }}
	compPool  sync.Pool // *[]byte: whole compressed small blobs
	copyPool  = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}
)

// emptyReader is what pooled decoders are reset to when they are put back:
// it drops their reference to the last source and, for pgzip, stops the
// read-ahead goroutine. (pgzip's Close followed by Reset panics in v1.3.0,
// so pooled pgzip readers are never Closed.)
type emptyReader struct{}

func (emptyReader) Read([]byte) (int, error) { return 0, io.EOF }
func (emptyReader) ReadByte() (byte, error)  { return 0, io.EOF }

func getSmall() *smallDec { return smallPool.Get().(*smallDec) }

func putSmall(sd *smallDec) {
	if sd == nil {
		return
	}
	_ = sd.z.Reset(emptyReader{})
	sd.br.Reset(nil)
	smallPool.Put(sd)
}

// pgzip read-ahead geometry for the large path: blocks of pgzBlockSize
// decoded bytes, pgzBlocks of them in flight (pgzip's default is 4 x 1 MiB,
// which hands nothing over before a whole MiB is inflated; smaller blocks
// start the overlap sooner). See BenchmarkPgzipBlocks.
var (
	pgzBlockSize = 256 << 10
	pgzBlocks    = 8
)

// emptyGzip is a complete gzip stream of no content.
var emptyGzip = []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0}

func newPgzip() *pgzipReader {
	z, err := pgzip.NewReaderN(bytes.NewReader(emptyGzip), pgzBlockSize, pgzBlocks)
	if err != nil {
		panic(fmt.Sprintf("pgzip reader on an empty gzip stream: %v", err)) // a constant input
	}
	_ = z.Reset(emptyReader{})
	return z
}

func getPgzip() *pgzipReader { return pgzPool.Get().(*pgzipReader) }

func putPgzip(z *pgzip.Reader) {
	if z == nil {
		return
	}
	_ = z.Reset(emptyReader{}) // stops read-ahead; always fails with io.EOF
	pgzPool.Put(z)
}

func getComp(n int) *[]byte {
	if p, ok := compPool.Get().(*[]byte); ok && cap(*p) >= n {
		*p = (*p)[:0]
		return p
	}
	b := make([]byte, 0, max(n, 32<<10))
	return &b
}

func putComp(p *[]byte) {
	if p != nil && int64(cap(*p)) <= smallMax+4096 {
		compPool.Put(p)
	}
}

var pgzwPool = sync.Pool{New: func() any {
	zw, err := pgzip.NewWriterLevel(io.Discard, putLevel)
	if err != nil {
		panic(fmt.Sprintf("pgzip writer: %v", err)) // putLevel is a valid constant
	}
	return zw
}}

var gzwPool = sync.Pool{New: func() any {
	zw, err := kgzip.NewWriterLevel(io.Discard, putLevel)
	if err != nil {
		panic(fmt.Sprintf("gzip writer: %v", err)) // putLevel is a valid constant
	}
	return zw
}}

// headPool holds PutReader's look-ahead buffers (one small-path blob).
var headPool = sync.Pool{New: func() any { b := make([]byte, smallPutMax+1); return &b }}
