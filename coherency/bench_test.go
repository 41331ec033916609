package coherency

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/sample"
)

// BenchmarkCheck verifies a sample of 6 accounts x 300 messages; bytes are
// the uncompressed blob bytes verified.
func BenchmarkCheck(b *testing.B) {
	dest := filepath.Join(b.TempDir(), "backup")
	rep, err := sample.Generate(context.Background(), dest, sample.Options{Accounts: 6, Messages: 300, Seed: 1})
	require.NoError(b, err)
	bp, err := backuppath.Open(dest)
	require.NoError(b, err)
	b.SetBytes(rep.Bytes)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := Check(context.Background(), bp, Options{})
		require.NoError(b, err)
		b.ReportMetric(float64(res.Blobs), "blobs/op")
	}
}
