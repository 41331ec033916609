#!/usr/bin/env bash
# make bench: Go micro-benchmarks, then the end-to-end mount and backup-scan
# benchmarks (tests/e2ebench, root only). Fixtures are generated on first use and
# cached under $BENCH_WORK. Results: docs/PERFORMANCE.md.
#   BENCHTIME=1s CBFS_BENCH_ITEMS=100000 BENCH_WORK=/tmp/cbfs-bench make bench
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin
: "${BENCHTIME:=1s}" "${BENCH_WORK:=/tmp/cbfs-bench}" "${CBFS_BENCH_ITEMS:=100000}"
export CBFS_BENCH_ITEMS

echo "== go test -bench (blob, index, fusefs, scan, restore)"
go test -run '^$' -bench . -benchmem -benchtime "$BENCHTIME" ./blob ./index ./fusefs ./scan
# Maildir and real-Dovecot IMAP restores beside doveadm import (CBFS_BENCH_RESTORE messages)
go test -run '^$' -bench Restore -benchtime 1x ./restore

if [ "$(id -u)" -ne 0 ]; then
	echo "== end-to-end mount and scan benchmarks skipped: they need root (they drop the kernel caches)"
	exit 0
fi
echo "== end-to-end mount and backup-scan benchmarks"
go run ./tests/e2ebench -bin bin -work "$BENCH_WORK" ${E2E_ARGS:-}
