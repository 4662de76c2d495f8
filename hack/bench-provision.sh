#!/usr/bin/env bash
# Provisioning with real nodes vs kwok nodes, side by side in one run (ratios, since these
# machines are noisy): `phoenix provision --provider local --nodes 2` then `phoenix delete
# cluster`, per node runtime, cached binaries and images. With farm-bench (on PATH here) the
# pairs alternate A B A B and the ratio is per pair; the provision time phoenix itself
# reports ("... Ready (local, 9.8s)") is collected too, since farm-bench times the whole
# command including the delete.
# Usage: hack/bench-provision.sh [VERSION ...]   (RUNS=5, NODES=2)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${RUNS:-5}"
NODES="${NODES:-2}"
VERSIONS=("${@:-v1.37.2}")
[ $# -gt 0 ] || VERSIONS=(v1.24.17 v1.37.2)
export PHOENIX_HOME="$(mktemp -d)"
out="$(mktemp -d)"
trap 'for c in $(bin/phoenix clusters -o name 2>/dev/null); do bin/phoenix delete cluster "$c" >/dev/null 2>&1 || true; done; rm -rf "$PHOENIX_HOME" "$out"' EXIT
[ -x bin/phoenix ] || go build -o bin/phoenix ./cmd/phoenix
one() { # runtime version log
  echo "bin/phoenix provision --provider local --version $2 --name bench-$1 --nodes $NODES --node-runtime $1 >>$3 2>&1 && bin/phoenix delete cluster bench-$1 >/dev/null 2>&1"
}
for v in "${VERSIONS[@]}"; do
  echo "== $v: provision + delete, $NODES nodes, real (containerd) vs kwok"
  real="$out/real-$v.log" kwok="$out/kwok-$v.log"
  if command -v farm-bench >/dev/null; then
    farm-bench -n "$RUNS" --timeout 1800 --vs "sh -c '$(one kwok "$v" "$kwok")'" -- sh -c "$(one containerd "$v" "$real")"
  else
    for i in $(seq "$RUNS"); do sh -c "$(one containerd "$v" "$real")"; sh -c "$(one kwok "$v" "$kwok")"; done
  fi
  for rt in real kwok; do
    f="$out/$rt-$v.log"
    printf '  provision alone as phoenix reports it, %s: ' "$rt"
    { grep -o 'Ready (local, [0-9.]*s)' "$f" 2>/dev/null || true; } | grep -o '[0-9.]*s' | tr '\n' ' ' || true; echo
  done
done
