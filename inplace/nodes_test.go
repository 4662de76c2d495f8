package inplace_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/phoenix-upgrade/phoenix/assess"
	"github.com/phoenix-upgrade/phoenix/inplace"
	"github.com/phoenix-upgrade/phoenix/inplace/inplacetest"
	"github.com/phoenix-upgrade/phoenix/kube"
)

const (
	flagsEnv      = `KUBELET_KUBEADM_ARGS="--network-plugin=cni --container-runtime=remote --pod-infra-container-image=registry.k8s.io/pause:3.5"` + "\n"
	kubeletConfig = `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
featureGates:
  DynamicKubeletConfig: true
  CPUManager: false
`
	cgroupV1Mounts = "tmpfs /sys/fs/cgroup tmpfs ro 0 0\ncgroup /sys/fs/cgroup/memory cgroup rw,memory 0 0\n"
	apiserverPod   = `apiVersion: v1
kind: Pod
metadata: {name: kube-apiserver, namespace: kube-system}
spec:
  containers:
  - name: kube-apiserver
    image: registry.k8s.io/kube-apiserver:v1.22.17
    command: [kube-apiserver, --audit-policy-file=/etc/kubernetes/audit/policy.yaml, --feature-gates=TTLAfterFinished=true]
`
	auditPolicy = "apiVersion: audit.k8s.io/v1beta1\nkind: Policy\nrules:\n- level: Metadata\n"
)

func component(name string) string {
	return "apiVersion: v1\nkind: Pod\nmetadata: {name: " + name + ", namespace: kube-system}\nspec:\n  containers:\n  - name: " + name + "\n    image: x\n    command: [" + name + "]\n"
}

// The in-place path reads each node's files over SSH (a real sshd; cat is the recording
// stand-in serving the files set here, on every host) and assess places each finding at
// its hop: the control plane's at the control-plane hops, the workers' when their kubelets
// move.
func TestReadNodesOverSSHAndAssess(t *testing.T) {
	lab := inplacetest.NewLab(t, "cp-1", "worker-1")
	lab.SetFile(assess.KubeletFlagsFile, flagsEnv)
	lab.SetFile(assess.KubeletConfigFile, kubeletConfig)
	lab.SetFile(assess.MountsFile, cgroupV1Mounts)
	lab.SetFile("/etc/kubernetes/manifests/kube-apiserver.yaml", apiserverPod)
	for _, c := range []string{"kube-controller-manager", "kube-scheduler", "etcd"} {
		lab.SetFile("/etc/kubernetes/manifests/"+c+".yaml", component(c))
	}
	lab.SetFile("/etc/kubernetes/audit/policy.yaml", auditPolicy)

	inv := lab.Inventory("lab", map[string]string{"cp-1": inplace.RoleControlPlane})
	nodes, err := inplace.ReadNodes(context.Background(), inv, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 2 {
		t.Fatalf("%d nodes read, want 2", len(nodes))
	}
	read := strings.Join(lab.Recorded(), "\n")
	for _, want := range []string{
		"cp-1: cat /var/lib/kubelet/kubeadm-flags.env", "worker-1: cat /var/lib/kubelet/config.yaml", "worker-1: cat /proc/mounts",
		"cp-1: cat /etc/kubernetes/manifests/kube-apiserver.yaml", "cp-1: cat /etc/kubernetes/audit/policy.yaml",
		"cp-1: kubectl --kubeconfig /etc/kubernetes/admin.conf -n kube-system get configmap kube-proxy",
	} {
		if !strings.Contains(read, want) {
			t.Errorf("%q not run; the hosts ran:\n%s", want, read)
		}
	}
	if strings.Contains(read, "worker-1: cat /etc/kubernetes/manifests") {
		t.Errorf("a worker's static-pod manifests were read:\n%s", read)
	}

	from := kube.MustParseVersion("v1.22.17")
	r, err := assess.Assess(context.Background(), assess.Options{To: kube.MustParseVersion("v1.37.2"), From: &from, Path: assess.InPlace, Nodes: nodes})
	if err != nil {
		t.Fatal(err)
	}
	type want struct{ check, object, version, hop string }
	for _, w := range []want{
		{"feature-gates", "feature gate DynamicKubeletConfig in KubeletConfiguration", "v1.26", "v1.26.15"},
		{"feature-gates", "feature gate CPUManager=false in KubeletConfiguration", "v1.26", "v1.26.15"},
		{"feature-gates", "feature gate TTLAfterFinished in kube-apiserver (static pod)", "v1.25", "v1.25.16"},
		{"component-flags", "kubelet --network-plugin", "v1.24", "v1.24.17"},
		// the control plane's kubelet follows every hop, the worker's jumps to v1.29
		{"component-flags", "kubelet --container-runtime", "v1.27", "v1.27.16"},
		{"component-flags", "kubelet --container-runtime", "v1.27", "v1.29.15"},
		{"config-api", "audit.k8s.io/v1beta1 Policy", "v1.24", "v1.24.17"},
		{"node-cgroup", "Node cp-1", "v1.35", "v1.35"},
		{"node-cgroup", "Node worker-1", "v1.35", "v1.35"},
	} {
		found := false
		for _, f := range r.Findings {
			if f.Severity == assess.Blocker && f.Check == w.check && strings.Contains(f.Object, w.object) && f.Version == w.version && f.Hop == w.hop {
				found = true
			}
		}
		if !found {
			var b strings.Builder
			for _, f := range r.Findings {
				b.WriteString(string(f.Severity) + " " + f.Check + " " + f.Object + " " + f.Where + " " + f.Version + " " + f.Hop + "\n")
			}
			t.Errorf("missing blocker %+v; got:\n%s", w, b.String())
		}
	}
	for _, e := range r.Errors {
		t.Errorf("unexpected error: %s", e)
	}
	for _, f := range r.Findings {
		if f.Check == "in-place-plan" && strings.Contains(f.Message, "did not read the nodes") {
			t.Errorf("the plan asks to check node files phoenix read: %+v", f)
		}
	}
}
