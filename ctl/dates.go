package ctl

import (
	"strings"
	"time"

	"github.com/cbfs/cbfs/internal/cli"
	"github.com/cbfs/cbfs/internal/grammar"
)

// cbctl prints dates in Carbonio's layout (grammar.DateLayout) in the
// local zone (TZ; UTC when unset), as Carbonio prints them in the
// server's; --json stays UTC (RFC 3339). It reads them with grammar.ParseDate.

// formatDate prints t in Carbonio's layout in the local zone, followed by
// the zone's name when it is not UTC (a UTC date prints as before; tables
// and help say UTC).
func formatDate(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	lt := t.In(time.Local)
	if name, off := lt.Zone(); off != 0 || (name != "UTC" && name != "") {
		return lt.Format(grammar.DateLayout) + " " + name
	}
	return lt.Format(grammar.DateLayout)
}

// formatDateZ is formatDate with the zone's name always (UTC too):
// grammar.FormatDateZ, which the mount's text files use too.
func formatDateZ(t time.Time) string { return grammar.FormatDateZ(t) }

// zoneName names the local zone for table headers ("UTC", "CET").
func zoneName() string {
	name, _ := time.Now().In(time.Local).Zone()
	return name
}

// parseEndDate reads the end of a range: a bare date is the end of that
// whole day (the start of the next, exclusive).
func parseEndDate(name, s string) (time.Time, error) {
	t, err := parseOptDate(name, s)
	if err == nil && !t.IsZero() && grammar.IsBareDate(s) {
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
// allowed) or a date, which selects the state in force then: a bare date
// is the end of that day (grammar.ParseMoment), as the mount's at/<day>/.
func parseDateSel(s string, allowed ...string) (dateSel, error) {
	low := strings.ToLower(strings.TrimSpace(s))
	for _, a := range allowed {
		if low == a {
			return dateSel{Kind: a}, nil
		}
	}
	t, err := grammar.ParseMoment(s)
	if err != nil {
		return dateSel{}, cli.Usagef("bad date %q: want %s, or %s", s, strings.Join(allowed, ", "), grammar.DateHelp)
	}
	return dateSel{Kind: selAt, At: t}, nil
}

// parseOptDate parses an optional date flag ("" is the zero time).
func parseOptDate(name, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := grammar.ParseDate(s)
	if err != nil {
		return time.Time{}, cli.Usagef("%s: %w", name, err)
	}
	return t, nil
}
