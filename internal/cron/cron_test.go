package cron

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
	_ "time/tzdata" // America/New_York on machines without zoneinfo

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Carbonio's default schedules (service.DefaultSmartScanSpec, DefaultPurgeSpec).
const (
	dailyAt4     = "0 4 * * *"
	saturdaysAt4 = "0 4 * * 6"
)

func bitsOf(set uint64) []int {
	var out []int
	for i := range 64 {
		if has(set, i) {
			out = append(out, i)
		}
	}
	return out
}

func TestParseSpecFields(t *testing.T) {
	tests := []struct {
		spec                          string
		minute, hour, dom, month, dow []int
	}{
		{"0 4 * * *", []int{0}, []int{4}, seq(1, 31), seq(1, 12), seq(0, 6)},
		{"0 4 * * 6", []int{0}, []int{4}, seq(1, 31), seq(1, 12), []int{6}},
		{"*/15 0-23/6 1,15 */3 1-5", []int{0, 15, 30, 45}, []int{0, 6, 12, 18}, []int{1, 15}, []int{1, 4, 7, 10}, []int{1, 2, 3, 4, 5}},
		{"5/20 1-10/3 31 feb-APR sun", []int{5, 25, 45}, []int{1, 4, 7, 10}, []int{31}, []int{2, 3, 4}, []int{0}},
		{"59 23 1-3,2-4 12 7", []int{59}, []int{23}, []int{1, 2, 3, 4}, []int{12}, []int{0}},
		{"0 0 * * 5-7", []int{0}, []int{0}, seq(1, 31), seq(1, 12), []int{0, 5, 6}},
		{"  @daily ", []int{0}, []int{0}, seq(1, 31), seq(1, 12), seq(0, 6)},
		{"@weekly", []int{0}, []int{0}, seq(1, 31), seq(1, 12), []int{0}},
		{"@hourly", []int{0}, seq(0, 23), seq(1, 31), seq(1, 12), seq(0, 6)},
		{"@yearly", []int{0}, []int{0}, []int{1}, []int{1}, seq(0, 6)},
	}
	for _, tc := range tests {
		t.Run(tc.spec, func(t *testing.T) {
			sp, err := Parse(tc.spec)
			require.NoError(t, err)
			assert.Equal(t, tc.minute, bitsOf(sp.minute), "minute")
			assert.Equal(t, tc.hour, bitsOf(sp.hour), "hour")
			assert.Equal(t, tc.dom, bitsOf(sp.dom), "day of month")
			assert.Equal(t, tc.month, bitsOf(sp.month), "month")
			assert.Equal(t, tc.dow, bitsOf(sp.dow), "day of week")
		})
	}
}

func seq(a, b int) []int {
	var out []int
	for i := a; i <= b; i++ {
		out = append(out, i)
	}
	return out
}

func TestParseSpecErrors(t *testing.T) {
	tests := []struct{ spec, want string }{
		{"", "want 5 fields"},
		{"0 4 * *", "want 5 fields"},
		{"0 4 * * * *", "want 5 fields"},
		{"60 4 * * *", "minute field \"60\": 60 is out of range 0-59"},
		{"0 24 * * *", "hour field"},
		{"0 4 0 * *", "day of month field \"0\": 0 is out of range 1-31"},
		{"0 4 32 * *", "out of range 1-31"},
		{"0 4 * 13 *", "month field"},
		{"0 4 * * 8", "day of week field"},
		{"a 4 * * *", "\"a\" is not a number"},
		{"0 4 * * mun", "\"mun\" is not a number"},
		{"5-1 4 * * *", "range 5-1 is backwards"},
		{"*/0 4 * * *", "step \"0\" is not a positive number"},
		{"*/x 4 * * *", "step \"x\""},
		{"1,,2 4 * * *", "empty list element"},
		{"0 4 * * 1-", "\"\" is not a number"},
		{"-1 4 * * *", "\"\" is not a number"},
		{"@fortnightly", "unknown macro"},
		{"0 4 * * */-2", "not a positive number"},
	}
	for _, tc := range tests {
		t.Run(tc.spec, func(t *testing.T) {
			_, err := Parse(tc.spec)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestNext(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	utc := func(s string) time.Time {
		tm, err := time.Parse("2006-01-02 15:04:05.999", s)
		require.NoError(t, err)
		return tm
	}
	in := func(loc *time.Location, s string) time.Time {
		tm, err := time.ParseInLocation("2006-01-02 15:04 MST", s, loc)
		require.NoError(t, err)
		return tm
	}
	tests := []struct {
		name string
		spec string
		from time.Time
		want time.Time // zero: never
	}{
		{"daily scan, a bit before", dailyAt4, utc("2025-03-07 03:59:30"), utc("2025-03-07 04:00:00")},
		{"daily scan, exactly at: next day", dailyAt4, utc("2025-03-07 04:00:00"), utc("2025-03-08 04:00:00")},
		{"daily scan, just after", dailyAt4, utc("2025-03-07 04:00:00.5"), utc("2025-03-08 04:00:00")},
		{"purge from Friday", saturdaysAt4, utc("2025-03-07 10:00:00"), utc("2025-03-08 04:00:00")},
		{"purge from Saturday 04:00", saturdaysAt4, utc("2025-03-08 04:00:00"), utc("2025-03-15 04:00:00")},
		{"purge from Saturday 03:00", saturdaysAt4, utc("2025-03-08 03:00:00"), utc("2025-03-08 04:00:00")},
		{"step", "*/15 * * * *", utc("2025-03-07 10:07:00"), utc("2025-03-07 10:15:00")},
		{"step over the hour", "*/15 * * * *", utc("2025-03-07 10:45:00"), utc("2025-03-07 11:00:00")},
		{"new year", "0 0 1 1 *", utc("2025-12-31 23:59:00"), utc("2026-01-01 00:00:00")},
		{"29 February", "0 0 29 2 *", utc("2025-03-01 00:00:00"), utc("2028-02-29 00:00:00")},
		{"31 February never", "0 0 31 2 *", utc("2025-03-01 00:00:00"), time.Time{}},
		{"31st skips short months", "0 0 31 * *", utc("2025-04-01 00:00:00"), utc("2025-05-31 00:00:00")},
		{"day OR weekday: the 13th first", "0 12 13 * 5", utc("2025-03-08 00:00:00"), utc("2025-03-13 12:00:00")},
		{"day OR weekday: then Friday", "0 12 13 * 5", utc("2025-03-13 12:00:00"), utc("2025-03-14 12:00:00")},
		{"weekday field starting with * ANDs", "0 12 13 * */2", utc("2025-03-01 00:00:00"), utc("2025-03-13 12:00:00")},
		{"weekday field starting with * ANDs, next", "0 12 13 * */2", utc("2025-03-13 12:00:00"), utc("2025-04-13 12:00:00")},
		{"list and range, same day", "30 8-10/2,17 * * mon-fri", utc("2025-03-07 10:31:00"), utc("2025-03-07 17:30:00")},
		{"list and range, over the weekend", "30 8-10/2,17 * * mon-fri", utc("2025-03-07 17:30:00"), utc("2025-03-10 08:30:00")},
		{"month names", "0 0 1 jan,jul *", utc("2025-03-07 00:00:00"), utc("2025-07-01 00:00:00")},
		{"7 is Sunday", "0 0 * * 7", utc("2025-03-07 00:00:00"), utc("2025-03-09 00:00:00")},
		{"@weekly", "@weekly", utc("2025-03-07 00:00:00"), utc("2025-03-09 00:00:00")},
		{"@hourly", "@hourly", utc("2025-03-07 10:07:00"), utc("2025-03-07 11:00:00")},
		{"DST spring forward: missing time skipped", "30 2 * * *", in(ny, "2025-03-08 12:00 EST"), in(ny, "2025-03-10 02:30 EDT")},
		{"DST spring forward: 04:00 the same day", dailyAt4, in(ny, "2025-03-08 04:00 EST"), in(ny, "2025-03-09 04:00 EDT")},
		{"DST fall back: first 01:30", "30 1 * * *", in(ny, "2025-11-02 00:00 EDT"), in(ny, "2025-11-02 01:30 EDT")},
		{"DST fall back: repeated 01:30 fires once", "30 1 * * *", in(ny, "2025-11-02 01:30 EDT"), in(ny, "2025-11-03 01:30 EST")},
		{"DST fall back: the repeated hour is not run again", "*/30 * * * *", in(ny, "2025-11-02 01:30 EDT"), in(ny, "2025-11-02 02:00 EST")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sp, err := Parse(tc.spec)
			require.NoError(t, err)
			got := sp.Next(tc.from)
			if tc.want.IsZero() {
				assert.True(t, got.IsZero(), "want never, got %v", got)
				return
			}
			assert.True(t, tc.want.Equal(got), "want %v, got %v", tc.want, got)
			assert.Equal(t, tc.from.Location(), got.Location())
		})
	}
}

// naiveNext walks minute by minute: the oracle for Next.
func naiveNext(sp *Spec, from time.Time, limit time.Duration) time.Time {
	t := from.Truncate(time.Minute).Add(time.Minute)
	for end := from.Add(limit); t.Before(end); t = t.Add(time.Minute) {
		if has(sp.month, int(t.Month())) && sp.dayMatches(t) && has(sp.hour, t.Hour()) && has(sp.minute, t.Minute()) {
			return t
		}
	}
	return time.Time{}
}

func TestNextAgainstNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	pick := func(lo, hi int) string {
		switch r.IntN(4) {
		case 0:
			return "*"
		case 1:
			return fmt.Sprint(lo + r.IntN(hi-lo+1))
		case 2:
			a := lo + r.IntN(hi-lo+1)
			b := a + r.IntN(hi-a+1)
			return fmt.Sprintf("%d-%d", a, b)
		default:
			return fmt.Sprintf("*/%d", 1+r.IntN(hi-lo+1))
		}
	}
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 60 {
		spec := fmt.Sprintf("%s %s %s %s %s", pick(0, 59), pick(0, 23), pick(1, 28), pick(1, 12), pick(0, 6))
		sp, err := Parse(spec)
		require.NoError(t, err, spec)
		from := base.Add(time.Duration(r.Int64N(int64(365 * 24 * time.Hour))))
		t.Run(fmt.Sprintf("%d %s", i, spec), func(t *testing.T) {
			const limit = 400 * 24 * time.Hour
			want := naiveNext(sp, from, limit)
			got := sp.Next(from)
			if want.IsZero() {
				// e.g. the 25th AND a Sunday in May: not within the window.
				assert.True(t, got.IsZero() || !got.Before(from.Add(limit)), "from %v: naive found none, got %v", from, got)
				return
			}
			assert.True(t, want.Equal(got), "from %v: want %v, got %v", from, want, got)
		})
	}
}

func FuzzParseSpec(f *testing.F) {
	for _, s := range []string{"0 4 * * *", "*/5 1-3 1,15 jan-mar mon-fri", "@daily", "5/x 1 2 3 4"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sp, err := Parse(s)
		if err != nil {
			return
		}
		from := time.Date(2025, 3, 7, 10, 0, 0, 0, time.UTC)
		if n := sp.Next(from); !n.IsZero() && !n.After(from) {
			t.Fatalf("%q: Next(%v) = %v, not after", s, from, n)
		}
	})
}
