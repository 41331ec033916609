package ctl

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/alecthomas/kong"
)

// RewritePairs turns Carbonio's positional "name value" pairs into flags so
// that kong can parse them, and spells command names the way the model
// does (getitem, GETITEM and get-item all become getItem).
//
// It walks the command path first (tokens starting with "-" are flags and
// are kept; a value flag given as "--flag VALUE" keeps its value too). Once
// a leaf command is reached, its positional arguments are filled first, in
// order; every later token that names one of the command's flags — in
// snake_case (dump_blob), camelCase (dumpBlob) or kebab-case (dump-blob),
// case-insensitively — takes the next token as its value and becomes
// "--kebab-name=value". A boolean accepts true or false. After "--" nothing
// is rewritten. A token that is neither a positional, a flag nor a pair
// name is an error naming the known pair names.
func RewritePairs(app *kong.Application, args []string) ([]string, error) {
	out := make([]string, 0, len(args))
	node := app.Node
	var flags map[string]*kong.Flag
	positionals := 0 // positional slots filled on the leaf
	maxPos := 0
	variadic := false

	enterLeaf := func(n *kong.Node) {
		flags = flagSet(n)
		maxPos = len(n.Positional)
		for _, p := range n.Positional {
			if p.IsSlice() || p.IsCumulative() {
				variadic = true
			}
		}
	}
	if node.Leaf() {
		enterLeaf(node)
	}
	for i := 0; i < len(args); i++ {
		tok := args[i]
		if flags != nil {
			args = joinDateTime(args, i)
			tok = args[i]
		}
		if tok == "--" {
			return append(out, args[i:]...), nil
		}
		if strings.HasPrefix(tok, "-") && tok != "-" {
			out = append(out, tok)
			// --flag VALUE: keep the value with its flag.
			if name, ok := strings.CutPrefix(tok, "--"); ok && !strings.Contains(name, "=") && i+1 < len(args) {
				if f := findFlag(node, name); f != nil && !f.IsBool() && !f.IsCounter() {
					i++
					out = append(out, args[i])
				}
			}
			continue
		}
		if flags == nil { // still on the command path
			child := findChild(node, tok)
			if child == nil {
				// Carbonio's reference prints "getBackupInfo/opt/zextras/backup/zextras/":
				// a command glued to the path that follows it.
				if name, rest, ok := strings.Cut(tok, "/"); ok && name != "" {
					if c := findChild(node, name); c != nil && c.Leaf() {
						args = append(append(args[:i:i], name, "/"+rest), args[i+1:]...)
						i--
						continue
					}
				}
				// Not a command: let kong report it.
				return append(out, args[i:]...), nil
			}
			out = append(out, child.Name)
			node = child
			if node.Leaf() {
				enterLeaf(node)
			}
			continue
		}
		// An optional positional yields to a pair name (doSmartScan
		// notifications a@b: no action word given), and so does a variadic
		// one that already has its first value (legalHold set a,b
		// backup_path P).
		_, carbonioOnly := carbonioParams[cmdPath(node)][normName(tok)]
		isPair := (flags[normName(tok)] != nil || carbonioOnly) && i+1 < len(args)
		optional := positionals < maxPos && !node.Positional[positionals].Required
		overflow := positionals >= maxPos
		if (positionals < maxPos || variadic) && !(isPair && (optional || overflow)) {
			positionals++
			out = append(out, tok)
			continue
		}
		f, ok := flags[normName(tok)]
		if !ok && i+1 < len(args) {
			// One of Carbonio's parameters cbctl has no flag for: its
			// no-op value is dropped, any other gets the reason.
			if err, known := carbonioParamError(cmdPath(node), tok, args[i+1]); known {
				if err != nil {
					return nil, err
				}
				i++
				continue
			}
		}
		if !ok {
			return nil, fmt.Errorf("%s: unknown parameter %q (known: %s)", cmdPath(node), tok, strings.Join(pairNames(flags), ", "))
		}
		if i+1 >= len(args) {
			return nil, fmt.Errorf("%s: parameter %q needs a value", cmdPath(node), tok)
		}
		i++
		args = joinDateTime(args, i)
		val := args[i]
		if f.IsBool() {
			switch strings.ToLower(val) {
			case "true":
				out = append(out, "--"+f.Name)
			case "false":
				out = append(out, "--"+f.Name+"=false")
			default:
				return nil, fmt.Errorf("%s: parameter %q wants true or false, got %q", cmdPath(node), tok, val)
			}
			continue
		}
		out = append(out, "--"+f.Name+"="+val)
	}
	return out, nil
}

// normName folds snake_case, camelCase and kebab-case spellings together.
func normName(s string) string {
	s = strings.ToLower(s)
	return strings.NewReplacer("-", "", "_", "").Replace(s)
}

// snakeName is the Carbonio spelling of a kebab-case flag name.
func snakeName(s string) string { return strings.ReplaceAll(s, "-", "_") }

// flagSet is every flag the leaf n accepts (its own and its ancestors'),
// keyed by normName.
func flagSet(n *kong.Node) map[string]*kong.Flag {
	m := map[string]*kong.Flag{}
	for _, group := range n.AllFlags(false) {
		for _, f := range group {
			m[normName(f.Name)] = f
			for _, a := range f.Aliases {
				m[normName(a)] = f
			}
		}
	}
	return m
}

func pairNames(flags map[string]*kong.Flag) []string {
	names := make([]string, 0, len(flags))
	for _, f := range flags {
		if f.Name == "help" {
			continue
		}
		names = append(names, snakeName(f.Name))
	}
	sort.Strings(names)
	return names
}

// findFlag finds a flag by its --name on n or an ancestor.
func findFlag(n *kong.Node, name string) *kong.Flag {
	for ; n != nil; n = n.Parent {
		for _, f := range n.Flags {
			if f.Name == name {
				return f
			}
		}
	}
	return nil
}

// findChild matches tok against n's sub-commands: exactly, then
// case-insensitively, then folding - and _ (get-item, get_item).
func findChild(n *kong.Node, tok string) *kong.Node {
	for _, c := range n.Children {
		if c.Name == tok {
			return c
		}
		for _, a := range c.Aliases {
			if a == tok {
				return c
			}
		}
	}
	for _, c := range n.Children {
		if normName(c.Name) == normName(tok) {
			return c
		}
		for _, a := range c.Aliases {
			if normName(a) == normName(tok) {
				return c
			}
		}
	}
	return nil
}

// cmdPath is the command's path without the program name ("backup getItem").
func cmdPath(n *kong.Node) string {
	var parts []string
	for ; n != nil && n.Type != kong.ApplicationNode; n = n.Parent {
		parts = append([]string{n.Name}, parts...)
	}
	return strings.Join(parts, " ")
}

var (
	dayRe  = regexp.MustCompile(`^(\d{1,2}/\d{1,2}/\d{4}|\d{4}-\d{2}-\d{2})$`)
	timeRe = regexp.MustCompile(`^\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?$`)
)

// joinDateTime joins args[i] and args[i+1] when they are a date and a
// time of day typed as two words (date 21/04/2023 22:34:17, without the
// quotes Carbonio's examples use), so they read as one date.
func joinDateTime(args []string, i int) []string {
	if i+1 < len(args) && dayRe.MatchString(args[i]) && timeRe.MatchString(args[i+1]) {
		out := append(append([]string(nil), args[:i]...), args[i]+" "+args[i+1])
		return append(out, args[i+2:]...)
	}
	return args
}
