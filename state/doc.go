// Package state is phoenix's workspace on disk: the registry of clusters phoenix knows
// (name, role, provider, version, kubeconfig), and the directories where journals,
// artifacts, logs and reports live.
//
// Every write is crash-safe: data goes to a temporary file in the same directory, is
// fsynced, and renamed over the target, so a killed process leaves either the old or the
// new content, never a torn file. It is not a database and holds no cluster objects.
package state
