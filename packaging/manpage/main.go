// Command manpage writes the man page of cbfs or cbctl from the built
// binary's --help, so the man pages say exactly what --help says and cannot
// drift from it: the top-level help, then the help of every command it
// lists. Usage (see the Makefile's man rule):
//
//	go run ./packaging/manpage bin/cbfs > cbfs.1
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: manpage BINARY > NAME.1")
		os.Exit(2)
	}
	page, err := manPage(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "manpage:", err)
		os.Exit(1)
	}
	os.Stdout.WriteString(page)
}

// help runs bin args... --help at a fixed width.
func help(bin string, args ...string) (string, error) {
	cmd := exec.Command(bin, append(args, "--help")...)
	cmd.Env = append(os.Environ(), "COLUMNS=80")
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s %s --help: %w", bin, strings.Join(args, " "), err)
	}
	return string(out), nil
}

func manPage(bin string) (string, error) {
	name := filepath.Base(bin)
	top, err := help(bin)
	if err != nil {
		return "", err
	}
	version := name
	if out, err := exec.Command(bin, "version").Output(); err == nil {
		if v := strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0]); v != "" {
			version = v
		}
	}
	usage, desc := usageAndSummary(top, name)

	var b strings.Builder
	fmt.Fprintf(&b, ".\\\" Generated from %s --help by packaging/manpage; do not edit.\n", name)
	fmt.Fprintf(&b, ".TH %s 1 \"\" %q \"User Commands\"\n", strings.ToUpper(name), version)
	b.WriteString(".SH NAME\n")
	fmt.Fprintf(&b, "%s \\- %s\n", name, roffText(desc))
	b.WriteString(".SH SYNOPSIS\n.nf\n")
	b.WriteString(literal(usage))
	b.WriteString(".fi\n.SH DESCRIPTION\n.nf\n")
	b.WriteString(literal(top))
	b.WriteString(".fi\n")
	cmds := commands(top)
	var examples []string // the helps' own "Example: ..." lines
	if len(cmds) > 0 {
		b.WriteString(".SH COMMANDS\n")
		for _, c := range cmds {
			h, err := help(bin, c...)
			if err != nil {
				return "", err
			}
			fmt.Fprintf(&b, ".SS \"%s %s\"\n.nf\n", name, strings.Join(c, " "))
			b.WriteString(literal(h))
			b.WriteString(".fi\n")
			examples = append(examples, helpExamples(h)...)
		}
	}
	if name == "cbfs" {
		b.WriteString(".SH MOUNT OPTIONS\n")
		b.WriteString(mountOptions)
	}
	if extra := extraExamples[name]; extra != "" || len(examples) > 0 {
		b.WriteString(".SH EXAMPLES\n.nf\n")
		b.WriteString(literal(extra))
		if len(examples) > 0 {
			if extra != "" {
				b.WriteString("\n")
			}
			b.WriteString(literal("# From the commands' help:\n" + strings.Join(examples, "\n")))
		}
		b.WriteString(".fi\n")
	}
	b.WriteString(".SH SEE ALSO\n")
	other := map[string]string{"cbfs": "cbctl", "cbctl": "cbfs"}[name]
	if other != "" {
		fmt.Fprintf(&b, ".BR %s (1),\n", other)
	}
	b.WriteString(".BR mount.fuse3 (8),\n.BR systemd.exec (5)\n")
	return b.String(), nil
}

// helpExamples are the examples a command's help gives: each "Example:"
// up to the end of its paragraph, its wrapped lines joined.
func helpExamples(h string) []string {
	var out []string
	for _, para := range strings.Split(h, "\n\n") {
		text := strings.Join(strings.Fields(para), " ")
		for {
			i := strings.Index(text, "Example: ")
			if i < 0 {
				break
			}
			text = text[i+len("Example: "):]
			ex := text
			if j := strings.Index(ex, " Example: "); j >= 0 {
				ex = ex[:j]
			}
			out = append(out, strings.TrimSuffix(strings.TrimSpace(ex), "."))
		}
	}
	return out
}

// usageAndSummary is the "Usage:" line and the first sentence of the
// description, without a leading "name ".
func usageAndSummary(top, name string) (usage, summary string) {
	paras := strings.Split(strings.TrimSpace(top), "\n\n")
	if len(paras) > 0 {
		usage = strings.TrimPrefix(paras[0], "Usage: ") + "\n"
	}
	if len(paras) > 1 {
		d := strings.Join(strings.Fields(paras[1]), " ")
		if i := strings.Index(d, ". "); i >= 0 {
			d = d[:i]
		}
		d = strings.TrimSuffix(strings.TrimPrefix(d, name+" "), ".")
		if d != "" {
			summary = strings.ToLower(d[:1]) + d[1:]
		}
	}
	if summary == "" {
		summary = name
	}
	return usage, summary
}

// commands are the command words of the "Commands:" section: lines
// indented by exactly two spaces, up to the first argument, "[flags]" or
// the description column.
func commands(top string) [][]string {
	var out [][]string
	in := false
	sc := bufio.NewScanner(strings.NewReader(top))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "Commands:":
			in = true
			continue
		case line == "" || !in:
			continue
		case !strings.HasPrefix(line, "  ") || strings.HasPrefix(line, "   "):
			if !strings.HasPrefix(line, " ") {
				in = false
			}
			continue
		}
		head, _, _ := strings.Cut(strings.TrimSpace(line), "  ")
		var words []string
		for _, w := range strings.Fields(head) {
			if strings.HasPrefix(w, "<") || strings.HasPrefix(w, "[") {
				break
			}
			words = append(words, w)
		}
		if len(words) > 0 {
			out = append(out, words)
		}
	}
	return out
}

// literal makes text safe inside .nf/.fi: backslashes escaped, and no line
// taken for a request (a leading . or ').
func literal(s string) string {
	var b bytes.Buffer
	for _, line := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		line = strings.ReplaceAll(line, `\`, `\e`)
		if strings.HasPrefix(line, ".") || strings.HasPrefix(line, "'") {
			line = `\&` + line
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return b.String()
}

// roffText escapes running text.
func roffText(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	return s
}
