package main

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The MOUNT OPTIONS section names every option cmd/cbfs/fstab.go takes
// and ignores, and no other: the list in its refusal message, which is
// what an administrator sees for an unknown option.
func TestMountOptionsDocumented(t *testing.T) {
	src, err := os.ReadFile("../../cmd/cbfs/fstab.go")
	require.NoError(t, err)
	m := regexp.MustCompile(`cbfs takes ([^(]+) \(and ignores`).FindSubmatch(src)
	require.NotNil(t, m, "fstab.go's refusal lists the options it takes")
	var taken []string
	for _, o := range strings.Split(string(m[1]), ",") {
		o = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(o), "and "))
		taken = append(taken, strings.TrimSuffix(o, "="))
	}
	require.GreaterOrEqual(t, len(taken), 8)
	doc := strings.ReplaceAll(mountOptions, `\-`, "-")
	var documented []string
	for _, l := range strings.Split(doc, "\n") {
		if f := strings.Fields(l); len(f) == 2 && f[0] == ".B" || len(f) == 3 && f[0] == ".BI" {
			documented = append(documented, strings.TrimSuffix(f[1], "="))
		}
	}
	assert.ElementsMatch(t, taken, documented, "every option fstab.go takes, with its own .TP entry")

	ignored := regexp.MustCompile(`"([a-z_]+)": true`).FindAllSubmatch(src, -1)
	require.NotEmpty(t, ignored)
	for _, o := range ignored {
		assert.Contains(t, doc, string(o[1])+",", "ignored option %s listed", o[1])
	}
}

func TestHelpExamples(t *testing.T) {
	h := "Usage: cbctl backup getItem\n\nPrints states. Example: cbctl backup getItem\n  john@example.com 1 date all\n\nFlags:\n  -h"
	assert.Equal(t, []string{"cbctl backup getItem john@example.com 1 date all"}, helpExamples(h))
}
