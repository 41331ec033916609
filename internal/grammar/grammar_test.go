package grammar

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseDate(t *testing.T) {
	tests := []struct {
		in   string
		want string // RFC 3339 UTC, "" for an error
	}{
		{"15/07/2013 10:03:26", "2013-07-15T10:03:26Z"},
		{"15/07/2013 10:03", "2013-07-15T10:03:00Z"},
		{"15/07/2013", "2013-07-15T00:00:00Z"},
		{"2013-07-15", "2013-07-15T00:00:00Z"},
		{"2013-07-15T10:03:26", "2013-07-15T10:03:26Z"},
		{"2013-07-15 10:03:26", "2013-07-15T10:03:26Z"},
		{"2013-07-15T10:03:26+02:00", "2013-07-15T08:03:26Z"},
		{"2013-07-15T10:03:26Z", "2013-07-15T10:03:26Z"},
		{"31/02/2013", ""},
		{"yesterday", ""},
		{"", ""},
		{"07/15/2013", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseDate(tt.in)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("ParseDate(%q) = %v, want an error", tt.in, got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s := got.Format("2006-01-02T15:04:05Z07:00"); s != tt.want {
				t.Errorf("ParseDate(%q) = %s, want %s", tt.in, s, tt.want)
			}
		})
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  bool
	}{
		{"", 0, false}, {"0", 0, false}, {"1234", 1234, false}, {"1234B", 1234, false},
		{"2k", 2048, false}, {"2KB", 2048, false}, {"2KiB", 2048, false}, {"25M", 25 << 20, false},
		{" 1 G ", 1 << 30, false},
		// what cbfs mount --cache-size read: T, and upper or lower case
		{"512M", 512 << 20, false}, {"2g", 2 << 30, false}, {"1T", 1 << 40, false}, {"1TB", 1 << 40, false},
		{"12X", 0, true}, {"-1", 0, true}, {"1.5M", 0, true}, {"M", 0, true}, {"99999999999999G", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSize(tt.in)
			if tt.err {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseMoment(t *testing.T) {
	for in, want := range map[string]string{
		"25/07/2023":          "2023-07-25T23:59:59.999Z",
		"2023-07-25":          "2023-07-25T23:59:59.999Z",
		"25/07/2023 10:00:00": "2023-07-25T10:00:00Z",
		"2023-07-25T00:00:00": "2023-07-25T00:00:00Z",
		"2023-07-25T10:00Z":   "2023-07-25T10:00:00Z",
	} {
		got, err := ParseMoment(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got.Format("2006-01-02T15:04:05.999Z07:00"), in)
	}
	_, err := ParseMoment("31/02/2013")
	assert.Error(t, err)
	// A day of a DST change ends at its own midnight.
	rome, err := time.LoadLocation("Europe/Rome")
	require.NoError(t, err)
	day := time.Date(2023, 3, 26, 0, 0, 0, 0, rome) // 23 hours long
	assert.Equal(t, time.Date(2023, 3, 26, 23, 59, 59, 999e6, rome), DayEnd(day))
}
