# cbfs — see README.md. `make demo` mounts a generated sample Backup Path;
# `make test` runs every test (real FUSE mounts as root).
SHELL   := /bin/bash
export PATH := $(PATH):/usr/local/go/bin
BIN     ?= bin
DEMO    ?= /tmp/cbfs-demo
GOFLAGS ?=

.PHONY: all setup build man install uninstall test test-short bench fuzz demo clean vet lint

# make install: PREFIX and DESTDIR as usual; the units go to SYSTEMDDIR
# (under DESTDIR too). The units call /usr/local/bin/cbfs: with another
# PREFIX their ExecStart is rewritten to $(BINDIR)/cbfs.
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
MANDIR     ?= $(PREFIX)/share/man
SYSTEMDDIR ?= $(PREFIX)/lib/systemd/system
DESTDIR    ?=
UNITS      := packaging/systemd/cbfs-serve.service packaging/systemd/mnt-backup.mount packaging/systemd/cbfs-mount@.service

all: build

setup:
	@scripts/setup.sh

# The version both binaries print (cbfs version, cbctl version, the man
# pages, cbfs serve's log): git describe, given to the link, because the Go
# toolchain stamps the VCS revision (runtime/debug.ReadBuildInfo, which
# internal/cli falls back to) only in a plain clone and not with
# GOFLAGS=-buildvcs=false nor in a git worktree. VERSION= gives another.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null)
LDFLAGS := $(if $(VERSION),-X github.com/cbfs/cbfs/internal/cli.Version=$(VERSION))

build:
	go build $(GOFLAGS) -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/...

# Man pages from the binaries' --help (packaging/manpage), so they say
# exactly what --help says.
man: build
	@mkdir -p $(BIN)/man
	go run ./packaging/manpage $(BIN)/cbfs > $(BIN)/man/cbfs.1.tmp && mv $(BIN)/man/cbfs.1.tmp $(BIN)/man/cbfs.1
	go run ./packaging/manpage $(BIN)/cbctl > $(BIN)/man/cbctl.1.tmp && mv $(BIN)/man/cbctl.1.tmp $(BIN)/man/cbctl.1

# Binaries, man pages and systemd units. No mount.cbfs helper is needed:
# mount -t fuse.cbfs runs mount.fuse3, which runs `cbfs` from PATH.
# Then: systemctl daemon-reload; see packaging/systemd/cbfs-serve.service.
install: build man
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(SYSTEMDDIR)
	install -m 0755 $(BIN)/cbfs $(BIN)/cbctl $(DESTDIR)$(BINDIR)/
	install -m 0644 $(BIN)/man/cbfs.1 $(BIN)/man/cbctl.1 $(DESTDIR)$(MANDIR)/man1/
	@for u in $(UNITS); do \
		echo "install $$u -> $(DESTDIR)$(SYSTEMDDIR)/"; \
		sed 's#/usr/local/bin/cbfs#$(BINDIR)/cbfs#g' $$u > $(DESTDIR)$(SYSTEMDDIR)/$$(basename $$u) || exit 1; \
		chmod 0644 $(DESTDIR)$(SYSTEMDDIR)/$$(basename $$u); \
	done

# Removes what install installed (the same PREFIX, DESTDIR and SYSTEMDDIR),
# nothing else: the state directory (/var/lib/cbfs), the indexes
# (/var/cache/cbfs), /etc/cbfs and the Backup Paths stay. Stop and disable
# the units first (systemctl disable --now cbfs-serve mnt-backup.mount),
# then systemctl daemon-reload.
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/cbfs $(DESTDIR)$(BINDIR)/cbctl
	rm -f $(DESTDIR)$(MANDIR)/man1/cbfs.1 $(DESTDIR)$(MANDIR)/man1/cbctl.1
	@for u in $(UNITS); do \
		echo "rm $(DESTDIR)$(SYSTEMDDIR)/$$(basename $$u)"; \
		rm -f $(DESTDIR)$(SYSTEMDDIR)/$$(basename $$u); \
	done

vet:
	go vet ./...

# Every test, including real FUSE mounts (root, or a user with fusermount3).
test: setup lint
	go test $(GOFLAGS) -count=1 -timeout 15m ./...

# gofmt -l (nothing unformatted), go vet and staticcheck (its default
# checks, `unused` among them), pinned
# in go.mod's tool block: the version is the module's, not the machine's.
# Silence a finding only with `//lint:ignore CHECK reason`.
lint: vet
	@unformatted=$$(gofmt -l .); if [ -n "$$unformatted" ]; then echo "gofmt -w these:"; echo "$$unformatted"; exit 1; fi
	go tool staticcheck ./...

test-short:
	go test -short -count=1 ./...

# Benchmarks: Go testing.B (blob decoding, index build, listings) and the
# end-to-end mount benchmarks; see docs/PERFORMANCE.md for results.
bench: setup build
	scripts/bench.sh

# Short runs of every fuzzer (seed corpora also run in `make test`).
FUZZTIME ?= 15s
fuzz:
	@for pkg in ./backuppath ./blob ./index ./search; do \
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
