package ctl

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/cbfs/cbfs/internal/cli"
	"github.com/cbfs/cbfs/operations"
	"github.com/cbfs/cbfs/opqueue"
	"github.com/cbfs/cbfs/scan"
)

// The exit statuses: a partial scan or restore is 3, whether run here (its
// error) or by the service (its recorded message or report).
func TestExitCodes(t *testing.T) {
	partialScan := operations.ScanOutcome(&scan.Report{PerAccount: []*scan.AccountReport{
		{Name: "a@x"}, {Name: "b@x", Errors: []string{"boom"}}}})
	allFailed := operations.ScanOutcome(&scan.Report{PerAccount: []*scan.AccountReport{
		{Name: "b@x", Errors: []string{"boom"}}}})
	assert.Equal(t, ExitPartial, exitCodeOf(fmt.Errorf("doSmartScan: scan: %w", partialScan)))
	assert.Equal(t, ExitError, exitCodeOf(fmt.Errorf("doSmartScan: scan: %w", allFailed)))
	assert.Equal(t, ExitError, exitCodeOf(errors.New("no such account")))
	assert.Equal(t, ExitUsage, exitCodeOf(cli.Usagef("bad")))
	assert.Equal(t, ExitOK, exitCodeOf(nil))

	// Run by the service: the recorded message says it.
	op := opqueue.Op{ID: "1", Kind: "doSmartScan", State: opqueue.Failed, Error: "scan: " + partialScan.Error()}
	assert.Equal(t, ExitPartial, exitCodeOf(opErr(op)))
	op.Error = "scan: " + allFailed.Error()
	assert.Equal(t, ExitError, exitCodeOf(opErr(op)))

	// Recorded partial: 3, whatever its message.
	op = opqueue.Op{ID: "2", Kind: "doExternalRestore", State: opqueue.Partial, Error: "3 items restored, 1 unrestored"}
	assert.Equal(t, ExitPartial, exitCodeOf(opErr(op)))
	op.State, op.Error = opqueue.Done, ""
	assert.NoError(t, opErr(op))

	// A partial restore recorded done by a cbfs without the partial
	// state: its report's outcome line says so.
	report := "- stats -\nRestored Items: 3\n" + operations.OutcomePrefix + "partial restore: 3 items restored, 1 items unrestored\n"
	assert.NotEmpty(t, operations.PartialOutcome(report))
	assert.Empty(t, operations.PartialOutcome("- stats -\nRestored Items: 3\n"))
	op.Result = report
	assert.Equal(t, ExitPartial, exitCodeOf(opErr(op)))
}
