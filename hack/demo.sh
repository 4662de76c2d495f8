#!/usr/bin/env bash
# The README's main job, end to end, on this machine: a whole blue-green upgrade of a
# sample "payments" app from Kubernetes v1.24.17 (blue) to v1.37.2 (green).
#
#   provision blue and green (local provider: real etcd, kube-apiserver, controller-manager
#   and scheduler processes; 2 real nodes each: containerd, kubelet, kube-proxy in a network
#   namespace) -> deploy payments on blue through removed API versions (its pods run the
#   payments image phoenix builds) -> HAProxy in front, routing to each cluster's NodePort
#   -> assess -> migrate -> verify -> cutover 10/50/100 under load -> rollback -> cutover again
#
# It runs the same scenario as `make test` (e2e/bluegreen_test.go) in demo mode: the
# workspace is $PHOENIX_HOME (default _output/demo-workspace), every phoenix report is
# printed as it comes, and the clusters keep running at the end. HAProxy and the load stop
# with the scenario. DEMO_CLEANUP=1 removes the clusters at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
GO="${GO:-go}"
PHOENIX="$PWD/bin/phoenix"
DEFAULT_HOME="$PWD/_output/demo-workspace"
export PHOENIX_HOME="${PHOENIX_HOME:-$DEFAULT_HOME}"

step() { printf '\n==> %s\n' "$*"; }

missing=()
for p in etcd:etcd-server haproxy:haproxy containerd:containerd runc:runc socat:socat iptables:iptables nsenter:util-linux sysctl:procps; do
  PATH="$PATH:/usr/sbin:/sbin" command -v "${p%%:*}" >/dev/null || missing+=("${p#*:}")
done
[[ -x /usr/lib/cni/bridge || -x /opt/cni/bin/bridge ]] || missing+=(containernetworking-plugins)
if ((${#missing[@]})); then
  echo "The demo needs ${missing[*]}: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
if [[ "$(id -u)" != 0 ]]; then
  echo "The demo's real nodes need root (network namespaces, mounts, cgroups): run it with sudo" >&2
  exit 1
fi
[[ -x "$PHOENIX" ]] || { echo "bin/phoenix is missing: run 'make demo' (it builds it) or 'make build'" >&2; exit 1; }

if [[ -d "$PHOENIX_HOME" ]]; then
  for c in blue green; do
    if "$PHOENIX" clusters -o name 2>/dev/null | grep -qx "$c"; then
      step "Removing cluster $c left by the previous demo"
      "$PHOENIX" delete cluster "$c"
    fi
  done
  if [[ "$PHOENIX_HOME" == "$DEFAULT_HOME" ]]; then
    rm -rf "$PHOENIX_HOME" # the previous demo's journals, reports and timeline
  elif [[ -n "$(ls -A "$PHOENIX_HOME")" ]]; then
    echo "PHOENIX_HOME=$PHOENIX_HOME is not empty: the demo wants a workspace of its own" >&2
    exit 1
  fi
fi

step "Blue-green upgrade of payments: v1.24.17 -> v1.37.2 (e2e/bluegreen_test.go in demo mode)"
status=0
PHOENIX_DEMO_WORKSPACE="$PHOENIX_HOME" PHOENIX_REQUIRE_INTEGRATION=1 \
  "$GO" test -count=1 -v -timeout 20m -run '^TestBlueGreenUpgradeOfPayments$' ./e2e/ || status=$?

if [[ $status -ne 0 ]]; then
  echo
  echo "The scenario FAILED (exit $status); the reports above say where. Clusters, if any, are kept:"
  "$PHOENIX" clusters || true
  echo "Remove them with: PHOENIX_HOME=$PHOENIX_HOME $PHOENIX delete cluster blue; ... green"
  exit "$status"
fi

if [[ "${DEMO_CLEANUP:-0}" == 1 ]]; then
  step "DEMO_CLEANUP=1: deleting blue and green"
  "$PHOENIX" delete cluster blue
  "$PHOENIX" delete cluster green
  echo "Reports stay in $PHOENIX_HOME (verify/latest.json, cutover/state.json, cutover/timeline.svg)."
  exit 0
fi

KB="$PHOENIX_HOME/clusters/blue/kubeconfig"
KG="$PHOENIX_HOME/clusters/green/kubeconfig"
cat <<EOT

All reports are green. Where things are:
  timeline of the cutover:  $PHOENIX_HOME/cutover/timeline.svg
  verify report:            $PHOENIX_HOME/verify/latest.json
  cutover journal:          $PHOENIX_HOME/cutover/state.json
  migration journal + YAML: $PHOENIX_HOME/migrations/

The clusters keep running. Inspect them with:
  export PHOENIX_HOME=$PHOENIX_HOME
  bin/phoenix clusters
  bin/phoenix status          # HAProxy stopped with the demo: live weights show as unavailable
  kubectl --kubeconfig $KB -n payments get deploy,svc,cronjobs,pdb,hpa,ingress,pvc,ledgers
  kubectl --kubeconfig $KG -n payments get deploy,svc,cronjobs,pdb,hpa,ingress,pvc,ledgers
  kubectl --kubeconfig $KG get namespace payments --show-labels      # PSP -> Pod Security Admission
  kubectl --kubeconfig $KG -n payments get pods -o wide               # real pods on green's real nodes
  kubectl --kubeconfig $KG -n payments logs deploy/payments-api
(kubectl of each version is in ~/.cache/phoenix/k8s/VERSION/kubectl)
Remove them with:
  PHOENIX_HOME=$PHOENIX_HOME bin/phoenix delete cluster blue
  PHOENIX_HOME=$PHOENIX_HOME bin/phoenix delete cluster green
EOT
