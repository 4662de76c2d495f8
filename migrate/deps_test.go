package migrate

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
)

// APIServices whose Service lives in a migrated namespace move with it; others stay.
func TestAPIServicesServedFromTheNamespacesMove(t *testing.T) {
	t.Parallel()
	idx := &apiIndex{byGR: map[schema.GroupResource]*resInfo{}, byGK: map[schema.GroupKind]*resInfo{}, served: map[schema.GroupVersionKind]bool{}, groups: map[string][]string{}}
	idx.add(schema.GroupVersion{Group: "apiregistration.k8s.io", Version: "v1"}, metav1.APIResource{Name: "apiservices", Kind: "APIService", Verbs: []string{"get", "list"}})
	gvr := schema.GroupVersionResource{Group: "apiregistration.k8s.io", Version: "v1", Resource: "apiservices"}
	blue := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{gvr: "APIServiceList"},
		obj(t, `{apiVersion: apiregistration.k8s.io/v1, kind: APIService, metadata: {name: v1.metrics.payments.example}, spec: {group: metrics.payments.example, version: v1, service: {namespace: payments, name: metrics}}}`),
		obj(t, `{apiVersion: apiregistration.k8s.io/v1, kind: APIService, metadata: {name: v1beta1.other.example}, spec: {group: other.example, version: v1beta1, service: {namespace: other, name: api}}}`),
		obj(t, `{apiVersion: apiregistration.k8s.io/v1, kind: APIService, metadata: {name: v1.apps}, spec: {group: apps, version: v1}}`))
	d := &discoverer{o: &Options{Namespaces: []string{"payments"}}, blue: blue, bIdx: idx, gIdx: idx, res: &Result{},
		seen: map[string]bool{}, listed: map[schema.GroupResource][]*item{}, crds: map[schema.GroupResource]*unstructured.Unstructured{}}
	if err := d.addClusterDeps(context.Background()); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range d.items {
		got = append(got, it.obj.GetName())
	}
	if len(got) != 1 || got[0] != "v1.metrics.payments.example" {
		t.Errorf("moved APIServices %v, want only v1.metrics.payments.example", got)
	}
	if l := LevelOf(d.items[0].obj.GroupVersionKind().GroupKind()); l != LevelWebhooks {
		t.Errorf("APIService level %s, want webhooks (after its backend)", LevelName(l))
	}
}
