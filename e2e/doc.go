// Package e2e holds phoenix's end-to-end scenarios. They drive the real phoenix command
// (in process, through app.Run) against real local control planes started by the local
// provider: etcd, kube-apiserver, kube-controller-manager and kube-scheduler processes
// with kwok nodes. They are skipped when the Kubernetes binaries are not cached, unless
// PHOENIX_REQUIRE_INTEGRATION=1 (CI) makes that a failure.
package e2e
