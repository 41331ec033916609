package mailbox

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/cbfs/cbfs/internal/confined"
)

// KeyMap overrides the decoder's inference for one dialect (--keymap FILE):
//
//	{
//	  "state":   {"startDate": ["ts"], "folderId": ["box", "mbx"], "digest": ["content_ref"]},
//	  "ignore":  ["end_date"],
//	  "states":  "delta",
//	  "account": {"name": "login", "status": "state"}
//	}
//
// "state" maps a concept (cbfs's key for it, docs/FORMAT.md § 7.1) to the
// keys that hold it; those keys are matched exactly and before any alias.
// "ignore" lists state keys never to interpret (kept as they are).
// "states" is "full" (a missing key means empty, only the content is
// inherited), "delta" (a missing key keeps the previous state's value) or
// "auto" (the default: a state without a type key is a delta).
// "account" maps account fields (id, name, status, displayName, cosId,
// cosName, createdDate, deletedDate) to the account_info key that holds it.
type KeyMap struct {
	State   map[string][]string `json:"state,omitempty"`
	Ignore  []string            `json:"ignore,omitempty"`
	States  string              `json:"states,omitempty"`
	Account map[string]string   `json:"account,omitempty"`
}

// accountFields are the account fields a keymap may name.
var accountFields = []string{"id", "name", "status", "displayName", "cosId", "cosName", "createdDate", "deletedDate"}

// MaxKeyMapFile is the most a keymap file may hold: 1 MiB. A keymap names
// a few dozen keys (a few hundred bytes); a file named by mistake
// (/dev/zero, a Backup Path's item file of gigabytes) fails at once.
const MaxKeyMapFile = 1 << 20

// ReadKeyMap reads and checks a keymap file, and returns its bytes too (a
// cache keyed by the keymap hashes them). The path is the administrator's
// (symbolic links followed), but only a regular file of at most
// MaxKeyMapFile bytes is read (confined.ReadNamed): a FIFO or a device
// fails at once.
func ReadKeyMap(path string) (*KeyMap, []byte, error) {
	b, err := confined.ReadNamed(path, MaxKeyMapFile)
	if err != nil {
		return nil, nil, fmt.Errorf("keymap: %w", err)
	}
	km, err := ParseKeyMap(b)
	if err != nil {
		return nil, nil, fmt.Errorf("keymap %s: %w", path, err)
	}
	return km, b, nil
}

// ParseKeyMap parses and checks a keymap.
func ParseKeyMap(b []byte) (*KeyMap, error) {
	var km KeyMap
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&km); err != nil {
		return nil, fmt.Errorf("not a keymap (want {\"state\": {CONCEPT: [KEY...]}, \"ignore\": [...], \"states\": \"auto|full|delta\", \"account\": {FIELD: KEY}}): %w", err)
	}
	for name, keys := range km.State {
		if _, ok := ParseConcept(name); !ok {
			return nil, fmt.Errorf("unknown concept %q (want one of %s)", name, strings.Join(conceptKeys[:], ", "))
		}
		for _, k := range keys {
			if k == "" {
				return nil, fmt.Errorf("concept %s: empty key", name)
			}
		}
	}
	switch km.States {
	case "", "auto", "full", "delta":
	default:
		return nil, fmt.Errorf("states %q: want auto, full or delta", km.States)
	}
	for f := range km.Account {
		ok := false
		for _, a := range accountFields {
			ok = ok || a == f
		}
		if !ok {
			return nil, fmt.Errorf("unknown account field %q (want one of %s)", f, strings.Join(accountFields, ", "))
		}
	}
	return &km, nil
}

// Census counts what a decoder met in a Backup Path: every state key with
// how it was read, the account name sources, and the items and accounts it
// could not read (one example each). Safe for concurrent use.
type Census struct {
	mu       sync.Mutex
	keys     map[string]*KeyCount
	names    map[string]int // account name source -> accounts
	problems map[string]*Problem
}

// KeyCount is one state key met by the decoder. Key is a path: a key of an
// object in a state ("item.tp") or of Zimbra metadata ("meta.s") is
// written after its parent's, with a dot.
type KeyCount struct {
	Key     string         `json:"key"`
	Count   int            `json:"count"`
	Concept string         `json:"concept,omitempty"` // "" when not interpreted (kept as is)
	Notes   map[string]int `json:"notes,omitempty"`   // how often: "uninterpretable, kept", "found by value", "not read", ...
	NotRead int            `json:"notRead,omitempty"` // how often it held data that was not understood
}

// Census notes that say a key held data cbfs did not understand.
const (
	noteNotRead         = "not read"
	noteUninterpretable = "uninterpretable, kept"
	noteEmpty           = "empty"
)

func (k *KeyCount) notRead() int { return k.Notes[noteNotRead] + k.Notes[noteUninterpretable] }

// Problem is a kind of thing the decoder could not read, with one example.
type Problem struct {
	What    string `json:"what"`
	Count   int    `json:"count"`
	Example string `json:"example"`
}

// NewCensus makes an empty census.
func NewCensus() *Census {
	return &Census{keys: map[string]*KeyCount{}, names: map[string]int{}, problems: map[string]*Problem{}}
}

func (c *Census) stateKey(key, concept, how string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	kc := c.keys[key]
	if kc == nil {
		kc = &KeyCount{Key: key}
		c.keys[key] = kc
	}
	kc.Count++
	if concept != "" && how != "duplicate, kept" && how != noteUninterpretable && how != "stated above, not used" {
		kc.Concept = concept
	}
	if how != "" {
		if kc.Notes == nil {
			kc.Notes = map[string]int{}
		}
		kc.Notes[how]++
	}
}

// foundByValue records that a key already counted held the content digest.
func (c *Census) foundByValue(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	kc := c.keys[key]
	if kc == nil {
		kc = &KeyCount{Key: key, Count: 1}
		c.keys[key] = kc
	}
	kc.Concept = CDigest.String()
	if kc.Notes == nil {
		kc.Notes = map[string]int{}
	}
	kc.Notes["found by value"]++
	if kc.Notes[noteNotRead] > 0 { // it was read after all
		if kc.Notes[noteNotRead]--; kc.Notes[noteNotRead] == 0 {
			delete(kc.Notes, noteNotRead)
		}
	}
}

// Understood sums up the state keys met: the share of their occurrences
// that held data and were understood (read as a concept, known to be
// unneeded, decoded, or ignored by the keymap), and the key paths that
// held data cbfs did not understand, sorted. Empty values count for
// neither. 1 when no key held data.
func (c *Census) Understood() (share float64, notUnderstood []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	total, bad := 0, 0
	for _, k := range c.keys {
		total += k.Count - k.Notes[noteEmpty]
		if n := k.notRead(); n > 0 {
			bad += n
			notUnderstood = append(notUnderstood, k.Key)
		}
	}
	sort.Strings(notUnderstood)
	if total <= 0 {
		return 1, notUnderstood
	}
	return float64(total-bad) / float64(total), notUnderstood
}

// Summary is Understood in one line, for the mount's first line and
// getFormatInfo: "read 98 % of state keys; 2 keys not understood (a, b)".
func (c *Census) Summary() string {
	share, bad := c.Understood()
	pct := math.Floor(share*1000) / 10 // never rounds up to 100 %
	line := fmt.Sprintf("read %s %% of state keys", strconv.FormatFloat(pct, 'f', -1, 64))
	switch n := len(bad); {
	case n == 0:
		return line + "; every key understood"
	case n <= 5:
		return fmt.Sprintf("%s; %d key%s not understood (%s)", line, n, plural(n), strings.Join(bad, ", "))
	default:
		return fmt.Sprintf("%s; %d keys not understood (%s, ...)", line, n, strings.Join(bad[:5], ", "))
	}
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// UnmatchedKeymap lists the keymap's state and ignore keys the census never
// met, one message each ("keymap: state.type key \"foo\" matched
// nothing"): a typo, or a key of another dialect.
func (d *Decoder) UnmatchedKeymap(c *Census) []string {
	if d.km == nil || c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	concepts := make([]string, 0, len(d.km.State))
	for name := range d.km.State {
		concepts = append(concepts, name)
	}
	sort.Strings(concepts)
	for _, name := range concepts {
		for _, k := range d.km.State[name] {
			if c.keys[k] == nil {
				out = append(out, fmt.Sprintf("keymap: state.%s key %q matched nothing", name, k))
			}
		}
	}
	for _, k := range d.km.Ignore {
		if c.keys[k] == nil {
			out = append(out, fmt.Sprintf("keymap: ignore key %q matched nothing", k))
		}
	}
	return out
}

// NameSource records where an account's name came from.
func (c *Census) NameSource(src string) {
	c.mu.Lock()
	c.names[src]++
	c.mu.Unlock()
}

// Problem records one thing that could not be read.
func (c *Census) Problem(what, example string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.problems[what]
	if p == nil {
		p = &Problem{What: what, Example: example}
		c.problems[what] = p
	}
	p.Count++
}

// Keys lists the state keys met, most frequent first (ties by key).
func (c *Census) Keys() []KeyCount {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]KeyCount, 0, len(c.keys))
	for _, k := range c.keys {
		kc := *k
		kc.NotRead = k.notRead()
		out = append(out, kc)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Key < out[j].Key
	})
	return out
}

// NameSources lists the account name sources with their counts.
func (c *Census) NameSources() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.names))
	for k, v := range c.names {
		out[k] = v
	}
	return out
}

// Problems lists what could not be read, most frequent first.
func (c *Census) Problems() []Problem {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Problem, 0, len(c.problems))
	for _, p := range c.problems {
		out = append(out, *p)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].What < out[j].What
	})
	return out
}
