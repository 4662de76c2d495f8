#!/usr/bin/env bash
# Benchmarks. Prints the machine and the numbers; copy them into docs/benchmarks.md.
#  1. `phoenix provision --provider local` with cached binaries, for each test version
#     (RUNS times each), and `phoenix delete cluster`.
#  2. Provisioning with real nodes vs kwok nodes side by side (hack/bench-provision.sh);
#     PROVISION_BENCH=0 skips it.
#  3. Go benchmarks of every package (go test -bench).
#  4. The migration benchmark (hack/bench-migrate.sh): 5,000 mixed objects blue -> green by
#     phoenix migrate, by the raw ceiling and by kubectl apply --server-side, in one run.
#     MIGRATE_OBJECTS sets the count; MIGRATE_BENCH=0 skips it.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${RUNS:-3}"
VERSIONS="${VERSIONS:-v1.24.17 v1.37.2}"
export PHOENIX_HOME="$(mktemp -d)"
trap 'for c in $(bin/phoenix clusters -o name 2>/dev/null); do bin/phoenix delete cluster "$c" >/dev/null 2>&1 || true; done; rm -rf "$PHOENIX_HOME"' EXIT

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr), $(go version | awk '{print $3}')"
echo "cpu: $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
echo
echo "== provision --provider local (cached binaries, 3 kwok nodes), seconds"
for v in $VERSIONS; do
  times=()
  for i in $(seq 1 "$RUNS"); do
    s=$(date +%s.%N)
    bin/phoenix provision --provider local --version "$v" --name "bench-$i" --nodes 3 --node-runtime kwok >/dev/null 2>&1
    e=$(date +%s.%N)
    times+=("$(awk "BEGIN{print $e - $s}")")
    d0=$(date +%s.%N); bin/phoenix delete cluster "bench-$i" >/dev/null; d1=$(date +%s.%N)
    echo "  $v run $i: provision $(printf %.2f "${times[-1]}") s, delete $(printf %.2f "$(awk "BEGIN{print $d1 - $d0}")") s"
  done
done
echo
if [ "${PROVISION_BENCH:-1}" != 0 ]; then
  RUNS="$RUNS" hack/bench-provision.sh $VERSIONS
fi
echo
echo "== Go benchmarks"
go test -run '^$' -bench . -benchmem -count 1 ./... 2>/dev/null | grep -E '^(Benchmark|ok|pkg:)' || true
echo
if [ "${MIGRATE_BENCH:-1}" != 0 ]; then
  echo "== migrate (hack/bench-migrate.sh), ${MIGRATE_OBJECTS:-5000} objects"
  OBJECTS="${MIGRATE_OBJECTS:-5000}" hack/bench-migrate.sh
fi
