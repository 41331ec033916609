// Package cron parses and evaluates cron-style patterns (crontab(5)): the
// schedules of cbfs serve and of cbctl backup scheduler.
package cron

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Spec is a parsed cron-style pattern: five fields, minute hour
// day-of-month month day-of-week, as in Vixie cron (crontab(5)):
//
//   - "*" (every value), a number, a range "a-b", lists "a,b,c-d", steps
//     "*/n", "a-b/n" and "a/n" (from a to the field's maximum);
//   - minute 0-59, hour 0-23, day of month 1-31, month 1-12 or jan-dec,
//     day of week 0-7 or sun-sat (0 and 7 are both Sunday);
//   - when both day fields are restricted (neither starts with "*"), a day
//     matches if either matches, as in cron; otherwise both must match;
//   - the macros @yearly (@annually), @monthly, @weekly, @daily
//     (@midnight) and @hourly.
//
// Times are evaluated in the location of the time given to Next. On a
// daylight-saving change, a wall time that does not exist that day (02:30
// when clocks jump from 02:00 to 03:00) does not fire that day, and a wall
// time that occurs twice fires once.
type Spec struct {
	src                        string
	minute, hour, dom, month   uint64 // bit i set: value i matches
	dow                        uint64 // bits 0-6, Sunday = 0
	domRestricted, dowRestrict bool
}

type field struct {
	name     string
	min, max int
	names    []string // names[i] is value min+i (months, weekdays)
}

var (
	fMinute = field{name: "minute", min: 0, max: 59}
	fHour   = field{name: "hour", min: 0, max: 23}
	fDom    = field{name: "day of month", min: 1, max: 31}
	fMonth  = field{name: "month", min: 1, max: 12, names: []string{
		"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}}
	fDow = field{name: "day of week", min: 0, max: 7, names: []string{
		"sun", "mon", "tue", "wed", "thu", "fri", "sat"}}
)

var macros = map[string]string{
	"@yearly":   "0 0 1 1 *",
	"@annually": "0 0 1 1 *",
	"@monthly":  "0 0 1 * *",
	"@weekly":   "0 0 * * 0",
	"@daily":    "0 0 * * *",
	"@midnight": "0 0 * * *",
	"@hourly":   "0 * * * *",
}

// Parse parses a cron-style pattern (see Spec).
func Parse(s string) (*Spec, error) {
	src := strings.TrimSpace(s)
	expr := src
	if strings.HasPrefix(expr, "@") {
		m, ok := macros[strings.ToLower(expr)]
		if !ok {
			return nil, fmt.Errorf("schedule %q: unknown macro %s", s, expr)
		}
		expr = m
	}
	f := strings.Fields(expr)
	if len(f) != 5 {
		return nil, fmt.Errorf("schedule %q: want 5 fields (minute hour day-of-month month day-of-week), got %d", s, len(f))
	}
	sp := &Spec{src: src}
	var err error
	parsers := []struct {
		fd  field
		dst *uint64
		txt string
	}{
		{fMinute, &sp.minute, f[0]},
		{fHour, &sp.hour, f[1]},
		{fDom, &sp.dom, f[2]},
		{fMonth, &sp.month, f[3]},
		{fDow, &sp.dow, f[4]},
	}
	for _, p := range parsers {
		if *p.dst, err = p.fd.parse(p.txt); err != nil {
			return nil, fmt.Errorf("schedule %q: %w", s, err)
		}
	}
	if sp.dow&(1<<7) != 0 { // 7 is Sunday too
		sp.dow = sp.dow&^(1<<7) | 1
	}
	sp.domRestricted = !strings.HasPrefix(f[2], "*")
	sp.dowRestrict = !strings.HasPrefix(f[4], "*")
	return sp, nil
}

// String returns the pattern as given.
func (s *Spec) String() string { return s.src }

func (fd field) parse(txt string) (uint64, error) {
	var set uint64
	for _, part := range strings.Split(txt, ",") {
		if part == "" {
			return 0, fmt.Errorf("%s field %q: empty list element", fd.name, txt)
		}
		rng, stepTxt, hasStep := strings.Cut(part, "/")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepTxt)
			if err != nil || n <= 0 {
				return 0, fmt.Errorf("%s field %q: step %q is not a positive number", fd.name, txt, stepTxt)
			}
			step = n
		}
		lo, hi := fd.min, fd.max
		switch {
		case rng == "*":
		case strings.Contains(rng, "-"):
			a, b, _ := strings.Cut(rng, "-")
			var err error
			if lo, err = fd.value(a); err != nil {
				return 0, fmt.Errorf("%s field %q: %w", fd.name, txt, err)
			}
			if hi, err = fd.value(b); err != nil {
				return 0, fmt.Errorf("%s field %q: %w", fd.name, txt, err)
			}
			if lo > hi {
				return 0, fmt.Errorf("%s field %q: range %s is backwards", fd.name, txt, rng)
			}
		default:
			v, err := fd.value(rng)
			if err != nil {
				return 0, fmt.Errorf("%s field %q: %w", fd.name, txt, err)
			}
			lo = v
			if !hasStep {
				hi = v
			}
		}
		for v := lo; v <= hi; v += step {
			set |= 1 << uint(v)
		}
	}
	return set, nil
}

func (fd field) value(s string) (int, error) {
	for i, n := range fd.names {
		if strings.EqualFold(s, n) {
			return fd.min + i, nil
		}
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	if v < fd.min || v > fd.max {
		return 0, fmt.Errorf("%d is out of range %d-%d", v, fd.min, fd.max)
	}
	return v, nil
}

func has(set uint64, v int) bool { return set&(1<<uint(v)) != 0 }

func (s *Spec) dayMatches(t time.Time) bool {
	dom := has(s.dom, t.Day())
	dow := has(s.dow, int(t.Weekday()))
	if s.domRestricted && s.dowRestrict {
		return dom || dow
	}
	return dom && dow
}

// searchYears bounds Next's search: every valid pattern fires within it
// (29 February: within 8 years, 2100 not being a leap year).
const searchYears = 9

// Next returns the first time strictly after t, on a whole minute, that the
// pattern matches, in t's location; the zero Time if there is none (e.g.
// "0 0 31 2 *").
func (s *Spec) Next(t time.Time) time.Time {
	loc := t.Location()
	c := time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute()+1, 0, 0, loc)
	if !c.After(t) { // a wall time repeated by a DST change
		c = t.Truncate(time.Minute).Add(time.Minute)
	}
	limit := t.AddDate(searchYears, 0, 0)
	for c.Before(limit) {
		prev := c
		switch {
		case !has(s.month, int(c.Month())):
			c = time.Date(c.Year(), c.Month()+1, 1, 0, 0, 0, 0, loc)
		case !s.dayMatches(c):
			c = time.Date(c.Year(), c.Month(), c.Day()+1, 0, 0, 0, 0, loc)
		case !has(s.hour, c.Hour()):
			c = time.Date(c.Year(), c.Month(), c.Day(), c.Hour()+1, 0, 0, 0, loc)
		case !has(s.minute, c.Minute()):
			c = time.Date(c.Year(), c.Month(), c.Day(), c.Hour(), c.Minute()+1, 0, 0, loc)
		default:
			return c
		}
		if !c.After(prev) { // DST fold: wall-clock arithmetic went back
			c = prev.Add(time.Minute)
		}
	}
	return time.Time{}
}
