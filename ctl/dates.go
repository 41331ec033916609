package ctl

import (
	"fmt"
	"strings"
	"time"
)

// DateLayout is Carbonio's human date format (dd/MM/yyyy HH:mm:ss). cbctl
// prints every date in UTC.
const DateLayout = "02/01/2006 15:04:05"

// dateHelp is the help text fragment that lists the accepted date forms.
const dateHelp = "dd/MM/yyyy HH:mm:ss, dd/MM/yyyy, or ISO 8601 (2024-03-01, 2024-03-01T10:00:00, with an optional zone); UTC unless a zone is given"

// formatDate prints t in Carbonio's layout, UTC.
func formatDate(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(DateLayout)
}

var zonelessLayouts = []string{
	"02/01/2006 15:04:05",
	"02/01/2006 15:04",
	"02/01/2006",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04:05",
	"2006-01-02T15:04",
	"2006-01-02 15:04:05",
	"2006-01-02 15:04",
	"2006-01-02",
}

var zonedLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04Z07:00",
	"2006-01-02 15:04:05Z07:00",
}

// parseDate reads one of the accepted date forms. Without a zone the date
// is UTC.
func parseDate(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, l := range zonedLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	for _, l := range zonelessLayouts {
		if t, err := time.ParseInLocation(l, s, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("bad date %q: want %s", s, dateHelp)
}

// Date selector kinds.
const (
	selAll   = "all"
	selFirst = "first"
	selLast  = "last"
	selAt    = "at"
)

// dateSel is a parsed "date" parameter: all, first, last or a moment.
type dateSel struct {
	Kind string
	At   time.Time
}

// parseDateSel reads all, first, last (case-insensitive; only those in
// allowed) or a date.
func parseDateSel(s string, allowed ...string) (dateSel, error) {
	low := strings.ToLower(strings.TrimSpace(s))
	for _, a := range allowed {
		if low == a {
			return dateSel{Kind: a}, nil
		}
	}
	t, err := parseDate(s)
	if err != nil {
		return dateSel{}, usagef("bad date %q: want %s, or %s", s, strings.Join(allowed, ", "), dateHelp)
	}
	return dateSel{Kind: selAt, At: t}, nil
}

// parseOptDate parses an optional date flag ("" is the zero time).
func parseOptDate(name, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := parseDate(s)
	if err != nil {
		return time.Time{}, usagef("%s: %w", name, err)
	}
	return t, nil
}
