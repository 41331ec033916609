package ctl

import (
	"fmt"
	"io"
	"strings"

	"github.com/alecthomas/kong"
)

// The service flags (--source, --smtp, --retention-days, ... and --config:
// cli.ServiceFlags; --s3-insecure ...: OpFlags) are accepted by every command that runs or manages
// operations, but listed in one place, "cbctl options", as "kubectl
// options" lists kubectl's: a command's --help shows its own parameters
// first, then the global flags, and points there.

// optionsCmd is "cbctl options".
type optionsCmd struct{}

// Help is the long help of options.
func (c *optionsCmd) Help() string {
	return `Every command that runs or manages operations (the backup do* verbs, getMap, getRestoreLedger, the queue commands, config) accepts these settings of the service, as flags or in the --config file. They are used when cbctl runs the operation itself because no cbfs serve is listening; a running service uses its own. The --s3-* flags reach a Backup Path kept on S3-compatible storage given as s3://bucket/prefix (doExternalRestore s3://..., a restore's backup_path): --s3-insecure for a store that speaks plain HTTP, as insecure=1 in the URL.`
}

func (c *optionsCmd) Run(g *Globals) error {
	return printServiceOptions(g.Stdout)
}

// serviceFlagNames are the names of cli.ServiceFlags' flags.
var serviceFlagNames = func() map[string]bool {
	flags := serviceFlags()
	names := make(map[string]bool, len(flags))
	for _, f := range flags {
		names[f.Name] = true
	}
	return names
}()

// serviceFlags is OpFlags' flags (cli.ServiceFlags, then the --s3-* of
// an s3:// Backup Path), in order.
func serviceFlags() []*kong.Flag {
	var flags struct{ OpFlags }
	k, err := kong.New(&flags, kong.Name("cbctl"), kong.Exit(func(int) {}))
	if err != nil {
		panic(err)
	}
	var out []*kong.Flag
	for _, f := range k.Model.Node.Flags {
		if f.Name != "help" {
			out = append(out, f)
		}
	}
	return out
}

// hideServiceFlags hides the service flags from the --help of every
// command that takes them (they still parse); a command's own flag of the
// same name (retrieveMetadataFromArchive S3's --s3-*) stays shown.
func hideServiceFlags(n *kong.Node) {
	own := true
	for _, f := range n.Flags {
		if f.Name == "config" {
			own = false
		}
	}
	for _, f := range n.Flags {
		if serviceFlagNames[f.Name] && !own {
			f.Hidden = true
		}
	}
	for _, c := range n.Children {
		hideServiceFlags(c)
	}
}

// hasServiceFlags says whether the command accepts the service flags.
func hasServiceFlags(n *kong.Node) bool {
	for _, f := range n.Flags {
		if f.Name == "config" && serviceFlagNames[f.Name] {
			return true
		}
	}
	return false
}

func printServiceOptions(w io.Writer) error {
	fmt.Fprintln(w, "The following options can be passed to any command that runs or manages operations (and to cbfs serve):")
	fmt.Fprintln(w)
	printFlagList(w, serviceFlags())
	return nil
}

// flagSyntax is "--name=PLACEHOLDER" (or "-s, --name" for a short flag).
func flagSyntax(f *kong.Flag) string {
	s := "--" + f.Name
	if !f.IsBool() && !f.IsCounter() {
		s += "=" + f.FormatPlaceHolder()
	}
	if f.Short != 0 {
		return fmt.Sprintf("-%c, %s", f.Short, s)
	}
	return "    " + s
}

// printFlagList prints flags as kong does: syntax, then the help wrapped
// at 80 columns.
func printFlagList(w io.Writer, flags []*kong.Flag) {
	const col = 34
	for _, f := range flags {
		syn := "  " + flagSyntax(f)
		lines := wrap(f.Help, 80-col)
		if len(syn) >= col-1 {
			fmt.Fprintln(w, syn)
			syn = ""
		}
		for i, l := range lines {
			if i == 0 && syn != "" {
				fmt.Fprintf(w, "%-*s%s\n", col, syn, l)
				continue
			}
			fmt.Fprintf(w, "%s%s\n", strings.Repeat(" ", col), l)
		}
	}
}

// wrap splits s into lines of at most width runes, at spaces.
func wrap(s string, width int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(s) {
		if line != "" && len(line)+1+len(word) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += word
	}
	if line != "" || len(lines) == 0 {
		lines = append(lines, line)
	}
	return lines
}

// helpPrinter prints a command's help with its own arguments and flags
// first, then the global flags, then, for a command that takes the service
// flags, where they are listed.
func helpPrinter(options kong.HelpOptions, ctx *kong.Context) error {
	sel := ctx.Selected()
	if sel == nil {
		return kong.DefaultHelpPrinter(options, ctx)
	}
	root := ctx.Model.Node
	var globals []*kong.Flag
	for _, f := range root.Flags {
		if !f.Hidden {
			f.Hidden = true
			globals = append(globals, f)
		}
	}
	err := kong.DefaultHelpPrinter(options, ctx)
	for _, f := range globals {
		f.Hidden = false
	}
	if err != nil {
		return err
	}
	w := ctx.Stdout
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Global flags:")
	printFlagList(w, globals)
	if hasServiceFlags(sel) {
		fmt.Fprintln(w)
		fmt.Fprintln(w, `Service flags (--source, --smtp, --retention-days, --state-dir, ...): see "cbctl options".`)
	}
	return nil
}
