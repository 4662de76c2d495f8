package convert

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"

	"github.com/phoenix-upgrade/phoenix/internal/testenv"
)

// TestDifferentialV124 checks the offline converters against kubernetes' own conversion:
// for every conversion where a v1.24.17 kube-apiserver serves both the old and the new
// version, it creates the object through the old version and reads it back through the
// new one. Everything the offline conversion wrote must be there with the same value (the
// server adds its defaults on top), and dry-run creating both through the new version
// must give the same object (the server accepts the offline output and defaults both
// alike), compared without the fields the server owns.
func TestDifferentialV124(t *testing.T) {
	env := testenv.Start(t, "v1.24.17")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg := env.RESTConfig()
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))

	ns := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "phoenix-diff"}}}
	nsRes := schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	if _, err := dyn.Resource(nsRes).Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}

	data, err := os.ReadFile("testdata/differential-v1.24.yaml")
	if err != nil {
		t.Fatal(err)
	}
	reg := Default()
	for _, raw := range bytes.Split(data, []byte("\n---\n")) {
		var m map[string]any
		if err := yaml.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		in := &unstructured.Unstructured{Object: m}
		t.Run(in.GetKind()+"/"+in.GetName()+"/"+in.GetAPIVersion(), func(t *testing.T) {
			c := reg.For(in.GroupVersionKind())
			if c == nil {
				t.Fatalf("no converter for %s", in.GroupVersionKind())
			}
			offline, _, err := c.Convert(in)
			if err != nil {
				t.Fatal(err)
			}
			oldRes := resourceFor(t, mapper, in.GroupVersionKind())
			newRes := resourceFor(t, mapper, offline.GroupVersionKind())

			if _, err := client(dyn, oldRes, in).Create(ctx, in.DeepCopy(), metav1.CreateOptions{}); err != nil {
				t.Fatalf("create through %s: %v", in.GetAPIVersion(), err)
			}
			t.Cleanup(func() { _ = client(dyn, oldRes, in).Delete(context.Background(), in.GetName(), metav1.DeleteOptions{}) })
			server, err := client(dyn, newRes, in).Get(ctx, in.GetName(), metav1.GetOptions{})
			if err != nil {
				t.Fatalf("read through %s: %v", offline.GetAPIVersion(), err)
			}
			sortMetrics(offline)
			sortMetrics(server)
			// 1. Everything the offline conversion wrote is what the server converted
			// (the server may add defaults on top).
			if path, ok := subset(offline.Object, server.Object, ""); !ok {
				t.Errorf("offline conversion differs from the apiserver's at %s\n--- apiserver (%s read as %s):\n%s\n--- offline:\n%s",
					path, in.GetAPIVersion(), offline.GetAPIVersion(), sanitized(t, server), sanitized(t, offline))
			}
			// 2. Written through the new version, both end up the same: the apiserver
			// accepts the offline conversion and defaults it to what it converted.
			want := dryRun(ctx, t, client(dyn, newRes, in), server)
			got := dryRun(ctx, t, client(dyn, newRes, in), offline)
			if got != want {
				t.Errorf("written through %s, the offline conversion differs from the apiserver's\n--- apiserver:\n%s\n--- offline:\n%s", offline.GetAPIVersion(), want, got)
			}
		})
	}
}

func resourceFor(t *testing.T, mapper meta.RESTMapper, gvk schema.GroupVersionKind) *meta.RESTMapping {
	t.Helper()
	m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		t.Fatalf("v1.24.17 does not serve %s: %v", gvk, err)
	}
	return m
}

func client(dyn dynamic.Interface, m *meta.RESTMapping, o *unstructured.Unstructured) dynamic.ResourceInterface {
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		return dyn.Resource(m.Resource).Namespace(o.GetNamespace())
	}
	return dyn.Resource(m.Resource)
}

// dryRun creates o under another name with dryRun=All and returns the sanitized answer.
func dryRun(ctx context.Context, t *testing.T, c dynamic.ResourceInterface, o *unstructured.Unstructured) string {
	t.Helper()
	cp := o.DeepCopy()
	cp.SetName(o.GetName() + "-dry")
	cp.SetResourceVersion("")
	out, err := c.Create(ctx, cp, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if err != nil {
		t.Fatalf("the apiserver rejects %s written as %s: %v", o.GetName(), o.GetAPIVersion(), err)
	}
	return sanitized(t, out)
}

// subset reports whether every field set in a has the same value in b (lists must have
// the same length), and the first path where they differ.
func subset(a, b any, path string) (string, bool) {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok {
			return path, false
		}
		for k, v := range x {
			if p, ok := subset(v, y[k], path+"."+k); !ok {
				return p, false
			}
		}
		return "", true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return path, false
		}
		for i := range x {
			if p, ok := subset(x[i], y[i], fmt.Sprintf("%s[%d]", path, i)); !ok {
				return p, false
			}
		}
		return "", true
	}
	return path, fmt.Sprint(a) == fmt.Sprint(b)
}

// sortMetrics orders an HPA's metrics: their order means nothing (the controller takes
// the largest recommendation), and an HPA stored as autoscaling/v1, as v1.24 does, comes
// back with the CPU metric last.
func sortMetrics(o *unstructured.Unstructured) {
	metrics, ok, _ := unstructured.NestedSlice(o.Object, "spec", "metrics")
	if o.GetKind() != "HorizontalPodAutoscaler" || !ok {
		return
	}
	key := func(m any) string { b, _ := json.Marshal(m); return string(b) }
	slices.SortFunc(metrics, func(a, b any) int { return strings.Compare(key(a), key(b)) })
	_ = unstructured.SetNestedSlice(o.Object, metrics, "spec", "metrics")
}

// sanitized renders an object without what the server owns.
func sanitized(t *testing.T, o *unstructured.Unstructured) string {
	t.Helper()
	c := o.DeepCopy()
	sortMetrics(c)
	for _, f := range []string{"uid", "resourceVersion", "creationTimestamp", "managedFields", "generation", "selfLink"} {
		unstructured.RemoveNestedField(c.Object, "metadata", f)
	}
	unstructured.RemoveNestedField(c.Object, "status")
	if len(c.GetAnnotations()) == 0 {
		unstructured.RemoveNestedField(c.Object, "metadata", "annotations")
	}
	out, err := yaml.Marshal(c.Object)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}
