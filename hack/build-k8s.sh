#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager and kube-scheduler for each Kubernetes
# version given, from the k8s.io/kubernetes Go module, plus kwok, into the per-version cache
# (${PHOENIX_CACHE:-~/.cache/phoenix}/k8s/vX.Y.Z, .../kwok/v0.8.0). A cached version costs a
# second. The recipe is provision/local.EnsureCached, the same code `phoenix provision`
# runs when the cache misses (see DEVELOPERS.md).
# Usage: hack/build-k8s.sh v1.24.17 [v1.37.2 ...]
set -euo pipefail
cd "$(dirname "$0")/.."
exec go run ./hack/build-k8s "$@"
