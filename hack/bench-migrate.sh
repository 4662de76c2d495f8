#!/usr/bin/env bash
# Migration benchmark: N mixed objects (OBJECTS, default 5000) from a local v1.24.17 blue to
# a local v1.37.2 green. ROUNDS (default 2) rounds, each moving its own namespace with the
# raw ceiling (64 concurrent server-side applies, no client throttling, objects pre-decoded)
# and with `phoenix migrate` (no flags), their order alternating; then `kubectl apply
# --server-side -R -f` of the same exported directory (QUICK=1 skips it: minutes at 5000).
# BEFORE=/path/to/older/phoenix adds that binary to every round (BEFORE_ARGS, default
# "--concurrency 64 --qps 0"). Needs the cached Kubernetes binaries (make test-binaries),
# etcd and kubectl. CEILINGS (default 64x1) lists raw ceiling variants WORKERSxCONNECTIONS,
# e.g. 64x1,128x4; NO_CEILING=1 moves with phoenix only (peak memory at large OBJECTS).
# Prints a markdown table for docs/benchmarks.md (also written to REPORT).
set -euo pipefail
cd "$(dirname "$0")/.."
OBJECTS="${OBJECTS:-5000}"
ROUNDS="${ROUNDS:-2}"
REPORT="${REPORT:-$(mktemp /tmp/bench-migrate.XXXXXX.md)}"
args=(-objects "$OBJECTS" -rounds "$ROUNDS" -report "$REPORT")
[ -n "${BEFORE:-}" ] && args+=(-before "$BEFORE" -before-args "${BEFORE_ARGS:---concurrency 64 --qps 0}")
[ "${QUICK:-0}" = 1 ] && args+=(-quick)
[ -n "${CEILINGS:-}" ] && args+=(-ceilings "$CEILINGS")
[ "${NO_CEILING:-0}" = 1 ] && args+=(-no-ceiling)
[ -n "${CPUPROFILE:-}" ] && args+=(-cpuprofile "$CPUPROFILE")
PHOENIX_BENCH=1 PHOENIX_REQUIRE_INTEGRATION=1 go test -count=1 -timeout 90m -v -run '^TestBenchMigrate$' \
  ./hack/bench-migrate "${args[@]}" | grep -v 'warnings.go' | grep -E '^\s+(\||[0-9]+ objects|bench_test)|^(ok|FAIL|---)' || true
echo "report: $REPORT"
