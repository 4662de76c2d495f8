// Package skew holds the Kubernetes version-skew policy and the hop planner of an
// in-place kubeadm upgrade: which control-plane versions an upgrade from one release to
// another must pass through (kubeadm upgrades the control plane one minor at a time), and
// when the kubelets must follow (they may stay behind the kube-apiserver by the skew the
// apiserver's version allows: two minors before 1.28, three from 1.28 on).
//
// It knows releases 1.14 through 1.37. It does not run anything: the in-place package
// executes the plan, and the assess package decides which findings apply at which hop.
//
// Sources:
//   - https://kubernetes.io/releases/version-skew-policy/ (kubelet skew, "kubelet must not be
//     newer than kube-apiserver"; three minors from 1.28, KEP-3935)
//   - https://kubernetes.io/docs/tasks/administer-cluster/kubeadm/kubeadm-upgrade/ ("skipping
//     MINOR versions when upgrading is unsupported")
//   - https://github.com/kubernetes/kubeadm/issues/2924 (kubeadm's own kubelet skew check raised
//     from one to three minors in kubeadm 1.29)
package skew
