package tests

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/external"
	"github.com/cbfs/cbfs/objstore"
	"github.com/cbfs/cbfs/sample"
)

// docs/CARBONIO-CLI.md is the contract with an administrator who copies a
// line from Carbonio's documentation: these tests hold it true.

const carbonioDoc = "../docs/CARBONIO-CLI.md"

// mdTable returns the rows (cells, trimmed) of the first table after the
// heading line head in doc, the header and separator rows left out.
func mdTable(t *testing.T, doc, head string) [][]string {
	t.Helper()
	i := strings.Index(doc, "\n"+head+"\n")
	require.GreaterOrEqual(t, i, 0, "no heading %q in %s", head, carbonioDoc)
	var rows [][]string
	in := false
	sc := bufio.NewScanner(strings.NewReader(doc[i+len(head)+2:]))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "|") {
			if in {
				break
			}
			if strings.HasPrefix(line, "#") {
				break
			}
			continue
		}
		if !in {
			in = true
			sc.Scan() // the separator row
			continue
		}
		rows = append(rows, splitRow(line))
	}
	return rows
}

// splitRow splits a Markdown table row on the pipes outside code spans
// (a code span may hold \| for a pipe).
func splitRow(line string) []string {
	line = strings.TrimSpace(line)
	line = strings.TrimPrefix(strings.TrimSuffix(line, "|"), "|")
	var cells []string
	var cur strings.Builder
	code := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '\\' && i+1 < len(line) && line[i+1] == '|':
			cur.WriteByte('|')
			i++
		case c == '`':
			code = !code
			cur.WriteByte(c)
		case c == '|' && !code:
			cells = append(cells, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	return append(cells, strings.TrimSpace(cur.String()))
}

// code is the text of the first code span of a cell ("" when none).
func code(cell string) string {
	m := regexp.MustCompile("`([^`]*)`").FindStringSubmatch(cell)
	if m == nil {
		return ""
	}
	return m[1]
}

// shellWords splits a command line as a shell would for these lines:
// words separated by blanks, double quotes grouping.
func shellWords(s string) []string {
	var out []string
	var cur strings.Builder
	quoted, any := false, false
	for _, r := range s {
		switch {
		case r == '"':
			quoted, any = !quoted, true
		case (r == ' ' || r == '\t') && !quoted:
			if any {
				out = append(out, cur.String())
			}
			cur.Reset()
			any = false
		default:
			cur.WriteRune(r)
			any = true
		}
	}
	if any {
		out = append(out, cur.String())
	}
	return out
}

// carbonioFixture is what the examples run against: the sample Backup Path
// (a fresh copy each), and around it what Carbonio's server would have: a
// mail source to scan, configuration folders, a restore target, a map file
// and the metadata archives of the path.
type carbonioFixture struct {
	dir, bp, config string
}

func newCarbonioFixture(t *testing.T, sampleRoot, archives string) carbonioFixture {
	t.Helper()
	dir := t.TempDir()
	f := carbonioFixture{dir: dir, bp: filepath.Join(dir, "bp"), config: filepath.Join(dir, "cbfs.json")}
	out, err := exec.Command("cp", "-a", sampleRoot, f.bp).CombinedOutput()
	require.NoError(t, err, "%s", out)
	// A map file, as an external restore into Carbonio leaves one.
	m, _ := json.Marshal(map[string]any{"serverId": "544d94c6-aaef-4736-8964-56a667f1fe12", "date": 1714824000000,
		"accounts": map[string]string{"d7d7c94d-a939-43a3-9577-1cde41da8af2": "3b3c1a52-0d7a-4b54-9c0c-5a2bd2f4e0c1"}})
	writeFile(t, filepath.Join(f.bp, "map_544d94c6-aaef-4736-8964-56a667f1fe12"), m)
	// The live mail of one account, for the scans.
	maildirSourceIn(t, filepath.Join(dir, "mail"), "example.com", "francesca.white", 2)
	// A configuration folder, for doBackupServerCustomizations.
	writeFile(t, filepath.Join(dir, "etc", "cbfs", "local.cf"), []byte("mynetworks = 127.0.0.0/8\n"))
	// The sample's metadata archives (as cbfs serve --external keeps
	// them), for retrieveMetadataFromArchive Local; read only, so shared.
	out, err = exec.Command("cp", "-a", archives, filepath.Join(dir, "archives")).CombinedOutput()
	require.NoError(t, err, "%s", out)
	cfg, _ := json.Marshal(map[string]any{
		"backup-path": f.bp, "state-dir": filepath.Join(dir, "state"),
		"source": "maildir:" + filepath.Join(dir, "mail"), "restore-target": "maildir:" + filepath.Join(dir, "restore"),
		"config-path": []string{filepath.Join(dir, "etc")},
	})
	writeFile(t, f.config, cfg)
	return f
}

// TestCarbonioExamples runs every line of the Examples table verbatim,
// "carbonio" replaced by "cbctl" and the stand-ins applied, with the site
// configuration a cbfs machine would have, and checks its exit status and
// output.
func TestCarbonioExamples(t *testing.T) {
	b, err := os.ReadFile(carbonioDoc)
	require.NoError(t, err)
	doc := string(b)
	standIns := mdTable(t, doc, "## Stand-ins")
	require.NotEmpty(t, standIns)
	examples := mdTable(t, doc, "## Examples")
	require.GreaterOrEqual(t, len(examples), 70, "every usage example of Carbonio's reference")

	sampleRoot := filepath.Join(t.TempDir(), "sample")
	_, err = sample.Generate(context.Background(), sampleRoot, sample.Options{Accounts: 5, Messages: 40, Seed: 1})
	require.NoError(t, err)
	archives := filepath.Join(t.TempDir(), "archives")
	_, err = external.UploadMetadata(context.Background(), sampleRoot, &objstore.Dir{Root: archives}, 2)
	require.NoError(t, err)

	for i, row := range examples {
		require.Len(t, row, 4, "example row %d: | `line` | exit | `output holds` | notes |", i+1)
		line, holds := code(row[0]), code(row[2])
		want, err := strconv.Atoi(row[1])
		require.NoError(t, err, "example %q: exit status %q", line, row[1])
		require.True(t, strings.HasPrefix(line, "carbonio backup "), "example %q", line)
		t.Run(fmt.Sprintf("%02d", i+1), func(t *testing.T) {
			t.Parallel()
			f := newCarbonioFixture(t, sampleRoot, archives)
			run := line
			for _, s := range standIns {
				from, to := code(s[0]), code(s[1])
				to = strings.NewReplacer("$BP", f.bp, "$DIR", f.dir).Replace(to)
				run = strings.ReplaceAll(run, from, to)
			}
			args := shellWords(run)
			require.Equal(t, "carbonio", args[0])
			cmd := exec.Command(cbctlBin, args[1:]...)
			cmd.Dir = f.dir
			cmd.Env = append(os.Environ(), "CBFS_CONFIG="+f.config, "TZ=UTC", "COLUMNS=100")
			out, err := cmd.CombinedOutput()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else {
				require.NoError(t, err)
			}
			assert.NotContains(t, string(out), "panic:")
			assert.Equal(t, want, code, "%s\n(ran: cbctl %s)\n%s", line, strings.Join(args[1:], " "), out)
			assert.Contains(t, string(out), holds, "%s: output", line)
			if code != 0 {
				// One error line, which names the problem.
				errLines := regexp.MustCompile(`(?m)^cbctl: error: .+$`).FindAllString(string(out), -1)
				assert.Len(t, errLines, 1, "%s: one error line\n%s", line, out)
			}
		})
	}
}

// TestCarbonioParameterTable: every row of the per-verb tables says how
// cbctl takes Carbonio's parameter, and what it names exists: a "same" or
// "differs" parameter is in the verb's --help (or, for a service setting,
// in cbctl options); an "n/a" one says why; each verb section names a
// cbctl command (one that does not apply says so, exit status 2).
func TestCarbonioParameterTable(t *testing.T) {
	b, err := os.ReadFile(carbonioDoc)
	require.NoError(t, err)
	doc := string(b)
	options := ok(t, "options").stdout
	sections := regexp.MustCompile("(?m)^### `([^`]+)`$").FindAllStringSubmatch(doc, -1)
	require.GreaterOrEqual(t, len(sections), 60, "every verb of Carbonio's reference")
	rows := 0
	for _, s := range sections {
		verb := s[1]
		args := append([]string{"backup"}, strings.Fields(verb)...)
		help := cbctl(t, append(args, "--help")...)
		na := help.code == 2 && strings.Contains(help.stderr, "does not apply to cbfs")
		if !na {
			require.Equal(t, 0, help.code, "%s --help: %s", verb, help.stderr)
		}
		table := mdTable(t, doc, s[0])
		for _, row := range table {
			require.Len(t, row, 4, "%s: | `param` | Carbonio | cbctl | status |", verb)
			param, form, status := code(row[0]), code(row[2]), row[3]
			require.NotEmpty(t, param, "%s: a row without a parameter", verb)
			rows++
			switch {
			case strings.HasPrefix(status, "same"), strings.HasPrefix(status, "differs"):
				require.False(t, na, "%s %s: the verb does not apply, so neither does its parameter", verb, param)
				require.NotEmpty(t, form, "%s %s: cbctl's form", verb, param)
				if !strings.Contains(help.stdout, form) {
					assert.Contains(t, options, form, "%s %s: %s is neither in the verb's --help nor in cbctl options", verb, param, form)
				}
				if strings.HasPrefix(status, "differs") {
					assert.Regexp(t, `^differs: \S`, status, "%s %s: how it differs", verb, param)
				}
			case strings.HasPrefix(status, "n/a"):
				assert.Regexp(t, `^n/a: \S`, status, "%s %s: why it does not apply", verb, param)
			default:
				t.Errorf("%s %s: status %q: want same, differs: ... or n/a: ...", verb, param, status)
			}
		}
	}
	assert.Greater(t, rows, 150, "every parameter of Carbonio's reference")
}
