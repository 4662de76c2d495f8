// Package kubeadm is the provision.Provider that builds a cluster on real machines with
// kubeadm over SSH: preflight on every host, the pkgs.k8s.io repository of the minor,
// kubelet/kubeadm/kubectl pinned and held, `kubeadm init` with a generated configuration
// on the first control plane, `kubeadm join` of the others (join tokens and certificate
// keys never logged), a CNI manifest, Ready nodes, and the admin kubeconfig fetched into
// the workspace.
//
// Hosts come from an inventory file (package inplace); it reuses inplace's SSH executor
// with its strict host-key checking. It does not upgrade clusters: that is inplace.
package kubeadm
