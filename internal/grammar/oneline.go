package grammar

import "strings"

// OneLine keeps a message on one line: trimmed, newlines as spaces (every
// error cbctl and cbfs print, and every reason in a report, is one line).
func OneLine(s string) string {
	return strings.ReplaceAll(strings.TrimSpace(s), "\n", " ")
}
