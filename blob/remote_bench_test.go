package blob

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/objstore"
)

// BenchmarkRemoteFetch is the remote tier's cold path: every blob fetched
// from the object store (a local folder, objstore.Dir, so the figure is
// cbfs's own cost: GET, cache file, rename, then the confined, verified
// read) into an empty cache, read whole within its recorded size. small:
// 64 text messages of 20 KB; large: one 24 MB message (fetched in ranges).
func BenchmarkRemoteFetch(b *testing.B) {
	for _, bc := range []struct {
		name string
		n    int
		make func(i int) []byte
	}{
		{"small", 64, func(i int) []byte { return mailText(20<<10, uint64(i)) }},
		{"large", 1, func(i int) []byte { return attachmentMail(24<<20, uint64(i)) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			src := NewStore(b.TempDir())
			src.Write.NoSync = true
			var ds []Digest
			var sizes []int64
			var total int64
			for i := range bc.n {
				c := bc.make(i)
				d, _, err := src.Put(c)
				require.NoError(b, err)
				ds, sizes = append(ds, d), append(sizes, int64(len(c)))
				total += int64(len(c))
			}
			objs := &objstore.Dir{Root: src.Root()}
			caches := b.TempDir()
			b.SetBytes(total)
			b.ReportAllocs()
			round := 0
			for b.Loop() {
				b.StopTimer()
				cache := filepath.Join(caches, strconv.Itoa(round))
				round++
				r, err := NewRemote(objs, cache, 0)
				require.NoError(b, err)
				st := NewStore(b.TempDir())
				st.SetRemote(r)
				b.StartTimer()
				for i, d := range ds {
					got, err := st.ReadLimit(d, Limit{Size: sizes[i]})
					if err != nil || int64(len(got)) != sizes[i] {
						b.Fatalf("read: %v (%d bytes)", err, len(got))
					}
				}
				b.StopTimer()
				os.RemoveAll(cache)
				b.StartTimer()
			}
		})
	}
}
