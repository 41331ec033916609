package main

import (
	"math"
	"runtime/debug"
	"testing"
	"time"
)

// boundHeap sets a limit above the heap in use, by mountHeadroom; a
// GOMEMLIMIT given by the user is left alone.
func TestBoundHeap(t *testing.T) {
	defer debug.SetMemoryLimit(math.MaxInt64)
	t.Setenv("GOMEMLIMIT", "")
	boundHeap()
	var got int64
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if got = debug.SetMemoryLimit(-1); got != math.MaxInt64 {
			break
		}
	}
	if got < mountHeadroom || got > mountHeadroom+1<<30 {
		t.Fatalf("memory limit %d: want the heap in use plus %d", got, mountHeadroom)
	}

	debug.SetMemoryLimit(math.MaxInt64)
	t.Setenv("GOMEMLIMIT", "1GiB")
	boundHeap()
	time.Sleep(100 * time.Millisecond)
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Fatalf("memory limit %d set although GOMEMLIMIT is", got)
	}
}
