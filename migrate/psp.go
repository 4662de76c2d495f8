package migrate

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Pod Security Admission levels, most permissive first.
var psaRank = map[string]int{"privileged": 0, "baseline": 1, "restricted": 2}

// translatePSP turns the PodSecurityPolicies the namespaces' pods may use into Pod
// Security Admission labels on the namespaces, where that is faithful, and reports it
// otherwise. The PSPs themselves are recorded as skipped: green has no such API.
func (d *discoverer) translatePSP(ctx context.Context, inNS map[string]bool) error {
	if d.bIdx.byGR[grPSP] == nil {
		return nil
	}
	psps := map[string]*unstructured.Unstructured{}
	if err := d.eachCluster(ctx, grPSP, func(o *unstructured.Unstructured) { psps[o.GetName()] = o }); err != nil || len(psps) == 0 {
		return err
	}
	// Which PSPs each role grants "use" of.
	roleGrants := map[string][]string{} // "ClusterRole/name" or "Role/ns/name"
	grants := func(key string, o *unstructured.Unstructured) {
		rules, _, _ := unstructured.NestedSlice(o.Object, "rules")
		for _, r := range rules {
			m, ok := r.(map[string]any)
			if !ok {
				continue
			}
			groups, _, _ := unstructured.NestedSlice(m, "apiGroups")
			res, _, _ := unstructured.NestedSlice(m, "resources")
			verbs, _, _ := unstructured.NestedSlice(m, "verbs")
			if !(containsString(groups, "policy") || containsString(groups, "extensions") || containsString(groups, "*")) ||
				!(containsString(res, "podsecuritypolicies") || containsString(res, "*")) ||
				!(containsString(verbs, "use") || containsString(verbs, "*")) {
				continue
			}
			names, _, _ := unstructured.NestedStringSlice(m, "resourceNames")
			if len(names) == 0 {
				for n := range psps {
					names = append(names, n)
				}
			}
			roleGrants[key] = append(roleGrants[key], names...)
		}
	}
	if err := d.eachCluster(ctx, grCR, func(o *unstructured.Unstructured) { grants("ClusterRole/"+o.GetName(), o) }); err != nil {
		return err
	}
	for _, it := range d.listed[schemaGR("rbac.authorization.k8s.io", "roles")] {
		grants("Role/"+it.obj.GetNamespace()+"/"+it.obj.GetName(), it.obj)
	}
	usable := map[string]map[string]bool{} // namespace -> PSP names
	bind := func(ns string, b *unstructured.Unstructured) {
		kind, _, _ := unstructured.NestedString(b.Object, "roleRef", "kind")
		name, _, _ := unstructured.NestedString(b.Object, "roleRef", "name")
		key := "ClusterRole/" + name
		if kind == "Role" {
			key = "Role/" + b.GetNamespace() + "/" + name
		}
		for _, p := range roleGrants[key] {
			if usable[ns] == nil {
				usable[ns] = map[string]bool{}
			}
			usable[ns][p] = true
		}
	}
	for _, it := range d.listed[grRB] {
		if it.skip == "" && bindsPods(it.obj, it.obj.GetNamespace()) {
			bind(it.obj.GetNamespace(), it.obj)
		}
	}
	if err := d.eachCluster(ctx, grCRB, func(o *unstructured.Unstructured) {
		for ns := range inNS {
			if bindsPods(o, ns) {
				bind(ns, o)
			}
		}
	}); err != nil {
		return err
	}
	used := map[string]bool{}
	for _, ns := range d.o.Namespaces {
		names := sortedKeys(usable[ns])
		if len(names) == 0 {
			continue
		}
		level, faithful := "restricted", true
		var why []string
		for _, n := range names {
			used[n] = true
			l, ok, notes := pspToPodSecurity(psps[n])
			if !ok {
				faithful = false
			}
			for _, note := range notes {
				why = append(why, n+": "+note)
			}
			if psaRank[l] < psaRank[level] {
				level = l
			}
		}
		d.labelNamespace(ns, level, faithful, names, why)
	}
	for n, o := range psps {
		if used[n] {
			it := d.add(o, grPSP, true)
			if it != nil {
				it.skip = "PodSecurityPolicy was removed in 1.25 without a successor; translated to Pod Security Admission labels on the namespaces that used it"
			}
		}
	}
	return nil
}

// labelNamespace sets Pod Security Admission labels on a namespace that is moving.
func (d *discoverer) labelNamespace(ns, level string, faithful bool, psps, why []string) {
	var nsItem *item
	for _, it := range d.items {
		if it.obj.GetKind() == "Namespace" && it.obj.GetNamespace() == "" && it.obj.GetName() == ns {
			nsItem = it
		}
	}
	if nsItem == nil {
		return
	}
	labels := nsItem.obj.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	const prefix = "pod-security.kubernetes.io/"
	mode := "enforce"
	if !faithful {
		mode = "warn"
	}
	if _, set := labels[prefix+"enforce"]; set {
		nsItem.notes = append(nsItem.notes, fmt.Sprintf("already has Pod Security Admission labels; PodSecurityPolicies %s not translated", strings.Join(psps, ", ")))
		return
	}
	labels[prefix+mode] = level
	if !faithful {
		labels[prefix+"audit"] = level
	}
	nsItem.obj.SetLabels(labels)
	msg := fmt.Sprintf("PodSecurityPolicies %s translated to Pod Security Admission %s=%s", strings.Join(psps, ", "), mode, level)
	if !faithful {
		msg += " (not faithful, so only warned and audited, not enforced; review: " + strings.Join(why, "; ") + ")"
	}
	nsItem.notes = append(nsItem.notes, msg)
}

// bindsPods reports whether a binding's subjects include the pods of namespace ns: a
// ServiceAccount there, or a group all of them belong to.
func bindsPods(obj *unstructured.Unstructured, ns string) bool {
	subjects, _, _ := unstructured.NestedSlice(obj.Object, "subjects")
	for _, s := range subjects {
		m, ok := s.(map[string]any)
		if !ok {
			continue
		}
		switch m["kind"] {
		case "ServiceAccount":
			if sns := strField(m, "namespace"); sns == ns || (sns == "" && obj.GetNamespace() == ns) {
				return true
			}
		case "Group":
			switch m["name"] {
			case "system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated":
				return true
			}
		}
	}
	return false
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
