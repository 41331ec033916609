package service

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/cbfs/cbfs/internal/cron"
)

// Carbonio's default schedules.
const (
	DefaultSmartScanSpec = "0 4 * * *" // SmartScan daily at 04:00
	DefaultPurgeSpec     = "0 4 * * 6" // purge on Saturdays at 04:00
)

// Schedule enqueues an operation of Kind with Params whenever Spec (a
// cron-style pattern, see Spec) is due.
type Schedule struct {
	Name   string // for logs: "smartscan", "purge"
	Spec   string
	Kind   string
	Params map[string]string
}

// DefaultSchedules are Carbonio's: doSmartScan daily at 04:00, doPurge on
// Saturdays at 04:00 (enqueued after the scan, in this order).
func DefaultSchedules() []Schedule {
	return []Schedule{
		{Name: "smartscan", Spec: DefaultSmartScanSpec, Kind: "doSmartScan"},
		{Name: "purge", Spec: DefaultPurgeSpec, Kind: "doPurge"},
	}
}

// Clock is the scheduler's time source; tests use a fake one.
type Clock interface {
	Now() time.Time
	// At returns a channel that receives once the clock has reached t (at
	// once if it has). It may fire early: the scheduler checks Now again.
	At(t time.Time) <-chan time.Time
}

// SystemClock is the real clock. Its At wakes at least once a minute, so a
// change of the wall clock (NTP, suspend) delays a schedule by at most a
// minute.
type SystemClock struct{}

// Now is time.Now.
func (SystemClock) Now() time.Time { return time.Now() }

// At wakes at t or within a minute, whichever is first.
func (SystemClock) At(t time.Time) <-chan time.Time {
	return time.After(min(time.Until(t), time.Minute))
}

// EnqueueFunc is what a due schedule calls.
type EnqueueFunc func(s Schedule) error

// Scheduler fires schedules on a clock. Set replaces them while it runs.
type Scheduler struct {
	clock   Clock
	enqueue EnqueueFunc
	log     *slog.Logger

	mu      sync.Mutex
	entries []entry       // guarded by mu
	changed chan struct{} // a Set happened (buffered 1)
}

type entry struct {
	Schedule
	spec *cron.Spec
}

// NewScheduler parses every schedule's pattern; a bad one is an error
// naming the schedule.
func NewScheduler(schedules []Schedule, clock Clock, enqueue EnqueueFunc, log *slog.Logger) (*Scheduler, error) {
	if clock == nil {
		clock = SystemClock{}
	}
	if log == nil {
		log = slog.Default()
	}
	s := &Scheduler{clock: clock, enqueue: enqueue, log: log, changed: make(chan struct{}, 1)}
	entries, err := parseSchedules(schedules)
	if err != nil {
		return nil, err
	}
	s.entries = entries
	return s, nil
}

func parseSchedules(schedules []Schedule) ([]entry, error) {
	var out []entry
	for _, sc := range schedules {
		sp, err := cron.Parse(sc.Spec)
		if err != nil {
			return nil, fmt.Errorf("schedule %s: %w", sc.Name, err)
		}
		if sc.Kind == "" {
			return nil, fmt.Errorf("schedule %s: no operation kind", sc.Name)
		}
		sc.Params = maps.Clone(sc.Params)
		out = append(out, entry{Schedule: sc, spec: sp})
	}
	return out, nil
}

// Set replaces the schedules (cbctl backup scheduler ... set). A running
// Run picks them up at once: each one's next time is computed from now.
// On a bad pattern nothing changes.
func (s *Scheduler) Set(schedules []Schedule) error {
	entries, err := parseSchedules(schedules)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.entries = entries
	s.mu.Unlock()
	select {
	case s.changed <- struct{}{}:
	default:
	}
	return nil
}

func (s *Scheduler) current() []entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.entries
}

// Next returns when each schedule fires next after t, in schedule order.
func (s *Scheduler) Next(t time.Time) []time.Time {
	return nextOf(s.current(), t)
}

func nextOf(entries []entry, t time.Time) []time.Time {
	out := make([]time.Time, len(entries))
	for i, e := range entries {
		out[i] = e.spec.Next(t)
	}
	return out
}

func (s *Scheduler) logSchedules(entries []entry, next []time.Time) {
	for i, e := range entries {
		s.log.Info("schedule", "name", e.Name, "spec", e.spec.String(), "kind", e.Kind, "next", next[i])
	}
}

// Run fires the schedules until ctx ends. Schedules due at the same time
// fire in their order. A run missed while the process was asleep or not
// running is not caught up: after firing, the next time is computed from
// the current time.
func (s *Scheduler) Run(ctx context.Context) {
	now := s.clock.Now()
	entries := s.current()
	next := nextOf(entries, now)
	s.logSchedules(entries, next)
	for {
		var earliest time.Time
		for _, t := range next {
			if !t.IsZero() && (earliest.IsZero() || t.Before(earliest)) {
				earliest = t
			}
		}
		var wake <-chan time.Time
		if !earliest.IsZero() {
			wake = s.clock.At(earliest)
		}
		select {
		case <-ctx.Done():
			return
		case <-s.changed:
			entries = s.current()
			next = nextOf(entries, s.clock.Now())
			s.logSchedules(entries, next)
			continue
		case <-wake:
		}
		now = s.clock.Now()
		for i, e := range entries {
			if next[i].IsZero() || now.Before(next[i]) {
				continue
			}
			if err := s.enqueue(e.Schedule); err != nil {
				s.log.Warn("scheduled operation not enqueued", "name", e.Name, "kind", e.Kind, "err", err)
			}
			next[i] = e.spec.Next(now)
		}
	}
}
