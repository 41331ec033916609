package operations

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// doUndelete's END: a bare date is the end of that whole day, in the local
// zone; a date with a time is that moment; last is open.
func TestEndOrLast(t *testing.T) {
	old := time.Local
	t.Cleanup(func() { time.Local = old })
	rome, err := time.LoadLocation("Europe/Rome")
	require.NoError(t, err)
	time.Local = rome

	var e EndOrLast
	require.NoError(t, e.UnmarshalText([]byte("21/04/2023")))
	assert.Equal(t, time.Date(2023, 4, 21, 23, 59, 59, int(999*time.Millisecond), rome).UTC(), e.Time())
	require.NoError(t, e.UnmarshalText([]byte("21/04/2023 10:00:00")))
	assert.Equal(t, time.Date(2023, 4, 21, 8, 0, 0, 0, time.UTC), e.Time(), "zoneless: Rome's time")
	require.NoError(t, e.UnmarshalText([]byte("2023-04-21T10:00:00Z")))
	assert.Equal(t, time.Date(2023, 4, 21, 10, 0, 0, 0, time.UTC), e.Time())
	require.NoError(t, e.UnmarshalText([]byte("last")))
	assert.True(t, e.Time().IsZero())
	assert.Error(t, e.UnmarshalText([]byte("32/04/2023")))
}

// A restore's DATE selects a state: a bare date is the end of that day,
// as getItem's date and the mount's at/<day>/ (grammar.ParseMoment).
func TestDateOrLastBareDate(t *testing.T) {
	old := time.Local
	t.Cleanup(func() { time.Local = old })
	time.Local = time.UTC
	var d DateOrLast
	require.NoError(t, d.UnmarshalText([]byte("2023-07-25")))
	want, err := time.Parse(time.RFC3339Nano, "2023-07-25T23:59:59.999Z")
	require.NoError(t, err)
	assert.Equal(t, want, d.Time())
	require.NoError(t, d.UnmarshalText([]byte("2023-07-25T10:00:00Z")))
	assert.Equal(t, time.Date(2023, 7, 25, 10, 0, 0, 0, time.UTC), d.Time())
	var f DateOrFirst
	require.NoError(t, f.UnmarshalText([]byte("2023-07-25T00:00:00Z")))
	require.NoError(t, f.UnmarshalText([]byte("2023-07-25")))
	assert.Equal(t, time.Date(2023, 7, 25, 0, 0, 0, 0, time.UTC), f.Time(), "a window's start keeps the day's start")
}
