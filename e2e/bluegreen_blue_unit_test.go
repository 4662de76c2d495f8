package e2e

import (
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func obj(kind, name, rv string, spec map[string]any, status string, managers ...string) *unstructured.Unstructured {
	o := &unstructured.Unstructured{Object: map[string]any{"spec": spec}}
	o.SetAPIVersion("apps/v1")
	if kind == "Pod" || kind == "ConfigMap" {
		o.SetAPIVersion("v1")
	}
	o.SetKind(kind)
	o.SetNamespace("payments")
	o.SetName(name)
	o.SetResourceVersion(rv)
	if status != "" {
		o.Object["status"] = map[string]any{"phase": status}
	}
	var mf []metav1.ManagedFieldsEntry
	for _, m := range managers {
		// "name@second" sets the entry's time: a later time is a later write.
		name, at, _ := strings.Cut(m, "@")
		e := metav1.ManagedFieldsEntry{Manager: name, Operation: metav1.ManagedFieldsOperationUpdate}
		if at != "" {
			sec, _ := strconv.Atoi(at)
			e.Time = &metav1.Time{Time: time.Unix(int64(sec), 0)}
		}
		mf = append(mf, e)
	}
	o.SetManagedFields(mf)
	return o
}

func snap(objs ...*unstructured.Unstructured) blueSnapshot {
	s := blueSnapshot{}
	for _, o := range objs {
		s.add(o)
	}
	return s
}

// The check that blue was not written must tell a controller doing its job from a write.
func TestWritesBetweenSnapshots(t *testing.T) {
	t.Parallel()
	spec := map[string]any{"replicas": int64(2)}
	base := []*unstructured.Unstructured{
		obj("Deployment", "api", "10", spec, "", fixtureManager),
		obj("ConfigMap", "cfg", "11", map[string]any{"a": "b"}, "", fixtureManager),
		obj("Pod", "api-1", "12", nil, "Running", "kube-controller-manager"),
	}
	for _, tc := range []struct {
		name  string
		after []*unstructured.Unstructured
		want  string
	}{
		{name: "nothing changed", after: base},
		{name: "a controller updated status and a pod was replaced", after: []*unstructured.Unstructured{
			obj("Deployment", "api", "20", spec, "Available", fixtureManager, "kube-controller-manager"),
			base[1], obj("Pod", "api-2", "21", nil, "Pending", "kube-controller-manager", "kwok-controller"),
		}},
		{name: "a controller annotated an object", after: []*unstructured.Unstructured{
			base[0], obj("ConfigMap", "cfg", "20", map[string]any{"a": "b", "c": "d"}, "", fixtureManager, "kube-controller-manager@5"), base[2],
		}},
		{name: "a controller and someone else wrote", after: []*unstructured.Unstructured{
			base[0], obj("ConfigMap", "cfg", "20", map[string]any{"a": "x"}, "", fixtureManager+"@9", "kube-controller-manager@5"), base[2],
		}, want: "/ConfigMap payments/cfg: changed outside status"},
		{name: "the spec changed", after: []*unstructured.Unstructured{
			obj("Deployment", "api", "20", map[string]any{"replicas": int64(3)}, "", fixtureManager), base[1], base[2],
		}, want: "apps/Deployment payments/api: changed outside status"},
		{name: "a new field manager wrote", after: []*unstructured.Unstructured{
			base[0], obj("ConfigMap", "cfg", "20", map[string]any{"a": "b"}, "", fixtureManager, "phoenix"), base[2],
		}, want: `/ConfigMap payments/cfg: written by field manager "phoenix"`},
		{name: "an object was deleted", after: []*unstructured.Unstructured{base[0], base[2]}, want: "/ConfigMap payments/cfg: deleted"},
		{name: "an object was created", after: append(append([]*unstructured.Unstructured{}, base...),
			obj("ConfigMap", "new", "30", nil, "", "phoenix")), want: "/ConfigMap payments/new: created"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := strings.Join(writesBetween(snap(base...), snap(tc.after...)), "\n")
			if tc.want == "" && got != "" || tc.want != "" && !strings.Contains(got, tc.want) {
				t.Errorf("writesBetween:\n%s\nwant %q", got, tc.want)
			}
		})
	}
}
