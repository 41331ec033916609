package ctl

import (
	"fmt"
	"strings"
	"time"
)

// DateLayout is Carbonio's human date format (dd/MM/yyyy HH:mm:ss). cbctl
// prints dates in the local zone (TZ; UTC when unset), as Carbonio prints
// them in the server's; --json stays UTC (RFC 3339).
const DateLayout = "02/01/2006 15:04:05"

// dateHelp is the help text fragment that lists the accepted date forms.
const dateHelp = "dd/MM/yyyy HH:mm:ss (quoted, or as two words), dd/MM/yyyy, or ISO 8601 (2024-03-01, 2024-03-01T10:00:00, with an optional zone); in the zone of TZ (UTC when unset) unless a zone is given"

// formatDate prints t in Carbonio's layout in the local zone, followed by
// the zone's name when it is not UTC (a UTC date prints as before; tables
// and help say UTC).
func formatDate(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	lt := t.In(time.Local)
	if name, off := lt.Zone(); off != 0 || (name != "UTC" && name != "") {
		return lt.Format(DateLayout) + " " + name
	}
	return lt.Format(DateLayout)
}

// formatDateZ is formatDate with the zone's name always (UTC too).
func formatDateZ(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	lt := t.In(time.Local)
	name, _ := lt.Zone()
	return lt.Format(DateLayout) + " " + name
}

// zoneName names the local zone for table headers ("UTC", "CET").
func zoneName() string {
	name, _ := time.Now().In(time.Local).Zone()
	return name
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
// is in the local zone (TZ).
func parseDate(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, l := range zonedLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	for _, l := range zonelessLayouts {
		if t, err := time.ParseInLocation(l, s, time.Local); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("bad date %q: want %s", s, dateHelp)
}

// bareDate reports whether s is a date without a time (dd/MM/yyyy or
// yyyy-MM-dd): where a range makes sense it stands for that whole day.
func bareDate(s string) bool {
	s = strings.TrimSpace(s)
	for _, l := range []string{"02/01/2006", "2006-01-02"} {
		if _, err := time.Parse(l, s); err == nil {
			return true
		}
	}
	return false
}

// parseEndDate reads the end of a range: a bare date is the end of that
// whole day (the start of the next, exclusive).
func parseEndDate(name, s string) (time.Time, error) {
	t, err := parseOptDate(name, s)
	if err == nil && !t.IsZero() && bareDate(s) {
		t = t.In(time.Local).AddDate(0, 0, 1).UTC()
	}
	return t, err
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
