// Package kind provisions kind clusters through sigs.k8s.io/kind/pkg/cluster: it builds
// the kind cluster configuration (node image for the version, node count), creates the
// cluster, and exports its kubeconfig into the workspace. It needs a Docker or Podman
// engine; without one it says so before doing anything.
package kind
