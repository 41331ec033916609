package service

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type fired struct {
	name string
	at   time.Time
}

func TestSchedulerDefaultsOverAWeek(t *testing.T) {
	start := time.Date(2025, 3, 6, 12, 0, 0, 0, time.UTC) // a Thursday
	clock := newFakeClock(start)
	got := make(chan fired, 100)
	s, err := NewScheduler(DefaultSchedules(), clock, func(sc Schedule) error {
		got <- fired{sc.Name, clock.Now()}
		return nil
	}, nil)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	day := func(d int) time.Time { return time.Date(2025, 3, d, 4, 0, 0, 0, time.UTC) }
	// Each step: the deadline the scheduler waits for, then what fires.
	steps := []struct {
		wait  time.Time
		fires []string
	}{
		{day(7), []string{"smartscan"}},
		{day(8), []string{"smartscan", "purge"}}, // Saturday: scan, then purge
		{day(9), []string{"smartscan"}},
		{day(10), []string{"smartscan"}},
		{day(11), []string{"smartscan"}},
		{day(12), []string{"smartscan"}},
		{day(13), []string{"smartscan"}},
		{day(14), []string{"smartscan"}},
		{day(15), []string{"smartscan", "purge"}},
	}
	for _, st := range steps {
		select {
		case w := <-clock.registered:
			require.True(t, st.wait.Equal(w), "scheduler waits for %v, want %v", w, st.wait)
		case <-time.After(waitFor):
			t.Fatal("scheduler is not waiting")
		}
		clock.Set(st.wait)
		for _, name := range st.fires {
			select {
			case f := <-got:
				assert.Equal(t, name, f.name)
				assert.True(t, st.wait.Equal(f.at))
			case <-time.After(waitFor):
				t.Fatalf("%s not fired at %v", name, st.wait)
			}
		}
	}
	select {
	case f := <-got:
		t.Fatalf("unexpected fire %v", f)
	default:
	}
}

func TestSchedulerMissedRunsNotCaughtUp(t *testing.T) {
	start := time.Date(2025, 3, 6, 12, 0, 0, 0, time.UTC)
	clock := newFakeClock(start)
	got := make(chan fired, 100)
	s, err := NewScheduler([]Schedule{{Name: "scan", Spec: "0 4 * * *", Kind: "doSmartScan"}}, clock, func(sc Schedule) error {
		got <- fired{sc.Name, clock.Now()}
		return errors.New("refused") // an enqueue error is logged, not fatal
	}, nil)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	<-clock.registered
	late := time.Date(2025, 3, 10, 5, 30, 0, 0, time.UTC) // slept through 4 runs
	clock.Set(late)
	select {
	case f := <-got:
		assert.True(t, late.Equal(f.at))
	case <-time.After(waitFor):
		t.Fatal("not fired")
	}
	select {
	case w := <-clock.registered:
		assert.True(t, time.Date(2025, 3, 11, 4, 0, 0, 0, time.UTC).Equal(w), "next wait %v", w)
	case <-time.After(waitFor):
		t.Fatal("scheduler is not waiting")
	}
	assert.Empty(t, got, "missed runs are not caught up")
}

func TestNewSchedulerErrors(t *testing.T) {
	tests := []struct {
		name string
		s    Schedule
		want string
	}{
		{"bad spec", Schedule{Name: "scan", Spec: "0 25 * * *", Kind: "doSmartScan"}, "schedule scan: schedule \"0 25 * * *\": hour field"},
		{"no kind", Schedule{Name: "scan", Spec: "0 4 * * *"}, "no operation kind"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewScheduler([]Schedule{tc.s}, nil, func(Schedule) error { return nil }, nil)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestSchedulerSetWhileRunning(t *testing.T) {
	start := time.Date(2025, 3, 6, 12, 0, 0, 0, time.UTC) // a Thursday
	clock := newFakeClock(start)
	got := make(chan fired, 100)
	s, err := NewScheduler(DefaultSchedules(), clock, func(sc Schedule) error {
		got <- fired{sc.Name, clock.Now()}
		return nil
	}, nil)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	select {
	case w := <-clock.registered:
		require.True(t, time.Date(2025, 3, 7, 4, 0, 0, 0, time.UTC).Equal(w), "first wait %v", w)
	case <-time.After(waitFor):
		t.Fatal("scheduler is not waiting")
	}
	// A bad pattern changes nothing.
	require.Error(t, s.Set([]Schedule{{Name: "smartscan", Spec: "61 * * * *", Kind: "doSmartScan"}}))
	// The scan moves to 22:30 the same day; the purge is switched off.
	require.NoError(t, s.Set([]Schedule{{Name: "smartscan", Spec: "30 22 * * *", Kind: "doSmartScan"}}))
	at := time.Date(2025, 3, 6, 22, 30, 0, 0, time.UTC)
	select {
	case w := <-clock.registered:
		require.True(t, at.Equal(w), "after Set the scheduler waits for %v, want %v", w, at)
	case <-time.After(waitFor):
		t.Fatal("scheduler did not pick the new schedules up")
	}
	clock.Set(time.Date(2025, 3, 8, 23, 0, 0, 0, time.UTC)) // past Saturday 04:00
	select {
	case f := <-got:
		assert.Equal(t, "smartscan", f.name)
	case <-time.After(waitFor):
		t.Fatal("new schedule not fired")
	}
	select {
	case w := <-clock.registered:
		assert.True(t, time.Date(2025, 3, 9, 22, 30, 0, 0, time.UTC).Equal(w), "next wait %v", w)
	case <-time.After(waitFor):
		t.Fatal("scheduler is not waiting")
	}
	assert.Empty(t, got, "the purge was removed by Set")
}
