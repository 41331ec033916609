package ctl

import (
	"strings"

	"github.com/alecthomas/kong"
)

// hoistLeadingFlags lets a command's own flags come before its verb, as
// an administrator types them (`cbctl --state-dir X backup getAllOperations`):
// kong only takes a flag after the command that declares it, so flags
// before the first command word that the root does not declare (cbctl's
// globals stay where they are) are moved after the command words. A flag
// takes the next argument as its value unless it is a boolean of some
// command or written --flag=value.
func hoistLeadingFlags(app *kong.Application, args []string) []string {
	root := map[string]bool{"help": true, "h": true}
	for _, f := range app.Node.Flags {
		root[f.Name] = true
		if f.Short != 0 {
			root[string(f.Short)] = true
		}
	}
	isBool := map[string]bool{}
	var walk func(n *kong.Node)
	walk = func(n *kong.Node) {
		for _, f := range n.Flags {
			if f.IsBool() || f.IsCounter() {
				isBool[f.Name] = true
			}
		}
		for _, c := range n.Children {
			walk(c)
		}
	}
	walk(app.Node)

	var kept, moved []string
	i := 0
	for ; i < len(args) && strings.HasPrefix(args[i], "-") && args[i] != "-" && args[i] != "--"; i++ {
		name, _, hasValue := strings.Cut(strings.TrimLeft(args[i], "-"), "=")
		group := args[i : i+1]
		if !hasValue && !isBool[name] && i+1 < len(args) {
			group = args[i : i+2]
			i++
		}
		if root[name] {
			kept = append(kept, group...)
		} else {
			moved = append(moved, group...)
		}
	}
	if len(moved) == 0 {
		return args
	}
	// The command words: children's names (or aliases) from the root down.
	node, j := app.Node, i
	for j < len(args) {
		var next *kong.Node
		for _, c := range node.Children {
			if c.Name == args[j] || contains(c.Aliases, args[j]) {
				next = c
			}
		}
		if next == nil {
			break
		}
		node = next
		j++
	}
	out := append(append([]string(nil), kept...), args[i:j]...)
	out = append(out, moved...)
	return append(out, args[j:]...)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
