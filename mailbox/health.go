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

// ContentHealth is the one report of a state's content: the mount's
// meta.json and user.cbfs.* attributes and cbctl's getItem (text and
// --json) all render it, under these keys.
type ContentHealth struct {
	// Status is blob.Class's word (ok, broken, unreadable), or none for a
	// state with no blob (getItem's; the mount shows such a state ok).
	Status string `json:"status"`
	// Error is why it is not ok, in full (user.cbfs.status after the class);
	// Reason is the same in short, without the class's words.
	Error  string `json:"error,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Digest is the content's blob and BlobPath its file.
	Digest   blob.Digest `json:"digest,omitempty"`
	BlobPath string      `json:"blobPath,omitempty"`
	// When the blob fails: the newest earlier state with a sound blob
	// (Item.HealthyBefore: what broken_fallback restores), named as the
	// renderer names states (the mount: its content file relative to the
	// account, items/<id>/<state>/message.eml; getItem: its start date), and
	// what a salvage holds (Salvage: "<partial file>: what", or "none: why").
	HealthyState string `json:"healthyState,omitempty"`
	Salvage      string `json:"salvage,omitempty"`
}

// BlobHealth is the report of blob d (at path; "" if not known) that failed
// with err (nil: sound), without the parts that need the item
// (Item.ContentHealth adds them).
func BlobHealth(d blob.Digest, path string, err error) ContentHealth {
	h := ContentHealth{Status: blob.Class(err), Digest: d, BlobPath: path}
	if err != nil {
		h.Error, h.Reason = err.Error(), BlobReason(err)
	}
	return h
}

// ContentHealth is the report of state i's content, whose blob is that of
// state ContentIndex(i): health tells a blob's health for a state
// recording size (nil: sound; blob.Cache.Health), path its file ("": not
// shown), name how the renderer names state k (for HealthyState) and
// partial the name of the salvage's file ("": none shown). A state without
// content is ok with no digest.
func (it *Item) ContentHealth(i int, health func(d blob.Digest, size int64) error, path func(blob.Digest) string, name func(k int) string, partial string) ContentHealth {
	if i < 0 || i >= len(it.States) || !it.States[i].Type.HasContent() {
		return ContentHealth{Status: "ok"}
	}
	c := it.ContentIndex(i)
	if c < 0 {
		return ContentHealth{Status: "ok"}
	}
	cs := &it.States[c]
	err := health(cs.Digest, cs.Size)
	p := ""
	if path != nil {
		p = path(cs.Digest)
	}
	h := BlobHealth(cs.Digest, p, err)
	if err == nil {
		return h
	}
	if k := it.HealthyBefore(i, func(s *State) bool { return health(s.Digest, s.Size) == nil }); k >= 0 {
		h.HealthyState = name(k)
	}
	h.Salvage = SalvageNote(partial, err)
	return h
}

// SalvageNote says what the salvage of a blob that failed with err holds,
// as "<partial>: what" (the file that shows it), or "none: why".
func SalvageNote(partial string, err error) string {
	ok, what := Salvage(err)
	if !ok || partial == "" {
		return what
	}
	return partial + ": " + what
}

// BlobReason is a short reason for a blob error, on one line: what the
// class (blob.Class) does not already say.
func BlobReason(err error) string {
	if err == nil {
		return ""
	}
	var be *blob.Error
	if errors.As(err, &be) {
		var parts []string
		if be.Kind == blob.ErrMissing {
			parts = append(parts, "missing")
		}
		if be.Reason != "" {
			parts = append(parts, be.Reason)
		}
		if be.Err != nil {
			parts = append(parts, be.Err.Error())
		}
		if len(parts) == 0 {
			parts = append(parts, be.Kind.Error())
		}
		return oneLine(strings.Join(parts, ": "))
	}
	return oneLine(err.Error())
}

func oneLine(s string) string {
	return strings.ReplaceAll(strings.TrimSpace(s), "\n", " ")
}
