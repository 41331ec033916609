package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// The failures a report counts, in its first section only.
func TestReportErrors(t *testing.T) {
	scan := "- stats -\nAccounts Scanned: 3\nItems New: 10\nRead Errors: 2\nErrors: 1\n\n- errors -\nErrors: 99\n"
	assert.EqualValues(t, 3, reportErrors(scan))
	restore := "- dry run -\nnothing was written\n\n- stats -\nRestored Items: 5\nSkipped Items:  0\nUnrestored Items: 4\n"
	assert.EqualValues(t, 0, reportErrors(restore), "the first section is the dry run's note")
	assert.EqualValues(t, 4, reportErrors("- stats -\nRestored Items: 5\nSkipped Items:  0\nUnrestored Items: 4\n"))
	assert.EqualValues(t, 0, reportErrors(""))
}
