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
