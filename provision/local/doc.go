// Package local provisions a real Kubernetes control plane as local processes: etcd,
// kube-apiserver, kube-controller-manager and kube-scheduler, with nodes simulated by
// kwok so that Deployments become Available and Pods Running. It needs no container
// engine: the binaries come from --bin-dir, the per-version cache, or a build from the
// k8s.io/kubernetes Go module.
//
// It is not a production cluster: there are no kubelets and no container runtime, and
// pods never run real containers (kwok only marks them Running).
package local
