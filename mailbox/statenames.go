package mailbox

import "strconv"

// StateDirTimeLayout names a state by its start (UTC, to the second).
const StateDirTimeLayout = "2006-01-02T15:04:05Z"

// StateDirNames names an item's states as the mount's state folders are
// named (items/<id>/<name>/), and everything that points at them (the
// search index's mount paths): by start date, in ISO 8601 UTC to the
// second; states that share a second are named to the millisecond; if that
// still collides (same millisecond), "~2", "~3"... are appended in state
// order. The result is parallel to states.
func StateDirNames(states []State) []string {
	names := make([]string, len(states))
	bySecond := map[string]int{}
	for _, s := range states {
		bySecond[s.Start.Time().Format(StateDirTimeLayout)]++
	}
	used := map[string]int{}
	for i, s := range states {
		n := s.Start.Time().Format(StateDirTimeLayout)
		if bySecond[n] > 1 {
			n = s.Start.Time().Format("2006-01-02T15:04:05.000Z")
		}
		used[n]++
		if c := used[n]; c > 1 {
			n += "~" + strconv.Itoa(c)
		}
		names[i] = n
	}
	return names
}
