#!/usr/bin/env bash
# make bench: Go micro-benchmarks, then the end-to-end mount and backup-scan
# benchmarks (tests/e2ebench, root only). Fixtures are generated on first use and
# cached under $BENCH_WORK. Results: docs/PERFORMANCE.md.
#   BENCHTIME=1s CBFS_BENCH_ITEMS=100000 BENCH_WORK=/tmp/cbfs-bench make bench
# CBFS_BENCH_LARGE: items of the never-seen large Backup Path benchmark
# (issue #21; default 10000000, the issue's target; 0 skips it). On ext4
# each item file takes an inode and a 4 KiB block: 10M items need ~10M free
# inodes, ~45 GB and ~20 min to generate the first time (1M: 113 s).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin
: "${BENCHTIME:=1s}" "${BENCH_WORK:=/tmp/cbfs-bench}" "${CBFS_BENCH_ITEMS:=100000}" "${CBFS_BENCH_LARGE:=10000000}"
export CBFS_BENCH_ITEMS

echo "== go test -bench (blob, index, fusefs, scan, search, restore)"
go test -run '^$' -bench . -benchmem -benchtime "$BENCHTIME" ./blob ./index ./fusefs ./scan
# Full-text search (issue #23): index build of corpus B (3 x 3,000 messages with
# attachments) and query latency over 100,000 messages; fixtures cached in $TMPDIR
go test -run '^$' -bench 'Build|Refresh' -benchmem -benchtime 1x ./search
go test -run '^$' -bench Query -benchmem -benchtime 10x ./search
# Maildir and real-Dovecot IMAP restores beside doveadm import (CBFS_BENCH_RESTORE messages)
go test -run '^$' -bench Restore -benchtime 1x ./restore

if [ "$(id -u)" -ne 0 ]; then
	echo "== end-to-end mount and scan benchmarks skipped: they need root (they drop the kernel caches)"
	exit 0
fi
echo "== end-to-end mount and backup-scan benchmarks"
go run ./tests/e2ebench -bin bin -work "$BENCH_WORK" -large "$CBFS_BENCH_LARGE" ${E2E_ARGS:-}
