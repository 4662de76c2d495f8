#!/usr/bin/env bash
# Builds the real Velero server, its AWS object store plugin and gofakes3 (an S3-compatible
# server) from the Go module proxy into the phoenix test cache, for the volumes package's
# real-server integration test:
#
#   $CACHE/velero/v1.18.3/velero
#   $CACHE/velero/v1.18.3/plugins/velero-plugin-for-aws
#   $CACHE/velero/v1.18.3/gofakes3
#
# CACHE is $PHOENIX_CACHE, else $XDG_CACHE_HOME/phoenix or ~/.cache/phoenix (provision/local.CacheDir).
#
# Velero v1.18.3 pins Kubernetes v0.33 modules that the module proxy reachable here does not
# serve, so the build module raises them to v0.37.2 and controller-runtime to v0.25.2 (it
# compiles and runs unchanged), and repeats Velero's own kopia replace directive.
set -euo pipefail

VELERO=v1.18.3
AWS_PLUGIN=v1.14.3
GOFAKES3=v1.2.0
K8S=v0.37.2
CACHE="${PHOENIX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/phoenix}"
OUT="$CACHE/velero/$VELERO"

if [[ -x "$OUT/velero" && -x "$OUT/plugins/velero-plugin-for-aws" && -x "$OUT/gofakes3" ]]; then
  echo "velero $VELERO already built in $OUT"
  exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
cat > go.mod <<EOF
module phoenix-velero-build

go 1.26.0
EOF
go mod edit -replace github.com/kopia/kopia=github.com/project-velero/kopia@v0.0.0-20251230033609-d946b1e75197
go get \
  github.com/vmware-tanzu/velero/cmd/velero@$VELERO \
  github.com/vmware-tanzu/velero-plugin-for-aws/velero-plugin-for-aws@$AWS_PLUGIN \
  github.com/johannesboyne/gofakes3/cmd/gofakes3@$GOFAKES3 \
  k8s.io/api@$K8S k8s.io/apimachinery@$K8S k8s.io/client-go@$K8S k8s.io/cli-runtime@$K8S \
  k8s.io/apiextensions-apiserver@$K8S k8s.io/kube-aggregator@$K8S k8s.io/metrics@$K8S \
  sigs.k8s.io/controller-runtime@v0.25.2

mkdir -p "$OUT/plugins"
go build -o "$OUT/velero" github.com/vmware-tanzu/velero/cmd/velero
go build -o "$OUT/plugins/velero-plugin-for-aws" github.com/vmware-tanzu/velero-plugin-for-aws/velero-plugin-for-aws
go build -o "$OUT/gofakes3" github.com/johannesboyne/gofakes3/cmd/gofakes3
echo "built velero $VELERO, velero-plugin-for-aws $AWS_PLUGIN and gofakes3 $GOFAKES3 in $OUT"
