// Package provision creates and deletes the clusters phoenix upgrades to. It defines the
// Provider interface (Create, Delete, Kubeconfig, Status), the options of a new cluster,
// and the front door that picks a provider and records the cluster in the workspace.
//
// Backends live in subpackages (local, kind); this package knows none of their details.
package provision
