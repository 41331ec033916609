package mailbox

import (
	"encoding/json"
	"fmt"
	"sort"
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

// KeyCount is one state key met by the decoder.
type KeyCount struct {
	Key     string         `json:"key"`
	Count   int            `json:"count"`
	Concept string         `json:"concept,omitempty"` // "" when not interpreted (kept as is)
	Notes   map[string]int `json:"notes,omitempty"`   // how often: "uninterpretable, kept", "found by value", ...
}

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
	if concept != "" && how != "duplicate, kept" && how != "uninterpretable, kept" {
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
		out = append(out, *k)
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
