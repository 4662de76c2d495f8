package migrate

import (
	"context"
	"fmt"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	grCRB     = schema.GroupResource{Group: "rbac.authorization.k8s.io", Resource: "clusterrolebindings"}
	grCR      = schema.GroupResource{Group: "rbac.authorization.k8s.io", Resource: "clusterroles"}
	grRB      = schema.GroupResource{Group: "rbac.authorization.k8s.io", Resource: "rolebindings"}
	grSC      = schema.GroupResource{Group: "storage.k8s.io", Resource: "storageclasses"}
	grPC      = schema.GroupResource{Group: "scheduling.k8s.io", Resource: "priorityclasses"}
	grIC      = schema.GroupResource{Group: "networking.k8s.io", Resource: "ingressclasses"}
	grRC      = schema.GroupResource{Group: "node.k8s.io", Resource: "runtimeclasses"}
	grCRD     = schema.GroupResource{Group: "apiextensions.k8s.io", Resource: "customresourcedefinitions"}
	grPSP     = schema.GroupResource{Group: "policy", Resource: "podsecuritypolicies"}
	grVWC     = schema.GroupResource{Group: "admissionregistration.k8s.io", Resource: "validatingwebhookconfigurations"}
	grMWC     = schema.GroupResource{Group: "admissionregistration.k8s.io", Resource: "mutatingwebhookconfigurations"}
	grAPISvc  = schema.GroupResource{Group: "apiregistration.k8s.io", Resource: "apiservices"}
	podOwners = map[string][]string{"Pod": {"spec"}, "CronJob": {"spec", "jobTemplate", "spec", "template", "spec"}, "PodTemplate": {"template", "spec"}}
)

// podSpec returns the pod spec inside a workload (or a Pod), or nil.
func podSpec(obj *unstructured.Unstructured) map[string]any {
	path, ok := podOwners[obj.GetKind()]
	if !ok {
		path = []string{"spec", "template", "spec"}
	}
	m, _, _ := unstructured.NestedMap(obj.Object, path...)
	return m
}

// addClusterDeps adds the cluster-scoped objects the namespaced ones depend on.
func (d *discoverer) addClusterDeps(ctx context.Context) error {
	inNS := map[string]bool{}
	for _, ns := range d.o.Namespaces {
		inNS[ns] = true
	}
	want := map[schema.GroupResource]map[string]bool{}
	need := func(gr schema.GroupResource, name string) {
		if name == "" {
			return
		}
		if want[gr] == nil {
			want[gr] = map[string]bool{}
		}
		want[gr][name] = true
	}
	for gr, items := range d.listed {
		for _, it := range items {
			if it.skip != "" || it.obj.GetNamespace() == "" {
				continue
			}
			if crd, ok := d.crds[gr]; ok {
				need(grCRD, crd.GetName())
			}
			if ps := podSpec(it.obj); ps != nil {
				need(grPC, strField(ps, "priorityClassName"))
				need(grRC, strField(ps, "runtimeClassName"))
			}
			switch it.obj.GetKind() {
			case "PersistentVolumeClaim":
				sc, _, _ := unstructured.NestedString(it.obj.Object, "spec", "storageClassName")
				need(grSC, sc)
				need(grSC, it.obj.GetAnnotations()["volume.beta.kubernetes.io/storage-class"])
			case "StatefulSet":
				tpls, _, _ := unstructured.NestedSlice(it.obj.Object, "spec", "volumeClaimTemplates")
				for _, t := range tpls {
					if m, ok := t.(map[string]any); ok {
						sc, _, _ := unstructured.NestedString(m, "spec", "storageClassName")
						need(grSC, sc)
					}
				}
			case "Ingress":
				ic, _, _ := unstructured.NestedString(it.obj.Object, "spec", "ingressClassName")
				need(grIC, ic)
				need(grIC, it.obj.GetAnnotations()["kubernetes.io/ingress.class"])
			case "RoleBinding":
				if k, _, _ := unstructured.NestedString(it.obj.Object, "roleRef", "kind"); k == "ClusterRole" {
					n, _, _ := unstructured.NestedString(it.obj.Object, "roleRef", "name")
					need(grCR, n)
				}
			}
		}
	}
	// ClusterRoleBindings that bind the namespaces' ServiceAccounts, and their roles.
	if err := d.eachCluster(ctx, grCRB, func(obj *unstructured.Unstructured) {
		if bindsNamespaces(obj, inNS) {
			need(grCRB, obj.GetName())
			n, _, _ := unstructured.NestedString(obj.Object, "roleRef", "name")
			need(grCR, n)
		}
	}); err != nil {
		return err
	}
	// Admission webhooks served from the namespaces.
	for _, gr := range []schema.GroupResource{grVWC, grMWC} {
		if err := d.eachCluster(ctx, gr, func(obj *unstructured.Unstructured) {
			hooks, _, _ := unstructured.NestedSlice(obj.Object, "webhooks")
			for _, h := range hooks {
				if m, ok := h.(map[string]any); ok {
					ns, _, _ := unstructured.NestedString(m, "clientConfig", "service", "namespace")
					if inNS[ns] {
						need(gr, obj.GetName())
					}
				}
			}
		}); err != nil {
			return err
		}
	}
	// APIServices served from the namespaces (their backend moves with them).
	if err := d.eachCluster(ctx, grAPISvc, func(obj *unstructured.Unstructured) {
		if ns, _, _ := unstructured.NestedString(obj.Object, "spec", "service", "namespace"); inNS[ns] {
			need(grAPISvc, obj.GetName())
		}
	}); err != nil {
		return err
	}
	// The member roles of the aggregated ClusterRoles that move (green's aggregation
	// controller fills an aggregated role's rules from them).
	if err := d.aggregationMembers(ctx, want[grCR], need); err != nil {
		return err
	}
	for _, gr := range []schema.GroupResource{grCRD, grSC, grPC, grIC, grRC, grCRB, grCR, grVWC, grMWC, grAPISvc} {
		names := want[gr]
		if len(names) == 0 || d.bIdx.byGR[gr] == nil {
			continue
		}
		if err := d.eachCluster(ctx, gr, func(obj *unstructured.Unstructured) {
			if names[obj.GetName()] {
				_, offline := d.readPlan(gr)
				d.add(obj, gr, offline)
				delete(names, obj.GetName())
			}
		}); err != nil {
			return err
		}
		for n := range names {
			if gr == grPC && len(n) > 7 && n[:7] == "system-" {
				continue
			}
			d.res.messages("").Warnings = append(d.res.messages("").Warnings,
				fmt.Sprintf("%s %q is referenced but does not exist on blue; create it on green if the workloads need it", gr, n))
		}
	}
	for _, it := range d.items {
		if it.skip == "" && it.obj.GetNamespace() == "" {
			it.skip = skipReason(it.obj, nil)
		}
	}
	return d.translatePSP(ctx, inNS)
}

// aggregationMembers adds to want, transitively, every ClusterRole on blue that an
// aggregated ClusterRole in want selects with its aggregationRule.
func (d *discoverer) aggregationMembers(ctx context.Context, want map[string]bool, need func(schema.GroupResource, string)) error {
	if len(want) == 0 {
		return nil
	}
	byName := map[string]*unstructured.Unstructured{}
	if err := d.eachCluster(ctx, grCR, func(o *unstructured.Unstructured) { byName[o.GetName()] = o }); err != nil {
		return err
	}
	queue := sortedKeys(want)
	for len(queue) > 0 {
		cr := byName[queue[0]]
		queue = queue[1:]
		if cr == nil {
			continue
		}
		sels, _, _ := unstructured.NestedSlice(cr.Object, "aggregationRule", "clusterRoleSelectors")
		for _, s := range sels {
			m, ok := s.(map[string]any)
			if !ok {
				continue
			}
			var ls metav1.LabelSelector
			if runtime.DefaultUnstructuredConverter.FromUnstructured(m, &ls) != nil {
				continue
			}
			sel, err := metav1.LabelSelectorAsSelector(&ls)
			if err != nil || sel.Empty() {
				continue
			}
			for _, name := range sortedKeys(namesOf(byName)) {
				if member := byName[name]; !want[name] && sel.Matches(labels.Set(member.GetLabels())) {
					need(grCR, name)
					queue = append(queue, name)
				}
			}
		}
	}
	return nil
}

func namesOf(m map[string]*unstructured.Unstructured) map[string]bool {
	out := make(map[string]bool, len(m))
	for k := range m {
		out[k] = true
	}
	return out
}

// eachCluster lists a cluster-scoped resource on blue (when blue serves it).
func (d *discoverer) eachCluster(ctx context.Context, gr schema.GroupResource, fn func(*unstructured.Unstructured)) error {
	if d.bIdx.byGR[gr] == nil {
		return nil
	}
	v, _ := d.readPlan(gr)
	objs, err := d.list(ctx, gr.WithVersion(v), "", "")
	if listFailure(err) {
		d.res.addUnread(unreadList(gr, "", err))
		return nil
	}
	if err != nil {
		return err
	}
	for i := range objs {
		fn(&objs[i])
	}
	return nil
}

// bindsNamespaces reports whether a binding names a ServiceAccount in, or the service
// account group of, one of the namespaces.
func bindsNamespaces(obj *unstructured.Unstructured, inNS map[string]bool) bool {
	subjects, _, _ := unstructured.NestedSlice(obj.Object, "subjects")
	for _, s := range subjects {
		m, ok := s.(map[string]any)
		if !ok {
			continue
		}
		switch m["kind"] {
		case "ServiceAccount":
			if inNS[fmt.Sprint(m["namespace"])] {
				return true
			}
		case "User":
			if ns, _, ok := serviceAccountUser(strField(m, "name")); ok && inNS[ns] {
				return true
			}
		case "Group":
			for ns := range inNS {
				if m["name"] == "system:serviceaccounts:"+ns {
					return true
				}
			}
		}
	}
	return false
}

func containsString(list []any, s string) bool {
	return slices.ContainsFunc(list, func(v any) bool { return v == s })
}

// strField returns m[k] when it is a string.
func strField(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}
