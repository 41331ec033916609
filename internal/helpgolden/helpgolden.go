// Package helpgolden holds every command's --help to a golden file
// (testdata/help/<prog>_<words>.golden, rewritten with -update), as
// git-spice's help_test.go does. The commands are found by walking the
// kong model, not listed by hand, so a new verb without a golden fails,
// and so does a golden that names no command any more. cbctl's tests
// (package tests) and cbfs's (cmd/cbfs) use it.
package helpgolden

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/alecthomas/kong"
)

// Commands lists the words of every command under root, root itself
// first (no words), parents before their children, in the model's order.
// Hidden commands (aliases kept for old command lines) are left out: they
// are in no listing a user reads.
func Commands(root *kong.Node) [][]string {
	var out [][]string
	var walk func(n *kong.Node, words []string)
	walk = func(n *kong.Node, words []string) {
		out = append(out, words)
		for _, c := range n.Children {
			if c.Type == kong.CommandNode && !c.Hidden {
				walk(c, append(slices.Clip(words), c.Name))
			}
		}
	}
	walk(root, nil)
	return out
}

// Name is the golden file's name of a command of prog: prog and its
// words joined by "_".
func Name(prog string, words []string) string {
	return strings.Join(append([]string{prog}, words...), "_") + ".golden"
}

// Check compares render(words) (what "prog words... --help" prints) of
// every command under root with its golden file in dir; with update it
// writes them instead, and removes the goldens of prog that name no
// command. Without update, a command with no golden and a golden with no
// command both fail.
func Check(t *testing.T, dir, prog string, root *kong.Node, update bool, render func(t *testing.T, words []string) string) {
	t.Helper()
	want := map[string]bool{}
	for _, words := range Commands(root) {
		name := Name(prog, words)
		want[name] = true
		t.Run(strings.TrimSuffix(name, ".golden"), func(t *testing.T) {
			got := render(t, words)
			golden := filepath.Join(dir, name)
			if update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			b, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%q has no golden help: %v (run its test with -update, then read the file)", strings.Join(append([]string{prog}, words...), " "), err)
			}
			if string(b) != got {
				t.Errorf("help of %q differs from %s (run with -update if intended)\n got:\n%s\nwant:\n%s", words, golden, got, b)
			}
		})
	}
	stale, err := filepath.Glob(filepath.Join(dir, prog+"_*.golden"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range stale {
		if want[filepath.Base(f)] {
			continue
		}
		if update {
			if err := os.Remove(f); err != nil {
				t.Error(err)
			}
			continue
		}
		t.Errorf("%s names no command of %s (renamed or removed? run with -update)", f, prog)
	}
}
