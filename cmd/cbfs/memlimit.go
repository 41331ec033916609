package main

import (
	"os"
	"runtime"
	"runtime/debug"
)

// mountHeadroom is the memory a mount's reads may use on top of what it
// holds once up: fusefs's decoded-blob cache (16 MiB) and read-ahead
// window (8 MiB), streams of large blobs, and go-fuse's request buffers
// (1 MiB each), with room to spare.
const mountHeadroom = 80 << 20

// boundHeap gives a mount that is up a soft memory limit: the heap it
// holds then (the index, measured after a collection) plus mountHeadroom.
// Without it the collector lets garbage grow the heap to twice what is
// live (GOGC=100): a cold cat of 697 MB peaked at 136 MiB of RSS, 106 MiB
// with the limit, at the same speed (docs/PERFORMANCE.md). A soft limit
// only makes the collector work harder near it; a heap that needs more
// still gets it. GOMEMLIMIT, when set, is the user's and wins. It runs in
// the background, after the mount is ready, so it adds nothing to the
// time to mount.
func boundHeap() {
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	go func() {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		debug.SetMemoryLimit(int64(ms.HeapAlloc) + mountHeadroom)
	}()
}
