# cbfs — see README.md. `make demo` mounts a generated sample Backup Path;
# `make test` runs every test (real FUSE mounts as root).
SHELL   := /bin/bash
export PATH := $(PATH):/usr/local/go/bin
BIN     ?= bin
DEMO    ?= /tmp/cbfs-demo
GOFLAGS ?=

.PHONY: all setup build test test-short bench fuzz demo clean vet

all: build

setup:
	@scripts/setup.sh

build:
	go build $(GOFLAGS) -o $(BIN)/ ./cmd/...

vet:
	go vet ./...

# Every test, including real FUSE mounts (root, or a user with fusermount3).
test: setup
	go vet ./...
	go test $(GOFLAGS) -count=1 -timeout 15m ./...

test-short:
	go test -short -count=1 ./...

# Benchmarks: Go testing.B (blob decoding, index build, listings) and the
# end-to-end mount benchmarks; see docs/PERFORMANCE.md for results.
bench: setup build
	scripts/bench.sh

# Short runs of every fuzzer (seed corpora also run in `make test`).
FUZZTIME ?= 15s
fuzz:
	@for pkg in ./backuppath ./blob ./index; do \
		for f in $$(go test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "== $$pkg $$f"; go test $$pkg -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) || exit 1; \
		done; \
	done

# The main job: generate a sample Backup Path and mount it (foreground;
# Ctrl-C unmounts).
demo: setup build
	@rm -rf $(DEMO)/backup; mkdir -p $(DEMO)/mnt
	$(BIN)/cbctl sample $(DEMO)/backup --big-attachments
	@echo "mounting $(DEMO)/backup on $(DEMO)/mnt — in another shell: ls $(DEMO)/mnt/accounts; Ctrl-C here unmounts"
	$(BIN)/cbfs mount $(DEMO)/backup $(DEMO)/mnt

clean:
	rm -rf $(BIN)
