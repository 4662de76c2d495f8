// Package inplace drives the classic kubeadm in-place upgrade on real machines over SSH,
// for clusters that cannot be duplicated blue-green.
//
// It holds the inventory of hosts (LoadInventory), the SSH executor with strict host-key
// checking and secret redaction (Dial, Conn.Run, Redact), the runbook of ordered, named
// phases built from a skew.Plan (BuildRunbook, Runbook.Render), the journal that makes a
// run resumable (Journal), the cluster-side steps: drain with k8s.io/kubectl/pkg/drain,
// uncordon, wait for Ready, preflight and post-hop checks (KubeCluster), and the front
// door Upgrade that ties them together.
//
// It is not the hop planner (package skew decides the hops and kubelet jumps) and it does
// not create clusters (provision/kubeadm reuses the inventory and executor for that).
package inplace
