package export

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/sample"
)

// BenchmarkExport exports every account of a sample of 6 accounts x 300
// messages (copy and verify of every blob, final syncfs included).
func BenchmarkExport(b *testing.B) {
	src := filepath.Join(b.TempDir(), "backup")
	_, err := sample.Generate(context.Background(), src, sample.Options{Accounts: 6, Messages: 300, Seed: 1})
	require.NoError(b, err)
	bp, err := backuppath.Open(src)
	require.NoError(b, err)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := Run(context.Background(), bp, filepath.Join(b.TempDir(), "e"), Options{})
		require.NoError(b, err)
		b.SetBytes(res.Bytes)
		b.ReportMetric(float64(res.Blobs), "blobs/op")
	}
}
