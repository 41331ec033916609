#!/usr/bin/env bash
# Installs what building, running and testing cbfs needs on a fresh Debian
# machine: Go (must already be on PATH: /usr/local/go/bin is added if
# present) and fuse3 (fusermount3, for mounts as an ordinary user; root
# mounts directly), Dovecot and versitygw (the real servers the tests
# run). Safe to run again: it installs only what is missing.
set -euo pipefail

if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
	export PATH=$PATH:/usr/local/go/bin
fi
command -v go >/dev/null 2>&1 || { echo "setup: Go is not installed (https://go.dev/dl); cbfs needs go1.26 or later" >&2; exit 1; }

missing=()
command -v fusermount3 >/dev/null 2>&1 || missing+=(fuse3)
[ -x /usr/sbin/dovecot ] || missing+=(dovecot-imapd)
[ -e /usr/lib/dovecot/lmtp ] || missing+=(dovecot-lmtpd)
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "setup: please install: ${missing[*]} (e.g. sudo apt-get install -y ${missing[*]})" >&2
		exit 1
	fi
	echo "setup: installing ${missing[*]}" >&2
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
go mod download

# versitygw, the real S3 server the S3 tests start on loopback
# (internal/s3test): built from source into $(go env GOPATH)/bin.
gobin=$(go env GOBIN)
[ -n "$gobin" ] || gobin=$(go env GOPATH)/bin
if ! command -v versitygw >/dev/null 2>&1 && [ ! -x "$gobin/versitygw" ]; then
	echo "setup: installing versitygw (go install, about 2 minutes)" >&2
	go install github.com/versity/versitygw/cmd/versitygw@v1.8.0
fi
