package main

import (
	"context"
	"errors"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
)

// A signal's stop is a cancellation (the service returns nil for it) that
// still names the signal.
func TestSignalCause(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(signalError{syscall.SIGTERM})
	assert.ErrorIs(t, context.Cause(ctx), context.Canceled)
	assert.Equal(t, "SIGTERM", signalCause(ctx))
	assert.Equal(t, "", signalCause(context.Background()))
	assert.False(t, errors.Is(signalError{syscall.SIGHUP}, context.DeadlineExceeded))
}
