package inplace

import (
	"context"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// Seed 002: with hard anti-affinity on the host name and as many replicas as schedulable
// nodes, a drained node's pod has nowhere to go; preflight warns before the drains.
func TestHardAntiAffinityNeedsASpareNode(t *testing.T) {
	t.Parallel()
	spread := func(name string, replicas int32, required bool) *appsv1.Deployment {
		term := corev1.PodAffinityTerm{TopologyKey: corev1.LabelHostname, LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}}
		aa := &corev1.PodAntiAffinity{}
		if required {
			aa.RequiredDuringSchedulingIgnoredDuringExecution = []corev1.PodAffinityTerm{term}
		} else {
			aa.PreferredDuringSchedulingIgnoredDuringExecution = []corev1.WeightedPodAffinityTerm{{Weight: 1, PodAffinityTerm: term}}
		}
		return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name}, Spec: appsv1.DeploymentSpec{Replicas: &replicas,
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Affinity: &corev1.Affinity{PodAntiAffinity: aa}}}}}
	}
	node := func(name string, cordoned bool) corev1.Node {
		return corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.NodeSpec{Unschedulable: cordoned}}
	}
	cs := fake.NewClientset(spread("cart", 2, true), spread("web", 1, true), spread("cache", 3, false))
	k := &KubeCluster{Client: cs}
	nodes := []corev1.Node{node("a", false), node("b", false), node("c", true)}
	warns, err := k.hardAntiAffinity(context.Background(), nodes)
	if err != nil {
		t.Fatal(err)
	}
	if len(warns) != 1 || !strings.Contains(warns[0], "Deployment shop/cart runs 2 replicas") || !strings.Contains(warns[0], "2 schedulable nodes") {
		t.Fatalf("warnings = %q, want one about shop/cart", warns)
	}
	nodes = append(nodes, node("d", false))
	if warns, _ := k.hardAntiAffinity(context.Background(), nodes); len(warns) != 0 {
		t.Errorf("with a spare node: %q", warns)
	}
}
