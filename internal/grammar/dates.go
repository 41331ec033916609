package grammar

import (
	"fmt"
	"strings"
	"time"
)

// DateLayout is Carbonio's human date format (dd/MM/yyyy HH:mm:ss).
const DateLayout = "02/01/2006 15:04:05"

// DateHelp lists the accepted date forms (for help texts and errors).
const DateHelp = "dd/MM/yyyy HH:mm:ss (quoted, or as two words), dd/MM/yyyy, or ISO 8601 (2024-03-01, 2024-03-01T10:00:00, with an optional zone); in the zone of TZ (UTC when unset) unless a zone is given"

// MomentHelp says what a bare date means where a date selects a state
// (help texts of those parameters).
const MomentHelp = "a bare date (dd/MM/yyyy, yyyy-MM-dd) is the end of that day, 23:59:59.999, as in the mount's at/<day>/"

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

// ParseDate reads one of the accepted date forms (DateHelp), in UTC.
// Without a zone the date is in the local zone (TZ; UTC when unset).
func ParseDate(s string) (time.Time, error) {
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
	return time.Time{}, fmt.Errorf("bad date %q: want %s", s, DateHelp)
}

// IsBareDate reports whether s is a date without a time of day
// (dd/MM/yyyy or yyyy-MM-dd): where a range makes sense it stands for that
// whole day.
func IsBareDate(s string) bool {
	s = strings.TrimSpace(s)
	for _, l := range []string{"02/01/2006", "2006-01-02"} {
		if _, err := time.Parse(l, s); err == nil {
			return true
		}
	}
	return false
}

// A date selects a state (the mount's at/<date>/, getItem, getAccountInfo,
// getAvailableAccounts and getServerConfig date, the restores' DATE and
// date): the state in force at that moment. A bare date (IsBareDate)
// there means the END of that day, 23:59:59.999: "the mailbox as it was
// on 25/07/2023" is what it held when that day ended, every change made
// that day included, as a backup of that night would show it. This is
// the one rule; the start of a range (doUndelete START,
// undelete_start_date, doItemSearch after) keeps a bare date's start.

// DayEnd is the last millisecond of the day that starts at day (the start
// of a day in its zone, as ParseDate gives a bare date): the moment a bare
// date means where it selects a state. It counts calendar days in day's
// zone, so a day of a DST change ends at its own midnight.
func DayEnd(day time.Time) time.Time {
	return day.AddDate(0, 0, 1).Add(-time.Millisecond)
}

// ParseMoment reads a date that selects the state in force at a moment:
// ParseDate's forms, a bare date meaning the end of that day in the zone
// it is read in (DayEnd), in UTC.
func ParseMoment(s string) (time.Time, error) {
	t, err := ParseDate(s)
	if err != nil || !IsBareDate(s) {
		return t, err
	}
	return DayEnd(t.In(time.Local)).UTC(), nil
}

// FormatDateZ prints t in Carbonio's layout (DateLayout) in the local zone
// (TZ; UTC when unset), followed by the zone's name always, UTC too ("-"
// for the zero time): how cbctl and the mount print a moment in text.
func FormatDateZ(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	lt := t.In(time.Local)
	name, _ := lt.Zone()
	return lt.Format(DateLayout) + " " + name
}
