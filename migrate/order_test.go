package migrate

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestLevelsFollowDependencies(t *testing.T) {
	t.Parallel()
	order := []schema.GroupKind{
		{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"},
		{Kind: "Namespace"},
		{Group: "storage.k8s.io", Kind: "StorageClass"},
		{Kind: "ServiceAccount"},
		{Kind: "Secret"},
		{Kind: "PersistentVolumeClaim"},
		{Kind: "Service"},
		{Group: "apps", Kind: "Deployment"},
		{Group: "networking.k8s.io", Kind: "Ingress"},
		{Group: "admissionregistration.k8s.io", Kind: "ValidatingWebhookConfiguration"},
	}
	for i := 1; i < len(order); i++ {
		if a, b := LevelOf(order[i-1]), LevelOf(order[i]); a >= b {
			t.Errorf("%s (level %d) must come before %s (level %d)", order[i-1], a, order[i], b)
		}
	}
	if l := LevelOf(schema.GroupKind{Group: "example.com", Kind: "Widget"}); l != LevelWorkloads {
		t.Errorf("a custom resource lands at level %s, want workloads", LevelName(l))
	}
	var objs []*unstructured.Unstructured
	for i := len(order) - 1; i >= 0; i-- {
		o := &unstructured.Unstructured{}
		o.SetGroupVersionKind(order[i].WithVersion("v1"))
		o.SetName("x")
		objs = append(objs, o)
	}
	var got []string
	for _, lvl := range Levels(objs) {
		for _, o := range lvl {
			got = append(got, o.GetKind())
		}
	}
	for i, gk := range order {
		if got[i] != gk.Kind {
			t.Fatalf("Levels order = %v", got)
		}
	}
}

func TestSuspend(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in     string
		wantChanged  bool
		wantOriginal string
	}{
		{"a running CronJob lands suspended and remembers false", `
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly, namespace: payments}
spec: {schedule: "0 1 * * *"}`, true, "false"},
		{"a CronJob suspended on blue remembers true", `
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly, namespace: payments}
spec: {schedule: "0 1 * * *", suspend: true}`, true, "true"},
		{"an unfinished Job lands suspended", `
apiVersion: batch/v1
kind: Job
metadata: {name: once, namespace: payments}
spec: {template: {}}`, true, "false"},
		{"a Deployment is left alone", `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: payments}
spec: {replicas: 1}`, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := obj(t, tt.in)
			changed, err := Suspend(o)
			if err != nil {
				t.Fatal(err)
			}
			if changed != tt.wantChanged {
				t.Fatalf("changed = %v, want %v", changed, tt.wantChanged)
			}
			if got := o.GetAnnotations()[AnnotationOriginalSuspend]; got != tt.wantOriginal {
				t.Errorf("%s = %q, want %q", AnnotationOriginalSuspend, got, tt.wantOriginal)
			}
			if s, _, _ := unstructured.NestedBool(o.Object, "spec", "suspend"); s != tt.wantChanged {
				t.Errorf("spec.suspend = %v, want %v", s, tt.wantChanged)
			}
		})
	}
}
