package operations

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/cbfs/cbfs/internal/atomicfile"
	"github.com/cbfs/cbfs/internal/cron"
)

// ScheduleScope is the ConfigRequest scope of Carbonio's "backup scheduler
// NAME get|set global|server": Name is the scheduler's name, Key "global"
// or "server", and a set's Value the JSON of a ScheduleChange.
const ScheduleScope = "scheduler"

// Carbonio's scheduler names, the kinds they enqueue and their defaults:
// SmartScan daily at 04:00 and purge on Saturdays at 04:00 (Carbonio's),
// coherencyCheck off, with Sundays at 05:00 when it is only enabled
// (cbfs's choice: after the Saturday purge, away from the nightly scan).
var scheduleKinds = []ScheduleSetting{
	{Name: "SmartScan", Kind: KindSmartScan, Enabled: true, Pattern: "0 4 * * *"},
	{Name: "purge", Kind: KindPurge, Enabled: true, Pattern: "0 4 * * 6"},
	{Name: "coherencyCheck", Kind: KindCoherencyCheck, Enabled: false, Pattern: "0 5 * * 0"},
}

// ScheduleSetting is one scheduler's effective setting.
type ScheduleSetting struct {
	Name    string `json:"name"` // SmartScan, purge, coherencyCheck
	Kind    string `json:"kind"` // the operation it enqueues
	Enabled bool   `json:"enabled"`
	Pattern string `json:"pattern"` // cron: minute hour day-of-month month day-of-week
	// Source says where the setting comes from: "set" (cbctl backup
	// scheduler ... set, kept in the state directory's schedules.json),
	// "serve" (cbfs serve's --scan-schedule / --purge-schedule) or
	// "default".
	Source string `json:"source"`
}

// ScheduleChange is what a "scheduler NAME set" changes; nil fields keep
// their value.
type ScheduleChange struct {
	Enabled *bool   `json:"enabled,omitempty"`
	Pattern *string `json:"pattern,omitempty"`
}

// ScheduleNames are Carbonio's scheduler names, in order.
func ScheduleNames() []string {
	out := make([]string, len(scheduleKinds))
	for i, k := range scheduleKinds {
		out[i] = k.Name
	}
	return out
}

// scheduleDefault finds a scheduler by name (any case).
func scheduleDefault(name string) (ScheduleSetting, bool) {
	for _, k := range scheduleKinds {
		if strings.EqualFold(k.Name, name) {
			return k, true
		}
	}
	return ScheduleSetting{}, false
}

// SetScheduleFlag makes a cbfs serve flag (--scan-schedule "0 3 * * *", or
// "off") the default of scheduler name; a schedule set with cbctl wins.
func (r *Runner) SetScheduleFlag(name, spec string) error {
	d, ok := scheduleDefault(name)
	if !ok {
		return fmt.Errorf("no scheduler %q", name)
	}
	spec = strings.TrimSpace(spec)
	switch {
	case spec == "" || strings.EqualFold(spec, "off"):
		d.Enabled = false
	default:
		if _, err := cron.Parse(spec); err != nil {
			return fmt.Errorf("schedule %s: %w", d.Name, err)
		}
		d.Enabled, d.Pattern = true, spec
	}
	d.Source = "serve"
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.scheduleFlags == nil {
		r.scheduleFlags = map[string]ScheduleSetting{}
	}
	r.scheduleFlags[d.Name] = d
	return nil
}

// Schedules are the effective settings of every scheduler: a setting made
// with cbctl (schedules.json), else cbfs serve's flag, else the default.
func (r *Runner) Schedules() ([]ScheduleSetting, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.schedulesLocked()
}

func (r *Runner) schedulesLocked() ([]ScheduleSetting, error) {
	saved, err := r.readSchedules()
	if err != nil {
		return nil, err
	}
	out := make([]ScheduleSetting, 0, len(scheduleKinds))
	for _, d := range scheduleKinds {
		s := d
		s.Source = "default"
		if f, ok := r.scheduleFlags[d.Name]; ok {
			s = f
		}
		if v, ok := saved[d.Name]; ok {
			s.Enabled, s.Pattern, s.Source = v.Enabled, v.Pattern, "set"
		}
		out = append(out, s)
	}
	return out, nil
}

// savedSchedule is one entry of schedules.json.
type savedSchedule struct {
	Enabled bool   `json:"enabled"`
	Pattern string `json:"pattern"`
}

func (r *Runner) readSchedules() (map[string]savedSchedule, error) {
	b, err := os.ReadFile(r.s.Dir().Schedules())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var m map[string]savedSchedule
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", r.s.Dir().Schedules(), err)
	}
	for name, v := range m {
		d, ok := scheduleDefault(name)
		if !ok || d.Name != name {
			return nil, fmt.Errorf("%s: unknown scheduler %q (want %s)", r.s.Dir().Schedules(), name, strings.Join(ScheduleNames(), ", "))
		}
		if _, err := cron.Parse(v.Pattern); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", r.s.Dir().Schedules(), name, err)
		}
	}
	return m, nil
}

// scheduleConfig answers "backup scheduler NAME get|set global|server": a
// get returns the JSON of the ScheduleSetting; a set saves the change in
// schedules.json, tells OnSchedules, and returns the new setting.
func (r *Runner) scheduleConfig(req ConfigRequest) (string, error) {
	d, ok := scheduleDefault(req.Name)
	if !ok {
		return "", fmt.Errorf("%w: no scheduler %q (want %s)", ErrInvalid, req.Name, strings.Join(ScheduleNames(), ", "))
	}
	if k := strings.ToLower(req.Key); k != "global" && k != "server" {
		return "", fmt.Errorf("%w: scheduler %s: want global or server, not %q", ErrInvalid, d.Name, req.Key)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch strings.ToLower(req.Action) {
	case "get":
	case "set":
		var ch ScheduleChange
		dec := json.NewDecoder(strings.NewReader(req.Value))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&ch); err != nil {
			return "", fmt.Errorf("%w: scheduler %s set: %w", ErrInvalid, d.Name, err)
		}
		if ch.Enabled == nil && ch.Pattern == nil {
			return "", fmt.Errorf("%w: scheduler %s set: give enabled true|false, pattern \"CRON\" or both", ErrInvalid, d.Name)
		}
		cur, err := r.schedulesLocked()
		if err != nil {
			return "", err
		}
		saved, err := r.readSchedules()
		if err != nil {
			return "", err
		}
		if saved == nil {
			saved = map[string]savedSchedule{}
		}
		var s savedSchedule
		for _, c := range cur {
			if c.Name == d.Name {
				s = savedSchedule{Enabled: c.Enabled, Pattern: c.Pattern}
			}
		}
		if ch.Enabled != nil {
			s.Enabled = *ch.Enabled
		}
		if ch.Pattern != nil {
			p := strings.TrimSpace(*ch.Pattern)
			if _, err := cron.Parse(p); err != nil {
				return "", fmt.Errorf("%w: scheduler %s pattern: %w", ErrInvalid, d.Name, err)
			}
			s.Pattern = p
		}
		saved[d.Name] = s
		b, err := json.MarshalIndent(saved, "", "  ")
		if err != nil {
			return "", err
		}
		if err := atomicfile.WriteFile(r.s.Dir().Schedules(), append(b, '\n'), 0o600); err != nil {
			return "", fmt.Errorf("save schedules: %w", err)
		}
	default:
		return "", fmt.Errorf("%w: scheduler %s: want get or set, not %q", ErrInvalid, d.Name, req.Action)
	}
	all, err := r.schedulesLocked()
	if err != nil {
		return "", err
	}
	if strings.EqualFold(req.Action, "set") && r.OnSchedules != nil {
		if err := r.OnSchedules(all); err != nil {
			return "", fmt.Errorf("schedules saved, but the service did not take them: %w", err)
		}
	}
	for _, s := range all {
		if s.Name == d.Name {
			b, err := json.Marshal(s)
			return string(b), err
		}
	}
	return "", fmt.Errorf("scheduler %s lost", d.Name) // cannot happen: all has every name
}
