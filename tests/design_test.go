package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// docs/DESIGN.md's package table says what each package depends on; this
// holds it to `go list`, so the map cannot go stale: every package of the
// module (but cmd/ and tests/) has a row, and each row names exactly the
// module's packages it imports.
func TestDesignDependencyTable(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "DESIGN.md"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, "./...")
	cmd.Dir = ".."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const mod = "github.com/cbfs/cbfs/"
	actual := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkg := strings.TrimPrefix(f[0], mod)
		if strings.HasPrefix(pkg, "cmd/") || strings.HasPrefix(pkg, "tests") {
			continue
		}
		deps := []string{}
		for _, imp := range f[1:] {
			if strings.HasPrefix(imp, mod) {
				deps = append(deps, strings.TrimPrefix(imp, mod))
			}
		}
		sort.Strings(deps)
		actual[pkg] = deps
	}

	// | `a/`, `b/` | what it holds | `x`, `y` (or —) |
	row := regexp.MustCompile("(?m)^\\| ((?:`[a-z0-9/]+`(?:, )?)+) \\|.*\\| ([^|]*) \\|$")
	code := regexp.MustCompile("`([a-z0-9/]+)`")
	documented := map[string][]string{}
	for _, m := range row.FindAllStringSubmatch(string(doc), -1) {
		var deps []string
		for _, d := range code.FindAllStringSubmatch(m[2], -1) {
			deps = append(deps, strings.TrimSuffix(d[1], "/"))
		}
		sort.Strings(deps)
		for _, p := range code.FindAllStringSubmatch(m[1], -1) {
			pkg := strings.TrimSuffix(p[1], "/")
			if strings.HasPrefix(pkg, "cmd") || strings.HasPrefix(pkg, "tests") {
				continue
			}
			if deps == nil {
				deps = []string{}
			}
			documented[pkg] = deps
		}
	}
	for pkg, deps := range actual {
		doc, ok := documented[pkg]
		if !ok {
			t.Errorf("docs/DESIGN.md has no row for %s (it imports %s)", pkg, strings.Join(deps, ", "))
			continue
		}
		if strings.Join(doc, ",") != strings.Join(deps, ",") {
			t.Errorf("docs/DESIGN.md: %s depends on %s; the table says %s", pkg, strings.Join(deps, ", "), strings.Join(doc, ", "))
		}
	}
	for pkg := range documented {
		if _, ok := actual[pkg]; !ok {
			t.Errorf("docs/DESIGN.md has a row for %s, which is no package", pkg)
		}
	}
}
