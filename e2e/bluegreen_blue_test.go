package e2e

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
)

// blueObject is what the scenario remembers of one object on blue.
type blueObject struct {
	rv       string
	managers map[string]bool
	// entries maps "manager operation subresource" to the time of its managedFields entry.
	entries map[string]string
	// content is the object without resourceVersion, managedFields and status: what a
	// write by anyone but a controller updating status would change.
	content map[string]any
}

// blueSnapshot is every object in a namespace (but Events and Leases) and the named
// cluster-scoped ones, keyed "group/Kind ns/name".
type blueSnapshot map[string]blueObject

// controllerManagers write to blue on their own (status, endpoints, pods) and may
// appear in managedFields at any time.
var controllerManagers = map[string]bool{"kube-controller-manager": true, "kube-scheduler": true, "kube-apiserver": true, "kwok": true}

// snapshotBlue reads, without writing, the objects phoenix must leave alone on blue.
func snapshotBlue(t *testing.T, cfg *rest.Config, ns string, clusterScoped map[schema.GroupVersionResource][]string) blueSnapshot {
	t.Helper()
	ctx := context.Background()
	cfg = rest.CopyConfig(cfg)
	cfg.WarningHandler = rest.NoWarnings{}
	dyn := dynamic.NewForConfigOrDie(cfg)
	lists, err := discovery.NewDiscoveryClientForConfigOrDie(cfg).ServerPreferredNamespacedResources()
	if err != nil && len(lists) == 0 {
		t.Fatalf("discovery on blue: %v", err)
	}
	snap := blueSnapshot{}
	for _, l := range lists {
		gv, _ := schema.ParseGroupVersion(l.GroupVersion)
		for _, r := range l.APIResources {
			if strings.Contains(r.Name, "/") || !hasVerb(r.Verbs, "list") || r.Kind == "Event" || r.Kind == "Lease" {
				continue
			}
			items, err := dyn.Resource(gv.WithResource(r.Name)).Namespace(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				t.Fatalf("listing %s on blue: %v", r.Name, err)
			}
			for i := range items.Items {
				snap.add(&items.Items[i])
			}
		}
	}
	for gvr, names := range clusterScoped {
		for _, name := range names {
			o, err := dyn.Resource(gvr).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				t.Fatalf("reading %s %s on blue: %v", gvr.Resource, name, err)
			}
			snap.add(o)
		}
	}
	return snap
}

func (s blueSnapshot) add(o *unstructured.Unstructured) {
	key := fmt.Sprintf("%s/%s %s/%s", o.GroupVersionKind().Group, o.GetKind(), o.GetNamespace(), o.GetName())
	managers, entries := map[string]bool{}, map[string]string{}
	for _, m := range o.GetManagedFields() {
		managers[m.Manager] = true
		t := ""
		if m.Time != nil {
			t = m.Time.UTC().String()
		}
		entries[fmt.Sprintf("%s %s %s", m.Manager, m.Operation, m.Subresource)] = t
	}
	c := o.DeepCopy()
	unstructured.RemoveNestedField(c.Object, "metadata", "resourceVersion")
	unstructured.RemoveNestedField(c.Object, "metadata", "managedFields")
	unstructured.RemoveNestedField(c.Object, "status")
	s[key] = blueObject{rv: o.GetResourceVersion(), managers: managers, entries: entries, content: c.Object}
}

// writesBetween lists the changes to blue between two snapshots that a controller
// doing its job does not explain: objects created or deleted (other than the pods,
// ReplicaSets and endpoints controllers manage), content changed outside status other
// than by a controller's managedFields entry, or a field manager other than the
// fixture's and the controllers'.
func writesBetween(before, after blueSnapshot) []string {
	var out []string
	controllerMade := func(key string) bool {
		for _, p := range []string{"/Pod ", "apps/ReplicaSet ", "/Endpoints ", "discovery.k8s.io/EndpointSlice ", "batch/Job "} {
			if strings.HasPrefix(key, p) {
				return true
			}
		}
		return false
	}
	for key, b := range before {
		a, ok := after[key]
		switch {
		case !ok && !controllerMade(key):
			out = append(out, key+": deleted")
		case !ok:
		case a.rv != b.rv && !reflect.DeepEqual(a.content, b.content) && !controllerMade(key) && !byControllers(b, a):
			out = append(out, key+": changed outside status")
		}
	}
	for key, a := range after {
		if controllerMade(key) {
			continue
		}
		if _, ok := before[key]; !ok {
			out = append(out, key+": created")
		}
		for m := range a.managers {
			if !controllerManagers[m] && m != fixtureManager && !before[key].managers[m] {
				out = append(out, fmt.Sprintf("%s: written by field manager %q", key, m))
			}
		}
	}
	sort.Strings(out)
	return out
}

// byControllers reports whether every managedFields entry that is new or newer in after
// belongs to a controller (the PV controller annotates PVCs, for one) and there is one.
func byControllers(before, after blueObject) bool {
	changed := 0
	for k, t := range after.entries {
		if before.entries[k] == t {
			continue
		}
		changed++
		if manager, _, _ := strings.Cut(k, " "); !controllerManagers[manager] {
			return false
		}
	}
	return changed > 0
}

func hasVerb(verbs []string, v string) bool {
	for _, x := range verbs {
		if x == v {
			return true
		}
	}
	return false
}

// expectScheduledWork checks which cluster runs the settlement CronJob: after a cutover
// green's runs and blue's is suspended, after a rollback the reverse.
func expectScheduledWork(t *testing.T, blue, green dynamic.Interface, active string) {
	t.Helper()
	suspended := func(c dynamic.Interface, cluster string) bool {
		o, err := c.Resource(gvrCronJobs).Namespace("payments").Get(context.Background(), "settlement", metav1.GetOptions{})
		if err != nil {
			t.Fatalf("%s: reading CronJob payments/settlement: %v", cluster, err)
		}
		v, _, _ := unstructured.NestedBool(o.Object, "spec", "suspend")
		return v
	}
	b, g := suspended(blue, "blue"), suspended(green, "green")
	if b != (active == "green") || g != (active == "blue") {
		t.Errorf("CronJob payments/settlement suspended: blue %v, green %v; want it running on %s only", b, g, active)
	}
}
