package inplace_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/phoenix-upgrade/phoenix/inplace"
	"github.com/phoenix-upgrade/phoenix/internal/testenv"
	"github.com/phoenix-upgrade/phoenix/kube"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// evictionWatch signals the first eviction a PodDisruptionBudget refused (HTTP 429).
type evictionWatch struct {
	rt      http.RoundTripper
	once    sync.Once
	blocked chan struct{}
}

func (w *evictionWatch) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := w.rt.RoundTrip(r)
	if err == nil && strings.HasSuffix(r.URL.Path, "/eviction") && resp.StatusCode == http.StatusTooManyRequests {
		w.once.Do(func() { close(w.blocked) })
	}
	return resp, err
}

// Drain against a real apiserver with kwok nodes: a PDB that allows no disruption holds
// the drain back; once it allows one, the drain goes on and empties the node.
func TestDrainWaitsForThePDBThenProceeds(t *testing.T) {
	env := testenv.Start(t, "v1.37.2")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	watch := &evictionWatch{blocked: make(chan struct{})}
	cfg := env.RESTConfig()
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { watch.rt = rt; return watch })
	client := kubernetes.NewForConfigOrDie(cfg)
	kc := &inplace.KubeCluster{Client: client, Poll: 200 * time.Millisecond}

	nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil || len(nodes.Items) < 2 {
		t.Fatalf("need 2 nodes: %v %v", len(nodes.Items), err)
	}
	target := nodes.Items[0].Name
	// Put the workload on target: cordon the others while it is scheduled.
	cordon := func(name string, on bool) {
		ctx := context.Background()
		patch := []byte(`{"spec":{"unschedulable":` + map[bool]string{true: "true", false: "false"}[on] + `}}`)
		if _, err := client.CoreV1().Nodes().Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range nodes.Items[1:] {
		cordon(n.Name, true)
	}
	t.Cleanup(func() {
		for _, n := range nodes.Items {
			cordon(n.Name, false)
		}
	})

	ns := "drain-test"
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })
	labels := map[string]string{"app": "web"}
	zero := int64(0)
	two := int32(2)
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: appsv1.DeploymentSpec{Replicas: &two, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{
				TerminationGracePeriodSeconds: &zero,
				Tolerations:                   tolerations(nodes.Items[0]),
				Containers:                    []corev1.Container{{Name: "web", Image: "registry.k8s.io/pause:3.10"}}}}},
	}
	if _, err := client.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	minAvail := intstr.FromInt32(2)
	pdb := &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: &minAvail, Selector: &metav1.LabelSelector{MatchLabels: labels}}}
	if _, err := client.PolicyV1().PodDisruptionBudgets(ns).Create(ctx, pdb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Wait until both pods run on target and the PDB has counted them.
	for {
		pods, _ := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		p, _ := client.PolicyV1().PodDisruptionBudgets(ns).Get(ctx, "web", metav1.GetOptions{})
		running := 0
		for _, pod := range pods.Items {
			if pod.Spec.NodeName == target && pod.Status.Phase == corev1.PodRunning {
				running++
			}
		}
		if running == 2 && p != nil && p.Status.CurrentHealthy == 2 && p.Status.ObservedGeneration == p.Generation {
			break
		}
		select {
		case <-ctx.Done():
			var st []string
			for _, pod := range pods.Items {
				st = append(st, fmt.Sprintf("%s node=%q phase=%s conds=%v", pod.Name, pod.Spec.NodeName, pod.Status.Phase, pod.Status.Conditions))
			}
			t.Fatalf("pods never ran on %s: %d running; pdb %+v; pods %v", target, running, p.Status, st)
		case <-time.After(300 * time.Millisecond):
		}
	}
	warns, err := kc.Preflight(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(warns) != 1 || !strings.Contains(warns[0], ns+"/web allows no disruption") {
		t.Errorf("preflight should report the blocking PDB: %v", warns)
	}
	for _, n := range nodes.Items[1:] {
		cordon(n.Name, false)
	}

	done := make(chan error, 1)
	go func() { done <- kc.Drain(ctx, target, 3*time.Minute) }()
	select {
	case <-watch.blocked:
	case err := <-done:
		t.Fatalf("drain returned before the PDB refused an eviction: %v", err)
	}
	select {
	case err := <-done:
		t.Fatalf("drain finished although the PDB allows no disruption: %v", err)
	default:
	}
	// Allow one disruption: the drain proceeds, replacements land on the other nodes.
	if _, err := client.PolicyV1().PodDisruptionBudgets(ns).Patch(ctx, "web", types.MergePatchType, []byte(`{"spec":{"minAvailable":1}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("drain: %v", err)
	}
	pods, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + target})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil {
			t.Errorf("pod %s still on drained node %s", p.Name, target)
		}
	}
	n, _ := client.CoreV1().Nodes().Get(ctx, target, metav1.GetOptions{})
	if !n.Spec.Unschedulable {
		t.Error("drained node is not cordoned")
	}
	if err := kc.Uncordon(ctx, target); err != nil {
		t.Fatal(err)
	}
	n, _ = client.CoreV1().Nodes().Get(ctx, target, metav1.GetOptions{})
	if n.Spec.Unschedulable {
		t.Error("uncordon left the node cordoned")
	}
	// kwok nodes report the kubelet version the node was registered with.
	v, err := kube.ParseVersion(n.Status.NodeInfo.KubeletVersion)
	if err != nil {
		t.Fatal(err)
	}
	if err := kc.WaitReady(ctx, target, v, time.Minute); err != nil {
		t.Fatal(err)
	}
	other := kube.Version{Major: v.Major, Minor: v.Minor + 1, Patch: 0}
	if err := kc.WaitReady(ctx, target, other, time.Second); err == nil || !strings.Contains(err.Error(), "did not become Ready") {
		t.Errorf("WaitReady for a version the node does not run: %v", err)
	}
	warns, err = kc.PostChecks(ctx, v)
	if err != nil {
		t.Fatalf("post checks: %v", err)
	}
	_ = warns
	_ = rest.CopyConfig
}

// tolerations tolerate the taints a kwok node carries, but not the cordon.
func tolerations(n corev1.Node) []corev1.Toleration {
	var out []corev1.Toleration
	for _, t := range n.Spec.Taints {
		if t.Key != corev1.TaintNodeUnschedulable {
			out = append(out, corev1.Toleration{Key: t.Key, Operator: corev1.TolerationOpExists, Effect: t.Effect})
		}
	}
	return out
}
