package operations

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// --scan-max-file-size: "" is the scan's default, 0 no limit, a bad size
// an error naming the setting.
func TestScanMaxFileSize(t *testing.T) {
	for in, want := range map[string]int64{"": 0, "0": -1, "50M": 50 << 20, "1G": 1 << 30, "12345": 12345} {
		s := Settings{Flags: Flags{StateDir: "st", ScanMaxFileSize: Size(in)}}
		require.NoError(t, s.Normalize(), in)
		assert.Equal(t, want, s.ScanMaxFileSizeBytes(), in)
	}
	s := Settings{Flags: Flags{StateDir: "st", ScanMaxFileSize: "lots"}}
	assert.ErrorContains(t, s.Normalize(), "scan-max-file-size")
}
