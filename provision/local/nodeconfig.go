package local

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/phoenix-upgrade/phoenix/kube"
)

// SandboxImage is the pod sandbox image every real node's containerd uses; phoenix builds
// it locally (images.Pause) and imports it, so no registry is ever asked for it.
const SandboxImage = "registry.k8s.io/pause:3.10"

// nodeFiles are the paths of one real node's configuration and state.
type nodeFiles struct {
	Dir           string // <cluster>/nodes/<node>
	RunDir        string // /run/phoenix/<slot>/n<i>: sockets and containerd's state
	Containerd    string // containerd.toml
	Socket        string // containerd's CRI socket
	CNIConfDir    string
	Kubelet       string // kubelet.yaml
	KubeletKC     string
	KubeletRoot   string // below RunDir: the kubelet makes unix sockets there (108-byte limit)
	KubeProxy     string // kube-proxy.yaml
	KubeProxyKC   string
	ServingCert   string
	ServingKey    string
	IPAMDir       string
	CNINetwork    string
	NodeIP        string
	PodCIDR       string
	ClusterCIDR   string
	NodeName      string
	NodeCIDRRange string
}

// containerdConfig is a containerd 1.6+ configuration (version 2) of one node: its own
// root, state and sockets, the CRI plugin with cgroupfs, the locally imported sandbox
// image, and pod network namespaces mounted below its state directory so that delete
// finds them. restrict_oom_score_adj: runc cannot lower a process's oom_score_adj
// without CAP_SYS_RESOURCE, which processes here may lack.
func containerdConfig(f nodeFiles) string {
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	return fmt.Sprintf(`version = 2
root = %s
state = %s
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = %s

[ttrpc]
  address = %s

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = %s

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %q
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  disable_apparmor = true
  tolerate_missing_hugetlb_controller = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = %s
    conf_dir = %s
    max_conf_num = 1
`, q(f.Dir+"/containerd"), q(f.RunDir+"/state"), q(f.Socket), q(f.RunDir+"/ttrpc.sock"), q(f.Dir+"/opt"),
		SandboxImage, q(cniBinDir()), q(f.CNIConfDir))
}

// cniConfig is the node's pod network: a bridge inside the node's namespace with the
// node's pod range, hairpin mode (a pod reaching itself through a Service), and portmap
// for hostPort. No masquerading: nothing outside the clusters' networks is reachable.
func cniConfig(f nodeFiles) string {
	conf := map[string]any{
		"cniVersion": "0.4.0",
		"name":       f.CNINetwork,
		"plugins": []any{
			map[string]any{
				"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
				"ipam": map[string]any{
					"type":    "host-local",
					"ranges":  [][]map[string]string{{{"subnet": f.PodCIDR}}},
					"routes":  []map[string]string{{"dst": f.ClusterCIDR}, {"dst": f.NodeCIDRRange}, {"dst": "10.96.0.0/16"}},
					"dataDir": f.IPAMDir,
				},
			},
			map[string]any{"type": "portmap", "capabilities": map[string]bool{"portMappings": true}},
		},
	}
	b, _ := json.MarshalIndent(conf, "", "  ")
	return string(b) + "\n"
}

// kubeletConfig is the node's KubeletConfiguration. No QoS cgroup hierarchy (this
// machine may run cgroup v1 without systemd), nothing is evicted or
// garbage-collected (the images cannot be pulled again), DNS is off (no cluster DNS, and
// pods must not ask the host's resolvers), the kubelet serves with a certificate of the
// cluster's CA for its node address, and authorizes the apiserver through webhooks.
func kubeletConfig(f nodeFiles, caFile string, v kube.Version) string {
	var b strings.Builder
	fmt.Fprintf(&b, `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: %s
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: %q}
authorization:
  mode: Webhook
tlsCertFile: %q
tlsPrivateKeyFile: %q
rotateCertificates: false
serverTLSBootstrap: false
cgroupDriver: cgroupfs
cgroupsPerQOS: false
enforceNodeAllocatable: []
failSwapOn: false
resolvConf: ""
clusterDomain: cluster.local
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "50Mi", nodefs.available: "1%%", imagefs.available: "1%%", nodefs.inodesFree: "1%%"}
maxPods: 110
serializeImagePulls: false
syncFrequency: 10s
nodeStatusUpdateFrequency: 5s
registerNode: true
`, f.NodeIP, caFile, f.ServingCert, f.ServingKey)
	if v.Minor >= 27 {
		fmt.Fprintf(&b, "containerRuntimeEndpoint: unix://%s\n", f.Socket)
	}
	if v.Minor >= 31 {
		// cgroup v1 is in maintenance mode from v1.31; phoenix's nodes must still run on it.
		b.WriteString("failCgroupV1: false\n")
	}
	return b.String()
}

// kubeletArgs are the kubelet's flags; whatever the configuration file cannot say in
// every supported version goes here.
func kubeletArgs(f nodeFiles, v kube.Version) []string {
	args := []string{
		"--config=" + f.Kubelet,
		"--kubeconfig=" + f.KubeletKC,
		"--root-dir=" + f.KubeletRoot,
		"--cert-dir=" + f.Dir + "/kubelet-pki",
		"--hostname-override=" + f.NodeName,
		"--node-ip=" + f.NodeIP,
		"--node-labels=phoenix.dev/node-runtime=containerd",
		"--v=1",
	}
	if v.Minor < 27 {
		args = append(args, "--container-runtime-endpoint=unix://"+f.Socket)
	}
	if v.Minor < 24 {
		args = append(args, "--container-runtime=remote")
	}
	return args
}

// kubeProxyConfig runs kube-proxy in iptables mode inside the node's namespace.
// masqueradeAll: without it a pod reaching a Service backed by a pod on the same bridge
// gets the answer straight from the peer's address and drops it. conntrack settings are
// left alone (they are not per network namespace).
func kubeProxyConfig(f nodeFiles) string {
	return fmt.Sprintf(`apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clientConnection:
  kubeconfig: %q
hostnameOverride: %s
bindAddress: %s
clusterCIDR: %s
nodePortAddresses: [%s]
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
iptables:
  masqueradeAll: true
  syncPeriod: 10s
  minSyncPeriod: 0s
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
`, f.KubeProxyKC, f.NodeName, f.NodeIP, f.ClusterCIDR, f.NodeCIDRRange)
}

func cniBinDir() string {
	for _, d := range cniBinDirs {
		if isExec(d + "/bridge") {
			return d
		}
	}
	return cniBinDirs[0]
}

// cniBinDirs are where distributions install the CNI plugins (Debian: /usr/lib/cni).
var cniBinDirs = []string{"/usr/lib/cni", "/opt/cni/bin"}
