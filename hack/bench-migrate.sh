#!/usr/bin/env bash
# Migration benchmark: N mixed objects (OBJECTS, default 5000) from a local v1.24.17 blue to
# a local v1.37.2 green, moved by phoenix migrate (defaults, and tuned), by
# `kubectl apply --server-side` of the same exported directory, and by raw concurrent
# server-side apply (the ceiling). Needs the cached Kubernetes binaries (make test-binaries),
# etcd and kubectl. Prints a markdown table for docs/benchmarks.md (also written to REPORT).
set -euo pipefail
cd "$(dirname "$0")/.."
OBJECTS="${OBJECTS:-5000}"
REPORT="${REPORT:-$(mktemp /tmp/bench-migrate.XXXXXX.md)}"
PHOENIX_BENCH=1 PHOENIX_REQUIRE_INTEGRATION=1 go test -count=1 -timeout 60m -v -run '^TestBenchMigrate$' \
  ./hack/bench-migrate -objects "$OBJECTS" -report "$REPORT" | grep -v 'warnings.go' | grep -E '^\s+(\||[0-9]+ objects|bench_test)|^(ok|FAIL|---)' || true
echo "report: $REPORT"
