// Package assess tells what will break before an upgrade moves anything. It holds the
// upgrade knowledge base for Kubernetes 1.14 through 1.37 — API versions removed per release,
// removed feature gates, removed or neutered component flags, kubeadm configuration API
// versions and the known pitfalls of the seed write-ups — as reviewed YAML files embedded in
// the binary (data/, one file per topic, every entry naming its upstream source), and the
// scanners that match a cluster or a directory of manifests against it:
//
//   - ScanManifests reads manifests and rendered charts offline;
//   - ScanCluster reads a live cluster through its API (objects last written through a removed
//     version, Helm v3 release Secrets, PodSecurityPolicies, kubeadm's ClusterConfiguration, the
//     kube-proxy and kubelet ConfigMaps, the CoreDNS Corefile, webhook certificates, Services
//     whose addresses change, PersistentVolumes whose data must move), and every node
//     through the apiserver's node proxy (the kubelet's configz and metrics) and its status;
//   - Options.Nodes checks files read from the nodes themselves (inplace.ReadNodes over SSH,
//     or a node's copy under -f): kubelet flags and configuration, static pods, the audit
//     policy and scheduler configuration they name, /proc/mounts.
//
// Findings carry a severity (blocker, action, info), what to do, and for an in-place upgrade
// the hop at which they bite (the hops come from package skew). The Report renders as a table,
// JSON, YAML or Markdown.
//
// It changes nothing in a cluster and prints nothing: commands render its results.
package assess
