package main

import (
	"bytes"
	"flag"
	"path/filepath"
	"testing"

	"github.com/alecthomas/kong"

	"github.com/cbfs/cbfs/internal/cli"
	"github.com/cbfs/cbfs/internal/helpgolden"
)

var update = flag.Bool("update", false, "rewrite the help goldens in tests/testdata/help")

// exited is what the parser's Exit hook panics with after --help.
type exited int

// TestHelpGolden holds the --help of every cbfs command (found by walking
// its kong model) to tests/testdata/help/cbfs_<words>.golden, beside
// cbctl's (go test ./cmd/cbfs -run HelpGolden -update rewrites them). The
// parser is main's (newParser), hermetic as tests/ runs cbctl: no site
// configuration, 100 columns.
func TestHelpGolden(t *testing.T) {
	t.Setenv("CBFS_CONFIG", "none")
	t.Setenv("COLUMNS", "100")
	parser := func(out *bytes.Buffer) *kong.Kong {
		site, err := cli.SiteConfigPaths()
		if err != nil {
			t.Fatal(err)
		}
		k, err := newParser(&CLI{}, cli.Configuration(site...), kong.Writers(out, out),
			kong.Exit(func(code int) { panic(exited(code)) }))
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	dir := filepath.Join("..", "..", "tests", "testdata", "help")
	helpgolden.Check(t, dir, "cbfs", parser(new(bytes.Buffer)).Model.Node, *update, func(t *testing.T, words []string) string {
		var out bytes.Buffer
		k := parser(&out)
		func() {
			defer func() {
				if r := recover(); r != nil && r != exited(0) {
					t.Fatalf("cbfs %q --help: %v\n%s", words, r, out.String())
				}
			}()
			_, err := k.Parse(append(words, "--help"))
			t.Fatalf("cbfs %q --help did not exit: %v", words, err)
		}()
		return out.String()
	})
}
