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
