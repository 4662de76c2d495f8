package assess

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/phoenix-upgrade/phoenix/internal/testenv"
	"github.com/phoenix-upgrade/phoenix/kube"
)

// Real nodes (containerd, kubelet) answer configz and metrics through the apiserver's node
// proxy. The nodes here run cgroup v1 with failCgroupV1: false and Debian's containerd 1.6.
// The source version is given as v1.33 (as --from-version does), so the node's kubelet
// counts as a v1.33 one whose configz cannot tell an explicit failCgroupV1: false from the
// default: the cgroup v1 host is a blocker at the hop its kubelet reaches v1.35. A
// kube-apiserver static pod's mirror (a kube-system Pod with the component's command line)
// carries a gate removed in v1.35 and a gate locked to true in v1.35 set false, reported at
// the control-plane hop.
func TestScanRealNodes(t *testing.T) {
	env := testenv.StartReal(t, "v1.37.2", 1)
	ctx := context.Background()
	clients, err := kube.NewClients(env.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	_, err = clients.Kube.CoreV1().Pods("kube-system").Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "kube-apiserver-cp-1", Labels: map[string]string{"component": "kube-apiserver", "tier": "control-plane"}},
		Spec: corev1.PodSpec{NodeSelector: map[string]string{"phoenix.dev/no-such-node": "x"}, Containers: []corev1.Container{{
			Name: "kube-apiserver", Image: "registry.k8s.io/kube-apiserver:v1.33.0",
			Command: []string{"kube-apiserver", "--feature-gates=SizeMemoryBackedVolumes=true,ExecProbeTimeout=false", "--audit-policy-file=/etc/kubernetes/audit.yaml"}}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	nodes, err := clients.Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil || len(nodes.Items) != 1 {
		t.Fatalf("nodes: %v, %v", nodes, err)
	}
	node := "Node " + nodes.Items[0].Name

	from := kubeVersion(t, "v1.33.0")
	r, err := Assess(ctx, Options{To: kubeVersion(t, "v1.37.2"), From: &from, Path: InPlace, Clients: clients, Namespaces: []string{"kube-system"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range r.Errors {
		if strings.Contains(e, "configz") || strings.Contains(e, "metrics") {
			t.Errorf("the kubelet did not answer through the node proxy: %s", e)
		}
	}
	for _, w := range []wantFinding{
		// the node is a worker: its kubelet stays at v1.33 until it jumps at the hop to v1.36
		{Blocker, "node-cgroup", node, "v1.35", "v1.36"},
		{Action, "container-runtime", node, "v1.34", "v1.36"},
		{Blocker, "feature-gates", "feature gate SizeMemoryBackedVolumes in kube-apiserver (static pod)", "v1.35", "v1.35"},
		{Blocker, "feature-gates", "feature gate ExecProbeTimeout=false in kube-apiserver (static pod)", "v1.35", "v1.35"},
	} {
		if !findFinding(r, w) {
			t.Errorf("missing %+v; got:\n%s", w, dumpFindings(r))
		}
	}
	for _, f := range r.Findings {
		if f.Check == "node-cgroup" && !strings.Contains(f.Message, "also its default") {
			t.Errorf("the cgroup v1 finding does not say why configz cannot settle it: %s", f.Message)
		}
	}

}
