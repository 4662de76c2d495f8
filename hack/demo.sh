#!/usr/bin/env bash
# The README's main job on the embedded default: provision a local green cluster at
# v1.37.2 (real control-plane processes, kwok nodes), show it working, and leave it
# running with the commands to inspect or remove it. DEMO_CLEANUP=1 removes it at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
export PHOENIX_HOME="${PHOENIX_HOME:-$PWD/_output/demo-workspace}"
PHOENIX=bin/phoenix
VERSION="${DEMO_VERSION:-v1.37.2}"

step() { printf '\n==> %s\n' "$*"; }

if $PHOENIX clusters -o name | grep -qx demo; then
  step "Removing the previous demo cluster"
  $PHOENIX delete cluster demo
fi
step "phoenix provision --version $VERSION --name demo --provider local"
$PHOENIX provision --version "$VERSION" --name demo --provider local --nodes 3
KC="$($PHOENIX --workspace "$PHOENIX_HOME" clusters -o json >/dev/null; echo "$PHOENIX_HOME/clusters/demo/kubeconfig")"
step "kubectl get nodes"
if command -v kubectl >/dev/null; then
  kubectl --kubeconfig "$KC" get nodes -o wide
  step "a Deployment with 3 replicas becomes Available"
  kubectl --kubeconfig "$KC" create deployment web --image=nginx:1.27 --replicas=3
  kubectl --kubeconfig "$KC" rollout status deployment/web --timeout=120s
  kubectl --kubeconfig "$KC" get pods -o wide
else
  echo "(kubectl not installed: skipping the workload check)"
fi
step "phoenix clusters"
$PHOENIX clusters
if [[ "${DEMO_CLEANUP:-0}" == 1 ]]; then
  step "phoenix delete cluster demo"
  $PHOENIX delete cluster demo
else
  cat <<EOT

The cluster keeps running. Inspect it with:
  export PHOENIX_HOME=$PHOENIX_HOME
  $PHOENIX clusters
  kubectl --kubeconfig $KC get all -A
Remove it with:
  PHOENIX_HOME=$PHOENIX_HOME $PHOENIX delete cluster demo
EOT
fi
