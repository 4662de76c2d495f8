#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager and kube-scheduler for one Kubernetes
# version from the k8s.io/kubernetes Go module, plus kwok, into a per-version cache:
#   ${PHOENIX_CACHE:-~/.cache/phoenix}/k8s/vX.Y.Z/{kube-apiserver,kube-controller-manager,kube-scheduler}
#   ${PHOENIX_CACHE:-~/.cache/phoenix}/kwok/v0.8.0/kwok
# Reruns cost seconds: a binary already in the cache is not rebuilt.
# Usage: hack/build-k8s.sh v1.24.17 [v1.37.2 ...]
set -euo pipefail

CACHE="${PHOENIX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/phoenix}"
KWOK_VERSION="${KWOK_VERSION:-v0.8.0}"
BINS=(kube-apiserver kube-controller-manager kube-scheduler)

build_kwok() {
  local out="$CACHE/kwok/$KWOK_VERSION"
  if [[ -x "$out/kwok" ]]; then echo "kwok $KWOK_VERSION: cached in $out"; return; fi
  mkdir -p "$out"
  echo "kwok $KWOK_VERSION: go install sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
  GOBIN="$out" CGO_ENABLED=0 go install "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
}

build_version() {
  local v="$1"
  if [[ ! "$v" =~ ^v1\.([0-9]+)\.([0-9]+)$ ]]; then
    echo "invalid version $v: want vMAJOR.MINOR.PATCH, e.g. v1.37.2" >&2; exit 2
  fi
  local minor="${BASH_REMATCH[1]}"
  local out="$CACHE/k8s/$v"
  local missing=0
  for b in "${BINS[@]}"; do [[ -x "$out/$b" ]] || missing=1; done
  if [[ $missing == 0 ]]; then echo "kubernetes $v: cached in $out"; return; fi

  local work; work="$(mktemp -d)"
  trap 'rm -rf "$work"' RETURN
  echo "kubernetes $v: building ${BINS[*]} from the k8s.io/kubernetes module (several minutes)"
  (
    cd "$work"
    go mod init phoenix.local/k8sbuild >/dev/null 2>&1
    local gomod
    gomod="$(go mod download -json "k8s.io/kubernetes@$v" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')"
    [[ -f "$gomod" ]] || { echo "cannot download k8s.io/kubernetes@$v go.mod" >&2; exit 1; }
    # Every staging module kubernetes replaces with ./staging/src/k8s.io/NAME gets the
    # published module of the matching v0.MINOR.PATCH.
    local staging_version="v0.${v#v1.}"
    grep -oE 'k8s\.io/[a-z0-9-]+ => \./staging/src/k8s\.io/[a-z0-9-]+' "$gomod" | awk '{print $1}' | sort -u |
      while read -r mod; do go mod edit -replace "$mod=$mod@$staging_version"; done
    go mod edit -require "k8s.io/kubernetes@$v"
    local pkgs=()
    for b in "${BINS[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$b"); done
    # Name the version: a bare `go get PKG` would upgrade k8s.io/kubernetes to the latest.
    go get "${pkgs[@]/%/@$v}" 2>&1 | grep -v '^go: \(downloading\|added\|upgraded\)' >&2 || true
    go list "${pkgs[@]}" >/dev/null
    # Releases before ~1.26 serve /version from k8s.io/client-go/pkg/version, later ones from
    # k8s.io/component-base/version: stamp both.
    local ld="-s -w"
    for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
      ld+=" -X $pkg.gitVersion=$v -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
    done
    mkdir -p "$out.tmp"
    for b in "${BINS[@]}"; do
      echo "  go build $b"
      CGO_ENABLED=0 go build -trimpath -ldflags "$ld" -o "$out.tmp/$b" "k8s.io/kubernetes/cmd/$b"
    done
  )
  rm -rf "$out"; mkdir -p "$(dirname "$out")"; mv "$out.tmp" "$out"
  echo "kubernetes $v: built into $out"
}

build_kwok
for v in "$@"; do build_version "$v"; done
