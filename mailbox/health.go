package mailbox

import (
	"errors"
	"strings"

	"github.com/cbfs/cbfs/blob"
)

// The rules about damaged content, once, for the mount and the restores:
// how bad an item is (the worst of its parts), which earlier state stands
// in for a broken one, and what a salvage of a damaged blob can hold.

// statusRank orders the statuses blob.Class gives, healthiest first.
var statusRank = map[string]int{"ok": 0, "too large": 1, "broken": 2, "unreadable": 3}

func rank(status string) int {
	if r, ok := statusRank[status]; ok {
		return r
	}
	return statusRank["broken"] // an unknown status is damage
}

// WorseStatus is the worse of two statuses (blob.Class's words: "ok",
// "too large", "broken", "unreadable"): an item is as damaged as the worst
// of its item file and its states' blobs. "unreadable" (nothing can be read
// or salvaged) is worse than "broken" (something was read).
func WorseStatus(a, b string) string {
	if rank(b) > rank(a) {
		return b
	}
	return a
}

// HealthyBefore is the index of the newest state before state i whose
// content stands in for state i's when that is damaged: a live state with
// content and a blob other than state i's (the same blob is the same
// damage) that sound says is healthy. -1 when there is none. sound is asked
// about states from the newest down and not about the others.
//
// The mount names it in a failing file's attributes (user.cbfs.healthy_state)
// and the restores restore it with broken_fallback true.
func (it *Item) HealthyBefore(i int, sound func(s *State) bool) int {
	if i < 0 || i >= len(it.States) {
		return -1
	}
	bad := it.States[i].Digest
	for k := i - 1; k >= 0; k-- {
		s := &it.States[k]
		if s.Deleted || !s.Type.HasContent() || s.Digest == "" || s.Digest == bad {
			continue
		}
		if sound(s) {
			return k
		}
	}
	return -1
}

// nothingInflates are the reasons (blob.Error.Reason) of a broken blob of
// which no byte inflates.
var nothingInflates = map[string]bool{
	"not gzip data": true, "inner not gzip data": true, "empty file": true,
	"empty inner gzip stream": true, "too short for gzip data": true,
}

// Salvage says what a salvage of a blob that failed with err holds
// (FORMAT.md § 12.1): for a broken blob whose gzip stream inflated, what
// inflated before the fault (truncated, corrupt, checksum), or the whole
// content (digest mismatch), or the recorded size's worth (size mismatch);
// nothing for a missing or unreadable blob or one that is not gzip at all.
// ok tells whether there is something to salvage; what says what it is, or
// why there is nothing.
func Salvage(err error) (ok bool, what string) {
	if err == nil {
		return false, "none: the content is healthy"
	}
	var be *blob.Error
	reason := ""
	if errors.As(err, &be) {
		reason = be.Reason
	}
	switch {
	case errors.Is(err, blob.ErrMissing):
		return false, "none: the blob is missing, nothing to salvage"
	case errors.Is(err, blob.ErrUnreadable):
		return false, "none: the blob cannot be read, nothing to salvage"
	case !errors.Is(err, blob.ErrBroken):
		return false, "none: " + blob.Class(err)
	case nothingInflates[reason]:
		return false, "none: " + reason + ", nothing inflates"
	case reason == "digest mismatch":
		return true, "the whole content, which does not hash to the blob's name"
	case strings.HasPrefix(reason, "size mismatch"):
		return true, "the content up to the size the state records"
	case reason == "":
		return true, "what inflated before the fault"
	}
	return true, "what inflated before the fault (" + reason + ")"
}
